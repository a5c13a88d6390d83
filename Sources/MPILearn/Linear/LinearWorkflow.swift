import Foundation
import SwiftMPI

/// The `mpilearn linear` workflows as library calls: fit a linear model on the ranks' shards
/// and save it, predict a dataset with a saved model, score it on labelled rows.
///
/// ```swift
/// let source = ForestWorkflow.TrainingSource(path: "train.csv", target: "label")
/// let fit = try LinearWorkflow.fitAndSave(source, estimator: "logistic-regression",
///                                         parameters: ["C": 0.5], model: "m.model", comm: comm)
/// let report = try LinearWorkflow.score(model: "m.model", test: "test.csv", comm: comm)
/// ```
///
/// Categorical features (`categorical`) enter a linear model as their dictionary codes
/// (0, 1, … in sorted order of the values), as an ordinal feature; one-hot encoding is not
/// done here.
public enum LinearWorkflow {
    /// The estimators `linear` fits, by their search names.
    public static let estimators = [LinearRegression.estimatorName, Ridge.estimatorName, LogisticRegression.estimatorName,
                                    SGDClassifier.estimatorName, SGDRegressor.estimatorName]

    /// The estimator `name` with scikit-learn-named `parameters` set.
    /// - Throws: ``MPILearnError/invalidParameter`` for an unknown estimator or a bad value;
    ///   ``MPILearnError/unknownParameter`` for a parameter the estimator does not have.
    public static func estimator(_ name: String, parameters: [String: ParameterValue]) throws -> any Estimator {
        let e: any Estimator
        switch name {
        case LinearRegression.estimatorName: e = try LinearRegression().setting(parameters)
        case Ridge.estimatorName: e = try Ridge().setting(parameters)
        case LogisticRegression.estimatorName: e = try LogisticRegression().setting(parameters)
        case SGDClassifier.estimatorName: e = try SGDClassifier().setting(parameters)
        case SGDRegressor.estimatorName: e = try SGDRegressor().setting(parameters)
        default: throw MPILearnError.invalidParameter(name: "--estimator", value: "'\(name)'", allowed: estimators.joined(separator: ", "))
        }
        try e.validate()
        return e
    }

    /// What ``fitAndSave(_:estimator:parameters:model:comm:log:)`` reports on rank 0.
    public struct FitSummary: Sendable {
        public var estimator: String
        public var trainRows: Int
        public var features: Int
        public var ranks: Int
        /// L-BFGS iterations (logistic regression).
        public var nIter: Int?
        /// The non-convergence warning, if any.
        public var warning: String?
        public var model: String
        /// The phase table (maximum over ranks): `read` (the training rows, made dense),
        /// `gram` (the local centred XᵀX and Xᵀy; linear-regression and ridge) and the rest of
        /// the fit (`sums + reduce + solve`), or `fit` (logistic-regression), then `save`.
        public var phases: String?

        public var text: String {
            var lines: [String] = []
            if let warning { lines.append("warning: \(warning)") }
            lines.append("fitted \(estimator) on \(trainRows) rows × \(features) features over \(ranks) rank(s)"
                         + (nIter.map { " in \($0) L-BFGS iteration(s)" } ?? ""))
            lines.append("model written to \(model)")
            if let phases { lines.append(phases) }
            return lines.joined(separator: "\n")
        }
    }

    /// Collective. Loads every rank's shard of `source` (dense) and fits the estimator on it.
    /// - Returns: the model, identical on every rank.
    public static func fit(_ source: ForestWorkflow.TrainingSource, estimator name: String, parameters: [String: ParameterValue],
                           comm: any Communicator, log: (String) -> Void = { _ in }) throws -> any FittedModel {
        var timer = PhaseTimer(trace: comm)
        return try fitCounting(source, estimator: name, parameters: parameters, comm: comm, log: log, timer: &timer).model
    }

