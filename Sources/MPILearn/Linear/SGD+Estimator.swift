import Foundation
import SwiftMPI

/// scikit-learn's `SGDClassifier`: a linear classifier (hinge, log_loss, modified_huber,
/// squared_hinge or perceptron loss; l2, l1 or elasticnet penalty) by stochastic gradient
/// descent, one-vs-rest for more than two classes. Without shuffling, one rank reproduces
/// scikit-learn's coefficients, and chained training gives them on any number of ranks.
public struct SGDClassifier: Estimator, Equatable {
    public var parameters: SGDParameters

    public init(loss: SGDLoss = .hinge) {
        parameters = SGDParameters(loss: loss, learningRate: .optimal, powerT: 0.5)
    }

    public init(_ parameters: SGDParameters) { self.parameters = parameters }
    public init(from decoder: Decoder) throws { parameters = try SGDParameters(from: decoder) }
    public func encode(to encoder: Encoder) throws { try parameters.encode(to: encoder) }

    public static let estimatorName = "sgd-classifier"
    public static let role = EstimatorRole.classifier
    /// Chained training gives one process's model on any number of ranks (without shuffling).
    public static var fitsShardedData: Bool { true }

    public func validate() throws { try parameters.validate(classification: true) }

    /// Collective. Fits on every rank's rows (scikit-learn's `fit`): up to `max_iter` epochs,
    /// stopping as scikit-learn does when the objective stops improving by `tol`.
    public func fit(_ data: Dataset<Double>, comm: any Communicator) throws -> SGDClassifierModel {
        try train(data, classes: nil, start: nil, epochs: parameters.maxIter, stopping: true, comm: comm)
    }

    /// Collective. scikit-learn's `partial_fit`: one epoch over every rank's rows, from
    /// `model` (nil: a new model, whose classes are `classes`, every class the stream will
    /// show, in any order).
    public func partialFit(_ data: Dataset<Double>, classes: [String]? = nil, model: SGDClassifierModel? = nil,
                           comm: any Communicator) throws -> SGDClassifierModel {
        guard model != nil || classes != nil else {
            throw MPILearnError.invalidParameter(name: "classes", value: "None", allowed: "every class name on the first partial_fit")
        }
        return try train(data, classes: model?.classes ?? classes, start: model, epochs: 1, stopping: false, comm: comm)
    }

