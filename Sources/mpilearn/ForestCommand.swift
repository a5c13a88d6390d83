import ArgumentParser
import Foundation
import MPILearn
import SwiftMPI

/// `mpilearn forest`: distributed random forests.
struct ForestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forest",
        abstract: "Random forests: each rank grows trees on its shard; votes are combined exactly by allreduce.",
        discussion: "See docs/forest.md for the workflow, flags, file formats and exit codes.",
        subcommands: [ForestFit.self, ForestPredict.self, ForestScore.self, ForestRun.self])
}

/// Hyper-parameters (scikit-learn's names as flags).
struct ForestParameterOptions: ParsableArguments {
    @Option(help: "What the forest predicts.") var task: ForestHeader.Task = .classification
    @Option(help: "Trees in the whole forest, over all ranks.") var nEstimators: Int = 100
    @Option(help: "Split quality: gini or entropy for classification (default gini), squared_error for regression.") var criterion: Criterion?
    @Option(help: "Maximum tree depth (default: unlimited).") var maxDepth: Int?
    @Option var minSamplesSplit: Int = 2
    @Option var minSamplesLeaf: Int = 1
    @Option var minImpurityDecrease: Double = 0
    @Option(help: "sqrt, log2, all, a fraction in (0,1] or a count (default: sqrt; all for regression).", transform: MaxFeatures.init(parsing:))
    var maxFeatures: MaxFeatures?
    @Option(help: "Grow best-first with at most this many leaves.") var maxLeafNodes: Int?
    @Option(help: "Quantile bins per feature, 2...255.") var maxBins: Int = 255
    @Flag(inversion: .prefixedNo, help: "Bootstrap each tree's rows.") var bootstrap: Bool = true
    @Option(help: "Rows per tree: a fraction like 0.5 or a count.", transform: MaxSamples.init(parsing:)) var maxSamples: MaxSamples?
    @Option(help: "Weigh classes by their inverse frequency (classification).") var classWeight: ClassWeight?
    @Flag(help: "Compute the exact out-of-bag score over all ranks.") var oobScore: Bool = false
    @Option(help: "Seed of every tree's random streams.") var randomState: UInt64 = 0
    @Option(help: "Threads per rank growing trees and predicting (results do not depend on it).") var threads: Int = 1

    var isClassification: Bool { task == .classification }

    func parameters() throws -> RandomForestParameters {
        var p = isClassification ? RandomForestParameters.classifier(nEstimators: nEstimators) : .regressor(nEstimators: nEstimators)
        if let criterion { p.tree.criterion = criterion }
        p.tree.maxDepth = maxDepth
        p.tree.minSamplesSplit = minSamplesSplit
        p.tree.minSamplesLeaf = minSamplesLeaf
        p.tree.minImpurityDecrease = minImpurityDecrease
        if let maxFeatures { p.tree.maxFeatures = maxFeatures }
        p.tree.maxLeafNodes = maxLeafNodes
        p.tree.maxBins = maxBins
        p.bootstrap = bootstrap
        if let maxSamples { p.maxSamples = maxSamples }
        if let classWeight { p.classWeight = classWeight }
        p.oobScore = oobScore
        p.randomState = randomState
        p.threads = threads
        return p
    }
}

/// Where the training rows come from.
struct ForestTrainOptions: ParsableArguments {
    @Option(help: "Training CSV, or a generator spec classification:ROWS,FEATURES[,SEED] / regression:ROWS,FEATURES[,SEED].")
    var train: String
    @Option(help: "Target column, or COLUMN>NUMBER for a binary target (also >=, <, <=). Rows with a missing target are dropped.")
    var target: String = "y"
    @Option(help: "Comma-separated text columns to use as categorical features.") var categorical: String = ""
    @Option(help: "Comma-separated feature columns (default: every numeric and categorical column but the target).") var features: String?

    var categoricalList: [String] { categorical.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    var featureList: [String]? { features.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } } }
}

/// Prints progress on rank 0: one line per 10% in a batch log, a rewritten line on a terminal.
///
/// Under a launcher the rank's stdout is often a pseudo-terminal even when mpirun writes to a
/// file (Open MPI forwards rank output through ptys), so `isatty` cannot tell a batch log from
/// a terminal there: launched ranks always print whole lines.
final class FitProgress: @unchecked Sendable {
    let comm: any Communicator
    let start = Date()
    let tty = isatty(1) != 0 && MPILearnCommand.launchRank == nil
    var lastDecile = -1
    let lock = NSLock()
    init(_ comm: any Communicator) { self.comm = comm }

