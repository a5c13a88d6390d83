import Foundation
import SwiftMPI

/// The `mpilearn svm` workflows as library calls: fit an ``SVC``, a ``NuSVC`` or an ``SVR`` on
/// the ranks' shards and save it, predict a dataset with a saved model (streamed, any size), score it on
/// labelled rows, and the whole `run` (load, fit, score, phase times, peak memory).
///
/// Every function is collective: call it on every rank with the same arguments. Lines meant
/// for the user go to a `log` closure, called on rank 0 only, one line per call (no final
/// newline); a function's result carries the numbers and a `text` as printed.
///
/// ```swift
/// let source = ForestWorkflow.TrainingSource(path: "train.csv", target: "label")
/// var svc = SVC(C: 10, kernel: "rbf")
/// try svc.validate()
/// let result = try SVMWorkflow.run(.init(source: source, estimator: svc, test: "test.csv"), comm: world) { print($0) }
/// _ = result.report.accuracy   // an SVR's report has r2
/// ```
public enum SVMWorkflow {
    // MARK: fit

    /// What a fit did, the same on every rank.
    public struct FitSummary: Sendable {
        /// The parameters fitted with (an ``SVC``, a ``NuSVC`` or an ``SVR``).
        public var estimator: any SVMEstimator
        /// Training rows over all ranks, features, ranks.
        public var trainRows: Int
        public var features: Int
        public var ranks: Int
        /// Class labels (none for a regressor) and support vectors per class (`n_support_`;
        /// a regressor: one count).
        public var classes: [String]
        public var nSupport: [Int]
        /// The kernel's gamma as resolved from the data (scikit-learn's `_gamma`).
        public var gamma: Double
        /// SMO iterations per solve (`n_iter_`: per pair of classes for an SVC) and the
        /// summed dual objective.
        public var nIter: [Int]
        public var objective: Double
        /// Wall seconds of the fit (after the load), the slowest rank's.
        public var fitSeconds: Double
        /// The fit's own timings and counts (gather, solve, cascade levels).
        public var statistics: SVMFitStatistics
        /// Set when `max_iter` stopped a solve (scikit-learn's ConvergenceWarning).
        public var warning: String?
        /// The model file written, if any.
        public var model: String?

        /// Support vectors over all classes.
        public var supportVectors: Int { nSupport.reduce(0, +) }

        /// The lines printed after a fit: `fit: <seconds> s ...`, `support vectors: <total>
        /// (per class a, b, ...)` (a regressor: `of <n> training rows`), the classes, the
        /// cascade's levels, any warning and the model file (no final newline).
        public var text: String {
            var lines: [String] = []
            let classifier = !classes.isEmpty
            lines.append(String(format: "fit: %.3f s", fitSeconds)
                + " (slowest rank; \(estimator.trainingMode) training on \(trainRows) rows over \(ranks) rank(s); "
                + "\(nIter.reduce(0, +)) SMO iterations" + (classifier ? " over \(nIter.count) pair(s) of classes" : "")
                + "; dual objective \(String(format: "%.6g", objective)))")
            if classifier {
                lines.append("support vectors: \(supportVectors) (per class \(nSupport.map(String.init).joined(separator: ", ")))")
                lines.append("classes: \(classes.count) (\(listPreview(classes)))")
            } else {
                lines.append("support vectors: \(supportVectors) of \(trainRows) training rows")
            }
            lines.append("estimator: \(type(of: estimator).className)(\(parameterText(estimator, resolvedGamma: gamma)))")
            if statistics.passes > 0 || !statistics.levelRows.isEmpty {
                lines.append("cascade: \(statistics.passes) pass(es); rows solved per level \(statistics.levelRows.map(String.init).joined(separator: ", "))"
                    + (statistics.violators.isEmpty ? "" : "; global violators per pass \(statistics.violators.map(String.init).joined(separator: ", "))"))
                let seconds = { (v: [Double]) in v.map { String(format: "%.1f", $0) }.joined(separator: ", ") }
                if !statistics.levelSeconds.isEmpty {
                    lines.append("cascade: seconds per level \(seconds(statistics.levelSeconds)); per pass \(seconds(statistics.passSeconds))")
                }
            }
            if let warning { lines.append("warning: \(warning)") }
            if let model { lines.append("model written to \(model)") }
            return lines.joined(separator: "\n")
        }
    }

