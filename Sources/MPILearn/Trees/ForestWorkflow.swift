import Foundation
import SwiftMPI

/// The `mpilearn forest` workflows as library calls: fit on the ranks' shards and save,
/// predict a file in chunks into a file written in parallel, score, and the whole `run`
/// (load, fit, exact vote, predictions file, report, phase times, peak memory).
///
/// Every function is collective: call it on every rank with the same arguments. Lines meant
/// for the user go to a `log` closure, called on rank 0 only, one line per call (no final
/// newline); a function's result carries the numbers and a `text` as printed.
///
/// ```swift
/// let source = ForestWorkflow.TrainingSource(path: "train.csv", target: "label")
/// var options = ForestWorkflow.RunOptions(source: source, task: .classification,
///                                         parameters: .classifier(nEstimators: 200), test: "test.csv")
/// options.predictions = "votes.csv"
/// let result = try ForestWorkflow.run(options, comm: world) { print($0) }
/// if case let .classification(report)? = result.report { _ = report.accuracy }
/// ```
public enum ForestWorkflow {
    /// Where the training rows come from (see ``TrainingData/loadTrain(path:target:categorical:features:classification:comm:note:)``).
    public struct TrainingSource: Sendable {
        /// A CSV file, or a generator spec `classification:ROWS,FEATURES[,SEED]` / `regression:ROWS,FEATURES[,SEED]`.
        public var path: String
        /// The target column, `COLUMN>NUMBER` (also `>=`, `<`, `<=`) or any condition for a binary
        /// target, or an expression for regression (``ColumnExpression``).
        public var target: String
        /// Text columns used as categorical features.
        public var categorical: [String]
        /// Feature columns (nil: every numeric and categorical column but the target).
        public var features: [String]?

        public init(path: String, target: String = "y", categorical: [String] = [], features: [String]? = nil) {
            self.path = path
            self.target = target
            self.categorical = categorical
            self.features = features
        }
    }

    /// The size of this rank's training shard, known once it is loaded.
    public struct ShardShape: Sendable, Equatable {
        /// Rows on this rank and over all ranks.
        public var rows: Int
        public var globalRows: Int
        public var features: Int
        /// This rank's features as Doubles, in MB (the reference of the peak-memory line).
        public var rawFeatureMB: Double { Double(rows * features * 8) / 1_048_576 }
    }

    /// How a fit reports its progress.
    public enum Progress {
        /// No progress.
        case silent
        /// ``FitProgressPrinter`` lines on rank 0, timed from the start of the fit (after the load).
        case printed
        /// A callback, called as trees are grown on the ranks that get it.
        case custom(ForestProgress)

        /// This rank's callback, made when the fit starts.
        func callback(_ comm: any Communicator) -> ForestProgress? {
            switch self {
            case .silent: return nil
            case .printed: return FitProgressPrinter(comm: comm).callback()
            case let .custom(f): return f
            }
        }
    }

    // MARK: fit