    func callback() -> ForestProgress? {
        guard comm.rank == 0 else { return nil }
        return { [self] done, total in
            lock.lock(); defer { lock.unlock() }
            let decile = done * 10 / max(1, total)
            let line = String(format: "fit: %d/%d trees on rank 0 (%d%%), %.1f s", done, total, done * 100 / max(1, total), Date().timeIntervalSince(start))
            if tty {
                print("\r" + line, terminator: done == total ? "\n" : "")
                fflush(stdout)
            } else if decile > lastDecile {
                lastDecile = decile
                print(line)
                fflush(stdout)
            }
        }
    }
}

/// Fits a forest on every rank's shard (shared by `fit` and `run`). The shard's rows are
/// handed over to the fit (the shard is left with no rows), so it can free the raw
/// features once they are binned.
/// - Parameter keepTrees: keep the full trees (to save or gather the model); otherwise only
///   their compact predictors.
func fitForest(_ shard: inout Dataset<Double>, _ options: ForestParameterOptions, keepTrees: Bool, comm: any Communicator) throws -> ForestModel {
    let p = try options.parameters()
    let progress = FitProgress(comm).callback()
    // The rows are moved out of the shard before the fit, so the fit holds the only
    // reference to the features and can free them once binned.
    let classNames = shard.classNames, target = shard.targetName, source = shard.source
    let data = shard
    shard.features = .columns([], rows: 0)
    shard.target = nil
    if options.isClassification {
        return try RandomForestClassifier(p).fitLocal(consume data, comm: comm, classNames: classNames, target: target,
                                                 dataDescription: source, keepTrees: keepTrees, progress: progress).forest
    }
    return try RandomForestRegressor(p).fitLocal(consume data, comm: comm, target: target, dataDescription: source,
                                            keepTrees: keepTrees, progress: progress).forest
}

func noteOnRoot(_ comm: any Communicator) -> (String) -> Void {
    { say(comm, "note: \($0)") }
}

func fmt(_ v: Double, _ digits: Int = 4) -> String { String(format: "%.\(digits)f", v) }

struct ForestFit: SPMDCommand {
    static let configuration = CommandConfiguration(commandName: "fit", abstract: "Fit a forest over the ranks' shards and save it (rank 0 writes the model file).")
    @OptionGroup var data: ForestTrainOptions
    @OptionGroup var params: ForestParameterOptions
    @Option(help: "Output model file.") var model: String

    func run(world: any Communicator) throws {
        _ = try params.parameters()
        var shard = try TrainingData.loadTrain(path: data.train, target: data.target, categorical: data.categoricalList, features: data.featureList,
                                             classification: params.isClassification, comm: world, note: noteOnRoot(world))
        let forest = try fitForest(&shard, params, keepTrees: true, comm: world)
        if let whole = try forest.gathered(world) {
            try whole.write(to: model)
            print("fitted \(whole.trees.count) trees on \(whole.header.provenance.trainRows) rows over \(world.size) rank(s) "
                + "(trees per rank \(whole.header.provenance.treesPerRank.map(String.init).joined(separator: ",")))")
            if let o = whole.header.oobScore { print("oob score: \(fmt(o))") }
            print("model written to \(model)")
        }
    }
}

/// Reads the model on rank 0 and broadcasts its bytes (one reader, every rank gets the
/// whole forest).
func broadcastModel(_ path: String, comm: any Communicator) throws -> ForestModel {
    let kinds = [ForestModel.classifierKind, ForestModel.regressorKind]
    var bytes: [UInt8] = []
    if comm.rank == 0 {
        bytes = try ModelContainer.fileBytes(path)
        // A bad file fails on rank 0 alone, before any rank waits for it.
        try ModelContainer.decode(bytes: bytes, path: path, expectedKinds: kinds) { _ in }
    }
    try comm.broadcast(&bytes)
    return try ForestModel.decode(fileBytes: bytes, path: path, kinds: kinds)
}

