import ArgumentParser
import Foundation
import MPILearn
import SwiftMPI

/// `mpilearn linear`: LinearRegression, Ridge and LogisticRegression.
struct LinearCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linear",
        abstract: "Linear models: normal equations in one allreduce (linear-regression, ridge), L-BFGS over allreduced gradients (logistic-regression).",
        discussion: "Parameters take scikit-learn's names; a flag the estimator does not have is an error. Categorical features enter as their codes.",
        subcommands: [LinearFit.self, LinearPredict.self, LinearScore.self])
}

/// The estimator and its hyper-parameters (scikit-learn's names as flags); only the flags
/// given are set, the others keep scikit-learn's defaults.
struct LinearParameterOptions: ParsableArguments {
    @Option(help: "linear-regression, ridge or logistic-regression.") var estimator: String
    @Option(name: .customLong("C"), help: "Inverse L2 strength (logistic-regression; default 1).") var c: Double?
    @Option(help: "L2 strength (ridge; default 1).") var alpha: Double?
    @Option(help: "L-BFGS iterations at most (logistic-regression; default 100).") var maxIter: Int?
    @Option(help: "Stop when the largest gradient component is at most this (logistic-regression; default 1e-4).") var tol: Double?
    @Flag(inversion: .prefixedNo, help: "Fit an unpenalised intercept (default: yes).") var fitIntercept: Bool?
    @Option(help: "l2 or none (logistic-regression; default l2).") var penalty: String?
    @Option(help: "balanced or none (logistic-regression; default none).") var classWeight: String?

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
        return p
    }
}

struct LinearFit: SPMDCommand {
    static let configuration = CommandConfiguration(commandName: "fit", abstract: "Fit a linear model over the ranks' shards and save it (rank 0 writes the model file).")
    @OptionGroup var data: ForestTrainOptions
    @OptionGroup var params: LinearParameterOptions
    @Option(help: "Output model file.") var model: String

    func run(world: any Communicator) throws {
        let summary = try LinearWorkflow.fitAndSave(data.source, estimator: params.estimator, parameters: params.parameters, model: model,
                                                    comm: world, log: printLine)
        if let summary { printLine(summary.text) }
    }
}

struct LinearPredict: SPMDCommand {
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
    static let configuration = CommandConfiguration(
        commandName: "score", abstract: "Score a saved linear model on a labelled dataset; metrics by collectives.")
    @Option(help: "Model file.") var model: String
    @Option(help: "Labelled CSV (or a generator spec).") var test: String
    @Option(help: "Target column or COLUMN>NUMBER (default: the model's).") var target: String?

    func run(world: any Communicator) throws {
        let report = try LinearWorkflow.score(model: model, test: test, target: target, comm: world, log: printLine)
        say(world, report.text)
    }
}