    /// Collective. Loads every rank's shard of `source` and fits a forest on the shards.
    ///
    /// The shard's rows are handed over to the fit, so it can free the raw features once
    /// they are binned. Each rank returns the trees it grew (see ``ForestModel``).
    /// - Parameters:
    ///   - keepTrees: keep the full trees (to save or gather the model); otherwise only their
    ///     compact predictors.
    ///   - progress: how the fit reports its progress.
    ///   - log: lines for the user (notes of the load), called on rank 0.
    ///   - loaded: called on every rank with the shard's shape after the load, before the fit.
    /// - Throws: ``MPILearnError`` for a bad file, column or parameter.
    ///   - checkpoint: save the fit's trees every so many trees per rank (or seconds) and on
    ///     SIGTERM/SIGUSR1, and resume from a saved fit (``Checkpointer``; `log` gets its lines).
    public static func fit(_ source: TrainingSource, task: ForestHeader.Task, parameters: RandomForestParameters, keepTrees: Bool = true,
                           comm: any Communicator, progress: Progress = .silent, checkpoint: CheckpointOptions? = nil,
                           log: (String) -> Void = { _ in },
                           loaded: (ShardShape) throws -> Void = { _ in }) throws -> ForestModel {
        let shard = try TrainingData.loadTrain(path: source.path, target: source.target, categorical: source.categorical, features: source.features,
                                               classification: task == .classification, comm: comm) { if comm.rank == 0 { log("note: \($0)") } }
        try loaded(ShardShape(rows: shard.rowCount, globalRows: shard.globalRowCount, features: shard.featureCount))
        let checkpoint = try checkpoint.map { c in
            try Checkpointer(c, kind: "forest", unit: parameters.mode == .global ? "trees" : "trees per rank", identity: checkpointIdentity(
                task: task, parameters: parameters, data: "\(source.path) (target \(source.target)): \(shard.globalRowCount) rows × \(shard.featureCount) features"),
                comm: comm)
        }
        if let checkpoint, comm.rank == 0 { log(checkpoint.plan) }
        defer { if let checkpoint, comm.rank == 0 { log(checkpoint.summary) } }
        let progress = progress.callback(comm)
        // The shard is moved into the fit, which holds the only reference to the features and
        // frees them once binned.
        let classNames = shard.classNames, target = shard.targetName, source = shard.source
        if task == .classification {
            return try RandomForestClassifier(parameters).fitLocal(consume shard, comm: comm, classNames: classNames, target: target,
                                                                   dataDescription: source, keepTrees: keepTrees, progress: progress,
                                                                   checkpoint: checkpoint).forest
        }
        return try RandomForestRegressor(parameters).fitLocal(consume shard, comm: comm, target: target, dataDescription: source,
                                                              keepTrees: keepTrees, progress: progress, checkpoint: checkpoint).forest
    }

    /// What a resumed forest fit must match: the task and parameters, and the data. Local mode
    /// (each rank grows its own trees on its own rows) also needs the same rank count; a
    /// global fit's trees do not depend on it, so it resumes on any.
    static func checkpointIdentity(task: ForestHeader.Task, parameters: RandomForestParameters, data: String) throws -> [(String, String)] {
        // The rank count is checked by ``Checkpointer/restore(rebalances:)`` (local mode).
        [("task", task.rawValue), ("parameters", String(decoding: try CheckpointJSON.encode(parameters), as: UTF8.self)), ("data", data)]
    }

    /// What ``fitAndSave(_:task:parameters:model:comm:progress:log:)`` reports on rank 0.
    public struct FitSummary: Sendable {
        public var trees: Int
        public var trainRows: Int
        public var ranks: Int
        public var treesPerRank: [Int]
        public var oobScore: Double?
        public var model: String
        /// Global mode: the fit's traffic line (see ``communicationLine(_:comm:)``).
        public var communication: String? = nil

        /// The lines printed after the fit (no final newline).
        public var text: String {
            var lines: [String]
            if let communication {
                lines = ["fitted \(trees) trees on \(trainRows) rows over \(ranks) rank(s), mode global (every tree on all rows)", communication]
            } else {
                lines = ["fitted \(trees) trees on \(trainRows) rows over \(ranks) rank(s) (trees per rank \(treesPerRank.map(String.init).joined(separator: ",")))"]
            }
            if let oobScore { lines.append("oob score: \(fixed(oobScore))") }
            lines.append("model written to \(model)")
            return lines.joined(separator: "\n")
        }
    }

    /// Collective. Fits a forest over the ranks' shards and saves it to `model` (rank 0
    /// gathers the trees and writes the file).
    /// - Returns: on rank 0 the summary; nil on the other ranks.
    public static func fitAndSave(_ source: TrainingSource, task: ForestHeader.Task, parameters: RandomForestParameters, model: String,
                                  comm: any Communicator, progress: Progress = .silent, checkpoint: CheckpointOptions? = nil,
                                  log: (String) -> Void = { _ in }) throws -> FitSummary? {
        let forest = try fit(source, task: task, parameters: parameters, keepTrees: true, comm: comm, progress: progress, checkpoint: checkpoint, log: log)
        let traffic = parameters.mode == .global ? try communicationLine(forest.timings, comm: comm) : nil
        guard let whole = try forest.gathered(comm) else { return nil }
        try whole.write(to: model)
        let p = whole.header.provenance
        return FitSummary(trees: whole.trees.count, trainRows: p.trainRows, ranks: comm.size, treesPerRank: p.treesPerRank,
                          oobScore: whole.header.oobScore, model: model, communication: traffic)
    }

