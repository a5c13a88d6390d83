import Foundation
import SwiftMPI

/// Calls a generic body with an estimator chosen by name (search and other workflows that
/// take `--estimator`).
public protocol EstimatorVisitor {
    associatedtype Result
    func visit<E: Estimator>(_ estimator: E) throws -> Result
}

/// The estimators a workflow can name.
public enum EstimatorRegistry {
    /// Names and what they are.
    public static let entries: [(name: String, summary: String)] = [
        (RandomForestClassifier.estimatorName, "random forest classifier (scikit-learn's RandomForestClassifier)"),
        (RandomForestRegressor.estimatorName, "random forest regressor (RandomForestRegressor)"),
        (KMeans.estimatorName, "k-means with k-means|| (KMeans); fits data-parallel, so it can search sharded data"),
        (SGDClassifier.estimatorName, "linear classifier by stochastic gradient descent (SGDClassifier)"),
        (SGDRegressor.estimatorName, "linear regressor by stochastic gradient descent (SGDRegressor)"),
        (LinearRegression.estimatorName, "ordinary least squares (LinearRegression); fits data-parallel"),
        (Ridge.estimatorName, "least squares with an L2 penalty (Ridge); fits data-parallel"),
        (LogisticRegression.estimatorName, "logistic regression, binary or multinomial, L-BFGS (LogisticRegression); fits data-parallel"),
        (SVC.estimatorName, "kernel support vector classifier, libsvm's SMO solver (SVC)"),
        (NuSVC.estimatorName, "kernel nu-support vector classifier, libsvm's nu-SVC (NuSVC)"),
        (SVR.estimatorName, "kernel epsilon-support vector regressor, libsvm's SMO solver (SVR)"),
        ("calibrated-classifier-cv", "probability calibration of a classifier by stratified cross-validation, sigmoid or isotonic (CalibratedClassifierCV); calibrated-classifier-cv:BASE wraps BASE (default logistic-regression), whose parameters are estimator__NAME"),
    ]

    public static var names: [String] { entries.map(\.name) + ["random-forest"] }

    /// Visits the named estimator with its default parameters. `random-forest` is the
    /// classifier or the regressor by `task`.
    /// - Throws: ``MPILearnError/invalidParameter`` naming `--estimator` and listing the names.
    public static func visit<V: EstimatorVisitor>(_ name: String, task: String = "classification", _ v: V) throws -> V.Result {
        switch name {
        case RandomForestClassifier.estimatorName: return try v.visit(RandomForestClassifier())
        case RandomForestRegressor.estimatorName: return try v.visit(RandomForestRegressor())
        case "random-forest": return task == "regression" ? try v.visit(RandomForestRegressor()) : try v.visit(RandomForestClassifier())
        case KMeans.estimatorName, "k-means": return try v.visit(KMeans())
        case SGDClassifier.estimatorName: return try v.visit(SGDClassifier())
        case SGDRegressor.estimatorName: return try v.visit(SGDRegressor())
        case LinearRegression.estimatorName: return try v.visit(LinearRegression())
        case Ridge.estimatorName: return try v.visit(Ridge())
        case LogisticRegression.estimatorName: return try v.visit(LogisticRegression())
        case SVC.estimatorName: return try v.visit(SVC())
        case NuSVC.estimatorName: return try v.visit(NuSVC())
        case SVR.estimatorName: return try v.visit(SVR())
        case let n where n == "calibrated-classifier-cv" || n.hasPrefix("calibrated-classifier-cv:"):
            let base = n.split(separator: ":", maxSplits: 1).dropFirst().first.map(String.init) ?? LogisticRegression.estimatorName
            return try CalibratedEstimators.visit(base: base, task: task, v)
        default:
            throw MPILearnError.invalidParameter(name: "--estimator", value: "'\(name)'", allowed: names.joined(separator: ", "))
        }
    }
}

/// The `mpilearn search` workflow as a library call: load the training set (replicated or
/// sharded), run a grid, random or halving search with cross-validation over the ranks,
/// print progress and the results on rank 0, write `cv_results` and the refitted model.
public struct SearchJob: Sendable {
    public enum Method: String, Sendable, CaseIterable, Codable { case grid, random, halving }
    public enum ScheduleChoice: String, Sendable, CaseIterable, Codable { case auto, replicated, sharded }

