import ArgumentParser
import Foundation
import MPILearn
import SwiftMPI

/// `mpilearn linear`: LinearRegression, Ridge and LogisticRegression.
struct LinearCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linear",
        abstract: "Linear models: normal equations in one allreduce (linear-regression, ridge), L-BFGS over allreduced gradients (logistic-regression), SGD chained or averaged across ranks (sgd-classifier, sgd-regressor).",
        discussion: "Parameters take scikit-learn's names; a flag the estimator does not have is an error. Categorical features enter as their codes.",
        subcommands: [LinearRun.self, LinearFit.self, LinearPredict.self, LinearScore.self])
}

/// The estimator and its hyper-parameters (scikit-learn's names as flags); only the flags
/// given are set, the others keep scikit-learn's defaults.
struct LinearParameterOptions: ParsableArguments {
    @Option(help: "linear-regression, ridge, logistic-regression, sgd-classifier or sgd-regressor.") var estimator: String
    @Option(name: .customLong("C"), help: "Inverse L2 strength (logistic-regression; default 1).") var c: Double?
    @Option(help: "L2 strength (ridge; default 1).") var alpha: Double?
    @Option(help: "Iterations at most (logistic-regression: L-BFGS, default 100; ridge: sparse_cg, default 10 × features).") var maxIter: Int?
    @Option(help: "Tolerance (logistic-regression: largest gradient component, default 1e-4; ridge: sparse_cg's relative residual, default 1e-4; linear-regression: singular-value cut-off relative to the largest, default 1e-6).") var tol: Double?
    @Option(help: "Ridge's solver: auto (default), cholesky or sparse_cg.") var solver: String?
    @Flag(inversion: .prefixedNo, help: "Fit an unpenalised intercept (default: yes).") var fitIntercept: Bool?
    @Option(help: "l2 or none (logistic-regression; default l2).") var penalty: String?
    @Option(help: "balanced or none (logistic-regression, sgd-classifier; default none).") var classWeight: String?
    @Option(help: "SGD's loss: hinge, log_loss, modified_huber, squared_hinge, perceptron (classifier); squared_error, huber, epsilon_insensitive (regressor).") var loss: String?
    @Option(help: "SGD's elastic-net mixing (default 0.15).") var l1Ratio: Double?
    @Option(help: "SGD's schedule: optimal, constant, invscaling or adaptive.") var learningRate: String?
    @Option(help: "SGD's initial rate (default 0.01).") var eta0: Double?
    @Option(help: "SGD's invscaling exponent.") var powerT: Double?
    @Option(help: "SGD's huber/epsilon-insensitive width (default 0.1).") var epsilon: Double?
    @Option(help: "SGD: average the weights (true, false, or the update to start from).") var average: String?
    @Option(help: "SGD: shuffle each rank's rows every epoch (true or false; default true).") var shuffle: Bool?
    @Option(help: "SGD: epochs without improvement before stopping (default 5).") var nIterNoChange: Int?
    @Option(help: "SGD's shuffling seed.") var randomState: Int?
    @Option(help: "SGD across ranks: chained (the model passes rank to rank; one process's model) or averaged (per-rank models averaged).") var training: String?

    /// The parameters given, by scikit-learn name.
    var parameters: [String: ParameterValue] {
        var p: [String: ParameterValue] = [:]
        if let c { p["C"] = .double(c) }
        if let alpha { p["alpha"] = .double(alpha) }
        if let maxIter { p["max_iter"] = .int(maxIter) }
        if let tol { p["tol"] = .double(tol) }
        if let fitIntercept { p["fit_intercept"] = .bool(fitIntercept) }
        if let penalty { p["penalty"] = ParameterValue(parsing: penalty) }
        if let classWeight { p["class_weight"] = ParameterValue(parsing: classWeight) }
        if let loss { p["loss"] = .string(loss) }
        if let l1Ratio { p["l1_ratio"] = .double(l1Ratio) }
        if let learningRate { p["learning_rate"] = .string(learningRate) }
        if let eta0 { p["eta0"] = .double(eta0) }
        if let powerT { p["power_t"] = .double(powerT) }
        if let epsilon { p["epsilon"] = .double(epsilon) }
        if let average { p["average"] = ParameterValue(parsing: average) }
        if let shuffle { p["shuffle"] = .bool(shuffle) }
        if let nIterNoChange { p["n_iter_no_change"] = .int(nIterNoChange) }
        if let randomState { p["random_state"] = .int(randomState) }
        if let training { p["training"] = .string(training) }
        if let solver { p["solver"] = .string(solver) }
        return p
    }
}

struct LinearRun: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Fit a linear model over the ranks' shards, then score it on --test: the metrics against the majority baseline (or R²) and the time of each phase.")
    @OptionGroup var data: ForestTrainOptions
    @OptionGroup var params: LinearParameterOptions
    @Option(help: "Labelled CSV (or a generator spec) to score on; its columns are aligned to the training file's.") var test: String
    @Option(help: "Also save the model here.") var model: String?
    @OptionGroup(title: "Checkpoints (logistic-regression, sgd-classifier, sgd-regressor)") var checkpoints: CheckpointArguments

    func run(world: any Communicator) throws {
        let summary = try LinearWorkflow.run(data.source, estimator: params.estimator, parameters: params.parameters, test: test, model: model,
                                             comm: world, checkpoint: try checkpoints.options(), log: printLine)
        if let summary { printLine(summary.text) }
    }
}

struct LinearFit: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(commandName: "fit", abstract: "Fit a linear model over the ranks' shards and save it (rank 0 writes the model file).")
    @OptionGroup var data: ForestTrainOptions
    @OptionGroup var params: LinearParameterOptions
    @Option(help: "Output model file.") var model: String
    @OptionGroup(title: "Checkpoints (logistic-regression, sgd-classifier, sgd-regressor)") var checkpoints: CheckpointArguments

    func run(world: any Communicator) throws {
        let summary = try LinearWorkflow.fitAndSave(data.source, estimator: params.estimator, parameters: params.parameters, model: model,
                                                    comm: world, checkpoint: try checkpoints.options(), log: printLine)
        if let summary { printLine(summary.text) }
    }
}

struct LinearPredict: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(
        commandName: "predict", abstract: "Predict a dataset with a saved linear model: every rank gets the model and predicts its block of rows.")
    @Option(help: "Model file.") var model: String
    @Option(help: "CSV to predict (or a generator spec).") var test: String
    @Option(help: "Output CSV (a link is followed; a FIFO or a device is written straight through by rank 0).") var output: String
    @Option(help: "single: one file written in parallel by all ranks; parts: OUTPUT.part-RRRRR-of-PPPPP per rank.")
    var outputMode: ParallelFile.Layout = .single
    @Flag(help: "Also write class probabilities (proba_<class> columns; logistic-regression).") var proba: Bool = false

    func run(world: any Communicator) throws {
        let summary = try LinearWorkflow.predict(model: model, test: test, output: output, layout: outputMode, proba: proba, comm: world, log: printLine)
        say(world, summary.text)
    }
}

struct LinearScore: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(
        commandName: "score", abstract: "Score a saved linear model on a labelled dataset; metrics by collectives.")
    @Option(help: "Model file.") var model: String
    @Option(help: "Labelled CSV (or a generator spec).") var test: String
    @Option(help: "Target column, COLUMN>NUMBER or an expression (default: the model's).") var target: String?

    func run(world: any Communicator) throws {
        let report = try LinearWorkflow.score(model: model, test: test, target: target, comm: world, log: printLine)
        say(world, report.text)
    }
}