    // MARK: predict

    /// How ``predictToFile(_:features:options:comm:)`` writes its predictions.
    public struct PredictOptions: Sendable {
        /// The output CSV (a link is followed; a FIFO or a device is written straight through by rank 0).
        public var output: String
        /// One file written in parallel, or one part per rank.
        public var layout: ParallelFile.Layout = .single
        /// Also write class probabilities (`proba_<class>` columns).
        public var proba = false
        public var voting: Voting = .soft
        /// Rows predicted per chunk (bounds memory).
        public var chunkRows = 65536
        /// Threads per rank.
        public var threads = 1

        public init(output: String) { self.output = output }

        /// - Throws: ``MPILearnError/invalidParameter`` for `chunkRows` or `threads` below 1.
        public func validate() throws {
            try require(chunkRows >= 1, "--chunk-rows", chunkRows, "an integer >= 1")
            try require(threads >= 1, "--threads", threads, "an integer >= 1")
        }
    }

    /// Collective. Predicts this rank's rows with the whole forest, `chunkRows` at a time,
    /// and writes every rank's predictions in global row order to `options.output`: a header
    /// (`prediction`, then `proba_<class>` columns with `proba` for a classifier), then one
    /// line per row (the class label, or the mean of the trees' values).
    /// - Parameters:
    ///   - forest: the whole forest on every rank (``ForestModel/load(from:kinds:comm:)``).
    ///   - features: this rank's rows, in the forest's feature order.
    public static func predictToFile(_ forest: ForestModel, features x: Matrix<Double>, options: PredictOptions, comm: any Communicator) throws {
        try options.validate()
        let h = forest.header
        try ParallelFile.write(options.output, layout: options.layout, comm: comm) { emit in
            if comm.rank == 0 {
                var head = "prediction"
                if options.proba && h.task == .classification { head += h.classes.map { ",proba_\($0)" }.joined() }
                try emit(head + "\n")
            }
            let d = x.columns
            let predictor = try forest.predictor()   // trees packed once for every chunk
            var start = 0
            while start < x.rows {
                let end = min(x.rows, start + options.chunkRows)
                let chunk = Matrix(rows: end - start, columns: d, storage: Array(x.storage[(start * d) ..< (end * d)]))
                var text = ""
                if h.task == .classification {
                    let sums = try predictor.sumOutputs(chunk, hard: options.voting == .hard, threads: options.threads)
                    let pred = argmaxRows(sums, classes: h.outputs)
                    let k = h.outputs, n = Double(forest.treeCount)
                    for i in 0 ..< chunk.rows {
                        text += h.classes[pred[i]]
                        if options.proba { for c in 0 ..< k { text += "," + String(sums[i * k + c] / n) } }
                        text += "\n"
                    }
                } else {
                    let sums = try predictor.sumOutputs(chunk, threads: options.threads)
                    let n = Double(forest.treeCount)
                    for s in sums { text += String(s / n) + "\n" }
                }
                try emit(text)
                start = end
            }
        }
    }

    /// What ``predict(model:test:options:comm:log:)`` did.
    public struct PredictSummary: Sendable {
        /// Rows predicted over all ranks.
        public var rows: Int
        public var trees: Int
        public var ranks: Int
        /// The file written, or the pattern of its parts.
        public var written: String

        public var text: String { "predicted \(rows) rows with \(trees) trees on \(ranks) rank(s); wrote \(written)" }
    }

