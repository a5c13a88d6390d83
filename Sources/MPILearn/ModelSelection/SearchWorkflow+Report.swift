import Foundation
import SwiftMPI

extension SearchJob {
    /// On a traced run (`--report`), adds the search's figures to the run report: a heat map
    /// of the mean test score over the two searched parameters with the most values (each
    /// cell the best candidate's score over the other parameters and the rungs), or a list of
    /// the candidates when fewer than two parameters vary; and the analytic minimum of the
    /// results' exchange. Does nothing otherwise. Not collective.
    ///
    /// Every rank ends with every (candidate, fold) task's `s` numbers (test score, fit time,
    /// score time, and the train score when asked), `tasks·s·8` bytes as float64, counted as
    /// the trace counts an allgather (the rank's own share included). A sharded search's data-parallel fits,
    /// the task counter and the refit are not in the minimum.
    static func traceReport(_ r: CVResults, scoring: String, sharded: Bool, comm: any Communicator) {
        guard let recorder = comm.traceRecorder else { return }
        let mean = r.meanTestScore
        let varying = r.parameterNames.map { n in (name: n, values: Set(r.params.compactMap { $0[n] }).sorted()) }
            .filter { $0.values.count > 1 }
            .sorted { $0.values.count > $1.values.count }
        if varying.count >= 2 {
            let a = varying[0], b = varying[1]
            var cells = [[Double?]](repeating: [Double?](repeating: nil, count: b.values.count), count: a.values.count)
            for (i, p) in r.params.enumerated() where mean[i].isFinite {
                guard let va = p[a.name], let vb = p[b.name], let x = a.values.firstIndex(of: va), let y = b.values.firstIndex(of: vb) else { continue }
                cells[x][y] = max(cells[x][y] ?? -.infinity, mean[i])
            }
            let others = varying.count > 2 ? " (best over \(varying.dropFirst(2).map(\.name).joined(separator: ", ")))" : ""
            recorder.attach(.heatmap(title: "Mean test score (\(scoring), \(r.nSplits) folds) over \(a.name) and \(b.name)\(others)",
                                     rowTitle: a.name, columnTitle: b.name, rows: a.values.map(\.description),
                                     columns: b.values.map(\.description), values: cells))
        }
        let ranks = r.rankTestScore, std = r.stdTestScore
        let order = r.params.indices.sorted { ranks[$0] < ranks[$1] || (ranks[$0] == ranks[$1] && $0 < $1) }.prefix(50)
        recorder.attach(.table(title: varying.count >= 2 ? "Candidates (best 50 by rank)" : "Candidates (fewer than two parameters vary: no heat map)",
                               header: ["rank", "parameters", "mean test score", "std"],
                               rows: order.map { i in
                                   [String(ranks[i]), r.params[i].sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "),
                                    String(format: "%.6f", mean[i]), String(format: "%.6f", std[i])]
                               }))
        let tasks = r.count * r.nSplits, s = r.splitTrainScores == nil ? 3 : 4, p = comm.size
        recorder.setCommunicationModel(CommunicationModel(
            formula: "tasks·s·8 = \(tasks)·\(s)·8 (every rank ends with every (candidate, fold) task's s results as float64)",
            minimumBytesPerRank: p > 1 ? Double(tasks * s * 8) : 0,
            note: (sharded ? "Sharded search: the data-parallel fits' own collectives are not in the minimum. " : "")
                + "The task counter's updates, the broadcast of the parameters and the refit are not in the minimum."))
    }
}
