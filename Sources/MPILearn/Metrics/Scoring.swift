import Foundation
import SwiftMPI

/// A scoring rule by scikit-learn's name: what search ranks candidates by, and what `score`
/// means for each role. Higher is always better (losses are negated, as in scikit-learn).
public enum Scoring: String, CaseIterable, Codable, Sendable {
    case accuracy
    case balancedAccuracy = "balanced_accuracy"
    /// F1 of the positive class (the last class in label order: `true`, `1`) of a binary target.
    case f1
    /// Unweighted mean of the per-class F1 over the labels in the true and predicted values.
    case f1Macro = "f1_macro"
    /// Area under the ROC curve of the positive class's probability (binary targets).
    case rocAUC = "roc_auc"
    case negLogLoss = "neg_log_loss"
    case r2
    case negMeanSquaredError = "neg_mean_squared_error"
    case negMeanAbsoluteError = "neg_mean_absolute_error"
    /// k-means' `score`: the opposite of the sum of squared distances to the nearest centre.
    case negInertia = "neg_inertia"

    /// The role of the models this rule scores.
    public var role: EstimatorRole {
        switch self {
        case .accuracy, .balancedAccuracy, .f1, .f1Macro, .rocAUC, .negLogLoss: return .classifier
        case .r2, .negMeanSquaredError, .negMeanAbsoluteError: return .regressor
        case .negInertia: return .clusterer
        }
    }

    /// scikit-learn's default `score` of a role: accuracy, R², negative inertia.
    public static func defaultScoring(for role: EstimatorRole) -> Scoring? {
        switch role {
        case .classifier: return .accuracy
        case .regressor: return .r2
        case .clusterer: return .negInertia
        case .transformer: return nil
        }
    }

    /// Parses a scoring name.
    /// - Throws: ``MPILearnError/invalidParameter`` listing the names.
    public init(name: String) throws {
        guard let s = Scoring(rawValue: name) else {
            throw MPILearnError.invalidParameter(name: "scoring", value: name, allowed: Scoring.allCases.map(\.rawValue).joined(separator: ", "))
        }
        self = s
    }

    /// Checks that the rule fits the role and the number of classes.
    /// - Throws: ``MPILearnError/invalidParameter`` naming `scoring`, with the rules that fit.
    public func check(role: EstimatorRole, classes: Int?) throws {
        guard self.role == role else {
            let fits = Scoring.allCases.filter { $0.role == role }.map(\.rawValue)
            throw MPILearnError.invalidParameter(name: "scoring", value: rawValue,
                                                 allowed: fits.isEmpty ? "no scoring: a \(role.rawValue) has none" : "a scoring for a \(role.rawValue): \(fits.joined(separator: ", "))")
        }
        if (self == .f1 || self == .rocAUC), let k = classes, k != 2 {
            throw MPILearnError.invalidParameter(name: "scoring", value: rawValue,
                                                 allowed: "a binary target (this one has \(k) classes); use f1_macro, balanced_accuracy, accuracy or neg_log_loss")
        }
    }

    /// Collective over `comm` (pass a one-rank communicator to score local rows alone).
    /// Scores `model` on rows `x` with targets `y`.
    /// - Parameters:
    ///   - labels: for classifiers, the class names of the whole problem in label order; `y`
    ///     holds indices into it. The model's own classes (a subset, when a fold missed one)
    ///     are mapped onto these by name.
    /// - Returns: the score, higher is better; NaN where it is undefined (no rows).
    public func score(_ model: any FittedModel, x: Matrix<Double>, y: [Double]?, labels: [String] = [], comm: any Communicator) throws -> Double {
        try score(model, rows: x.rows, y: y, labels: labels, comm: comm) { body in try body(x) }
    }

    /// Collective. Scores `model` on the rows `rows` of `data` (local positions), predicting
    /// a block of rows at a time so the rows are never copied as a whole.
    public func score(_ model: any FittedModel, data: Dataset<Double>, rows: [Int], y: [Double]?, labels: [String] = [],
                      comm: any Communicator, blockRows: Int = 32768) throws -> Double {
        try score(model, rows: rows.count, y: y, labels: labels, comm: comm) { body in
            // A block of any layout as rows (no copy when the rows are dense already).
            try data.forEachBlock(of: rows, blockRows: blockRows) { try body($0.denseCopy()) }
        }
    }

