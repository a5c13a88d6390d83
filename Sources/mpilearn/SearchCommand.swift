import ArgumentParser
import Foundation
import MPILearn
import SwiftMPI


/// `mpilearn search grid|random|halving`: hyper-parameter search with cross-validation.
struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Hyper-parameter search with cross-validation over the ranks (GridSearchCV, RandomizedSearchCV, successive halving).",
        discussion: "See docs/model-selection.md. cv_results do not depend on the number of ranks.",
        subcommands: [SearchGrid.self, SearchRandom.self, SearchHalving.self])
}

/// Options every search takes.
struct SearchOptionsGroup: ParsableArguments {
    @Option(help: "The learner: \(EstimatorRegistry.names.joined(separator: ", ")), or pipeline (with --spec; parameters step__param).") var estimator: String
    @Option(help: "With --estimator pipeline: the pipeline spec file (YAML or JSON; see mpilearn pipeline --help).") var spec: String?
    @Option(name: .customLong("param"), help: "NAME=V1,V2,... (a random search also takes uniform(A,B), loguniform(A,B), randint(A,B)); repeatable.")
    var params: [String] = []
    @Option(help: "A YAML or JSON file: a mapping of parameter names to lists of values, or a list of such mappings.") var paramGrid: String?
    @Option(name: .customLong("set"), help: "NAME=VALUE: a fixed parameter of the learner; repeatable.") var fixed: [String] = []
    @Option(help: "Folds (>= 2).") var cv: Int = 5
    @Flag(inversion: .prefixedNo, help: "Stratified folds (default: stratified for a classifier, as scikit-learn's cv=K).") var stratified: Bool?
    @Flag(help: "Shuffle rows before making folds (seeded by --random-state).") var shuffle: Bool = false
    @Option(help: "Scoring rule: \(Scoring.allCases.map(\.rawValue).joined(separator: ", ")) (default: the learner's score).") var scoring: Scoring?
    @Option(help: "Seed of the learner (unless --set random_state=...), shuffling, sampling and subsamples.") var randomState: UInt64 = 0
    @Flag(inversion: .prefixedNo, help: "Refit the best candidate on all rows.") var refit: Bool = true
    @Option(help: "What a failed fit scores: nan (warn), raise (end the job), or a number.") var errorScore: String = "nan"
    @Flag(help: "Also score each fit on its training rows.") var returnTrainScore: Bool = false
    @Option(help: "auto, replicated (every rank holds the data; tasks shared dynamically) or sharded (data-parallel fits).")
    var schedule: SearchJob.ScheduleChoice = .auto
    @Option(help: "With sharded data: groups of ranks that fit different candidates at once (each group holds all rows).") var shardGroups: Int = 1
    @Option(help: "classification or regression (for random-forest and the target).") var task: String = "classification"
    @Option(help: "Training CSV, or a generator spec classification:ROWS,FEATURES[,SEED] / regression:ROWS,FEATURES[,SEED].") var train: String
    @Option(help: "Target column, COLUMN>NUMBER (also >=, <, <=) or any condition for two classes, or an expression for regression. Not for k-means.") var target: String?
    @Option(help: "Comma-separated text columns to use as categorical features.") var categorical: String = ""
    @Option(help: "Comma-separated feature columns (default: every numeric and categorical column but the target).") var features: String?
    @Option(help: "Write the refitted best model here.") var outputModel: String?
    @Option(help: "Write cv_results as CSV here.") var results: String?
    @Option(help: "Rows of the results table printed.") var top: Int = 10
    @OptionGroup(title: "Checkpoints (grid and random searches)") var checkpoints: CheckpointArguments

    func job(_ method: SearchJob.Method) throws -> SearchJob {
        guard params.isEmpty != (paramGrid == nil) else {
            throw MPILearnError.invalidParameter(name: "--param", value: params.isEmpty ? "none" : "both --param and --param-grid",
                                                 allowed: "--param NAME=V1,V2 (repeatable) or --param-grid FILE, one of the two")
        }
        let space = try paramGrid.map { try ParameterSpaceParser.spaces(file: $0) } ?? [ParameterSpaceParser.distributions(params)]
        var fixedValues: [String: ParameterValue] = [:]
        for f in fixed {
            guard let eq = f.firstIndex(of: "="), eq != f.startIndex else {
                throw MPILearnError.invalidParameter(name: "--set", value: "'\(f)'", allowed: "NAME=VALUE")
            }
            fixedValues[String(f[..<eq])] = ParameterValue(parsing: String(f[f.index(after: eq)...]))
        }
        func list(_ s: String) -> [String] { s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        var j = SearchJob(method: method, estimator: estimator, space: space, train: train, target: target)
        j.task = task
        j.pipelineSpec = spec
        j.fixed = fixedValues
        j.cv = cv
        j.stratified = stratified
        j.shuffle = shuffle
        j.scoring = scoring
        j.randomState = randomState
        j.refit = refit
        j.errorScore = try ErrorScore(parsing: errorScore)
        j.returnTrainScore = returnTrainScore
        j.schedule = schedule
        j.shardGroups = shardGroups
        j.categorical = list(categorical)
        j.features = features.map(list)
        j.outputModel = outputModel
        j.results = results
        j.top = top
        j.checkpoint = try checkpoints.options()
        return j
    }
}

func runSearch(_ job: SearchJob, world: any Communicator) throws {
    // A kernel SVM's solves free and refill their kernel caches (see MemoryTuning).
    if [SVC.estimatorName, NuSVC.estimatorName, SVR.estimatorName].contains(where: { job.estimator.hasSuffix($0) }) { MemoryTuning.keepFreedHeap() }
    _ = try job.run(comm: world) { line in
        print(line)
        fflush(stdout)
    }
}

struct SearchGrid: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(commandName: "grid", abstract: "Every candidate of a grid (scikit-learn's GridSearchCV).")
    @OptionGroup var options: SearchOptionsGroup
    func run(world: any Communicator) throws { try runSearch(try options.job(.grid), world: world) }
}

struct SearchRandom: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(commandName: "random", abstract: "Sampled candidates (scikit-learn's RandomizedSearchCV).")
    @OptionGroup var options: SearchOptionsGroup
    @Option(help: "Candidates to sample.") var nIter: Int = 10
    func run(world: any Communicator) throws {
        var j = try options.job(.random)
        j.nIter = nIter
        try runSearch(j, world: world)
    }
}

struct SearchHalving: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(
        commandName: "halving", abstract: "Successive halving (scikit-learn's HalvingGridSearchCV, or HalvingRandomSearchCV with --n-candidates).")
    @OptionGroup var options: SearchOptionsGroup
    @Option(help: "Keep 1/factor of the candidates per rung, give factor× the resource.") var factor: Double = 3
    @Option(help: "n_samples, or an integer parameter such as n_estimators.") var resource: String = "n_samples"
    @Option(help: "exhaust, smallest, or a number.") var minResources: String = "exhaust"
    @Option(help: "The last rung's resource at most (default: all rows; required for a parameter resource).") var maxResources: Int?
    @Flag(help: "Start with fewer resources so the last rung has one candidate left.") var aggressiveElimination: Bool = false
    @Option(help: "Sample this many candidates from the parameters instead of taking the grid.") var nCandidates: Int?
    func run(world: any Communicator) throws {
        var j = try options.job(.halving)
        j.factor = factor
        j.resource = HalvingResource(parsing: resource)
        j.minResources = try MinResources(parsing: minResources)
        j.maxResources = maxResources
        j.aggressiveElimination = aggressiveElimination
        j.nCandidates = nCandidates
        try runSearch(j, world: world)
    }
}