    public var method: Method
    public var estimator: String
    /// `classification` or `regression` (for `random-forest` and the target).
    public var task: String = "classification"
    /// The search space: one or more maps of name → values or distribution.
    public var space: [[String: ParameterDistribution]]
    /// Fixed estimator parameters (`--set NAME=VALUE`).
    public var fixed: [String: ParameterValue] = [:]
    public var nIter: Int = 10
    /// Halving over sampled candidates when set (scikit-learn's `HalvingRandomSearchCV`).
    public var nCandidates: Int?
    public var factor: Double = 3
    public var resource: HalvingResource = .nSamples
    public var minResources: MinResources = .exhaust
    public var maxResources: Int?
    public var aggressiveElimination = false
    public var cv: Int = 5
    /// Stratified folds; nil is scikit-learn's rule: stratified for a classifier.
    public var stratified: Bool?
    public var shuffle = false
    public var scoring: Scoring?
    public var randomState: UInt64 = 0
    public var refit = true
    public var errorScore: ErrorScore = .nan
    public var returnTrainScore = false
    public var schedule: ScheduleChoice = .auto
    /// Sharded schedule: groups of ranks fitting candidates at once (``SearchOptions/shardGroups``).
    public var shardGroups = 1
    /// Save finished tasks and resume (``SearchOptions/checkpoint``).
    public var checkpoint: CheckpointOptions?
    public var train: String
    public var target: String?
    public var categorical: [String] = []
    public var features: [String]?
    public var outputModel: String?
    /// With `estimator` `pipeline`: the pipeline spec file (its steps, then the estimator).
    public var pipelineSpec: String?
    public var results: String?
    /// Rows of the best candidates printed at the end.
    public var top = 10

    public init(method: Method, estimator: String, space: [[String: ParameterDistribution]], train: String, target: String?) {
        self.method = method
        self.estimator = estimator
        self.space = space
        self.train = train
        self.target = target
    }

    /// What a finished job reports (identical on every rank but the timings).
    public struct Summary: Sendable {
        public var cvResults: CVResults
        public var bestParams: [String: ParameterValue]
        public var bestScore: Double
        public var scoring: Scoring
        public var schedule: SearchScheduleReport
        public var seconds: Double
    }

    /// Collective. Runs the job; `log` is called on rank 0 with each line to print.
    public func run(comm: any Communicator, log: @escaping @Sendable (String) -> Void) throws -> Summary {
        if estimator == "pipeline" {
            guard let pipelineSpec else {
                throw MPILearnError.invalidParameter(name: "--spec", value: "none", allowed: "a pipeline spec file (with --estimator pipeline)")
            }
            return try PipelineSpec.load(pipelineSpec).visit(task: task, PipelineRunner(runner: Runner(job: self, comm: comm, log: log)))
        }
        if let pipelineSpec {
            throw MPILearnError.invalidParameter(name: "--spec", value: pipelineSpec, allowed: "only with --estimator pipeline")
        }
        return try EstimatorRegistry.visit(estimator, task: task, Runner(job: self, comm: comm, log: log))
    }

    /// A pipeline's search: the runner with the pipeline's type.
    struct PipelineRunner: PipelineVisitor {
        let runner: Runner
        func visit<E: Estimator>(_ pipeline: Pipeline<E>) throws -> Summary { try runner.visit(pipeline) }
    }

    struct Runner: EstimatorVisitor {
        let job: SearchJob
        let comm: any Communicator
        let log: @Sendable (String) -> Void

