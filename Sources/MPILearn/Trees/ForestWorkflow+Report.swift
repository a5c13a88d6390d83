import Foundation
import SwiftMPI

extension ForestWorkflow {
    /// On a traced run (`--report`), adds the forest's figures to the run report: the feature
    /// importances (the 30 largest), the confusion matrix when classifying a test set, and the
    /// analytic minimum of `run`'s communication. Does nothing otherwise. Not collective.
    ///
    /// The minimum, per rank, for the local mode (trees grown without communication):
    /// - broadcast-test: rank 0's test rows broadcast, `n_test·d·8` bytes (none for a generated
    ///   test set, made on every rank), then one allreduce of the votes (classification:
    ///   `n_test·k·8`; regression `n_test·8`);
    /// - broadcast-model: every rank ends with every rank's trees, the serialised forest's `B`
    ///   bytes (its own share included, as the trace counts an allgather).
    static func traceReport(_ forest: ForestModel, report: Report?, testRows: Int, broadcastTest: Bool, generatedTest: Bool,
                            comm: any Communicator) throws {
        guard let recorder = comm.traceRecorder else { return }
        let h = forest.header
        let order = h.featureImportances.indices.sorted { h.featureImportances[$0] > h.featureImportances[$1] }.prefix(30)
        recorder.attach(.bars(title: "Feature importances (impurity-based, \(min(30, order.count)) largest of \(h.featureImportances.count))",
                              labels: order.map { $0 < h.featureNames.count ? h.featureNames[$0] : "x\($0)" },
                              values: order.map { h.featureImportances[$0] }))
        if case let .classification(r) = report {
            recorder.attach(.heatmap(title: "Confusion matrix on the test set (\(r.testRows) rows; accuracy \(String(format: "%.4f", r.accuracy)))",
                                     rowTitle: "true class", columnTitle: "predicted class", rows: r.classes, columns: r.classes,
                                     values: r.confusion.map { $0.map { Double($0) } }))
        }
        let p = Double(comm.size), d = h.featureNames.count, k = h.task == .classification ? h.outputs : 1
        let global = h.parameters.mode == .global ? " The global mode's histogram allreduces during growth are not in the minimum." : ""
        if broadcastTest {
            // A generated test set (`classification:N,D`) is generated on every rank: nothing to broadcast.
            let rowsBytes = generatedTest ? 0 : testRows * d * 8
            recorder.setCommunicationModel(CommunicationModel(
                formula: (generatedTest ? "n_test·k·8 = \(testRows)·\(k)·8 (votes allreduced; the generated test rows are made on every rank)"
                                        : "n_test·d·8 + n_test·k·8 = \(testRows)·\(d)·8 + \(testRows)·\(k)·8 (test rows broadcast, votes allreduced)")
                    + "; a ring allreduce moves 2(p−1)/p of the votes per rank",
                minimumBytesPerRank: p > 1 ? Double(rowsBytes + testRows * k * 8) : 0,
                note: "Local mode, broadcast-test prediction, values as float64. Saving the model (gathering trees to rank 0) is not in the minimum." + global))
        } else {
            let b = Double(try forest.partBytes().count)
            recorder.setCommunicationModel(CommunicationModel(
                formula: "B = \(Int(b)) (every rank ends with every rank's serialised trees, the forest's B bytes; (p−1)/p of them arrive from the others)",
                minimumBytesPerRank: p > 1 ? b : 0,
                note: "Local mode, broadcast-model prediction; the metrics' small reductions are not in the minimum." + global))
        }
    }
}
