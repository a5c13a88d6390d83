import ArgumentParser
import Foundation
import MPILearn
import SwiftMPI

/// `mpilearn svm`: kernel support vector classification (scikit-learn's SVC).
struct SVMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "svm",
        abstract: "Support vector classification (SVC, libsvm's SMO solver): the direct solve gathers every row (the model does not depend on the ranks), the cascade merges support vectors up a tree of ranks.",
        discussion: "Parameters take scikit-learn's names (--C, --kernel, --gamma, ...). Categorical features enter as their codes; scale the features first for rbf, poly and sigmoid kernels. See docs/svm.md.",
        subcommands: [SVMRun.self, SVMFit.self, SVMPredict.self, SVMScore.self])
}

/// SVC's hyper-parameters, scikit-learn's names as flags and its defaults. Checked by
/// ``SVC/validate()`` when the job starts, so a bad value is reported with the parameter's name.
struct SVCParameterOptions: ParsableArguments {
    // Numbers take `.unconditional` so negative values (`--max-iter -1`, `--coef0 -0.5`) are
    // read as values, not as flags.
    @Option(name: .customLong("C"), parsing: .unconditional, help: "Penalty of margin violations, > 0.") var c: Double = 1
    @Option(help: "linear, poly, rbf, sigmoid or precomputed (the features are a Gram matrix: n_train columns).") var kernel: String = "rbf"
    @Option(parsing: .unconditional, help: "Degree of the poly kernel, >= 0.") var degree: Int = 3
    @Option(parsing: .unconditional, help: "Kernel coefficient of rbf, poly and sigmoid: scale (1 / (n_features · Var X)), auto (1 / n_features) or a number >= 0.")
    var gamma: String = "scale"
    @Option(parsing: .unconditional, help: "Independent term of the poly and sigmoid kernels.") var coef0: Double = 0
    @Flag(inversion: .prefixedNo, help: "libsvm's shrinking heuristic.") var shrinking: Bool = true
    @Flag(help: "Platt probabilities by libsvm's 5-fold cross-validation (predict --proba); about 5× the fit.") var probability: Bool = false
    @Option(parsing: .unconditional, help: "Stopping tolerance of the SMO solver.") var tol: Double = 1e-3
    @Option(parsing: .unconditional, help: "Kernel cache per rank, in MB.") var cacheSize: Double = 200
    @Option(help: "balanced (n / (n_classes · n_class)) or none.") var classWeight: String?
    @Option(parsing: .unconditional, help: "SMO iterations at most per pair of classes; -1 for no limit.") var maxIter: Int = -1
    @Option(help: "ovr or ovo: the shape of the decision function (and break_ties).") var decisionFunctionShape: String = "ovr"
    @Flag(help: "With ovr and three or more classes, predict the largest decision value rather than the most votes.") var breakTies: Bool = false
    @Option(parsing: .unconditional, help: "Seed of the probability folds (default 0).") var randomState: Int?
    @Option(help: "Threads per rank for the kernel rows and prediction (n_jobs; the model does not depend on it).") var threads: Int = 1
    @Option(help: "direct (every rank gathers every row; the pairs' solves are shared out) or cascade (support vectors merged up a tree of ranks, for data no rank should solve alone).")
    var training: String = "direct"

    /// The SVC, checked.
    /// - Throws: ``MPILearnError/invalidParameter`` naming the parameter.
    func estimator() throws -> SVC {
        let weight: String? = classWeight.flatMap { ["none", "None", "null"].contains($0) ? nil : $0 }
        let svc = SVC(C: c, kernel: kernel, degree: degree, gamma: ParameterValue(parsing: gamma), coef0: coef0, shrinking: shrinking,
                      probability: probability, tol: tol, cacheSize: cacheSize, classWeight: weight, maxIter: maxIter,
                      decisionFunctionShape: decisionFunctionShape, breakTies: breakTies, randomState: randomState, training: training,
                      threads: threads)
        try svc.validate()
        return svc
    }
}

struct SVMFit: SPMDCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit", abstract: "Fit an SVC on the ranks' shards and save it (rank 0 writes the model file).")
    @OptionGroup var data: ForestTrainOptions
    @OptionGroup var params: SVCParameterOptions
    @Option(help: "Output model file.") var model: String

    func run(world: any Communicator) throws {
        let report = try SVMWorkflow.fitAndSave(data.source, estimator: try params.estimator(), model: model, comm: world, log: printLine)
        if let report { printLine(report.text) }
    }
}

struct SVMPredict: SPMDCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Predict a dataset of any size with a saved SVC: every rank gets the model and streams its rows in chunks into one output file in input order.")
    @Option(help: "Model file (svc).") var model: String
    @Option(help: "Input: a CSV file, folder or glob (quote it), an .npy file, file.h5:/dataset, or a generator spec classification:ROWS,FEATURES[,SEED]. A precomputed-kernel model reads n_samples × n_train kernel values.")
    var test: String
    @Option(help: "Output: .csv (or a FIFO or device), .npy, or file.h5:/dataset.") var output: String
    @Flag(help: "Also write class probabilities (proba_<class> columns; a model fitted with --probability). The prediction stays the model's vote.")
    var proba: Bool = false
    @Option(help: "single: one output file; parts: one file per rank (OUTPUT.part-RRRRR-of-PPPPP).") var outputMode: ParallelFile.Layout = .single
    @Option(help: "Rows per chunk (bounds memory per rank).") var chunkRows: Int = 16384
    @Option(help: "Threads per rank for the kernel blocks (the output does not depend on it).") var threads: Int = 1

    func run(world: any Communicator) throws {
        var options = StreamingPredict.Options(output: output)
        options.proba = proba
        options.layout = outputMode
        options.chunkRows = chunkRows
        let summary = try SVMWorkflow.predict(model: model, test: test, options: options, threads: threads, comm: world, log: printLine)
        say(world, summary.text)
    }
}

struct SVMScore: SPMDCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score a saved SVC on a labelled dataset: each rank predicts its block; accuracy against the majority baseline by collectives.")
    @Option(help: "Model file (svc).") var model: String
    @Option(help: "Labelled CSV (or a generator spec).") var test: String
    @Option(help: "Target column, COLUMN>NUMBER or an expression (default: the model's).") var target: String?
    @Option(help: "Threads per rank for the kernel blocks (the scores do not depend on it).") var threads: Int = 1

    func run(world: any Communicator) throws {
        let report = try SVMWorkflow.score(model: model, test: test, target: target, threads: threads, comm: world, log: printLine)
        say(world, report.text)
    }
}

struct SVMRun: SPMDCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Fit an SVC on the ranks' shards, then score it on --test: fit time, support vectors, accuracy against the majority baseline, the time of each phase.")
    @OptionGroup var data: ForestTrainOptions
    @OptionGroup var params: SVCParameterOptions
    @Option(help: "Labelled CSV (or a generator spec) to score on; its columns are aligned to the training file's.") var test: String
    @Option(help: "Also save the model here.") var model: String?

    func run(world: any Communicator) throws {
        let options = SVMWorkflow.RunOptions(source: data.source, estimator: try params.estimator(), test: test, model: model)
        _ = try SVMWorkflow.run(options, comm: world, log: printLine)
    }
}