    /// The model and the training rows over all ranks; `timer` gets the phases `read`, then
    /// `gram` and `sums + reduce + solve` (a Gram fit on dense rows) or `fit`.
    static func fitCounting(_ source: ForestWorkflow.TrainingSource, estimator name: String, parameters: [String: ParameterValue],
                            comm: any Communicator, log: (String) -> Void, timer: inout PhaseTimer,
                            checkpoint options: CheckpointOptions? = nil) throws -> (model: any FittedModel, rows: Int) {
        let e = try estimator(name, parameters: parameters)   // parameters first: every error before any data is read
        if let options, !(e is LogisticRegression || e is SGDClassifier || e is SGDRegressor) {
            throw MPILearnError.invalidParameter(name: "--checkpoint", value: options.directory,
                                                 allowed: "an iterative learner: logistic-regression (L-BFGS iterations), sgd-classifier or sgd-regressor (epochs); \(name) solves in one pass")
        }
        timer.skip()
        var data = try TrainingData.loadTrain(path: source.path, target: source.target, categorical: source.categorical,
                                              features: source.features, classification: type(of: e).role == .classifier, comm: comm) {
            if comm.rank == 0 { log("note: \($0)") }
        }
        data.makeDense()
        timer.mark("read", comm: false)
        let checkpoint = try options.map { c in
            try Checkpointer(c, kind: "linear", unit: e is LogisticRegression ? "iterations" : "epochs", identity: [
                ("estimator", name), ("parameters", parameters.keys.sorted().map { "\($0)=\(parameters[$0]!)" }.joined(separator: ",")),
                ("data", "\(source.path) (target \(source.target)): \(data.globalRowCount) rows × \(data.featureCount) features"),
            ], comm: comm)
        }
        if let checkpoint, comm.rank == 0 { log(checkpoint.plan) }
        let gram = GramTimer(), t0 = monotonicSeconds()
        let model = try GramTimer.$current.withValue(gram) {
            try Checkpointer.$active.withValue(checkpoint) { try fitOpened(e, data, comm: comm) }
        }
        if let checkpoint, comm.rank == 0 { log(checkpoint.summary) }
        let fitSeconds = monotonicSeconds() - t0
        if e is LinearRegression || e is Ridge {
            timer.add("gram", gram.seconds, comm: false)
            timer.add("sums + reduce + solve", max(0, fitSeconds - gram.seconds), comm: true)
        } else {
            timer.add("fit", fitSeconds, comm: true)
        }
        timer.skip()
        return (model, data.globalRowCount)
    }

    private static func fitOpened<E: Estimator>(_ e: E, _ data: Dataset<Double>, comm: any Communicator) throws -> any FittedModel {
        try e.fit(data, comm: comm)
    }

    /// Collective. Fits as ``fit(_:estimator:parameters:comm:log:)`` and saves the model to
    /// `model` (rank 0 writes it).
    /// - Returns: on rank 0 the summary; nil on the other ranks.
    public static func fitAndSave(_ source: ForestWorkflow.TrainingSource, estimator name: String, parameters: [String: ParameterValue],
                                  model path: String, comm: any Communicator, checkpoint: CheckpointOptions? = nil,
                                  log: (String) -> Void = { _ in }) throws -> FitSummary? {
        var timer = PhaseTimer(trace: comm)
        let (model, rows) = try fitCounting(source, estimator: name, parameters: parameters, comm: comm, log: log, timer: &timer, checkpoint: checkpoint)
        if comm.rank == 0 { try model.save(to: path) }
        timer.mark("save", comm: false)
        let phases = try timer.text(comm)   // collective: after the save, so no rank reports before the file exists
        guard comm.rank == 0 else { return nil }
        let logistic = model as? LogisticRegressionModel
        return FitSummary(estimator: name, trainRows: rows, features: model.featureNames.count, ranks: comm.size,
                          nIter: logistic?.nIter, warning: logistic?.warning ?? (model as? RidgeModel)?.warning, model: path, phases: phases)
    }