        func visit<E: Estimator>(_ base0: E) throws -> Summary {
            let start = Date()
            let baseline = ProcessMemory.peakMB()
            let job = self.job, comm = self.comm, log = self.log
            let root = comm.rank == 0
            func say(_ s: String) { if root { log(s) } }
            // Parameters first: every error before any data is read.
            var fixed = job.fixed
            try require(job.randomState <= UInt64(Int.max), "--random-state", job.randomState, "an integer in 0...\(Int.max)")
            if fixed["random_state"] == nil, (try base0.parameterNames()).contains("random_state") { fixed["random_state"] = .int(Int(job.randomState)) }
            let base = try base0.setting(fixed)
            try base.validate()
            try require(job.cv >= 2, "cv", job.cv, "an integer >= 2 (the number of folds)")
            try require(["classification", "regression"].contains(job.task), "--task", job.task, "classification or regression")
            let candidates: [[String: ParameterValue]]
            switch job.method {
            case .grid:
                candidates = try grid().candidates
            case .random:
                candidates = try sampler(nIter: job.nIter).candidates
            case .halving:
                if let n = job.nCandidates { candidates = try sampler(nIter: n).candidates } else { candidates = try grid().candidates }
            }
            for c in candidates { try base.setting(c).validate() }
            if let s = job.scoring { try s.check(role: E.role, classes: nil) }
            if (E.role == .classifier || E.role == .regressor) && job.target == nil && !TrainingData.isGeneratorSpec(job.train) {
                throw MPILearnError.invalidParameter(name: "--target", value: "none", allowed: "the target column of \(job.train) (a \(E.role.rawValue) learns one)")
            }
            if job.stratified == true && E.role != .classifier {
                throw MPILearnError.invalidParameter(name: "--stratified", value: "set", allowed: "only with a classifier")
            }
            if job.outputModel != nil && !job.refit {
                throw MPILearnError.invalidParameter(name: "--output-model", value: job.outputModel!, allowed: "no model file with --no-refit (nothing is refitted)")
            }
            // Outputs' folders are checked before the work, not after it.
            for path in [job.results, job.outputModel].compactMap({ $0 }) { try OutputTarget.requireWritableFolder(of: path) }

            comm.traceMark("load")
            // The data: every rank reads every row (replicated), or its block (sharded).
            let sharded: Bool
            switch job.schedule {
            case .replicated: sharded = false
            case .sharded:
                guard E.fitsShardedData else {
                    throw MPILearnError.invalidParameter(name: "--schedule", value: "sharded",
                                                         allowed: "replicated or auto for \(E.estimatorName): its fit depends on how rows are sharded")
                }
                sharded = true
            case .auto:
                // The same on every rank: the condition before the collective is rank-independent.
                if E.fitsShardedData && comm.size > 1 { sharded = try Self.tooLargeToReplicate(job.train, comm: comm) } else { sharded = false }
            }
            if job.shardGroups != 1 {
                // Its range (1...ranks) is checked by the search itself.
                try require(sharded, "--shard-groups", job.shardGroups, "1 unless the schedule is sharded (--schedule sharded)")
            }
            let note: (String) -> Void = { say("note: \($0)") }
            let readComm: any Communicator = sharded ? comm : LocalCommunicator.solo()
            var data = try TrainingData.loadTrain(path: job.train, target: E.role == .clusterer ? nil : job.target, categorical: job.categorical,
                                                  features: job.features, classification: E.role == .classifier, comm: readComm,
                                                  note: comm.rank == 0 ? note : { _ in })
            // A forest only bins and looks values up: its replicated rows are held coded (a
            // byte or two a value, lossless). Other learners read rows: the columns become a
            // matrix in place.
            if E.readsCodedFeatures && !sharded { data.makeCoded() } else { data.makeDense() }
            if E.role == .clusterer { data.target = nil }
            data.source = job.train
            if !sharded { data.globalRowStart = 0; data.globalRowCount = data.rowCount }
            let rows = sharded ? data.globalRowCount : data.rowCount
            say(String(format: "search %@: %@, %d candidate(s) × %d folds%@, %d rows × %d features, %@ data over %d rank(s), loaded in %.2f s",
                       job.method.rawValue, E.estimatorName, candidates.count, job.cv,
                       job.method == .halving ? " in successive rungs" : " = \(candidates.count * job.cv) tasks", rows, data.featureCount,
                       sharded ? "sharded" : "replicated", comm.size, Date().timeIntervalSince(start)))

            let cv: any CrossValidator = (job.stratified ?? (E.role == .classifier))
                ? StratifiedKFold(nSplits: job.cv, shuffle: job.shuffle, randomState: job.shuffle ? job.randomState : nil)
                : KFold(nSplits: job.cv, shuffle: job.shuffle, randomState: job.shuffle ? job.randomState : nil)
            let progress = ProgressPrinter(log: log, root: root)
            var callback: (@Sendable (SearchProgress) -> Void)? = nil
            if root { callback = { (p: SearchProgress) in progress.update(p) } }
            var options = SearchOptions(cv: cv, scoring: job.scoring, refit: job.refit, errorScore: job.errorScore,
                                        returnTrainScore: job.returnTrainScore, progress: callback)
            options.shardGroups = job.shardGroups
            options.checkpoint = job.checkpoint
            options.log = root ? progress.log : nil
            let searchData: SearchData = sharded ? .sharded(data) : .replicated(data)
            comm.traceMark("search")
            let result: SearchResult<E>
            switch job.method {
            case .grid, .random:
                result = try ModelSearch.run(base, candidates: candidates, data: searchData, options: options, comm: comm)
            case .halving:
                result = try HalvingSearchCV(base, candidates: candidates, factor: job.factor, resource: job.resource, minResources: job.minResources,
                                             maxResources: job.maxResources, aggressiveElimination: job.aggressiveElimination,
                                             randomState: job.randomState, options: options).fit(searchData, comm: comm)
            }
            for w in result.warnings.prefix(20) { say("warning: fit failed, scored \(job.errorScore): \(w)") }
            if result.warnings.count > 20 { say("warning: \(result.warnings.count - 20) more failed fits") }

            comm.traceMark("write")
            // Outputs, written by rank 0 (every rank holds the same results and model).
            if root, let path = job.results { try AtomicFile.write(result.cvResults.csv(), to: path) }
            if root, let path = job.outputModel, let model = result.bestModel { try model.save(to: path) }
            try comm.barrier()
            let r = result.scheduleReport
            say("")
            say(result.cvResults.summaryTable(top: job.top, rest: job.results.map { "in \($0)" } ?? "not shown"))
            say("")
            say("best: \(pythonDict(result.bestParams)) mean_test_score=\(result.bestScore) (\(result.scoring.rawValue), \(job.cv) folds)")
            say(String(format: "schedule: %@ over %d rank(s): %d tasks in %d fits, makespan %.2f s, lower bound %.2f s (%.2f×), longest fit %.2f s, busy per rank %@",
                       r.schedule.rawValue, comm.size, r.tasks, r.fits, r.makespan, r.lowerBound, r.lowerBound > 0 ? r.makespan / r.lowerBound : 1, r.longestTask,
                       r.busyPerRank.map { String(format: "%.2f", $0) }.joined(separator: ", ")))
            if job.refit { say(String(format: "refit: best candidate on all %d rows in %.2f s", rows, result.refitTime)) }
            // Peak memory per rank above the process's own baseline, against the training
            // data's raw bytes held here (rows × features × 8).
            let raw = Double(data.rowCount * data.featureCount * 8) / 1_048_576
            let mem = try comm.allgatherv([ProcessMemory.peakMB(), baseline]).values
            let above = stride(from: 0, to: mem.count, by: 2).map { mem[$0] - mem[$0 + 1] }
            say(String(format: "peak memory per rank: %.1f MB max; %.1f MB above the process baseline = %.2f× the training data's raw bytes here (%.1f MB)",
                       stride(from: 0, to: mem.count, by: 2).map { mem[$0] }.max() ?? 0, above.max() ?? 0, raw > 0 ? (above.max() ?? 0) / raw : 0, raw))
            if let path = job.results { say("cv_results written to \(path)") }
            if let path = job.outputModel, result.bestModel != nil { say("best model written to \(path)") }
            SearchJob.traceReport(result.cvResults, scoring: result.scoring.rawValue, sharded: sharded, comm: comm)
            return Summary(cvResults: result.cvResults, bestParams: result.bestParams, bestScore: result.bestScore, scoring: result.scoring,
                           schedule: r, seconds: Date().timeIntervalSince(start))
        }