    /// Collective. Loads the forest in `model` on every rank (one reader, one broadcast),
    /// each rank's block of `test`, and writes the predictions with
    /// ``predictToFile(_:features:options:comm:)``.
    public static func predict(model: String, test: String, options: PredictOptions, comm: any Communicator,
                               log: (String) -> Void = { _ in }) throws -> PredictSummary {
        try options.validate()
        let forest = try ForestModel.load(from: model, comm: comm)
        let rows = try loadTest(test, header: forest.header, target: nil, broadcast: false, comm: comm, log: log)
        try predictToFile(forest, features: rows.features, options: options, comm: comm)
        let written = options.layout == .single ? options.output : "\(options.output).part-*-of-\(String(format: "%05d", comm.size))"
        return PredictSummary(rows: rows.globalRows, trees: forest.treeCount, ranks: comm.size, written: written)
    }

    // MARK: score

    /// A forest's report on labelled rows.
    public enum Report: Sendable {
        case classification(ClassificationReport)
        case regression(RegressionReport)

        /// The report as printed.
        public var text: String {
            switch self {
            case let .classification(r): return r.text
            case let .regression(r): return r.text
            }
        }
    }

    /// Collective. Scores a forest on labelled rows: each rank predicts its rows with the
    /// forest it holds; the metrics are computed over all ranks.
    /// - Parameters:
    ///   - forest: the whole forest on every rank (loaded, or ``ForestModel/allgathered(_:)``):
    ///     probabilities are the votes over the forest's `nEstimators`.
    ///   - target: this rank's labels (class codes of the forest's classes, or values).
    public static func score(_ forest: ForestModel, features x: Matrix<Double>, target y: [Double], voting: Voting = .soft,
                             threads: Int = 1, comm: any Communicator) throws -> Report {
        try require(threads >= 1, "--threads", threads, "an integer >= 1")
        let h = forest.header
        if h.task == .classification {
            let votes = try forest.sumOutputs(x, hard: voting == .hard, threads: threads)
            return .classification(try ClassificationReport(yTrue: y.map { Int($0) }, votes: votes, classes: h.classes, voting: voting,
                                                            nEstimators: h.nEstimators, comm: comm))
        }
        let n = Double(h.nEstimators)
        return .regression(try RegressionReport(yTrue: y, yPred: try forest.sumOutputs(x, threads: threads).map { $0 / n }, comm: comm))
    }

    /// Collective. Loads the forest in `model` on every rank, each rank's block of the
    /// labelled `test` and scores it with ``score(_:features:target:voting:threads:comm:)``.
    /// - Parameter target: the target column or expression (default: the model's).
    public static func score(model: String, test: String, target: String? = nil, voting: Voting = .soft, threads: Int = 1,
                             comm: any Communicator, log: (String) -> Void = { _ in }) throws -> Report {
        try require(threads >= 1, "--threads", threads, "an integer >= 1")
        let forest = try ForestModel.load(from: model, comm: comm)
        let rows = try loadTest(test, header: forest.header, target: target ?? forest.header.target, broadcast: false, comm: comm, log: log)
        return try score(forest, features: rows.features, target: rows.target!, voting: voting, threads: threads, comm: comm)
    }

    // MARK: run

    /// How ``run(_:comm:log:)`` meets the test rows with the trees.
    public enum PredictionStrategy: String, CaseIterable, Codable, Sendable {
        /// Rank 0 broadcasts the test set; every rank votes with its own trees; votes are allreduced.
        case broadcastTest = "broadcast-test"
        /// The trees are allgathered; each rank predicts its shard of the test set.
        case broadcastModel = "broadcast-model"
    }

    /// The options of ``run(_:comm:log:)``.
    public struct RunOptions {
        public var source: TrainingSource
        public var task: ForestHeader.Task
        public var parameters: RandomForestParameters
        /// The labelled test CSV (or a generator spec); its target column is `source.target`.
        public var test: String
        public var voting: Voting = .soft
        public var prediction: PredictionStrategy = .broadcastTest
        /// Also save the model here (rank 0 gathers the trees).
        public var model: String?
        /// Write the combined votes here (classification: `prediction`, then `votes_<class>`
        /// columns; regression: `prediction`, the trees' mean).
        public var predictions: String?
        /// Also compute the approximate vote of per-rank modes and report how often it
        /// differs from the exact vote (``compareWithApproximateVote(_:features:target:exact:comm:)``;
        /// classification with `broadcastTest`).
        public var compareApproximate = false
        /// How the fit reports its progress.
        public var progress: Progress = .silent
        /// Checkpoint the fit (``fit(_:task:parameters:keepTrees:comm:progress:checkpoint:log:loaded:)``).
        public var checkpoint: CheckpointOptions?