    /// The line printed after the load: rows, features, ranks and the estimator.
    static func trainLine(rows: Int, features: Int, ranks: Int, estimator e: any SVMEstimator) -> String {
        "train: \(rows) rows × \(features) features on \(ranks) rank(s); fitting \(type(of: e).className)(\(parameterText(e)))"
    }

    /// The parameters that shape the fit, as scikit-learn would print them.
    static func parameterText(_ e: any SVMEstimator, resolvedGamma: Double? = nil) -> String {
        var p = ["kernel=\(e.kernel)", e.penaltyText]
        let kind = SVMKernel(rawValue: e.kernel)
        if kind == .rbf || kind == .poly || kind == .sigmoid {
            var g = e.gamma.description
            if let resolvedGamma, e.gamma.number == nil { g += " (\(String(format: "%.6g", resolvedGamma)))" }
            p.append("gamma=\(g)")
        }
        if kind == .poly { p.append("degree=\(e.degree)") }
        if kind == .poly || kind == .sigmoid { p.append("coef0=\(e.coef0)") }
        p += e.ownParameterText
        p.append("training=\(e.trainingMode)")
        return p.joined(separator: ", ")
    }

    /// A fit with its phases, the same on every rank.
    struct TimedFit<Model: SVMFittedModel> {
        var model: Model
        var summary: FitSummary
        /// This rank's training rows as Doubles, in MB (the peak-memory line's reference).
        var rawFeatureMB: Double
    }

    /// Loads the shards and fits; `timer` gets `load`, then the fit's `gather` and `solve`
    /// (or the cascade's) phases.
    static func fitTimed<E: SVMEstimator>(_ source: ForestWorkflow.TrainingSource, estimator: E, comm: any Communicator, log: (String) -> Void,
                                          timer: inout PhaseTimer) throws -> TimedFit<E.Model> {
        try estimator.validate()   // parameters first: every error before any data is read
        timer.skip()
        let data = try TrainingData.loadTrain(path: source.path, target: source.target, categorical: source.categorical,
                                              features: source.features, classification: E.role == .classifier, comm: comm) {
            if comm.rank == 0 { log("note: \($0)") }
        }
        timer.mark("load", comm: false)
        let rows = data.globalRowCount, features = data.featureCount
        let raw = Double(data.rowCount * features * 8) / 1_048_576
        if comm.rank == 0 { log(trainLine(rows: rows, features: features, ranks: comm.size, estimator: estimator)) }
        let t0 = monotonicSeconds()
        let model = try estimator.fit(data, comm: comm)
        let seconds = monotonicSeconds() - t0
        let fitSeconds = try comm.allreduce([seconds], op: .max)[0]
        // The fit's own timings: the solve (the direct solve's pairs, or the cascade's levels);
        // the rest is checking and gathering the rows (or the cascade's merges).
        let s = model.statistics
        let solve = min(max(0, s.solveSeconds), seconds)
        // Every rank adds the same phases (the table is reduced over ranks): the checks of the
        // rows count with the gather.
        let cascade = estimator.trainingMode == "cascade"
        timer.add(cascade ? "cascade gather" : "gather", seconds - solve, comm: true)
        timer.add(cascade ? "cascade levels" : "solve", solve, comm: false)
        timer.skip()
        let summary = FitSummary(estimator: estimator, trainRows: rows, features: features, ranks: comm.size,
                                 classes: oneVsOne(model)?.classes ?? [], nSupport: model.supportCounts, gamma: model.kernel.gamma,
                                 nIter: model.iterations, objective: model.objective,
                                 fitSeconds: fitSeconds, statistics: s, warning: model.warning, model: nil)
        return TimedFit(model: model, summary: summary, rawFeatureMB: raw)
    }