    func train(_ data: Dataset<Double>, classes given: [String]?, start: SGDClassifierModel?, epochs: Int, stopping: Bool,
               comm: any Communicator) throws -> SGDClassifierModel {
        try validate()
        let p = parameters
        let (rows, y) = try SGDTrainer.rows(data, estimator: Self.estimatorName, comm: comm)
        let names = y.map { data.labelName($0) }
        let classes: [String]
        if let given {
            // scikit-learn sorts the classes it is given (numbers as numbers).
            classes = given.sorted { a, b in
                if let x = Double(a), let y = Double(b) { return x < y }
                return a < b
            }
            if let unknown = names.first(where: { !classes.contains($0) }) {
                throw MPILearnError.mismatch("label '\(unknown)' is not one of the classes \(listPreview(classes))")
            }
        } else {
            // Every rank's labels, in the order of their values (class codes or numbers).
            let values = Array(Set(try comm.allgatherv(Array(Set(y)).sorted()).values)).sorted()
            classes = values.map { data.labelName($0) }
        }
        guard classes.count >= 2 else {
            throw MPILearnError.mismatch("\(Self.estimatorName) needs at least two classes; the target has one (\(classes.first ?? "none"))")
        }
        let code = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        let labels = names.map { code[$0]! }
        let globalRows = Int(try comm.allreduce(Int64(rows.count), op: .sum))
        var weights = [Double](repeating: 1, count: classes.count)
        if p.classWeight == "balanced" {
            var counts = [Double](repeating: 0, count: classes.count)
            for l in labels { counts[l] += 1 }
            try comm.allreduce(&counts, op: .sum)
            for c in classes.indices where counts[c] > 0 { weights[c] = Double(globalRows) / (Double(classes.count) * counts[c]) }
        }
        let binary = classes.count == 2
        let problems = binary ? [1] : Array(classes.indices)
        let t0 = start?.t ?? 1
        var coef: [Double] = [], intercept: [Double] = [], standard: [Double] = [], standardIntercept: [Double] = [], averageIntercept: [Double] = []
        var nIter = 0
        let d = rows.features
        if let start { try start.checkFeatures(d) }
        // A checkpointed fit (not partial_fit): epochs of each class's problem, resumable.
        let checkpoint = stopping ? try SGDCheckpointing(comm: comm) : nil
        checkpoint?.checkpointer.totalUnits = problems.count * epochs
        for (j, i) in problems.enumerated() {
            let yi = labels.map { $0 == i ? 1.0 : p.loss.negativeLabel }
            let s = p.settings(positive: weights[i], negative: binary ? weights[0] : 1)
            let begin = start.map { $0.run(j) }
            let run = try checkpoint?.finishedRun(j) ?? SGDTrainer.train(rows: rows, y: yi, start: begin, features: d, t0: t0, epochs: epochs, stopping: stopping, settings: s,
                                           parameters: p, globalRowStart: data.globalRowStart, globalRows: globalRows, comm: comm,
                                           checkpoint: checkpoint, problem: j)
            if let checkpoint, j >= checkpoint.finished.count { checkpoint.finished.append(run) }
            coef += run.coef
            intercept.append(run.intercept)
            standard += run.standardCoef ?? []
            standardIntercept += run.standardIntercept.map { [$0] } ?? []
            averageIntercept.append(run.averageIntercept)
            nIter = max(nIter, run.nIter)
        }
        try checkpoint?.checkpointer.finish()
        let rowsSeen = p.training == .chained || comm.size == 1 ? globalRows : rows.count
        return SGDClassifierModel(parameters: p, classes: classes, coef: Matrix(rows: problems.count, columns: d, storage: coef), intercept: intercept,
                                  standardCoef: standard.isEmpty ? nil : standard, standardIntercept: standardIntercept.isEmpty ? nil : standardIntercept,
                                  averageIntercept: averageIntercept, nIter: nIter, t: t0 + Double(nIter) * Double(rowsSeen),
                                  schema: Self.schema(data, classes: classes), converged: !stopping || p.tol == nil || nIter < p.maxIter)
    }

    /// The rows' schema with the model's classes (hashed or generated features get x0, x1, … names).
    static func schema(_ data: Dataset<Double>, classes: [String]?) -> FeatureSchema {
        var s = data.schema
        if s.featureNames.count != data.featureCount { s = FeatureSchema(featureNames: (0 ..< data.featureCount).map { "x\($0)" }, target: data.targetName) }
        s.classes = classes
        return s
    }
}

/// scikit-learn's `SGDRegressor`: a linear regressor (squared_error, huber,
/// epsilon_insensitive or squared_epsilon_insensitive loss) by stochastic gradient descent.
public struct SGDRegressor: Estimator, Equatable {
    public var parameters: SGDParameters

    public init(loss: SGDLoss = .squaredError) {
        parameters = SGDParameters(loss: loss, learningRate: .invscaling, powerT: 0.25)
    }

    public init(_ parameters: SGDParameters) { self.parameters = parameters }
    public init(from decoder: Decoder) throws { parameters = try SGDParameters(from: decoder) }
    public func encode(to encoder: Encoder) throws { try parameters.encode(to: encoder) }

    public static let estimatorName = "sgd-regressor"
    public static let role = EstimatorRole.regressor
    public static var fitsShardedData: Bool { true }

    public func validate() throws { try parameters.validate(classification: false) }

    /// Collective. Fits on every rank's rows (scikit-learn's `fit`).
    public func fit(_ data: Dataset<Double>, comm: any Communicator) throws -> SGDRegressorModel {
        try train(data, start: nil, epochs: parameters.maxIter, stopping: true, comm: comm)
    }

    /// Collective. scikit-learn's `partial_fit`: one epoch over every rank's rows from `model`.
    public func partialFit(_ data: Dataset<Double>, model: SGDRegressorModel? = nil, comm: any Communicator) throws -> SGDRegressorModel {
        try train(data, start: model, epochs: 1, stopping: false, comm: comm)
    }

