import Foundation
import SwiftMPI

// Evaluation reports: the metrics of a labelled test set, computed by collectives, as values
// a Swift program can read, with the text `mpilearn forest score` and `forest run` print.

/// The metrics of a classifier on labelled rows: accuracy against the majority baseline,
/// ROC AUC (two classes), log loss, the confusion matrix and per-class precision, recall,
/// F1 and support.
public struct ClassificationReport: Sendable {
    /// Class labels in class-code order.
    public var classes: [String]
    /// The voting rule the scores came from (named in the ROC AUC line).
    public var voting: Voting
    /// Rows over all ranks.
    public var testRows: Int
    public var accuracy: Double
    /// Accuracy of always predicting ``majorityClass``.
    public var majorityBaseline: Double
    /// Code of the most frequent true class.
    public var majorityClass: Int
    /// ROC AUC of the second class's probability, with two classes; else nil.
    public var rocAUC: Double?
    public var logLoss: Double
    /// Entry `[t][p]` counts rows of true class t predicted as p.
    public var confusion: [[Int]]
    /// Per class, from ``confusion``.
    public var perClass: [(precision: Double, recall: Double, f1: Double, support: Int)]

    /// Collective. The report of summed votes per row and class.
    ///
    /// Each rank passes its rows; every rank gets the report of all rows. For rows every rank
    /// holds in full (a broadcast test set with allreduced votes), pass
    /// ``LocalCommunicator/solo()`` on the rank that reports.
    /// - Parameters:
    ///   - yTrue: true class codes of this rank's rows.
    ///   - votes: row-major `yTrue.count × classes.count` summed votes (soft: summed class
    ///     fractions, hard: counted votes) of `nEstimators` trees; the predicted class of a
    ///     row is its first highest vote, its probabilities the votes over `nEstimators`.
    public init(yTrue: [Int], votes: [Double], classes: [String], voting: Voting, nEstimators: Int, comm: any Communicator) throws {
        let k = classes.count
        let pred = argmaxRows(votes, classes: k)
        self.classes = classes
        self.voting = voting
        accuracy = try Metrics.accuracy(yTrue: yTrue, yPred: pred, comm: comm)
        (majorityBaseline, majorityClass) = try Metrics.majorityBaseline(yTrue: yTrue, classes: k, comm: comm)
        confusion = try Metrics.confusionMatrix(yTrue: yTrue, yPred: pred, classes: k, comm: comm)
        let proba = votes.map { $0 / Double(nEstimators) }
        logLoss = try Metrics.logLoss(yTrue: yTrue, proba: proba, classes: k, comm: comm)
        rocAUC = k == 2 ? try Metrics.rocAUC(yTrue: yTrue, scores: (0 ..< yTrue.count).map { proba[$0 * 2 + 1] }, comm: comm) : nil
        testRows = Int(try comm.allreduce(Double(yTrue.count), op: .sum))
        perClass = Metrics.perClass(confusion: confusion)
    }

    /// The report as printed: rows, accuracy and baseline, ROC AUC, log loss, the confusion
    /// matrix and the per-class table (lines joined by newlines, no final newline).
    public var text: String {
        var lines = ["test rows: \(testRows)"]
        lines.append("accuracy: \(fixed(accuracy))   majority baseline: \(fixed(majorityBaseline)) (always '\(classes[majorityClass])')   "
            + "gain: \(String(format: "%+.2f", 100 * (accuracy - majorityBaseline))) points")
        if let rocAUC { lines.append("ROC AUC (\(voting.rawValue) votes): \(fixed(rocAUC))") }
        lines.append("log loss: \(fixed(logLoss))")
        lines += confusionLines(classes: classes, confusion: confusion, perClass: perClass)
        return lines.joined(separator: "\n")
    }
}

/// The confusion matrix (rows: true, columns: predicted) and the per-class precision, recall,
/// F1 and support table, as every classification report prints them.
func confusionLines(classes: [String], confusion: [[Int]], perClass: [(precision: Double, recall: Double, f1: Double, support: Int)]) -> [String] {
    let w = max(10, (classes.map(\.count).max() ?? 4) + 2)
    func pad(_ s: String) -> String { s.padding(toLength: w, withPad: " ", startingAt: 0) }
    var lines = ["confusion matrix (rows: true, columns: predicted)"]
    lines.append(pad("") + classes.map { leftPad($0, w) }.joined())
    for t in classes.indices { lines.append(pad(classes[t]) + confusion[t].map { leftPad(String($0), w) }.joined()) }
    lines.append(pad("class") + ["precision", "recall", "f1", "support"].map { leftPad($0, 11) }.joined())
    for (c, m) in perClass.enumerated() {
        lines.append(pad(classes[c]) + [fixed(m.precision), fixed(m.recall), fixed(m.f1), String(m.support)].map { leftPad($0, 11) }.joined())
    }
    return lines
}

/// The metrics of a regressor on labelled rows: R², mean squared and mean absolute error.
public struct RegressionReport: Sendable, Equatable {
    /// Rows over all ranks.
    public var testRows: Int
    public var r2: Double
    public var meanSquaredError: Double
    public var meanAbsoluteError: Double

    /// Collective. The report of this rank's rows; every rank gets the report of all rows.
    public init(yTrue: [Double], yPred: [Double], comm: any Communicator) throws {
        r2 = try Metrics.r2(yTrue: yTrue, yPred: yPred, comm: comm)
        meanSquaredError = try Metrics.meanSquaredError(yTrue: yTrue, yPred: yPred, comm: comm)
        meanAbsoluteError = try Metrics.meanAbsoluteError(yTrue: yTrue, yPred: yPred, comm: comm)
        testRows = Int(try comm.allreduce(Double(yTrue.count), op: .sum))
    }

    /// The report as printed (two lines, no final newline).
    public var text: String {
        "test rows: \(testRows)\nR²: \(fixed(r2))   MSE: \(fixed(meanSquaredError))   MAE: \(fixed(meanAbsoluteError))"
    }
}

/// A value with `digits` decimals, as the reports print it.
func fixed(_ v: Double, _ digits: Int = 4) -> String { String(format: "%.\(digits)f", v) }

/// `s` right-aligned in `n` characters; a longer `s` gets one leading space.
func leftPad(_ s: String, _ n: Int) -> String { s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s }