    /// Collective. Loads every rank's shard of `source` (CSV or generator spec) and fits the
    /// SVC, NuSVC or SVR on it (``SVC/fit(_:comm:)``, ``NuSVC/fit(_:comm:)``, ``SVR/fit(_:comm:)``).
    /// - Returns: the model and the fit's summary, identical on every rank.
    /// - Throws: ``MPILearnError/invalidParameter`` for a bad parameter (before any data is
    ///   read), ``MPILearnError/dataError`` for non-finite features or targets, fewer than two
    ///   classes (an SVC) or a precomputed kernel that is not square.
    public static func fit<E: SVMEstimator>(_ source: ForestWorkflow.TrainingSource, estimator: E, comm: any Communicator,
                                            log: (String) -> Void = { _ in }) throws -> (model: E.Model, summary: FitSummary) {
        var timer = PhaseTimer(trace: comm)
        let f = try fitTimed(source, estimator: estimator, comm: comm, log: log, timer: &timer)
        return (f.model, f.summary)
    }

    /// What ``fitAndSave(_:estimator:model:comm:log:)`` reports on rank 0.
    public struct FitReport: Sendable {
        public var fit: FitSummary
        /// The phase table (maximum over ranks): load, gather, solve, save.
        public var phases: String?

        public var text: String { [fit.text, phases].compactMap { $0 }.joined(separator: "\n") }
    }

    /// Collective. Fits as ``fit(_:estimator:comm:log:)`` and saves the model to `model`
    /// (rank 0 writes it atomically).
    /// - Returns: on rank 0 the report; nil on the other ranks.
    public static func fitAndSave<E: SVMEstimator>(_ source: ForestWorkflow.TrainingSource, estimator: E, model path: String, comm: any Communicator,
                                                   log: (String) -> Void = { _ in }) throws -> FitReport? {
        var timer = PhaseTimer(trace: comm)
        var f = try fitTimed(source, estimator: estimator, comm: comm, log: log, timer: &timer)
        if comm.rank == 0 { try f.model.save(to: path) }
        try comm.barrier()   // no rank reports before the file exists
        timer.mark("save", comm: false)
        let phases = try timer.text(comm)
        guard comm.rank == 0 else { return nil }
        f.summary.model = path
        return FitReport(fit: f.summary, phases: phases)
    }

    // MARK: predict