    func train(_ data: Dataset<Double>, start: SGDRegressorModel?, epochs: Int, stopping: Bool, comm: any Communicator) throws -> SGDRegressorModel {
        try validate()
        let p = parameters
        let (rows, y) = try SGDTrainer.rows(data, estimator: Self.estimatorName, comm: comm)
        let globalRows = Int(try comm.allreduce(Int64(rows.count), op: .sum))
        let d = rows.features
        if let start { try start.checkFeatures(d) }
        let t0 = start?.t ?? 1
        let checkpoint = stopping ? try SGDCheckpointing(comm: comm) : nil
        checkpoint?.checkpointer.totalUnits = epochs
        let run = try SGDTrainer.train(rows: rows, y: y, start: start?.run, features: d, t0: t0, epochs: epochs, stopping: stopping,
                                       settings: p.settings(), parameters: p, globalRowStart: data.globalRowStart, globalRows: globalRows, comm: comm,
                                       checkpoint: checkpoint)
        try checkpoint?.checkpointer.finish()
        let rowsSeen = p.training == .chained || comm.size == 1 ? globalRows : rows.count
        return SGDRegressorModel(parameters: p, coef: run.coef, intercept: run.intercept, standardCoef: run.standardCoef,
                                 standardIntercept: run.standardIntercept, averageIntercept: run.averageIntercept, nIter: run.nIter,
                                 t: t0 + Double(run.nIter) * Double(rowsSeen), schema: SGDClassifier.schema(data, classes: nil),
                                 converged: !stopping || p.tol == nil || run.nIter < p.maxIter)
    }
}

/// A fitted ``SGDClassifier``: `coef_` (one row for two classes, else one per class),
/// `intercept_`, `classes_`, `n_iter_`, `t_`.
public struct SGDClassifierModel: DecisionFunctionModel {
    public static let kind = "sgd-classifier"
    public var parameters: SGDParameters
    public var classes: [String]
    public var coef: Matrix<Double>
    public var intercept: [Double]
    /// The unaveraged coefficients while averaging (what `partial_fit` continues from).
    var standardCoef: [Double]?
    var standardIntercept: [Double]?
    var averageIntercept: [Double]
    public var nIter: Int
    public var t: Double
    /// The features (names, categorical dictionaries), target and classes it was fitted on.
    public var schema: FeatureSchema
    public var featureNames: [String] { schema.featureNames }
    /// False when `fit` stopped at `max_iter` before meeting `tol` (scikit-learn's ConvergenceWarning).
    public var converged: Bool

    /// Problem j's state, to continue training.
    func run(_ j: Int) -> SGDRun {
        let d = coef.columns
        return SGDRun(coef: Array(coef.storage[(j * d) ..< (j * d + d)]), intercept: intercept[j],
                      standardCoef: standardCoef.map { Array($0[(j * d) ..< (j * d + d)]) }, standardIntercept: standardIntercept?[j],
                      averageIntercept: averageIntercept[j], nIter: nIter)
    }

    /// scikit-learn's `decision_function`: rows × (1 for two classes, else one per class).
    public func decisionFunction(_ x: Matrix<Double>) throws -> Matrix<Double> {
        try checkFeatures(x.columns)
        return try LinearCoefficients(coef: coef, intercept: intercept).decision(x)
    }

    public func predict(_ x: Matrix<Double>) throws -> [Int] {
        let s = try decisionFunction(x)
        if s.columns == 1 { return s.storage.map { $0 > 0 ? 1 : 0 } }
        return argmaxRows(s.storage, classes: s.columns)
    }

    /// Probabilities for the log_loss (logistic, one-vs-rest normalised) and modified_huber
    /// losses, as scikit-learn computes them; other losses have none.
    public func predictProba(_ x: Matrix<Double>) throws -> Matrix<Double> {
        let s = try decisionFunction(x)
        let k = classes.count
        var out = Matrix<Double>(rows: x.rows, columns: k)
        switch parameters.loss {
        case .logLoss:
            let e = s.storage.map { 1 / (1 + Foundation.exp(-$0)) }
            for i in 0 ..< x.rows {
                if s.columns == 1 { out[i, 0] = 1 - e[i]; out[i, 1] = e[i]; continue }
                let row = e[(i * k) ..< (i * k + k)], sum = row.reduce(0, +)
                for c in 0 ..< k { out[i, c] = e[i * k + c] / sum }
            }
        case .modifiedHuber:
            let h = s.storage.map { (min(1, max(-1, $0)) + 1) / 2 }
            for i in 0 ..< x.rows {
                if s.columns == 1 { out[i, 0] = 1 - h[i]; out[i, 1] = h[i]; continue }
                let sum = h[(i * k) ..< (i * k + k)].reduce(0, +)
                for c in 0 ..< k { out[i, c] = sum == 0 ? 1 / Double(k) : h[i * k + c] / sum }
            }
        default:
            throw MPILearnError.invalidParameter(name: "loss", value: parameters.loss.rawValue,
                                                 allowed: "log_loss or modified_huber for probabilities (predict_proba)")
        }
        return out
    }

