import ArgumentParser
import Foundation
import MPILearn
import SwiftMPI

/// `mpilearn svm`: kernel support vector classification and regression (scikit-learn's SVC and SVR).
struct SVMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "svm",
        abstract: "Kernel support vector machines with libsvm's SMO solver: classification (SVC; the direct solve gathers every row and the model does not depend on the ranks, the cascade merges support vectors up a tree of ranks), nu-classification (--estimator nusvc) and epsilon-regression (--estimator svr).",
        discussion: "Parameters take scikit-learn's names (--C, --nu, --kernel, --gamma, --epsilon, ...). Categorical features enter as their codes; scale the features first for rbf, poly and sigmoid kernels. See docs/svm.md.",
        subcommands: [SVMRun.self, SVMFit.self, SVMPredict.self, SVMScore.self])
}

/// SVC's, NuSVC's and SVR's hyper-parameters, scikit-learn's names as flags and its defaults.
/// Checked by the estimator's `validate()` when the job starts, so a bad value is reported with
/// the parameter's name; a flag of another estimator is refused by name.
struct SVMParameterOptions: ParsableArguments {
    @Option(help: "svc (C-support vector classification), nusvc (nu-support vector classification) or svr (epsilon-support vector regression).")
    var estimator: String = "svc"
    // Numbers take `.unconditional` so negative values (`--max-iter -1`, `--coef0 -0.5`) are
    // read as values, not as flags.
    @Option(name: .customLong("C"), parsing: .unconditional, help: "svc, svr: penalty of margin violations (svr: of errors beyond epsilon), > 0 (default 1).")
    var c: Double?
    @Option(parsing: .unconditional, help: "nusvc: upper bound on the fraction of margin errors and lower bound on the fraction of support vectors, in (0, 1] (default 0.5).")
    var nu: Double?
    @Option(help: "linear, poly, rbf, sigmoid or precomputed (the features are a Gram matrix: n_train columns).") var kernel: String = "rbf"
    @Option(parsing: .unconditional, help: "Degree of the poly kernel, >= 0.") var degree: Int = 3
    @Option(parsing: .unconditional, help: "Kernel coefficient of rbf, poly and sigmoid: scale (1 / (n_features · Var X)), auto (1 / n_features) or a number >= 0.")
    var gamma: String = "scale"
    @Option(parsing: .unconditional, help: "Independent term of the poly and sigmoid kernels.") var coef0: Double = 0
    @Flag(inversion: .prefixedNo, help: "libsvm's shrinking heuristic.") var shrinking: Bool = true
    @Option(parsing: .unconditional, help: "svr: the half-width of the tube in which errors cost nothing, >= 0 (default 0.1).") var epsilon: Double?
    @Flag(help: "svc, nusvc: Platt probabilities by libsvm's 5-fold cross-validation (predict --proba); about 5× the fit.") var probability: Bool = false
    @Option(parsing: .unconditional, help: "Stopping tolerance of the SMO solver.") var tol: Double = 1e-3
    @Option(parsing: .unconditional, help: "Kernel cache per rank, in MB.") var cacheSize: Double = 200
    @Option(help: "svc: balanced (n / (n_classes · n_class)) or none.") var classWeight: String?
    @Option(parsing: .unconditional, help: "SMO iterations at most per solve (svc: per pair of classes); -1 for no limit.") var maxIter: Int = -1
    @Option(help: "svc, nusvc: ovr (default) or ovo, the shape of the decision function (and break_ties).") var decisionFunctionShape: String?
    @Flag(help: "svc, nusvc: with ovr and three or more classes, predict the largest decision value rather than the most votes.") var breakTies: Bool = false
    @Option(parsing: .unconditional, help: "svc, nusvc: seed of the probability folds (default 0).") var randomState: Int?
    @Option(help: "Threads per rank for the kernel rows and prediction (n_jobs; the model does not depend on it).") var threads: Int = 1
    @Option(help: "svc: direct (default: every rank gathers every row; the pairs' solves are shared out) or cascade (support vectors merged up a tree of ranks, for data no rank should solve alone). nusvc, svr: direct only.")
    var training: String?

    /// The SVC, checked.
    /// - Throws: ``MPILearnError/invalidParameter`` naming the parameter.
    func svc() throws -> SVC {
        try refuse([("--epsilon", epsilon != nil), ("--nu", nu != nil)], "svc")
        let weight: String? = classWeight.flatMap { ["none", "None", "null"].contains($0) ? nil : $0 }
        let svc = SVC(C: c ?? 1, kernel: kernel, degree: degree, gamma: ParameterValue(parsing: gamma), coef0: coef0, shrinking: shrinking,
                      probability: probability, tol: tol, cacheSize: cacheSize, classWeight: weight, maxIter: maxIter,
                      decisionFunctionShape: decisionFunctionShape ?? "ovr", breakTies: breakTies, randomState: randomState,
                      training: training ?? "direct", threads: threads)
        try svc.validate()
        return svc
    }

    /// The NuSVC, checked; flags of the other estimators are refused by name.
    /// - Throws: ``MPILearnError/invalidParameter`` naming the parameter.
    func nusvc() throws -> NuSVC {
        try refuse([("--C", c != nil), ("--epsilon", epsilon != nil), ("--class-weight", classWeight != nil), ("--training", cascade)], "nusvc")
        let e = NuSVC(nu: nu ?? 0.5, kernel: kernel, degree: degree, gamma: ParameterValue(parsing: gamma), coef0: coef0, shrinking: shrinking,
                      probability: probability, tol: tol, cacheSize: cacheSize, maxIter: maxIter, decisionFunctionShape: decisionFunctionShape ?? "ovr",
                      breakTies: breakTies, randomState: randomState, threads: threads)
        try e.validate()
        return e
    }