    /// Collective. Loads the SVC, NuSVC or SVR model in `model` on every rank and predicts every row of
    /// `test` into `options.output` with the streaming predictor (``StreamingPredict``: a CSV
    /// file, folder or glob, an `.npy` file or `file.h5:/object`, read chunk by chunk; the
    /// output in input order). A generator spec (`classification:ROWS,FEATURES[,SEED]`) is
    /// generated on the ranks and written as CSV.
    ///
    /// A classifier's `prediction` column is the model's vote (``SVCModel/predict(_:)``), also with
    /// `proba` (Platt probabilities can disagree with it, as in scikit-learn); an SVR's is
    /// its value.
    /// - Throws: ``MPILearnError/invalidParameter`` for `proba` with an SVR or an SVC fitted
    ///   without `probability`; ``MPILearnError/mismatch`` for a precomputed-kernel model given a
    ///   matrix whose width is not the training rows; ``MPILearnError/dataError`` for another
    ///   kind of model file or a non-finite feature.
    /// - Parameter threads: threads per rank for the kernel blocks (`n_jobs`; the output does
    ///   not depend on it).
    public static func predict(model path: String, test: String, options: StreamingPredict.Options, threads: Int = 1,
                               comm: any Communicator, log: (String) -> Void = { _ in }) throws -> StreamingPredict.Summary {
        try options.validate()
        try require(threads >= 1, "--threads", threads, "an integer >= 1")
        let start = Date()
        var model = try loadModel(path, comm: comm)
        model.threads = threads
        if options.proba && oneVsOne(model)?.probA == nil {
            throw MPILearnError.invalidParameter(name: "--proba", value: "set", allowed: model is SVRModel
                ? "a classifier's model (svc or nusvc); \(path) is an SVR (a regressor has no probabilities)"
                : "a model fitted with --probability (probability=True); \(path) was fitted without it")
        }
        try checkPrecomputedWidth(model, test: test, target: nil)
        guard TrainingData.isGeneratorSpec(test) else {
            return try StreamingPredict.run(model: model, path: path, data: test, options: options, comm: comm, log: log)
        }
        guard StreamingPredict.OutputFormat(options.output) == .csv, options.passthrough.isEmpty else {
            throw MPILearnError.invalidParameter(name: "--output", value: options.output,
                                                 allowed: "a CSV output for generated test data (\(test)); predict a CSV, NPY or HDF5 file for other outputs")
        }
        let rows = try TrainingData.loadTest(path: test, schema: model.schema, target: nil, broadcast: false, comm: comm,
                                             note: { if comm.rank == 0 { log("note: \($0)") } })
        let predictor = try TablePredictor(model, path: path)
        let names = predictor.outputNames(proba: options.proba)
        var bytes: [UInt8] = []
        let x = rows.matrix
        var at = 0
        while at < x.rows {   // chunk by chunk, as the streaming predictor does
            let end = min(x.rows, at + options.chunkRows)
            let chunk = Matrix(rows: end - at, columns: x.columns, storage: Array(x.storage[(at * x.columns) ..< (end * x.columns)]))
            CSVOut.append(rows: try predictor.run(chunk, options.proba), passthrough: [], skipped: [], columns: names.count, into: &bytes)
            at = end
        }
        let header = Array((names.map(CSVOut.quoted).joined(separator: ",") + "\n").utf8)
        try ParallelFile.write(options.output, layout: options.layout, comm: comm, header: { _ in header }) { emit in
            try bytes.withUnsafeBytes { try emit($0) }
        }
        let written = options.layout == .single ? options.output : "\(options.output).part-*-of-\(String(format: "%05d", comm.size))"
        return StreamingPredict.Summary(rows: rows.globalRowCount, skipped: 0, seconds: Date().timeIntervalSince(start), ranks: comm.size,
                                        written: written)
    }

    /// Collective. The SVC, NuSVC or SVR model in `path`, read on rank 0 and given to every
    /// rank (decoded by ``ModelRegistry``).
    /// - Throws: ``MPILearnError/dataError`` for a missing or damaged file or another kind of model.
    public static func loadModel(_ path: String, comm: any Communicator) throws -> any SVMFittedModel {
        let kinds = [SVCModel.kind, NuSVCModel.kind, SVRModel.kind]
        let bytes = try ModelContainer.broadcastFileBytes(path, expectedKinds: kinds, comm: comm)
        return try ModelContainer.decode(bytes: bytes, path: path, expectedKinds: kinds) { c -> any SVMFittedModel in
            guard let model = try ModelRegistry.decode(c, path: path) as? any SVMFittedModel else {
                throw MPILearnError.dataError(SourceLocation(file: path), "a '\(c.kind)' model is not a kernel SVM's")
            }
            return model
        }
    }

    /// A classifier's one-vs-one model (an SVC's, or the one inside a NuSVC's); nil for an SVR.
    static func oneVsOne(_ model: any SVMFittedModel) -> SVCModel? {
        (model as? SVCModel) ?? (model as? NuSVCModel)?.fitted
    }