        public init(source: TrainingSource, task: ForestHeader.Task, parameters: RandomForestParameters, test: String) {
            self.source = source
            self.task = task
            self.parameters = parameters
            self.test = test
        }
    }

    /// What ``run(_:comm:log:)`` found.
    public struct RunResult {
        /// This rank's training shard.
        public var shard: ShardShape
        /// The out-of-bag score, if requested.
        public var oobScore: Double?
        /// The report: on rank 0 with `broadcastTest` (nil on the other ranks), on every rank
        /// with `broadcastModel`.
        public var report: Report?
        /// The approximate vote's comparison (rank 0, when requested).
        public var comparison: ApproximateVoteComparison?
        /// Each phase's time on this rank.
        public var phases: PhaseTimer
    }

    /// Collective. The whole workflow: load the shards, fit local forests, save the model if
    /// asked, meet the test rows with the trees (``PredictionStrategy``), combine the votes
    /// exactly, write the predictions file, report, then print the phase times and every
    /// rank's peak memory.
    ///
    /// `log` gets, on rank 0 and in order: load notes, the `train:` line, the out-of-bag
    /// score, `model written to`, the approximate-vote line, the report, the phase table and
    /// the peak-memory line.
    /// Collective. A global fit's traffic over all ranks, on rank 0: `communication: B bytes in
    /// N collectives per rank, S s in the growth's collectives (slowest rank; fastest F s)`; nil
    /// elsewhere. A rank's seconds in collectives include waiting for the others; the rank that
    /// waits least shows the transfers themselves.
    public static func communicationLine(_ t: ForestFitTimings, comm: any Communicator) throws -> String? {
        let bytes = try comm.reduce([Int64(t.bytes)], op: .sum)
        let slowest = try comm.reduce([t.reduceSeconds], op: .max), fastest = try comm.reduce([t.reduceSeconds], op: .min)
        guard let bytes, let slowest, let fastest else { return nil }
        return "communication: \(bytes[0]) bytes in \(t.collectives) collectives per rank, \(String(format: "%.3f", slowest[0])) s in the growth's collectives (slowest rank; fastest \(String(format: "%.3f", fastest[0])) s)"
    }

