import Foundation
import SwiftMPI

extension KMeansWorkflow {
    /// On a traced run (`--report`), adds k-means's figures to the run report: the inertia
    /// per Lloyd iteration (of the kept run) and the analytic minimum of the Lloyd
    /// iterations' communication. Does nothing otherwise. Not collective.
    ///
    /// Each Lloyd iteration needs one allreduce of the k·d per-centre sums, the k counts and
    /// the inertia, `(k·d + k + 1)·8` bytes of float64 per rank; a ring allreduce moves
    /// `2(p−1)/p` of that in and out of each rank. The minimum leaves out the initialisation
    /// (k-means|| rounds), the variance pass and the other `n_init` runs.
    static func traceReport(_ model: KMeansModel, rows: Int, comm: any Communicator) {
        guard let recorder = comm.traceRecorder else { return }
        let history = model.history
        recorder.attach(.line(title: "Inertia per Lloyd iteration (\(rows) rows, k = \(model.nClusters))", xLabel: "iteration",
                              yLabel: "inertia", x: history.map { Double($0.iteration) }, y: history.map(\.inertia)))
        let k = model.nClusters, d = model.clusterCenters.columns, it = history.count, p = comm.size
        let payload = Double(it * (k * d + k + 1) * 8)
        recorder.setCommunicationModel(CommunicationModel(
            formula: "iterations·(k·d + k + 1)·8 = \(it)·(\(k)·\(d) + \(k) + 1)·8; a ring allreduce moves 2(p−1)/p = \(String(format: "%.3f", p > 1 ? 2 * Double(p - 1) / Double(p) : 0))× that per rank",
            minimumBytesPerRank: p > 1 ? payload : 0,
            note: "One allreduce per Lloyd iteration of the per-centre sums, the counts and the inertia (float64). "
                + "Not in the minimum: the initialisation (k-means|| rounds), the variance pass, the other n_init runs, the labels' output."))
    }
}