    public func container() throws -> ModelContainer {
        try SGDModelFile.container(kind: Self.kind, header: SGDHeader(parameters: parameters, classes: classes, nIter: nIter, t: t, schema: schema,
                                                                          converged: converged, averageIntercept: averageIntercept),
                                      coef: coef, intercept: intercept, standardCoef: standardCoef, standardIntercept: standardIntercept)
    }

    public static func decode(_ c: ModelContainer, path: String) throws -> SGDClassifierModel {
        let (h, coef, intercept, sc, si): (SGDHeader, Matrix<Double>, [Double], [Double]?, [Double]?) = try SGDModelFile.decode(c, path: path)
        guard let classes = h.classes, classes.count >= 2, coef.rows == (classes.count == 2 ? 1 : classes.count) else {
            throw MPILearnError.dataError(SourceLocation(file: path), "SGD classifier model: \(coef.rows) coefficient rows for classes \(h.classes ?? [])")
        }
        return SGDClassifierModel(parameters: h.parameters, classes: classes, coef: coef, intercept: intercept, standardCoef: sc, standardIntercept: si,
                                  averageIntercept: h.averageIntercept, nIter: h.nIter, t: h.t, schema: h.schema, converged: h.converged)
    }

    public func summary() -> [(String, String)] {
        [("classes", listPreview(classes)), ("coefficients", "\(coef.rows) × \(coef.columns) (\(listPreview(featureNames)))"),
         ("training", "\(nIter) epoch(s), t_=\(Int(t)), \(converged ? "converged" : "max_iter reached") (\(parameters.training.rawValue))"),
         ("parameters", "loss=\(parameters.loss.rawValue) penalty=\(parameters.penalty?.rawValue ?? "None") alpha=\(parameters.alpha) "
            + "learning_rate=\(parameters.learningRate.rawValue)")]
    }
}

/// A fitted ``SGDRegressor``: `coef_`, `intercept_`, `n_iter_`, `t_`.
public struct SGDRegressorModel: RegressorModel {
    public static let kind = "sgd-regressor"
    public var parameters: SGDParameters
    public var coef: [Double]
    public var intercept: Double
    var standardCoef: [Double]?
    var standardIntercept: Double?
    var averageIntercept: Double
    public var nIter: Int
    public var t: Double
    public var schema: FeatureSchema
    public var featureNames: [String] { schema.featureNames }
    public var converged: Bool

    var run: SGDRun {
        SGDRun(coef: coef, intercept: intercept, standardCoef: standardCoef, standardIntercept: standardIntercept, averageIntercept: averageIntercept, nIter: nIter)
    }

    public func predict(_ x: Matrix<Double>) throws -> [Double] {
        try checkFeatures(x.columns)
        return try LinearCoefficients(coef: Matrix(rows: 1, columns: coef.count, storage: coef), intercept: [intercept]).decision(x).storage
    }

    public func container() throws -> ModelContainer {
        try SGDModelFile.container(kind: Self.kind, header: SGDHeader(parameters: parameters, classes: nil, nIter: nIter, t: t, schema: schema,
                                                                          converged: converged, averageIntercept: [averageIntercept]),
                                      coef: Matrix(rows: 1, columns: coef.count, storage: coef), intercept: [intercept],
                                      standardCoef: standardCoef, standardIntercept: standardIntercept.map { [$0] })
    }