struct ForestPredict: SPMDCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Predict a dataset with a saved forest: every rank gets the whole model and predicts its shard in chunks.")
    @Option(help: "Model file.") var model: String
    @Option(help: "CSV to predict (or a generator spec).") var test: String
    @Option(help: "Output CSV (a link is followed; a FIFO or a device is written straight through by rank 0).") var output: String
    @Option(help: "single: one file written in parallel by all ranks; parts: OUTPUT.part-RRRRR-of-PPPPP per rank.")
    var outputMode: ParallelFile.Layout = .single
    @Flag(help: "Also write class probabilities (proba_<class> columns).") var proba: Bool = false
    @Option(help: "soft (summed probabilities) or hard (majority vote).") var voting: Voting = .soft
    @Option(help: "Rows predicted per chunk (bounds memory).") var chunkRows: Int = 65536
    @Option(help: "Threads per rank.") var threads: Int = 1

    func run(world: any Communicator) throws {
        try require(chunkRows >= 1, "--chunk-rows", chunkRows, "an integer >= 1")
        try require(threads >= 1, "--threads", threads, "an integer >= 1")
        let forest = try broadcastModel(model, comm: world)
        let rows = try TrainingData.loadTest(path: test, header: forest.header, target: nil, broadcast: false, comm: world, note: noteOnRoot(world))
        let h = forest.header
        try ParallelFile.write(output, layout: outputMode, comm: world) { emit in
            if world.rank == 0 {
                var head = "prediction"
                if proba && h.task == .classification { head += h.classes.map { ",proba_\($0)" }.joined() }
                try emit(head + "\n")
            }
            let d = rows.matrix.columns
            let predictor = try forest.predictor()   // trees packed once for every chunk
            var start = 0
            while start < rows.matrix.rows {
                let end = min(rows.matrix.rows, start + chunkRows)
                let chunk = Matrix(rows: end - start, columns: d, storage: Array(rows.matrix.storage[(start * d) ..< (end * d)]))
                var text = ""
                if h.task == .classification {
                    let sums = try predictor.sumOutputs(chunk, hard: voting == .hard, threads: threads)
                    let pred = argmaxRows(sums, classes: h.outputs)
                    let k = h.outputs, n = Double(forest.treeCount)
                    for i in 0 ..< chunk.rows {
                        text += h.classes[pred[i]]
                        if proba { for c in 0 ..< k { text += "," + String(sums[i * k + c] / n) } }
                        text += "\n"
                    }
                } else {
                    let sums = try predictor.sumOutputs(chunk, threads: threads)
                    let n = Double(forest.treeCount)
                    for s in sums { text += String(s / n) + "\n" }
                }
                try emit(text)
                start = end
            }
        }
        say(world, "predicted \(rows.globalRowCount) rows with \(forest.treeCount) trees on \(world.size) rank(s); wrote \(outputMode == .single ? output : "\(output).part-*-of-\(String(format: "%05d", world.size))")")
    }
}

func printClassificationReport(yTrue: [Int], votes: [Double], classes: [String], voting: Voting, nEstimators: Int, comm: any Communicator) throws {
    let k = classes.count
    let pred = argmaxRows(votes, classes: k)
    let acc = try Metrics.accuracy(yTrue: yTrue, yPred: pred, comm: comm)
    let (base, majority) = try Metrics.majorityBaseline(yTrue: yTrue, classes: k, comm: comm)
    let cm = try Metrics.confusionMatrix(yTrue: yTrue, yPred: pred, classes: k, comm: comm)
    var proba = votes
    if voting == .soft { proba = votes.map { $0 / Double(nEstimators) } } else { proba = votes.map { $0 / Double(nEstimators) } }
    let ll = try Metrics.logLoss(yTrue: yTrue, proba: proba, classes: k, comm: comm)
    var auc: Double? = nil
    if k == 2 { auc = try Metrics.rocAUC(yTrue: yTrue, scores: (0 ..< yTrue.count).map { proba[$0 * 2 + 1] }, comm: comm) }
    let rows = try comm.allreduce(Double(yTrue.count), op: .sum)
    guard comm.rank == 0 else { return }
    print("test rows: \(Int(rows))")
    print("accuracy: \(fmt(acc))   majority baseline: \(fmt(base)) (always '\(classes[majority])')   gain: \(String(format: "%+.2f", 100 * (acc - base))) points")
    if let auc { print("ROC AUC (\(voting.rawValue) votes): \(fmt(auc))") }
    print("log loss: \(fmt(ll))")
    let w = max(10, (classes.map(\.count).max() ?? 4) + 2)
    print("confusion matrix (rows: true, columns: predicted)")
    print("".padding(toLength: w, withPad: " ", startingAt: 0) + classes.map { $0.leftPad(w) }.joined())
    for t in 0 ..< k { print(classes[t].padding(toLength: w, withPad: " ", startingAt: 0) + cm[t].map { String($0).leftPad(w) }.joined()) }
    print("class".padding(toLength: w, withPad: " ", startingAt: 0) + ["precision", "recall", "f1", "support"].map { $0.leftPad(11) }.joined())
    for (c, m) in Metrics.perClass(confusion: cm).enumerated() {
        print(classes[c].padding(toLength: w, withPad: " ", startingAt: 0) + [fmt(m.precision), fmt(m.recall), fmt(m.f1), String(m.support)].map { $0.leftPad(11) }.joined())
    }
}