    /// What ``run(_:estimator:parameters:test:model:comm:log:)`` reports on rank 0.
    public struct RunSummary: Sendable {
        /// The fit: the estimator, rows, features and ranks, and any warning.
        public var fit: FitSummary
        /// The metrics on the test rows.
        public var report: ForestWorkflow.Report
        /// The per-phase table (read, fit or gram + solve, save, test read and scoring).
        public var phases: String?

        public var text: String {
            var lines: [String] = []
            if let warning = fit.warning { lines.append("warning: \(warning)") }
            lines.append("fitted \(fit.estimator) on \(fit.trainRows) rows × \(fit.features) features over \(fit.ranks) rank(s)"
                         + (fit.nIter.map { " in \($0) iteration(s)" } ?? ""))
            if !fit.model.isEmpty { lines.append("model written to \(fit.model)") }
            lines.append(report.text)
            if let phases { lines.append(phases) }
            return lines.joined(separator: "\n")
        }
    }

    /// Collective. The whole job in one launch: fits the estimator on every rank's shard of
    /// `source`, saves the model when `model` is given, and scores it on every rank's block
    /// of `test` (the target column of `source`, the test file aligned to the training
    /// schema), with the time of each phase.
    /// - Returns: on rank 0 the summary; nil on the other ranks.
    public static func run(_ source: ForestWorkflow.TrainingSource, estimator name: String, parameters: [String: ParameterValue],
                           test: String, model path: String? = nil, comm: any Communicator, checkpoint: CheckpointOptions? = nil,
                           log: (String) -> Void = { _ in }) throws -> RunSummary? {
        var timer = PhaseTimer(trace: comm)
        let (model, rows) = try fitCounting(source, estimator: name, parameters: parameters, comm: comm, log: log, timer: &timer, checkpoint: checkpoint)
        if let path {
            if comm.rank == 0 { try model.save(to: path) }
            try comm.barrier()
            timer.mark("save", comm: false)
        }
        let s = schema(of: model)
        let testRows = try TrainingData.loadTest(path: test, schema: s, target: source.target, broadcast: false, comm: comm,
                                                 note: { if comm.rank == 0 { log("note: \($0)") } })
        timer.mark("read test", comm: false)
        let report = try score(model, features: testRows.matrix, target: testRows.target!, comm: comm)
        timer.mark("score", comm: true)
        let phases = try timer.text(comm)
        guard comm.rank == 0 else { return nil }
        let logistic = model as? LogisticRegressionModel
        let fit = FitSummary(estimator: name, trainRows: rows, features: model.featureNames.count, ranks: comm.size,
                             nIter: logistic?.nIter ?? (model as? RidgeModel)?.nIter,
                             warning: logistic?.warning ?? (model as? RidgeModel)?.warning, model: path ?? "", phases: nil)
        return RunSummary(fit: fit, report: report, phases: phases)
    }

    /// What ``predict(model:test:output:layout:proba:comm:log:)`` did.
    public struct PredictSummary: Sendable {
        public var rows: Int
        public var ranks: Int
        public var written: String
        public var text: String { "predicted \(rows) rows on \(ranks) rank(s); wrote \(written)" }
    }