    public static func decode(_ c: ModelContainer, path: String) throws -> SGDRegressorModel {
        let (h, coef, intercept, sc, si): (SGDHeader, Matrix<Double>, [Double], [Double]?, [Double]?) = try SGDModelFile.decode(c, path: path)
        guard coef.rows == 1, intercept.count == 1, h.averageIntercept.count == 1 else {
            throw MPILearnError.dataError(SourceLocation(file: path), "SGD regressor model: \(coef.rows) coefficient rows, expected 1")
        }
        return SGDRegressorModel(parameters: h.parameters, coef: coef.storage, intercept: intercept[0], standardCoef: sc, standardIntercept: si?.first,
                                 averageIntercept: h.averageIntercept[0], nIter: h.nIter, t: h.t, schema: h.schema, converged: h.converged)
    }

    public func summary() -> [(String, String)] {
        [("coefficients", "\(coef.count) (\(listPreview(featureNames)))"),
         ("training", "\(nIter) epoch(s), t_=\(Int(t)), \(converged ? "converged" : "max_iter reached") (\(parameters.training.rawValue))"),
         ("parameters", "loss=\(parameters.loss.rawValue) penalty=\(parameters.penalty?.rawValue ?? "None") alpha=\(parameters.alpha) "
            + "learning_rate=\(parameters.learningRate.rawValue)")]
    }
}

struct SGDHeader: Codable {
    var parameters: SGDParameters
    var classes: [String]?
    var nIter: Int
    var t: Double
    var schema: FeatureSchema
    var converged: Bool
    var averageIntercept: [Double]
    var mpilearnVersion = MPILearnVersion.string
}

/// The SGD models' file layout: a JSON header (parameters, schema, classes, `n_iter_`, `t_`)
/// and Float64 sections `shape`, `coef`, `intercept`, and while averaging `standard_coef`,
/// `standard_intercept` (what `partial_fit` continues from, which the other linear models'
/// ``LinearCoefficients`` files do not hold).
enum SGDModelFile {
    static func container<H: Encodable>(kind: String, header: H, coef: Matrix<Double>, intercept: [Double], standardCoef: [Double]?,
                                        standardIntercept: [Double]?) throws -> ModelContainer {
        var sections: [(name: String, bytes: Data)] = [("coef", Data(flat: coef.storage)), ("intercept", Data(flat: intercept)),
                                                       ("shape", Data(flat: [Int64(coef.rows), Int64(coef.columns)]))]
        if let standardCoef, let standardIntercept {
            sections += [("standard_coef", Data(flat: standardCoef)), ("standard_intercept", Data(flat: standardIntercept))]
        }
        return ModelContainer(kind: kind, header: try ModelJSON.encoder.encode(header), sections: sections)
    }

    static func decode<H: Decodable>(_ c: ModelContainer, path: String) throws -> (H, Matrix<Double>, [Double], [Double]?, [Double]?) {
        func bad(_ m: String) -> MPILearnError { .dataError(SourceLocation(file: path), m) }
        let h: H
        do { h = try ModelJSON.decoder.decode(H.self, from: c.header) } catch { throw bad("\(c.kind) model header is not valid: \(error)") }
        let shape = try c.section("shape", in: path).flatArray(of: Int64.self, path: path)
        let coef = try c.section("coef", in: path).flatArray(of: Double.self, path: path)
        let intercept = try c.section("intercept", in: path).flatArray(of: Double.self, path: path)
        // The product with overflow reported: a damaged shape must be this error, not a trap.
        let size = shape.count == 2 ? shape[0].multipliedReportingOverflow(by: shape[1]) : (partialValue: 0, overflow: true)
        guard shape.count == 2, shape[0] >= 1, shape[1] >= 0, !size.overflow, coef.count == size.partialValue, intercept.count == shape[0] else {
            throw bad("\(c.kind) model: \(coef.count) coefficients and \(intercept.count) intercepts for shape \(shape)")
        }
        let sc = c.sections.contains { $0.name == "standard_coef" } ? try c.section("standard_coef", in: path).flatArray(of: Double.self, path: path) : nil
        let si = c.sections.contains { $0.name == "standard_intercept" } ? try c.section("standard_intercept", in: path).flatArray(of: Double.self, path: path) : nil
        guard sc.map({ $0.count == coef.count }) ?? true, si.map({ $0.count == intercept.count }) ?? true else {
            throw bad("\(c.kind) model: the unaveraged coefficients do not match the coefficients' shape")
        }
        return (h, Matrix(rows: Int(shape[0]), columns: Int(shape[1]), storage: coef), intercept, sc, si)
    }
}