func printRegressionReport(yTrue: [Double], yPred: [Double], comm: any Communicator) throws {
    let r2 = try Metrics.r2(yTrue: yTrue, yPred: yPred, comm: comm)
    let mse = try Metrics.meanSquaredError(yTrue: yTrue, yPred: yPred, comm: comm)
    let mae = try Metrics.meanAbsoluteError(yTrue: yTrue, yPred: yPred, comm: comm)
    let rows = try comm.allreduce(Double(yTrue.count), op: .sum)
    say(comm, "test rows: \(Int(rows))\nR²: \(fmt(r2))   MSE: \(fmt(mse))   MAE: \(fmt(mae))")
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? " " + self : String(repeating: " ", count: n - count) + self }
}

struct ForestScore: SPMDCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score a saved forest on a labelled dataset: each rank predicts its shard with the whole model; metrics by collectives.")
    @Option(help: "Model file.") var model: String
    @Option(help: "Labelled CSV (or a generator spec).") var test: String
    @Option(help: "Target column or COLUMN>NUMBER (default: the model's).") var target: String?
    @Option(help: "soft (summed probabilities) or hard (majority vote).") var voting: Voting = .soft
    @Option(help: "Threads per rank.") var threads: Int = 1

    func run(world: any Communicator) throws {
        try require(threads >= 1, "--threads", threads, "an integer >= 1")
        let forest = try broadcastModel(model, comm: world)
        let rows = try TrainingData.loadTest(path: test, header: forest.header, target: target ?? forest.header.target, broadcast: false,
                                           comm: world, note: noteOnRoot(world))
        if forest.header.task == .classification {
            let votes = try forest.sumOutputs(rows.matrix, hard: voting == .hard, threads: threads)
            try printClassificationReport(yTrue: rows.target!.map { Int($0) }, votes: votes, classes: forest.header.classes, voting: voting,
                                          nEstimators: forest.header.nEstimators, comm: world)
        } else {
            let n = Double(forest.header.nEstimators)
            try printRegressionReport(yTrue: rows.target!, yPred: try forest.sumOutputs(rows.matrix, threads: threads).map { $0 / n }, comm: world)
        }
    }
}