    /// The score from predictions made block by block: `blocks` calls its argument with each
    /// block of rows, in order.
    func score(_ model: any FittedModel, rows n: Int, y: [Double]?, labels: [String], comm: any Communicator,
               blocks: ((Matrix<Double>) throws -> Void) throws -> Void) throws -> Double {
        switch role {
        case .classifier:
            guard let m = model as? any ClassifierModel else { throw mismatchRole(model) }
            guard let y else { throw MPILearnError.mismatch("scoring \(rawValue) needs a target") }
            let yTrue = y.map { Int($0) }
            let toGlobal = try Self.labelIndices(m.classes, in: labels)
            let k = labels.count
            switch self {
            case .accuracy, .balancedAccuracy, .f1, .f1Macro:
                var yPred: [Int] = []
                yPred.reserveCapacity(n)
                try blocks { x in yPred += try m.predict(x).map { toGlobal[$0] } }
                return try Self.classification(self, yTrue: yTrue, yPred: yPred, classes: k, comm: comm)
            default:
                var proba = [Double](repeating: 0, count: n * k)
                var at = 0
                try blocks { x in
                    let p = try m.predictProba(x)
                    for i in 0 ..< x.rows { for (c, g) in toGlobal.enumerated() { proba[(at + i) * k + g] = p[i, c] } }
                    at += x.rows
                }
                return try probabilityScore(yTrue: yTrue, proba: proba, classes: k, comm: comm)
            }
        case .regressor:
            guard let m = model as? any RegressorModel else { throw mismatchRole(model) }
            guard let y else { throw MPILearnError.mismatch("scoring \(rawValue) needs a target") }
            var yPred: [Double] = []
            yPred.reserveCapacity(n)
            try blocks { x in yPred += try m.predict(x) }
            switch self {
            case .r2: return try Metrics.r2(yTrue: y, yPred: yPred, comm: comm)
            case .negMeanSquaredError: return -(try Metrics.meanSquaredError(yTrue: y, yPred: yPred, comm: comm))
            default: return -(try Metrics.meanAbsoluteError(yTrue: y, yPred: yPred, comm: comm))
            }
        case .clusterer:
            guard let m = model as? any ClustererModel else { throw mismatchRole(model) }
            var s = 0.0
            try blocks { x in s += try m.score(x) }
            return try comm.allreduce(s, op: .sum)
        case .transformer:
            throw mismatchRole(model)
        }
    }

    /// Collective. Scores a classifier from its summed class votes (a forest's tree outputs:
    /// `sums` is rows × `modelClasses`, over `count` trees): predictions are the argmax of the
    /// sums (the forest's `predict`), probabilities the sums over `count` (its `predictProba`).
    public func score(classSums sums: [Double], count: Int, modelClasses: [String], y: [Double], labels: [String], comm: any Communicator) throws -> Double {
        guard role == .classifier else { throw MPILearnError.invalidParameter(name: "scoring", value: rawValue, allowed: "a scoring for a classifier") }
        let toGlobal = try Self.labelIndices(modelClasses, in: labels)
        let kModel = modelClasses.count, k = labels.count, n = y.count
        let yTrue = y.map { Int($0) }
        switch self {
        case .accuracy, .balancedAccuracy, .f1, .f1Macro:
            let yPred = argmaxRows(sums, classes: kModel).map { toGlobal[$0] }
            return try Self.classification(self, yTrue: yTrue, yPred: yPred, classes: k, comm: comm)
        default:
            let c = Double(max(1, count))
            var proba = [Double](repeating: 0, count: n * k)
            for i in 0 ..< n { for (m, g) in toGlobal.enumerated() { proba[i * k + g] = sums[i * kModel + m] / c } }
            return try probabilityScore(yTrue: yTrue, proba: proba, classes: k, comm: comm)
        }
    }

    /// Each model class's index among the problem's `labels` (a fold's model may miss one).
    static func labelIndices(_ modelClasses: [String], in labels: [String]) throws -> [Int] {
        var index: [String: Int] = [:]
        for (i, c) in labels.enumerated() { index[c] = i }
        return try modelClasses.map { c -> Int in
            guard let g = index[c] else { throw MPILearnError.mismatch("the model's class '\(c)' is not a class of the data (\(listPreview(labels)))") }
            return g
        }
    }

    /// roc_auc (the last class's probability) or neg_log_loss from probabilities over the
    /// problem's classes (rows × classes). Collective.
    func probabilityScore(yTrue: [Int], proba: [Double], classes k: Int, comm: any Communicator) throws -> Double {
        if self == .rocAUC {
            return try Metrics.rocAUC(yTrue: yTrue, scores: (0 ..< yTrue.count).map { proba[$0 * k + (k - 1)] }, positive: k - 1, comm: comm)
        }
        return -(try Metrics.logLoss(yTrue: yTrue, proba: proba, classes: k, comm: comm))
    }