    /// The SVR, checked; flags of the classifiers are refused by name.
    /// - Throws: ``MPILearnError/invalidParameter`` naming the parameter.
    func svr() throws -> SVR {
        try refuse([("--nu", nu != nil), ("--probability", probability), ("--class-weight", classWeight != nil),
                    ("--decision-function-shape", decisionFunctionShape != nil), ("--break-ties", breakTies), ("--random-state", randomState != nil),
                    ("--training", cascade)], "svr")
        let svr = SVR(kernel: kernel, degree: degree, gamma: ParameterValue(parsing: gamma), coef0: coef0, tol: tol, C: c ?? 1, epsilon: epsilon ?? 0.1,
                      shrinking: shrinking, cacheSize: cacheSize, maxIter: maxIter, threads: threads)
        try svr.validate()
        return svr
    }

    /// `--training` asks for something other than the direct solve (the SVC's cascade).
    private var cascade: Bool { training.map { $0 != "direct" } ?? false }

    /// Throws for the first flag in `flags` that was given (`true`): it does not apply to `estimator`.
    private func refuse(_ flags: [(String, Bool)], _ estimator: String) throws {
        guard let (flag, _) = flags.first(where: { $0.1 }) else { return }
        let owners = ["--epsilon": "svr", "--nu": "nusvc", "--C": "svc or svr", "--class-weight": "svc", "--training": "svc"]
        throw MPILearnError.invalidParameter(name: flag, value: "set", allowed: "only with --estimator \(owners[flag] ?? "svc or nusvc") (not \(estimator))")
    }

    /// The estimator `--estimator` names, checked.
    /// - Throws: ``MPILearnError/invalidParameter`` for another name.
    func checkedEstimator() throws -> any SVMEstimator {
        switch estimator {
        case SVC.estimatorName: return try svc()
        case NuSVC.estimatorName: return try nusvc()
        case SVR.estimatorName: return try svr()
        default: throw MPILearnError.invalidParameter(name: "--estimator", value: "'\(estimator)'", allowed: "svc, nusvc or svr")
        }
    }
}

struct SVMFit: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(
        commandName: "fit", abstract: "Fit an SVC, NuSVC or SVR on the ranks' shards and save it (rank 0 writes the model file).")
    @OptionGroup var data: ForestTrainOptions
    @OptionGroup var params: SVMParameterOptions
    @Option(help: "Output model file.") var model: String

    func run(world: any Communicator) throws {
        MemoryTuning.keepFreedHeap()   // the solves free and refill their kernel caches
        let report = try SVMWorkflow.fitAndSave(data.source, estimator: try params.checkedEstimator(), model: model, comm: world, log: printLine)
        if let report { printLine(report.text) }
    }
}

struct SVMPredict: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Predict a dataset of any size with a saved SVC, NuSVC or SVR: every rank gets the model and streams its rows in chunks into one output file in input order.")
    @Option(help: "Model file (svc, nusvc or svr).") var model: String
    @Option(help: "Input: a CSV file, folder or glob (quote it), an .npy file, file.h5:/dataset, or a generator spec classification:ROWS,FEATURES[,SEED]. A precomputed-kernel model reads n_samples × n_train kernel values.")
    var test: String
    @Option(help: "Output: .csv (or a FIFO or device), .npy, or file.h5:/dataset.") var output: String
    @Flag(help: "Also write class probabilities (proba_<class> columns; an SVC or NuSVC fitted with --probability). The prediction stays the model's vote.")
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
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score a saved SVC, NuSVC or SVR on a labelled dataset: each rank predicts its block; accuracy against the majority baseline (svr: R², MSE, MAE) by collectives.")
    @Option(help: "Model file (svc, nusvc or svr).") var model: String
    @Option(help: "Labelled CSV (or a generator spec).") var test: String
    @Option(help: "Target column, COLUMN>NUMBER or an expression (default: the model's).") var target: String?
    @Option(help: "Threads per rank for the kernel blocks (the scores do not depend on it).") var threads: Int = 1

    func run(world: any Communicator) throws {
        let report = try SVMWorkflow.score(model: model, test: test, target: target, threads: threads, comm: world, log: printLine)
        say(world, report.text)
    }
}

struct SVMRun: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Fit an SVC, NuSVC or SVR on the ranks' shards, then score it on --test: fit time, support vectors, accuracy against the majority baseline (svr: R², MSE, MAE), the time of each phase.")
    @OptionGroup var data: ForestTrainOptions
    @OptionGroup var params: SVMParameterOptions
    @Option(help: "Labelled CSV (or a generator spec) to score on; its columns are aligned to the training file's.") var test: String
    @Option(help: "Also save the model here.") var model: String?

    func run(world: any Communicator) throws {
        MemoryTuning.keepFreedHeap()   // the solves free and refill their kernel caches
        try run(try params.checkedEstimator(), world: world)
    }

    private func run<E: SVMEstimator>(_ estimator: E, world: any Communicator) throws {
        _ = try SVMWorkflow.run(SVMWorkflow.RunOptions(source: data.source, estimator: estimator, test: test, model: model), comm: world, log: printLine)
    }
}