    public static func run(_ options: RunOptions, comm world: any Communicator, log: (String) -> Void) throws -> RunResult {
        let root = world.rank == 0
        func say(_ s: String) { if root { log(s) } }
        let baseline = ProcessMemory.peakMB()
        var t = PhaseTimer(trace: world)
        let bcast = options.prediction == .broadcastTest
        var shape = ShardShape(rows: 0, globalRows: 0, features: 0)
        // Full trees only when they are saved or sent to other ranks; else compact predictors.
        var forest = try fit(options.source, task: options.task, parameters: options.parameters, keepTrees: options.model != nil || !bcast,
                             comm: world, progress: options.progress, checkpoint: options.checkpoint, log: log) { s in
            shape = s
            t.mark("load", comm: false)
            say("train: \(s.globalRows) rows × \(s.features) features on \(world.size) rank(s); growing \(options.parameters.nEstimators) trees")
        }
        t.add("bin", forest.timings.bin, comm: false)
        t.add("fit", forest.timings.grow, comm: false)
        t.add("fit (collectives)", forest.timings.communication, comm: true)
        if options.parameters.mode == .global, let line = try communicationLine(forest.timings, comm: world) { say(line) }
        t.skip()
        if let o = forest.header.oobScore { say("oob score: \(fixed(o))") }
        if let model = options.model {
            if let whole = try forest.gathered(world) { try whole.write(to: model); log("model written to \(model)") }
            t.mark("save", comm: true)
        }
        if !bcast {
            forest = try forest.allgathered(world)
            t.mark("gather trees", comm: true)
        }
        // broadcast-test: rank 0 reads the file (the others wait at a barrier, so the wait is
        // counted here, not as communication), then one broadcast.
        let rows = try loadTest(options.test, header: forest.header, target: options.source.target, broadcast: bcast, comm: world, log: log) {
            guard bcast else { return }
            try world.barrier()
            t.mark("load test", comm: false)
        }
        t.mark(bcast ? "broadcast test" : "load test", comm: bcast)
        let h = forest.header
        // broadcast-test: rank 0 holds every row's combined votes and reports alone;
        // broadcast-model: each rank its block, and the metrics are collective.
        let reports = root || !bcast
        let metricsComm: any Communicator = bcast ? LocalCommunicator.solo() : world
        var report: Report?
        var comparison: ApproximateVoteComparison?
        if h.task == .classification {
            var votes = try forest.sumOutputs(rows.features, hard: options.voting == .hard, threads: options.parameters.threads)
            if bcast { try world.barrier() }   // a rank waiting for a slower one counts as predicting, not voting
            t.mark("predict", comm: false)
            if bcast {
                try world.allreduce(&votes, op: .sum)
                t.mark("vote", comm: true)
            }
            if options.compareApproximate && bcast {
                comparison = try compareWithApproximateVote(forest, features: rows.features, target: rows.target,
                                                            exact: argmaxRows(votes, classes: h.outputs), comm: world)
                if let comparison { log(comparison.text) }
            }
            if let predictions = options.predictions {
                try writeVotes(predictions, votes: votes, classes: h.classes, holdsRows: reports, comm: world)
            }
            if reports {
                let r = try ClassificationReport(yTrue: rows.target!.map { Int($0) }, votes: votes, classes: h.classes, voting: options.voting,
                                                 nEstimators: h.nEstimators, comm: metricsComm)
                report = .classification(r)
                say(r.text)
            }
        } else {
            var sums = try forest.sumOutputs(rows.features, threads: options.parameters.threads)
            if bcast { try world.barrier() }
            t.mark("predict", comm: false)
            if bcast {
                try world.allreduce(&sums, op: .sum)
                t.mark("vote", comm: true)
            }
            let n = Double(h.nEstimators)
            if let predictions = options.predictions {
                try writePredictions(predictions, values: sums.map { $0 / n }, holdsRows: reports, comm: world)
            }
            if reports {
                let r = try RegressionReport(yTrue: rows.target!, yPred: sums.map { $0 / n }, comm: metricsComm)
                report = .regression(r)
                say(r.text)
            }
        }
        t.skip()
        if let text = try t.text(world) { log(text) }
        if let text = try peakMemoryText(baseline: baseline, rawFeatureMB: shape.rawFeatureMB, comm: world) { log(text) }
        try traceReport(forest, report: report, testRows: rows.globalRows, broadcastTest: bcast,
                        generatedTest: TrainingData.isGeneratorSpec(options.test), comm: world)
        return RunResult(shard: shape, oobScore: h.oobScore, report: report, comparison: comparison, phases: t)
    }

    /// Collective. Writes combined votes: the header `prediction,votes_<class>...`, then per
    /// row its class label and summed votes. Ranks with `holdsRows` false write no rows.
    static func writeVotes(_ path: String, votes: [Double], classes: [String], holdsRows: Bool, comm: any Communicator) throws {
        let k = classes.count
        let pred = argmaxRows(votes, classes: k)
        let header = "prediction" + classes.map { ",votes_\($0)" }.joined() + "\n"
        var text = ""
        if holdsRows {
            for i in 0 ..< pred.count {
                text += classes[pred[i]] + (0 ..< k).map { "," + String(votes[i * k + $0]) }.joined() + "\n"
            }
        }
        try Array(text.utf8).withUnsafeBytes { try ParallelFile.write(path, header: Array(header.utf8), bytes: $0, comm: comm) }
    }

