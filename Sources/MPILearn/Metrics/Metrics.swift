import Foundation
import SwiftMPI

/// Evaluation metrics with scikit-learn's definitions, over rows spread across ranks.
///
/// Every function is collective over `comm`: each rank passes its own rows and every rank
/// gets the metric of all rows (sums and counts are allreduced; ROC AUC gathers the scores
/// to rank 0, which sorts them and broadcasts the result). For rows every rank holds in
/// full (a broadcast test set), pass ``LocalCommunicator/solo()``.
public enum Metrics {
    /// Fraction of rows whose predicted class equals the true class.
    public static func accuracy(yTrue: [Int], yPred: [Int], comm: any Communicator) throws -> Double {
        try checkLengths(yTrue.count, yPred.count)
        var correct = 0.0
        for i in yTrue.indices where yTrue[i] == yPred[i] { correct += 1 }
        let s = try comm.allreduce([correct, Double(yTrue.count)], op: .sum)
        return s[1] > 0 ? s[0] / s[1] : .nan
    }

    /// Global row counts per class (`classes` codes `0..<classes`).
    public static func classCounts(_ y: [Int], classes: Int, comm: any Communicator) throws -> [Double] {
        var c = [Double](repeating: 0, count: classes)
        for v in y where v >= 0 && v < classes { c[v] += 1 }
        return try comm.allreduce(c, op: .sum)
    }

    /// Accuracy of always predicting the most frequent true class (the majority baseline),
    /// and that class.
    public static func majorityBaseline(yTrue: [Int], classes: Int, comm: any Communicator) throws -> (accuracy: Double, majorityClass: Int) {
        let c = try classCounts(yTrue, classes: classes, comm: comm)
        let total = c.reduce(0, +)
        var best = 0
        for k in c.indices where c[k] > c[best] { best = k }
        return (total > 0 ? c[best] / total : .nan, best)
    }

    /// Confusion matrix: entry `[t][p]` counts rows of true class t predicted as p.
    public static func confusionMatrix(yTrue: [Int], yPred: [Int], classes: Int, comm: any Communicator) throws -> [[Int]] {
        try checkLengths(yTrue.count, yPred.count)
        var m = [Double](repeating: 0, count: classes * classes)
        for i in yTrue.indices where (0 ..< classes).contains(yTrue[i]) && (0 ..< classes).contains(yPred[i]) {
            m[yTrue[i] * classes + yPred[i]] += 1
        }
        m = try comm.allreduce(m, op: .sum)
        return (0 ..< classes).map { t in (0 ..< classes).map { Int(m[t * classes + $0]) } }
    }

    /// Per-class precision, recall, F1 and support from a confusion matrix (0 where undefined,
    /// scikit-learn's `zero_division=0`).
    public static func perClass(confusion m: [[Int]]) -> [(precision: Double, recall: Double, f1: Double, support: Int)] {
        let k = m.count
        return (0 ..< k).map { c in
            let tp = Double(m[c][c])
            let predicted = Double((0 ..< k).reduce(0) { $0 + m[$1][c] })
            let support = m[c].reduce(0, +)
            let p = predicted > 0 ? tp / predicted : 0
            let r = support > 0 ? tp / Double(support) : 0
            let f = p + r > 0 ? 2 * p * r / (p + r) : 0
            return (p, r, f, support)
        }
    }

    /// Area under the ROC curve of a binary problem from scores of the positive class
    /// (tied scores count one half, as in scikit-learn). Scores and labels are gathered to
    /// rank 0, which computes the exact AUC by sorting; every rank gets the result.
    /// - Returns: NaN if only one class is present.
    public static func rocAUC(yTrue: [Int], scores: [Double], positive: Int = 1, comm: any Communicator) throws -> Double {
        try checkLengths(yTrue.count, scores.count)
        let labels = yTrue.map { $0 == positive ? 1.0 : 0.0 }
        let gs = try comm.gatherv(scores, root: 0), gl = try comm.gatherv(labels, root: 0)
        var auc = Double.nan
        if let (s, _) = gs, let (l, _) = gl {
            let order = s.indices.sorted { s[$0] < s[$1] }
            // Mann–Whitney U with mid-ranks for ties.
            var rankSum = 0.0, i = 0
            let nPos = l.reduce(0, +), nNeg = Double(l.count) - nPos
            while i < order.count {
                var j = i
                while j + 1 < order.count && s[order[j + 1]] == s[order[i]] { j += 1 }
                let mid = Double(i + j) / 2 + 1
                for q in i ... j where l[order[q]] == 1 { rankSum += mid }
                i = j + 1
            }
            if nPos > 0 && nNeg > 0 { auc = (rankSum - nPos * (nPos + 1) / 2) / (nPos * nNeg) }
        }
        return try comm.broadcast(auc, root: 0)
    }

    /// Mean negative log-likelihood of the true classes under `proba` (`rows × classes`),
    /// probabilities clipped to `[eps, 1 − eps]` and each row renormalised (scikit-learn).
    public static func logLoss(yTrue: [Int], proba: [Double], classes k: Int, comm: any Communicator, eps: Double = 1e-15) throws -> Double {
        try checkLengths(yTrue.count * k, proba.count)
        var s = 0.0
        for i in yTrue.indices {
            var z = 0.0
            for c in 0 ..< k { z += min(max(proba[i * k + c], eps), 1 - eps) }
            s -= Foundation.log(min(max(proba[i * k + yTrue[i]], eps), 1 - eps) / z)
        }
        let r = try comm.allreduce([s, Double(yTrue.count)], op: .sum)
        return r[1] > 0 ? r[0] / r[1] : .nan
    }

    /// Mean squared error.
    public static func meanSquaredError(yTrue: [Double], yPred: [Double], comm: any Communicator) throws -> Double {
        try checkLengths(yTrue.count, yPred.count)
        var s = 0.0
        for i in yTrue.indices { let e = yTrue[i] - yPred[i]; s += e * e }
        let r = try comm.allreduce([s, Double(yTrue.count)], op: .sum)
        return r[1] > 0 ? r[0] / r[1] : .nan
    }

    /// Mean absolute error.
    public static func meanAbsoluteError(yTrue: [Double], yPred: [Double], comm: any Communicator) throws -> Double {
        try checkLengths(yTrue.count, yPred.count)
        var s = 0.0
        for i in yTrue.indices { s += abs(yTrue[i] - yPred[i]) }
        let r = try comm.allreduce([s, Double(yTrue.count)], op: .sum)
        return r[1] > 0 ? r[0] / r[1] : .nan
    }

    /// Coefficient of determination `1 − SS_res / SS_tot` (two passes: the global mean
    /// first, then squared deviations from it, for accuracy).
    public static func r2(yTrue: [Double], yPred: [Double], comm: any Communicator) throws -> Double {
        try checkLengths(yTrue.count, yPred.count)
        let s = try comm.allreduce([yTrue.reduce(0, +), Double(yTrue.count)], op: .sum)
        guard s[1] > 0 else { return .nan }
        let mean = s[0] / s[1]
        var res = 0.0, tot = 0.0
        for i in yTrue.indices {
            let e = yTrue[i] - yPred[i], t = yTrue[i] - mean
            res += e * e
            tot += t * t
        }
        let r = try comm.allreduce([res, tot], op: .sum)
        if r[1] == 0 { return r[0] == 0 ? 1 : 0 }
        return 1 - r[0] / r[1]
    }

    static func checkLengths(_ a: Int, _ b: Int) throws {
        guard a == b else { throw MPILearnError.mismatch("metric inputs differ in length: \(a) true values, \(b) predictions") }
    }
}