        func grid() throws -> ParameterGrid {
            let grids = try job.space.map { s in
                try s.mapValues { d -> [ParameterValue] in
                    guard case .choice(let v) = d else {
                        throw MPILearnError.invalidParameter(name: "--param", value: "\(d)", allowed: "lists of values in a \(job.method.rawValue) search (distributions need search random or --n-candidates)")
                    }
                    return v
                }
            }
            let g = ParameterGrid(grids: grids)
            try g.validate()
            return g
        }

        func sampler(nIter: Int) throws -> ParameterSampler {
            guard job.space.count == 1 else {
                throw MPILearnError.invalidParameter(name: "--param-grid", value: "a list of \(job.space.count) spaces", allowed: "one mapping for a sampled search")
            }
            let s = ParameterSampler(job.space[0], nIter: nIter, randomState: job.randomState)
            try s.validate()
            return s
        }

        /// Collective. True when every rank holding a copy of the file would use more than
        /// half of this node's memory (raw text size as the estimate, times the ranks here).
        static func tooLargeToReplicate(_ path: String, comm: any Communicator) throws -> Bool {
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            let memory = Double(ProcessInfo.processInfo.physicalMemory)
            // Ranks on this node: Open MPI and Slurm say; otherwise assume all of them.
            let env = ProcessInfo.processInfo.environment
            let perNode = Double((env["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? env["SLURM_NTASKS_PER_NODE"] ?? env["MPI_LOCALNRANKS"]).flatMap(Int.init) ?? comm.size)
            let decide = Double(size) * perNode > 0.5 * memory ? 1.0 : 0.0
            return try comm.allreduce(decide, op: .max) > 0
        }
    }
}

/// Progress lines on rank 0: at most one a second, and the last one.
final class ProgressPrinter: @unchecked Sendable {
    let log: @Sendable (String) -> Void
    let root: Bool
    var last = -1.0
    let lock = NSLock()

    init(log: @escaping @Sendable (String) -> Void, root: Bool) {
        self.log = log
        self.root = root
    }

    func update(_ p: SearchProgress) {
        lock.lock(); defer { lock.unlock() }
        guard root, p.elapsed - last >= 1 || p.taken >= p.total else { return }
        last = p.elapsed
        var line = String(format: "search: %d/%d fits taken, %.1f s elapsed, ~%.1f s left", p.taken, p.total, p.elapsed, p.remaining.isFinite ? p.remaining : 0)
        if let i = p.iteration { line = "iteration \(i): " + line }
        if let b = p.bestFoldScore, let c = p.bestCandidate { line += String(format: "; best fold score on rank 0 so far %.4f ", b) + pythonDict(c) }
        log(line)
    }
}