    /// A precomputed-kernel model reads a matrix of kernel values against its training rows:
    /// a CSV must have exactly that many columns (besides the target), not merely columns
    /// of those names. Local (reads the header).
    static func checkPrecomputedWidth(_ model: any SVMFittedModel, test: String, target: String?) throws {
        guard model.kernel.kernel == .precomputed, !TrainingData.isGeneratorSpec(test), !test.lowercased().hasSuffix(".npy"),
              !HDF5Source.isHDF5(test) else { return }
        let names = try TrainingData.columnNames(test)
        var targetColumns = Set<String>()
        if let target { targetColumns.formUnion(try TargetSpec(target, columns: names).columns) }
        if !model.schema.target.isEmpty && names.contains(model.schema.target) { targetColumns.insert(model.schema.target) }
        let width = names.filter { !targetColumns.contains($0) }.count
        guard width == model.nTrainingRows else {
            throw MPILearnError.mismatch("\(test): kernel='precomputed' needs n_samples × n_train = \(model.nTrainingRows) kernel values per row "
                + "(the model was trained on \(model.nTrainingRows) rows); the file has \(width) columns"
                + (targetColumns.isEmpty ? "" : " besides the target \(listPreview(targetColumns.sorted()))"))
        }
    }

    /// Throws for the first non-finite value of `x`, naming its row and column
    /// (`locate(row, column)`: the row's location in the input).
    static func requireFinite(_ x: Matrix<Double>, featureNames: [String], locate: (Int, String) -> SourceLocation) throws {
        guard let i = x.storage.firstIndex(where: { !$0.isFinite }) else { return }
        let c = i % max(1, x.columns), r = i / max(1, x.columns)
        let name = c < featureNames.count ? featureNames[c] : "x\(c)"
        throw MPILearnError.dataError(locate(r, name),
                                      "column \(c + 1) ('\(name)') is \(x.storage[i]): an SVM needs finite features (impute or drop missing values first)")
    }

    /// The model's class codes for `x`; none for no rows (a rank with an empty block).
    static func predictRows(_ model: SVCModel, _ x: Matrix<Double>) throws -> [Int] {
        x.rows == 0 ? [] : try model.predict(x)
    }

    /// The model's values for `x`; none for no rows.
    static func predictRows(_ model: SVRModel, _ x: Matrix<Double>) throws -> [Double] {
        x.rows == 0 ? [] : try model.predict(x)
    }

    // MARK: score

    /// An SVC's metrics on labelled rows: accuracy against the majority baseline, the
    /// confusion matrix and per-class precision, recall, F1 and support (all from the
    /// model's predictions, computed over all ranks).
    public struct ScoreReport: Sendable {
        /// Class labels in class-code order.
        public var classes: [String]
        /// Rows over all ranks.
        public var testRows: Int
        public var accuracy: Double
        /// Accuracy of always predicting ``majorityClass``.
        public var majorityBaseline: Double
        public var majorityClass: Int
        /// Entry `[t][p]` counts rows of true class t predicted as p.
        public var confusion: [[Int]]
        public var perClass: [(precision: Double, recall: Double, f1: Double, support: Int)]

        /// Collective. The report of this rank's true and predicted class codes; every rank
        /// gets the report of all rows.
        public init(yTrue: [Int], yPred: [Int], classes: [String], comm: any Communicator) throws {
            let k = classes.count
            self.classes = classes
            accuracy = try Metrics.accuracy(yTrue: yTrue, yPred: yPred, comm: comm)
            (majorityBaseline, majorityClass) = try Metrics.majorityBaseline(yTrue: yTrue, classes: k, comm: comm)
            confusion = try Metrics.confusionMatrix(yTrue: yTrue, yPred: yPred, classes: k, comm: comm)
            perClass = Metrics.perClass(confusion: confusion)
            testRows = Int(try comm.allreduce(Int64(yTrue.count), op: .sum))
        }

        /// `test: accuracy <acc> against the majority baseline <b> (<n> rows)`.
        public var headline: String {
            "test: accuracy \(fixed(accuracy)) against the majority baseline \(fixed(majorityBaseline)) (\(testRows) rows)"
        }