struct ForestRun: SPMDCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "The whole workflow: load shards, fit local forests, broadcast the test set, predict on every rank, combine votes exactly, report.")
    @OptionGroup var data: ForestTrainOptions
    @OptionGroup var params: ForestParameterOptions
    @Option(help: "Labelled test CSV (or a generator spec).") var test: String
    @Option(help: "soft (summed probabilities) or hard (counted votes).") var voting: Voting = .soft
    @Option(help: "broadcast-test (rank 0 broadcasts the test set, votes are allreduced) or broadcast-model (trees are allgathered, each rank predicts its test shard).")
    var prediction: PredictionStrategy = .broadcastTest
    @Option(help: "Also save the model here (rank 0 gathers the trees).") var model: String?
    @Option(help: "Write the combined predictions here (CSV: prediction, then the summed votes per class); a link is followed, a FIFO or a device written straight through.")
    var predictions: String?
    @Flag(help: "Also compute the seed workflow's approximate vote (each rank's majority, then a tree reduction of modes) and report how often it differs from the exact vote.")
    var compareApproximate: Bool = false

    func run(world: any Communicator) throws {
        _ = try params.parameters()
        let baseline = ProcessMemory.peakMB()
        var t = PhaseTimer()
        var shard = try TrainingData.loadTrain(path: data.train, target: data.target, categorical: data.categoricalList, features: data.featureList,
                                             classification: params.isClassification, comm: world, note: noteOnRoot(world))
        t.mark("load", comm: false)
        say(world, "train: \(shard.globalRowCount) rows × \(shard.featureCount) features on \(world.size) rank(s); growing \(params.nEstimators) trees")
        let rawFeatureMB = Double(shard.rowCount * shard.featureCount * 8) / 1_048_576
        let bcast = prediction == .broadcastTest
        // Full trees only when they are saved or sent to other ranks; else compact predictors.
        var forest = try fitForest(&shard, params, keepTrees: model != nil || !bcast, comm: world)
        t.add("bin", forest.timings.bin, comm: false)
        t.add("fit", forest.timings.grow, comm: false)
        t.add("fit (collectives)", forest.timings.communication, comm: true)
        t.skip()
        if let o = forest.header.oobScore { say(world, "oob score: \(fmt(o))") }
        if let model {
            if let whole = try forest.gathered(world) { try whole.write(to: model); print("model written to \(model)") }
            t.mark("save", comm: true)
        }
        if !bcast {
            forest = try forest.allgathered(world)
            t.mark("gather trees", comm: true)
        }
        // broadcast-test: rank 0 reads the file (the others wait at a barrier, so the wait is
        // counted here, not as communication), then one broadcast.
        let rows = try TrainingData.loadTest(path: test, header: forest.header, target: data.target, broadcast: bcast, comm: world, note: noteOnRoot(world)) {
            guard bcast else { return }
            try world.barrier()
            t.mark("load test", comm: false)
        }
        t.mark(bcast ? "broadcast test" : "load test", comm: bcast)
        let h = forest.header
        if h.task == .classification {
            var votes = try forest.sumOutputs(rows.matrix, hard: voting == .hard, threads: params.threads)
            if bcast { try world.barrier() }   // a rank waiting for a slower one counts as predicting, not voting
            t.mark("predict", comm: false)
            let metricsComm: any Communicator
            if bcast {
                try world.allreduce(&votes, op: .sum)
                t.mark("vote", comm: true)
                metricsComm = LocalCommunicator.solo()
            } else {
                metricsComm = world
            }
            if compareApproximate && bcast {
                try compareWithApproximateVote(forest, rows: rows, exact: argmaxRows(votes, classes: h.outputs), comm: world)
            }
            if let predictions {
                // broadcast-test: rank 0 holds every row's combined votes; broadcast-model: each rank its block.
                let k = h.outputs
                let pred = argmaxRows(votes, classes: k)
                let header = "prediction" + h.classes.map { ",votes_\($0)" }.joined() + "\n"
                var text = ""
                if world.rank == 0 || !bcast {
                    for i in 0 ..< pred.count {
                        text += h.classes[pred[i]] + (0 ..< k).map { "," + String(votes[i * k + $0]) }.joined() + "\n"
                    }
                }
                try Array(text.utf8).withUnsafeBytes { try ParallelFile.write(predictions, header: Array(header.utf8), bytes: $0, comm: world) }
            }
            if world.rank == 0 || !bcast {
                try printClassificationReport(yTrue: rows.target!.map { Int($0) }, votes: votes, classes: h.classes, voting: voting, nEstimators: h.nEstimators, comm: metricsComm)
            }
        } else {
            var sums = try forest.sumOutputs(rows.matrix, threads: params.threads)
            if bcast { try world.barrier() }
            t.mark("predict", comm: false)
            if bcast {
                try world.allreduce(&sums, op: .sum)
                t.mark("vote", comm: true)
            }
            let n = Double(h.nEstimators)
            let comm: any Communicator = bcast ? LocalCommunicator.solo() : world
            if world.rank == 0 || !bcast { try printRegressionReport(yTrue: rows.target!, yPred: sums.map { $0 / n }, comm: comm) }
        }
        t.skip()
        try t.report(world)
        try reportPeakMemory(baseline: baseline, rawFeatureMB: rawFeatureMB, comm: world)
    }
}

/// The seed's approximate vote: every rank takes the majority (mode) of its own trees'
/// votes per row, and the ranks' modes are combined by a binary tree of pairwise modes
/// (ties to the lower class, like `scipy.stats.mode`); rank 0 compares it with the exact
/// allreduced vote.
func compareWithApproximateVote(_ forest: ForestModel, rows: Dataset<Double>, exact: [Int], comm: any Communicator) throws {
    let k = forest.header.outputs
    let local = argmaxRows(try forest.sumOutputs(rows.matrix, hard: true), classes: k).map { Int32($0) }
    let hasTrees = try comm.allgather(Int32(forest.treeCount == 0 ? 0 : 1))
    guard let (all, layout) = try comm.gatherv(local, root: 0) else { return }
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
    guard let approx = groups.first else { return }
    let differ = zip(approx, exact).filter { Int($0) != $1 }.count
    let y = rows.target.map { $0.map { Int($0) } }
    var line = "approximate vote (tree reduction of per-rank modes) differs from the exact vote on \(differ) of \(exact.count) rows (\(String(format: "%.2f", 100 * Double(differ) / Double(max(1, exact.count))))%)"
    if let y {
        let accA = Double(zip(approx, y).filter { Int($0) == $1 }.count) / Double(max(1, y.count))
        let accE = Double(zip(exact, y).filter { $0 == $1 }.count) / Double(max(1, y.count))
        line += "; accuracy approximate \(fmt(accA)) vs exact \(fmt(accE))"
    }
    print(line)
}