    /// Collective. Loads the model in `modelPath` on every rank (one reader, one broadcast),
    /// each rank's block of `test`, and writes the predictions in global row order to
    /// `output`: a header (`prediction`, then `proba_<class>` columns with `proba` for a
    /// classifier), then one line per row.
    public static func predict(model modelPath: String, test: String, output: String, layout: ParallelFile.Layout = .single,
                               proba: Bool = false, comm: any Communicator, log: (String) -> Void = { _ in }) throws -> PredictSummary {
        let model = try load(modelPath, comm: comm)
        let rows = try TrainingData.loadTest(path: test, schema: schema(of: model), target: nil, broadcast: false, comm: comm,
                                             note: { if comm.rank == 0 { log("note: \($0)") } })
        let x = rows.matrix
        try ParallelFile.write(output, layout: layout, comm: comm) { emit in
            var text = ""
            if let c = model as? any ClassifierModel {
                if comm.rank == 0 { try emit("prediction" + (proba ? c.classes.map { ",proba_\($0)" }.joined() : "") + "\n") }
                let p = proba ? try c.predictProba(x) : Matrix<Double>(rows: x.rows, columns: 0), labels = try c.predict(x)
                for i in 0 ..< x.rows {
                    text += c.classes[labels[i]]
                    if proba { for j in 0 ..< p.columns { text += "," + String(p[i, j]) } }
                    text += "\n"
                }
            } else if let r = model as? any RegressorModel {
                if comm.rank == 0 { try emit("prediction\n") }
                for v in try r.predict(x) { text += String(v) + "\n" }
            }
            try emit(text)
        }
        let written = layout == .single ? output : "\(output).part-*-of-\(String(format: "%05d", comm.size))"
        return PredictSummary(rows: rows.globalRowCount, ranks: comm.size, written: written)
    }

    /// Collective. Loads the model on every rank and each rank's block of the labelled
    /// `test`, and reports accuracy, log loss, ROC AUC (two classes) and the confusion matrix
    /// for a classifier, R², MSE and MAE for a regressor, computed over all ranks.
    /// - Parameter target: the target column or expression (default: the model's).
    public static func score(model modelPath: String, test: String, target: String? = nil, comm: any Communicator,
                             log: (String) -> Void = { _ in }) throws -> ForestWorkflow.Report {
        let model = try load(modelPath, comm: comm)
        let s = schema(of: model)
        let rows = try TrainingData.loadTest(path: test, schema: s, target: target ?? s.target, broadcast: false, comm: comm,
                                             note: { if comm.rank == 0 { log("note: \($0)") } })
        return try score(model, features: rows.matrix, target: rows.target!, comm: comm)
    }

    /// Collective. Scores a model on this rank's labelled rows (class codes of the model's
    /// classes, or values); the metrics are computed over all ranks.
    public static func score(_ model: any FittedModel, features x: Matrix<Double>, target y: [Double], comm: any Communicator) throws -> ForestWorkflow.Report {
        if let c = model as? any ClassifierModel {
            // Probabilities where the model has them; otherwise its predictions as one-hot votes
            // (an SGD hinge model: accuracy and the confusion matrix stay exact).
            var p: Matrix<Double>
            if let q = try? c.predictProba(x) { p = q } else {
                p = Matrix(rows: x.rows, columns: c.classes.count)
                for (i, label) in try c.predict(x).enumerated() { p[i, label] = 1 }
            }
            return .classification(try ClassificationReport(yTrue: y.map { Int($0) }, votes: p.storage, classes: c.classes, voting: .soft,
                                                            nEstimators: 1, comm: comm))
        }
        guard let r = model as? any RegressorModel else { throw MPILearnError.mismatch("\(type(of: model).kind) is not a linear model") }
        return .regression(try RegressionReport(yTrue: y, yPred: try r.predict(x), comm: comm))
    }

    /// Collective. A linear model file read on rank 0 and broadcast.
    /// - Throws: ``MPILearnError/dataError`` for another kind of model.
    public static func load(_ path: String, comm: any Communicator) throws -> any FittedModel {
        let bytes = try ModelContainer.broadcastFileBytes(path, expectedKinds: estimators, comm: comm)
        return try ModelContainer.decode(bytes: bytes, path: path, expectedKinds: estimators) { try ModelRegistry.decode($0, path: path) }
    }

    static func schema(of model: any FittedModel) -> FeatureSchema {
        switch model {
        case let m as LinearRegressionModel: return m.schema
        case let m as RidgeModel: return m.schema
        case let m as LogisticRegressionModel: return m.schema
        case let m as SGDClassifierModel: return m.schema
        case let m as SGDRegressorModel: return m.schema
        default: return FeatureSchema(featureNames: model.featureNames)
        }
    }
}