    private func mismatchRole(_ model: any FittedModel) -> MPILearnError {
        .invalidParameter(name: "scoring", value: rawValue, allowed: "a scoring for a \(type(of: model).role.rawValue)")
    }

    /// Accuracy, balanced accuracy, binary F1 (positive class `classes − 1`) and macro F1 over
    /// all ranks' rows. Collective.
    static func classification(_ s: Scoring, yTrue: [Int], yPred: [Int], classes k: Int, comm: any Communicator) throws -> Double {
        if s == .accuracy { return try Metrics.accuracy(yTrue: yTrue, yPred: yPred, comm: comm) }
        let cm = try Metrics.confusionMatrix(yTrue: yTrue, yPred: yPred, classes: k, comm: comm)
        let support = cm.map { $0.reduce(0, +) }
        let predicted = (0 ..< k).map { c in cm.reduce(0) { $0 + $1[c] } }
        func f1(_ c: Int) -> Double {
            let tp = Double(cm[c][c]), denom = Double(support[c] + predicted[c])
            return denom > 0 ? 2 * tp / denom : 0
        }
        switch s {
        case .balancedAccuracy:
            // scikit-learn: the mean recall over the classes present in the true values.
            let present = (0 ..< k).filter { support[$0] > 0 }
            guard !present.isEmpty else { return .nan }
            return present.reduce(0.0) { $0 + Double(cm[$1][$1]) / Double(support[$1]) } / Double(present.count)
        case .f1:
            return f1(k - 1)
        default:
            // scikit-learn: labels are those present in the true or the predicted values.
            let present = (0 ..< k).filter { support[$0] > 0 || predicted[$0] > 0 }
            guard !present.isEmpty else { return .nan }
            return present.reduce(0.0) { $0 + f1($1) } / Double(present.count)
        }
    }
}

extension ClassifierModel {
    /// Collective. scikit-learn's `score`: the model scored on every rank's rows of `data`
    /// (accuracy unless `scoring` says otherwise). The target holds label values named by
    /// `data.classNames` (or numbers); they are matched to the model's classes by name, so a
    /// label the model never saw counts as a wrong prediction.
    /// - Throws: ``MPILearnError/mismatch`` when `data` has no target or the scoring does not
    ///   fit a classifier.
    public func score(_ data: Dataset<Double>, scoring: Scoring = .accuracy, comm: any Communicator) throws -> Double {
        guard let target = data.target else { throw MPILearnError.mismatch("scoring \(scoring.rawValue) needs a target, and the data has none") }
        if let i = target.firstIndex(where: { !$0.isFinite }) {
            throw MPILearnError.dataError(SourceLocation(file: data.source.isEmpty ? data.targetName : data.source, line: data.globalRowStart + i + 1),
                                          "target \(data.targetName) is missing or not finite")
        }
        // The problem's labels: every rank's distinct target values, named as a fit names them.
        let values = Array(Set(try comm.allgatherv(Array(Set(target)).sorted()).values)).sorted()
        var labels = values.map { data.labelName($0) }
        for c in classes where !labels.contains(c) { labels.append(c) }
        try scoring.check(role: .classifier, classes: labels.count)
        let index = Dictionary(uniqueKeysWithValues: values.enumerated().map { ($1, Double($0)) })
        return try scoring.score(self, data: data, rows: Array(0 ..< data.rowCount), y: target.map { index[$0] ?? .nan }, labels: labels, comm: comm)
    }
}

extension RegressorModel {
    /// Collective. scikit-learn's `score`: the model scored on every rank's rows of `data`
    /// (R² unless `scoring` says otherwise).
    /// - Throws: ``MPILearnError/mismatch`` when `data` has no target or the scoring does not
    ///   fit a regressor.
    public func score(_ data: Dataset<Double>, scoring: Scoring = .r2, comm: any Communicator) throws -> Double {
        guard let target = data.target else { throw MPILearnError.mismatch("scoring \(scoring.rawValue) needs a target, and the data has none") }
        if let i = target.firstIndex(where: { !$0.isFinite }) {
            throw MPILearnError.dataError(SourceLocation(file: data.source.isEmpty ? data.targetName : data.source, line: data.globalRowStart + i + 1),
                                          "target \(data.targetName) is missing or not finite")
        }
        try scoring.check(role: .regressor, classes: nil)
        return try scoring.score(self, data: data, rows: Array(0 ..< data.rowCount), y: target, labels: [], comm: comm)
    }
}
