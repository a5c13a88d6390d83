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
    @Option(help: "local: each rank grows its share of the trees on its own rows (default); global: every tree is grown on all rows of all ranks (histograms summed by collectives), and the model is byte-identical for any number of ranks.")
    var mode: ForestMode = .local

    func parameters() throws -> RandomForestParameters {
        var p = task == .classification ? RandomForestParameters.classifier(nEstimators: nEstimators) : .regressor(nEstimators: nEstimators)
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
        p.mode = mode
        return p
    }
}

/// Where the training rows come from.
struct ForestTrainOptions: ParsableArguments {
    @Option(help: "Training CSV, or a generator spec classification:ROWS,FEATURES[,SEED] / regression:ROWS,FEATURES[,SEED].")
    var train: String
    @Option(help: "Target column, COLUMN>NUMBER (also >=, <, <=) or any condition for two classes ('arr_delay>15 and dep_delay>0'), or an expression for regression ('log1p(distance)'). Rows with a missing target are dropped.")
    var target: String = "y"
    @Option(help: "Comma-separated text columns to use as categorical features.") var categorical: String = ""
    @Option(help: "Comma-separated feature columns (default: every numeric and categorical column but the target).") var features: String?

    var categoricalList: [String] { categorical.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    var featureList: [String]? { features.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } } }

    var source: ForestWorkflow.TrainingSource {
        ForestWorkflow.TrainingSource(path: train, target: target, categorical: categoricalList, features: featureList)
    }
}

struct ForestFit: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(commandName: "fit", abstract: "Fit a forest over the ranks' shards and save it (rank 0 writes the model file).")
    @OptionGroup var data: ForestTrainOptions
    @OptionGroup var params: ForestParameterOptions
    @Option(help: "Output model file.") var model: String
    @OptionGroup(title: "Checkpoints") var checkpoints: CheckpointArguments

    func run(world: any Communicator) throws {
        let summary = try ForestWorkflow.fitAndSave(data.source, task: params.task, parameters: try params.parameters(), model: model, comm: world,
                                                    progress: .printed, checkpoint: try checkpoints.options(), log: printLine)
        if let summary { printLine(summary.text) }
    }
}

struct ForestPredict: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
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
        var options = ForestWorkflow.PredictOptions(output: output)
        options.layout = outputMode
        options.proba = proba
        options.voting = voting
        options.chunkRows = chunkRows
        options.threads = threads
        let summary = try ForestWorkflow.predict(model: model, test: test, options: options, comm: world, log: printLine)
        say(world, summary.text)
    }
}

struct ForestScore: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score a saved forest on a labelled dataset: each rank predicts its shard with the whole model; metrics by collectives.")
    @Option(help: "Model file.") var model: String
    @Option(help: "Labelled CSV (or a generator spec).") var test: String
    @Option(help: "Target column, COLUMN>NUMBER or an expression (default: the model's).") var target: String?
    @Option(help: "soft (summed probabilities) or hard (majority vote).") var voting: Voting = .soft
    @Option(help: "Threads per rank.") var threads: Int = 1

    func run(world: any Communicator) throws {
        let report = try ForestWorkflow.score(model: model, test: test, target: target, voting: voting, threads: threads, comm: world, log: printLine)
        say(world, report.text)
    }
}

struct ForestRun: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "The whole workflow: load shards, fit local forests, broadcast the test set, predict on every rank, combine votes exactly, report.")
    @OptionGroup var data: ForestTrainOptions
    @OptionGroup var params: ForestParameterOptions
    @Option(help: "Labelled test CSV (or a generator spec).") var test: String
    @Option(help: "soft (summed probabilities) or hard (counted votes).") var voting: Voting = .soft
    @Option(help: "broadcast-test (rank 0 broadcasts the test set, votes are allreduced) or broadcast-model (trees are allgathered, each rank predicts its test shard).")
    var prediction: ForestWorkflow.PredictionStrategy = .broadcastTest
    @Option(help: "Also save the model here (rank 0 gathers the trees).") var model: String?
    @Option(help: "Write the combined predictions here (CSV: prediction, then the summed votes per class; for regression the trees' mean); a link is followed, a FIFO or a device written straight through.")
    var predictions: String?
    @Flag(help: "Also compute the seed workflow's approximate vote (each rank's majority, then a tree reduction of modes) and report how often it differs from the exact vote.")
    var compareApproximate: Bool = false
    @OptionGroup(title: "Checkpoints") var checkpoints: CheckpointArguments

    func run(world: any Communicator) throws {
        var options = ForestWorkflow.RunOptions(source: data.source, task: params.task, parameters: try params.parameters(), test: test)
        options.voting = voting
        options.prediction = prediction
        options.model = model
        options.predictions = predictions
        options.compareApproximate = compareApproximate
        options.progress = .printed
        options.checkpoint = try checkpoints.options()
        _ = try ForestWorkflow.run(options, comm: world, log: printLine)
    }
}