        /// The report as printed: the headline, the majority class and gain, the confusion
        /// matrix and the per-class table (no final newline).
        public var text: String {
            var lines = [headline]
            if classes.indices.contains(majorityClass) {
                lines.append("majority class: '\(classes[majorityClass])'   gain: \(String(format: "%+.2f", 100 * (accuracy - majorityBaseline))) points")
            }
            lines += confusionLines(classes: classes, confusion: confusion, perClass: perClass)
            return lines.joined(separator: "\n")
        }
    }

    /// An SVM's metrics on labelled rows: an SVC's ``ScoreReport`` (accuracy against the
    /// majority baseline, confusion matrix, per-class table) or an SVR's ``RegressionReport``
    /// (R², MSE, MAE).
    public enum Scores: Sendable {
        case classification(ScoreReport)
        case regression(RegressionReport)

        /// The SVC's accuracy (nil for an SVR).
        public var accuracy: Double? { if case .classification(let r) = self { return r.accuracy } else { return nil } }
        /// The SVR's R² (nil for an SVC).
        public var r2: Double? { if case .regression(let r) = self { return r.r2 } else { return nil } }
        /// Rows over all ranks.
        public var testRows: Int {
            switch self {
            case .classification(let r): return r.testRows
            case .regression(let r): return r.testRows
            }
        }

        /// The report as printed (no final newline).
        public var text: String {
            switch self {
            case .classification(let r): return r.text
            case .regression(let r): return r.text
            }
        }
    }

    /// Collective. Predicts this rank's rows `x` and scores them against `y` over all ranks;
    /// `mark` gets the end of the `predict` phase.
    static func scores(_ model: any SVMFittedModel, x: Matrix<Double>, y: [Double], comm: any Communicator,
                       mark: () throws -> Void = {}) throws -> Scores {
        if let m = model as? SVRModel {
            let predicted = try predictRows(m, x)
            try mark()
            return .regression(try RegressionReport(yTrue: y, yPred: predicted, comm: comm))
        }
        guard let m = oneVsOne(model) else { throw MPILearnError.mismatch("an SVM model of kind \(type(of: model).kind) cannot be scored here") }
        let predicted = try predictRows(m, x)
        try mark()
        return .classification(try ScoreReport(yTrue: y.map { Int($0) }, yPred: predicted, classes: m.classes, comm: comm))
    }

    /// Collective. Scores a model on this rank's labelled rows (an SVC's: class codes of the
    /// model's classes): each rank predicts its rows; the metrics are computed over all ranks.
    /// - Throws: ``MPILearnError/dataError`` for a non-finite feature (naming its row and column).
    public static func score(_ model: any SVMFittedModel, rows: Dataset<Double>, comm: any Communicator) throws -> Scores {
        guard let y = rows.target else {
            throw MPILearnError.invalidParameter(name: "--target", value: "none", allowed: "labelled rows to score")
        }
        let x = rows.matrix
        let source = rows.source, start = rows.globalRowStart
        try requireFinite(x, featureNames: model.featureNames) { r, _ in SourceLocation(file: "\(source) (row \(start + r + 1))") }
        return try scores(model, x: x, y: y, comm: comm)
    }

    /// Collective. Loads the model in `model` (an SVC or an SVR) on every rank, each rank's
    /// block of the labelled `test` (a CSV or a generator spec), and scores it.
    /// - Parameter target: the target column or expression (default: the model's).
    /// - Parameter threads: threads per rank for the kernel blocks (the scores do not depend on it).
    public static func score(model path: String, test: String, target: String? = nil, threads: Int = 1, comm: any Communicator,
                             log: (String) -> Void = { _ in }) throws -> Scores {
        try require(threads >= 1, "--threads", threads, "an integer >= 1")
        var model = try loadModel(path, comm: comm)
        model.threads = threads
        let rows = try loadTest(model, test: test, target: target ?? model.schema.target, comm: comm, log: log)
        return try score(model, rows: rows, comm: comm)
    }