    /// Collective. Writes a regressor's predictions (the trees' mean): the header `prediction`,
    /// then a value per row. Ranks with `holdsRows` false write no rows.
    static func writePredictions(_ path: String, values: [Double], holdsRows: Bool, comm: any Communicator) throws {
        var text = ""
        if holdsRows { for v in values { text += String(v) + "\n" } }
        try Array(text.utf8).withUnsafeBytes { try ParallelFile.write(path, header: Array("prediction\n".utf8), bytes: $0, comm: comm) }
    }

    // MARK: approximate vote

    /// How the seed workflow's approximate vote compares with the exact one.
    public struct ApproximateVoteComparison: Sendable {
        /// Rows where the two votes differ, of `rows`.
        public var differing: Int
        public var rows: Int
        /// Accuracies of the two votes, with labels.
        public var accuracyApproximate: Double?
        public var accuracyExact: Double?

        public var text: String {
            var line = "approximate vote (tree reduction of per-rank modes) differs from the exact vote on \(differing) of \(rows) rows "
                + "(\(String(format: "%.2f", 100 * Double(differing) / Double(max(1, rows))))%)"
            if let accuracyApproximate, let accuracyExact {
                line += "; accuracy approximate \(fixed(accuracyApproximate)) vs exact \(fixed(accuracyExact))"
            }
            return line
        }
    }

    /// Collective. The seed's approximate vote: every rank takes the majority (mode) of its
    /// own trees' votes per row, and the ranks' modes are combined by a binary tree of
    /// pairwise modes (ties to the lower class, like `scipy.stats.mode`); rank 0 compares it
    /// with the exact allreduced vote.
    /// - Parameters:
    ///   - features: the test rows, the same on every rank (a broadcast test set).
    ///   - target: their class codes, if labelled.
    ///   - exact: the exact vote's class per row.
    /// - Returns: on rank 0 the comparison; nil on the other ranks.
    public static func compareWithApproximateVote(_ forest: ForestModel, features x: Matrix<Double>, target: [Double]?, exact: [Int],
                                                  comm: any Communicator) throws -> ApproximateVoteComparison? {
        let k = forest.header.outputs
        let local = argmaxRows(try forest.sumOutputs(x, hard: true), classes: k).map { Int32($0) }
        let hasTrees = try comm.allgather(Int32(forest.treeCount == 0 ? 0 : 1))
        guard let (all, layout) = try comm.gatherv(local, root: 0) else { return nil }
        var groups: [[Int32]] = (0 ..< comm.size).filter { hasTrees[$0] == 1 }.map { Array(all[layout.range(of: $0)]) }
        while groups.count > 1 {
            var next: [[Int32]] = []
            var i = 0
            while i < groups.count {
                if i + 1 < groups.count {
                    // Mode of two: equal votes keep the class, a split goes to the lower class.
                    next.append(zip(groups[i], groups[i + 1]).map { min($0, $1) })
                } else {
                    next.append(groups[i])
                }
                i += 2
            }
            groups = next
        }
        guard let approx = groups.first else { return nil }
        var c = ApproximateVoteComparison(differing: zip(approx, exact).filter { Int($0) != $1 }.count, rows: exact.count)
        if let y = target.map({ $0.map { Int($0) } }) {
            c.accuracyApproximate = Double(zip(approx, y).filter { Int($0) == $1 }.count) / Double(max(1, y.count))
            c.accuracyExact = Double(zip(exact, y).filter { $0 == $1 }.count) / Double(max(1, y.count))
        }
        return c
    }

    // MARK: data

    /// Collective. Test rows shaped for a forest, as plain values.
    static func loadTest(_ path: String, header: ForestHeader, target: String?, broadcast: Bool, comm: any Communicator,
                         log: (String) -> Void, whenRead: () throws -> Void = {}) throws -> (features: Matrix<Double>, target: [Double]?, globalRows: Int) {
        let rows = try TrainingData.loadTest(path: path, header: header, target: target, broadcast: broadcast, comm: comm,
                                             note: { if comm.rank == 0 { log("note: \($0)") } }, whenRead: whenRead)
        return (rows.matrix, rows.target, rows.globalRowCount)
    }
}