    /// Collective. Each rank's block of labelled test rows shaped for `model`.
    static func loadTest(_ model: any SVMFittedModel, test: String, target: String, comm: any Communicator, log: (String) -> Void) throws -> Dataset<Double> {
        try checkPrecomputedWidth(model, test: test, target: target)
        return try TrainingData.loadTest(path: test, schema: model.schema, target: target, broadcast: false, comm: comm,
                                         note: { if comm.rank == 0 { log("note: \($0)") } })
    }

    // MARK: run

    /// The options of ``run(_:comm:log:)``.
    public struct RunOptions<E: SVMEstimator>: Sendable {
        public var source: ForestWorkflow.TrainingSource
        /// The SVC's or SVR's parameters.
        public var estimator: E
        /// The labelled test CSV (or a generator spec); its target is `source.target`.
        public var test: String
        /// Also save the model here (rank 0 writes it).
        public var model: String?

        public init(source: ForestWorkflow.TrainingSource, estimator: E, test: String, model: String? = nil) {
            self.source = source
            self.estimator = estimator
            self.test = test
            self.model = model
        }
    }

    /// What ``run(_:comm:log:)`` found.
    public struct RunResult: Sendable {
        /// The fit, the same on every rank (with the model file if one was written).
        public var fit: FitSummary
        /// The test metrics, on every rank.
        public var report: Scores
        /// The phase table (rank 0; nil on the other ranks).
        public var phases: String?
    }

    /// Collective. The whole job in one launch: load the training shards, fit (the direct
    /// solve gathers every row; the cascade merges support vectors up a tree of ranks), save
    /// the model if asked, load each rank's block of the test rows, predict, score.
    ///
    /// `log` gets, on rank 0 and in order: load notes, the `train:` line, the fit's lines
    /// (`fit: <seconds> s ...`, `support vectors: <total> (per class ...)`, classes, any
    /// `warning: ...`), `model written to`, the report (an SVC's first line `test: accuracy <acc>
    /// against the majority baseline <b> (<n> rows)`; an SVR's `test rows: <n>` then
    /// `R²: ...   MSE: ...   MAE: ...`), the phase table and the peak-memory line.
    public static func run<E: SVMEstimator>(_ options: RunOptions<E>, comm: any Communicator, log: (String) -> Void) throws -> RunResult {
        let baseline = ProcessMemory.peakMB()
        var timer = PhaseTimer(trace: comm)
        var f = try fitTimed(options.source, estimator: options.estimator, comm: comm, log: log, timer: &timer)
        if let path = options.model {
            if comm.rank == 0 { try f.model.save(to: path) }
            try comm.barrier()
            timer.mark("save", comm: false)
            f.summary.model = path
        }
        if comm.rank == 0 { log(f.summary.text) }
        timer.skip()
        let rows = try loadTest(f.model, test: options.test, target: options.source.target, comm: comm, log: log)
        timer.mark("load test", comm: false)
        guard let y = rows.target else { throw MPILearnError.invalidParameter(name: "--target", value: "none", allowed: "labelled test rows") }
        let x = rows.matrix
        let source = rows.source, start = rows.globalRowStart
        try requireFinite(x, featureNames: f.model.featureNames) { r, _ in SourceLocation(file: "\(source) (row \(start + r + 1))") }
        let report = try scores(f.model, x: x, y: y, comm: comm) { timer.mark("predict", comm: false) }
        timer.mark("score", comm: true)
        if comm.rank == 0 { log(report.text) }
        let phases = try timer.text(comm)
        if let phases { log(phases) }
        if let memory = try peakMemoryText(baseline: baseline, rawFeatureMB: f.rawFeatureMB, comm: comm) { log(memory) }
        return RunResult(fit: f.summary, report: report, phases: phases)
    }
}
