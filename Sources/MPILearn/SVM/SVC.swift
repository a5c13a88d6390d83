import Foundation
import SwiftMPI

/// A support vector machine's kernel (scikit-learn's `kernel`).
public enum SVMKernel: String, Codable, Sendable, CaseIterable {
    case linear, poly, rbf, sigmoid, precomputed
}

/// C-support vector classification (scikit-learn's `SVC`, which is libsvm): one SMO solve per
/// pair of classes (one-vs-one), with libsvm's solver (``SMOSolver``), so the support
/// vectors, dual coefficients and intercepts equal scikit-learn's to libsvm's tolerance.
///
/// Parameters keep scikit-learn's names and meaning. Two are MPILearn's own:
/// - `training`: `direct` solves the whole problem (every rank gathers every row; the
///   per-pair solves and the probability folds are shared out over the ranks, the model is
///   the same for any number of ranks); `cascade` solves each rank's rows first and merges
///   support vectors up a binary tree of ranks, then repeats on the global optimality
///   violators until none remain (``CascadeSVM``): for data no single rank should solve
///   alone.
/// - `random_state` nil is 0: a fit is always reproducible.
public struct SVC: Estimator, Equatable {
    /// Penalty of the margin violations, > 0.
    public var C: Double
    /// `linear`, `poly`, `rbf`, `sigmoid` or `precomputed` (a Gram matrix as features).
    public var kernel: String
    /// The polynomial kernel's degree, ≥ 0.
    public var degree: Int
    /// `scale` (1 / (n_features · Var X)), `auto` (1 / n_features), or a number ≥ 0.
    public var gamma: ParameterValue
    /// The independent term of the poly and sigmoid kernels.
    public var coef0: Double
    /// libsvm's shrinking heuristic.
    public var shrinking: Bool
    /// Platt scaling by libsvm's internal 5-fold cross-validation (`predict_proba`). The
    /// folds' solves start from their pair's solution rather than from zero (libsvm's start):
    /// other points within `tol` of the optimum, so Platt's A and B agree with libsvm's to a
    /// few 1e-4 (relative) and the probabilities to better than 1e-4, in fewer iterations.
    public var probability: Bool
    /// Stopping tolerance of the SMO solver (libsvm's `eps`).
    public var tol: Double
    /// The kernel cache, in megabytes, > 0. With `probability`, the folds of a pair share
    /// one more store of kernel rows of this size.
    public var cacheSize: Double
    /// nil (every class weighs 1) or `balanced` (n / (n_classes · n_class)).
    public var classWeight: String?
    /// SMO iterations at most per solve; -1 for no limit.
    public var maxIter: Int
    /// `ovr` (scikit-learn's default) or `ovo` for ``SVCModel/decisionFunction(_:)``.
    public var decisionFunctionShape: String
    /// With `ovr` and three or more classes, predict the largest decision value rather than
    /// the most votes.
    public var breakTies: Bool
    /// Seeds libsvm's probability folds (as scikit-learn's `random_state`).
    public var randomState: Int?
    /// `direct` or `cascade` (see the type's documentation).
    public var training: String
    /// Threads per rank for the kernel rows and kernel blocks (`n_jobs`, ≥ 1): an execution
    /// setting, the model is the same bit for bit for any count.
    public var threads: Int
    /// The problem each pair solves: C-SVC, or ν-SVC for a ``NuSVC`` (not a parameter: not
    /// encoded, C-SVC when decoded).
    var formulation: LibSVMFormulation = .c

    public init(C: Double = 1, kernel: String = "rbf", degree: Int = 3, gamma: ParameterValue = "scale", coef0: Double = 0,
                shrinking: Bool = true, probability: Bool = false, tol: Double = 1e-3, cacheSize: Double = 200,
                classWeight: String? = nil, maxIter: Int = -1, decisionFunctionShape: String = "ovr", breakTies: Bool = false,
                randomState: Int? = nil, training: String = "direct", threads: Int = 1) {
        self.C = C
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.shrinking = shrinking
        self.probability = probability
        self.tol = tol
        self.cacheSize = cacheSize
        self.classWeight = classWeight
        self.maxIter = maxIter
        self.decisionFunctionShape = decisionFunctionShape
        self.breakTies = breakTies
        self.randomState = randomState
        self.training = training
        self.threads = threads
    }

    enum CodingKeys: String, CodingKey {
        case C, kernel, degree, gamma, coef0, shrinking, probability, tol, cacheSize = "cache_size", classWeight = "class_weight"
        case maxIter = "max_iter", decisionFunctionShape = "decision_function_shape", breakTies = "break_ties"
        case randomState = "random_state", training, threads = "n_jobs"
    }

    /// Every parameter by name; `n_jobs` may be missing (model files written before it).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        C = try c.decode(Double.self, forKey: .C)
        kernel = try c.decode(String.self, forKey: .kernel)
        degree = try c.decode(Int.self, forKey: .degree)
        gamma = try c.decode(ParameterValue.self, forKey: .gamma)
        coef0 = try c.decode(Double.self, forKey: .coef0)
        shrinking = try c.decode(Bool.self, forKey: .shrinking)
        probability = try c.decode(Bool.self, forKey: .probability)
        tol = try c.decode(Double.self, forKey: .tol)
        cacheSize = try c.decode(Double.self, forKey: .cacheSize)
        classWeight = try c.decodeIfPresent(String.self, forKey: .classWeight)
        maxIter = try c.decode(Int.self, forKey: .maxIter)
        decisionFunctionShape = try c.decode(String.self, forKey: .decisionFunctionShape)
        breakTies = try c.decode(Bool.self, forKey: .breakTies)
        randomState = try c.decodeIfPresent(Int.self, forKey: .randomState)
        training = try c.decode(String.self, forKey: .training)
        threads = try c.decodeIfPresent(Int.self, forKey: .threads) ?? 1
    }

    /// Encodes every parameter, nil ones as null (the names ``setting(_:)`` accepts).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(C, forKey: .C)
        try c.encode(kernel, forKey: .kernel)
        try c.encode(degree, forKey: .degree)
        try c.encode(gamma, forKey: .gamma)
        try c.encode(coef0, forKey: .coef0)
        try c.encode(shrinking, forKey: .shrinking)
        try c.encode(probability, forKey: .probability)
        try c.encode(tol, forKey: .tol)
        try c.encode(cacheSize, forKey: .cacheSize)
        try c.encode(classWeight, forKey: .classWeight)
        try c.encode(maxIter, forKey: .maxIter)
        try c.encode(decisionFunctionShape, forKey: .decisionFunctionShape)
        try c.encode(breakTies, forKey: .breakTies)
        try c.encode(randomState, forKey: .randomState)
        try c.encode(training, forKey: .training)
        try c.encode(threads, forKey: .threads)
    }

    public static let estimatorName = "svc"
    public static let role = EstimatorRole.classifier

    /// The kernel as an enum (after ``validate()``).
    public var kernelKind: SVMKernel { SVMKernel(rawValue: kernel) ?? .rbf }

    public func validate() throws {
        try SVMParameters.validate(C: C, kernel: kernel, degree: degree, gamma: gamma, coef0: coef0, tol: tol, cacheSize: cacheSize,
                                   maxIter: maxIter, threads: threads)
        try require(classWeight == nil || classWeight == "balanced", "class_weight", classWeight ?? "None", "'balanced' or None")
        try require(decisionFunctionShape == "ovr" || decisionFunctionShape == "ovo", "decision_function_shape", "'\(decisionFunctionShape)'", "'ovr' or 'ovo'")
        try require(!(breakTies && decisionFunctionShape == "ovo"), "break_ties", "True", "False when decision_function_shape is 'ovo'")
        try require(randomState == nil || randomState! >= 0 && randomState! <= Int(UInt32.max), "random_state", randomState ?? 0, "None or an integer in 0...\(UInt32.max)")
        try require(training == "direct" || training == "cascade", "training", "'\(training)'", "'direct' or 'cascade'")
        if case .nu(let nu) = formulation {
            try require(nu > 0 && nu <= 1, "nu", nu, "a number in (0, 1]")
            try require(training == "direct" && classWeight == nil && C == 1, "training", "'\(training)'", "'direct' for NuSVC")
        }
        try require(!(training == "cascade" && probability), "probability", "True", "False with training='cascade' (calibrate a cascade model with CalibratedClassifierCV)")
        try require(!(training == "cascade" && kernel == "precomputed"), "kernel", "'precomputed'", "a kernel of features with training='cascade'")
    }

    /// SMO work grows about with the square of the rows; probability adds five folds.
    public func expectedCost(rows: Int) -> Double { Double(rows) * Double(rows) * (probability ? 4 : 1) }

    /// Collective. Fits on every rank's rows; the model is identical on every rank.
    ///
    /// `direct`: every rank gathers every row (in global row order), so the model is the same
    /// for any number of ranks; the solves are shared out (``fitReplicated(_:comm:)``).
    /// `cascade`: see ``CascadeSVM``.
    /// - Throws: ``MPILearnError/invalidParameter`` for bad parameters,
    ///   ``MPILearnError/dataError`` for non-finite features, fewer than two classes, or a
    ///   precomputed kernel that is not square.
    public func fit(_ data: Dataset<Double>, comm: any Communicator) throws -> SVCModel {
        try validate()
        let local = try SVMData(data)
        if training == "cascade" { return try CascadeSVM(configuration: self).fit(local, comm: comm) }
        let start = Date()
        let all = try local.gathered(comm: comm)
        return try fitDirect(all, comm: comm, gatherSeconds: Date().timeIntervalSince(start))
    }

    /// Collective. Every rank holds every row: the pairs' solves and probability folds are
    /// shared out over the ranks (longest first), their results gathered, and the model
    /// assembled identically everywhere.
    public func fitReplicated(_ data: Dataset<Double>, comm: any Communicator) throws -> SVCModel {
        try validate()
        if training == "cascade" { return try fit(data, comm: LocalCommunicator.solo()) }
        return try fitDirect(SVMData(data), comm: comm)
    }

    /// The fit on rows every rank holds whole.
    func fitDirect(_ d: SVMData, comm: any Communicator, gatherSeconds: Double = 0) throws -> SVCModel {
        let start = Date()
        let prepared = try prepare(d, comm: LocalCommunicator.solo())
        let (model, kernelRows) = try solveShared(x: d.x, codes: d.codes, kernel: prepared.kernel, weights: prepared.weights,
                                                  seed: prepared.seed, comm: comm)
        var stats = SVMFitStatistics()
        stats.gatherSeconds = gatherSeconds
        stats.solveSeconds = Date().timeIntervalSince(start)
        stats.kernelRows = kernelRows
        return try SVCModel(configuration: self, data: d, gamma: prepared.kernel.gamma, libsvm: model, statistics: stats)
    }

    /// Collective over `comm`: libsvm's fit on rows every rank of `comm` holds (`x`, class
    /// codes), its pairs' solves and probability folds shared out over the ranks; returns the
    /// model (identical on every rank) and the kernel rows all ranks computed.
    /// - Parameter warmStart: the solves start from its α (and, when it has them, its sums
    ///   instead of computing the gradient from rows of Q).
    func solveShared(x: Matrix<Double>, codes: [Int], kernel: KernelParameters, weights: [Int: Double], seed: Int,
                     warmStart: CascadeSVM.WarmStart? = nil, comm: any Communicator) throws -> (LibSVMModel, Int) {
        var plan = LibSVMPlan(rows: Array(0 ..< x.rows), labels: codes, c: C, weights: weights, probability: probability, seed: seed)
        if let warmStart {
            // Pair p of the full class list: its index among all pairs (i < j) of the codes.
            let k = warmStart.classes, pairs = k * (k - 1) / 2
            let index = plan.pairs.map { CascadeSVM.pairIndex(plan.labels[$0.first], plan.labels[$0.second], classes: k) }
            plan.initialAlpha = zip(plan.pairs, index).map { pair, p in pair.rows.map { warmStart.alpha[$0 * pairs + p] } }
            if let sums = warmStart.sums {
                // Q α = y · Σ_j coef_j K(x, x_j) and G_bar = y · Σ_j (coef_j at bound) K(x, x_j).
                plan.initialGradient = zip(plan.pairs, index).map { pair, p in
                    (zip(pair.rows, pair.y).map { r, y in Double(y) * sums[r * 2 * pairs + p] - 1 },
                     zip(pair.rows, pair.y).map { r, y in Double(y) * sums[r * 2 * pairs + pairs + p] })
                }
            }
        }
        return try x.storage.withUnsafeBufferPointer { xp in
            var trainer = LibSVMTrainer(x: xp.baseAddress!, width: x.columns, kernel: kernel, tol: tol, shrinking: shrinking,
                                        maxIter: maxIter, cacheBytes: Int(cacheSize * 1_048_576), threads: threads)
            trainer.formulation = formulation
            var rows = 0
            // The pairs' solves first, then (with probability) the folds, each started from
            // its pair's solution: a fold keeps four fifths of the rows, so its solution is
            // close, and the solver reaches the same optimum to its tolerance in fewer
            // iterations.
            let tasks = plan.tasks
            let solves = tasks.indices.filter { tasks[$0].isSolve }, folds = tasks.indices.filter { !tasks[$0].isSolve }
            var results = [[Double]](repeating: [], count: tasks.count)
            let solved = try SVMTasks.run(solves.map { tasks[$0] }, cost: plan.cost, comm: comm) { trainer.run($0, plan: plan, kernelRows: &rows) }
            for (t, v) in zip(solves, solved) { results[t] = v }
            if !folds.isEmpty {
                var seeds: [Int: [Double]] = [:]
                for t in solves { if case .solve(let p) = tasks[t] { seeds[p] = BinarySolution(flat: results[t][...]).alpha } }
                let held = try SVMTasks.run(folds.map { tasks[$0] }, cost: plan.cost, comm: comm) { task in
                    guard case .fold(let p, _) = task else { return [] }
                    return trainer.run(task, plan: plan, seed: seeds[p], kernelRows: &rows)
                }
                for (t, v) in zip(folds, held) { results[t] = v }
            }
            rows += trainer.storeRows()
            return (trainer.assemble(plan, results: results), Int(try comm.allreduce(Int64(rows), op: .sum)))
        }
    }

    /// Collective over `comm`. What every fit needs from the ranks' rows `d` (classes already
    /// global): the kernel's resolved parameters, class weights by code, libsvm's seed. The
    /// direct fit passes its gathered rows and a one-rank communicator; the cascade its
    /// shards and the job's.
    func prepare(_ d: SVMData, comm: any Communicator) throws -> (kernel: KernelParameters, weights: [Int: Double], seed: Int) {
        let k = d.classes.count
        guard k >= 2 else {
            throw MPILearnError.dataError(SourceLocation(file: d.source), "SVC needs samples of at least 2 classes; the data has \(k) (\(d.classes))")
        }
        let width = Int(try comm.allreduce(Int64(d.x.columns), op: .max))
        guard d.x.rows == 0 || d.x.columns == width else { throw MPILearnError.mismatch("ranks hold rows of different widths") }
        var counts = [Double](repeating: 0, count: k)
        for c in d.codes { counts[c] += 1 }
        try comm.allreduce(&counts, op: .sum)
        let n = counts.reduce(0, +)
        if kernelKind == .precomputed && Int(n) != width {
            throw MPILearnError.dataError(SourceLocation(file: d.source),
                                          "kernel='precomputed' needs a square Gram matrix (n_train × n_train) as features; got \(Int(n)) rows × \(width) columns")
        }
        if case .nu(let nu) = formulation {
            // libsvm's check: within every pair, ν·(n_i + n_j)/2 ≤ min(n_i, n_j).
            for i in 0 ..< k {
                for j in i + 1 ..< k where nu * (counts[i] + counts[j]) / 2 > min(counts[i], counts[j]) {
                    throw MPILearnError.invalidParameter(
                        name: "nu", value: "\(nu)",
                        allowed: "a feasible nu: classes '\(d.classes[i])' (\(Int(counts[i])) rows) and '\(d.classes[j])' (\(Int(counts[j])) rows) allow nu <= \(2 * min(counts[i], counts[j]) / (counts[i] + counts[j])) (specified nu is infeasible)")
                }
            }
        }
        var weights: [Int: Double] = [:]
        if classWeight == "balanced" { for c in 0 ..< k { weights[c] = n / (Double(k) * counts[c]) } }
        let g = try resolvedGamma(d.x, width: width, values: n * Double(width), comm: comm)
        return (KernelParameters(kernel: kernelKind, degree: degree, gamma: g, coef0: coef0), weights,
                MT19937.libsvmSeed(randomState: randomState ?? 0))
    }

    /// The seed scikit-learn hands libsvm for `random_state` (`RandomState(random_state)
    /// .randint(2**31 - 1)`), which seeds the probability folds' shuffle.
    public static func libsvmSeed(randomState: Int) -> Int { MT19937.libsvmSeed(randomState: randomState) }

    /// Collective. scikit-learn's `_gamma` for this SVC (``SVMParameters/resolveGamma(_:_:width:values:comm:)``).
    func resolvedGamma(_ x: Matrix<Double>, width: Int, values: Double, comm: any Communicator) throws -> Double {
        try SVMParameters.resolveGamma(gamma, x, width: width, values: values, comm: comm)
    }
}

/// What SVC and SVR share: the checks of their common parameters and the resolution of gamma.
enum SVMParameters {
    /// Checks the parameters SVC and SVR share, under scikit-learn's names.
    static func validate(C: Double, kernel: String, degree: Int, gamma: ParameterValue, coef0: Double, tol: Double, cacheSize: Double,
                         maxIter: Int, threads: Int) throws {
        try require(C > 0 && C.isFinite, "C", C, "a finite number > 0")
        try require(SVMKernel(rawValue: kernel) != nil, "kernel", "'\(kernel)'", SVMKernel.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", "))
        try require(degree >= 0, "degree", degree, "an integer >= 0")
        switch gamma {
        case .string(let s): try require(s == "scale" || s == "auto", "gamma", "'\(s)'", "'scale', 'auto' or a number >= 0")
        case .int, .double: try require(gamma.number! >= 0 && gamma.number!.isFinite, "gamma", gamma, "'scale', 'auto' or a finite number >= 0")
        default: try require(false, "gamma", gamma, "'scale', 'auto' or a number >= 0")
        }
        try require(coef0.isFinite, "coef0", coef0, "a finite number")
        try require(tol > 0 && tol.isFinite, "tol", tol, "a finite number > 0")
        try require(cacheSize > 0 && cacheSize.isFinite, "cache_size", cacheSize, "a number of megabytes > 0")
        try require(maxIter == -1 || maxIter >= 1, "max_iter", maxIter, "-1 (no limit) or an integer >= 1")
        try require(threads >= 1, "n_jobs", threads, "an integer >= 1 (threads per rank)")
    }

    /// Collective. scikit-learn's `_gamma` over every rank's rows: `scale` is
    /// 1 / (n_features · Var X) over all `values` values of X (1 when X is constant), `auto`
    /// 1 / n_features.
    static func resolveGamma(_ gamma: ParameterValue, _ x: Matrix<Double>, width: Int, values: Double, comm: any Communicator) throws -> Double {
        switch gamma {
        case .string("auto"): return 1 / Double(max(1, width))
        case .string("scale"):
            guard values > 0 else { return 1 }
            let mean = try comm.allreduce(x.storage.reduce(0, +), op: .sum) / values
            var m2 = 0.0
            for a in x.storage { m2 += (a - mean) * (a - mean) }
            let v = try comm.allreduce(m2, op: .sum) / values
            return v != 0 ? 1 / (Double(width) * v) : 1
        default: return gamma.number ?? 1
        }
    }
}

/// Timings and counts of a fit, for the per-phase report.
public struct SVMFitStatistics: Sendable, Equatable, Codable {
    public var gatherSeconds = 0.0
    public var solveSeconds = 0.0
    public var kernelRows = 0
    /// Cascade: passes, rows solved at each tree level, and global violators per pass.
    public var passes = 0
    public var levelRows: [Int] = []
    public var violators: [Int] = []
    /// Cascade: seconds of each tree level and of each pass (slowest rank).
    public var levelSeconds: [Double] = []
    public var passSeconds: [Double] = []

    public init() {}
}

/// Training rows as an SVM reads them: dense finite features, class codes into sorted
/// classes (a classifier's) or finite targets (a regressor's), and where they came from.
struct SVMData {
    var x: Matrix<Double>
    /// Class codes (indices into `classes`); empty for a regressor's rows.
    var codes: [Int]
    /// The targets (a regressor's; empty for a classifier's rows).
    var targets: [Double] = []
    /// The label values (dataset target values) of the classes, sorted.
    var classValues: [Double]
    var classes: [String]
    var schema: FeatureSchema
    var source: String
    var globalRowStart: Int

    /// Checks and converts a dataset (classes: this rank's labels only; ``gathered(comm:)``
    /// or ``withClasses(_:)`` sets the global ones). `estimator` names the SVM in messages;
    /// a regressor's rows keep their targets instead of class codes.
    init(_ data: Dataset<Double>, classification: Bool = true, estimator: String = "an SVC") throws {
        source = data.source.isEmpty ? "data" : data.source
        guard !data.features.isSparse else {
            throw MPILearnError.invalidParameter(name: "features", value: data.features.shapeDescription,
                                                 allowed: "dense features for an SVM (a kernel SVM does not take sparse input yet)")
        }
        var d = data
        d.makeDense()
        x = d.matrix
        guard x.columns > 0 else {
            throw MPILearnError.dataError(SourceLocation(file: source), "an SVM needs at least one feature; the data has none")
        }
        guard let y = data.target else {
            throw MPILearnError.invalidParameter(name: "target", value: "none",
                                                 allowed: classification ? "class labels (\(estimator) is a classifier)" : "numeric targets (\(estimator) is a regressor)")
        }
        for (i, v) in x.storage.enumerated() where !v.isFinite {
            let r = i / max(1, x.columns), c = i % max(1, x.columns)
            throw MPILearnError.dataError(SourceLocation(file: source),
                                          "row \(data.globalRowStart + r + 1), column \(c + 1) ('\(c < data.featureNames.count ? data.featureNames[c] : "x\(c)")') is \(v): an SVM needs finite features (impute or drop missing values first)")
        }
        for (i, v) in y.enumerated() where !v.isFinite {
            throw MPILearnError.dataError(SourceLocation(file: source), "row \(data.globalRowStart + i + 1): the target is missing")
        }
        schema = data.schema
        globalRowStart = data.globalRowStart
        guard classification else {
            targets = y
            codes = []
            classValues = []
            classes = []
            return
        }
        let values = Array(Set(y)).sorted()
        classValues = values
        codes = y.map { v in values.firstIndex(of: v)! }
        classes = classValues.map { data.labelName($0) }
    }

    /// The same rows with the classes `values` (a superset of this rank's labels).
    func withClasses(_ values: [Double], names: [String]) -> SVMData {
        var d = self
        let old = classValues
        d.classValues = values
        d.classes = names
        d.codes = codes.map { c in values.firstIndex(of: old[c])! }
        d.schema.classes = names
        return d
    }

    /// Collective: every rank's rows, in rank (global row) order, on every rank (with
    /// `classification`, their codes into the classes of all ranks; else their targets).
    func gathered(comm: any Communicator, classification: Bool = true) throws -> SVMData {
        var d = self
        if classification {
            let values = try globalClasses(comm: comm)
            d = withClasses(values.values, names: values.names)
        }
        if comm.size == 1 { return d }
        let columns = Int(try comm.allreduce(Int64(x.columns), op: .max))
        guard x.rows == 0 || x.columns == columns else { throw MPILearnError.mismatch("ranks hold rows of different widths") }
        let all = try comm.allgatherv(x.storage).values
        if classification {
            d.codes = try comm.allgatherv(d.codes.map(Int64.init)).values.map(Int.init)
        } else {
            d.targets = try comm.allgatherv(targets).values
        }
        d.x = Matrix(rows: all.count / max(1, columns), columns: columns, storage: all)
        d.globalRowStart = 0
        return d
    }

    /// Collective: the sorted union of every rank's class values and their names.
    func globalClasses(comm: any Communicator) throws -> (values: [Double], names: [String]) {
        if comm.size == 1 { return (classValues, classes) }
        let names = try comm.allgatherObject(Dictionary(uniqueKeysWithValues: zip(classValues.map { String($0) }, classes)))
        var merged: [Double: String] = [:]
        for m in names { for (k, v) in m { merged[Double(k)!] = v } }
        let values = merged.keys.sorted()
        return (values, values.map { merged[$0]! })
    }
}

/// Runs independent tasks over the ranks: each rank takes tasks by longest-first greedy
/// assignment (the same on every rank), then every result is gathered to every rank.
enum SVMTasks {
    static func run<T>(_ tasks: [T], cost: (T) -> Double, comm: any Communicator, _ body: (T) throws -> [Double]) throws -> [[Double]] {
        if comm.size == 1 { return try tasks.map(body) }
        var load = [Double](repeating: 0, count: comm.size)
        var owner = [Int](repeating: 0, count: tasks.count)
        for t in tasks.indices.sorted(by: { (cost(tasks[$0]), -$0) > (cost(tasks[$1]), -$1) }) {
            let r = load.indices.min { (load[$0], $0) < (load[$1], $1) }!
            owner[t] = r
            load[r] += cost(tasks[t])
        }
        var mine: [Double] = []
        var lengths: [Int64] = []
        var failure: Error?
        for t in tasks.indices where owner[t] == comm.rank {
            do {
                let v = try body(tasks[t])
                mine += v
                lengths.append(Int64(v.count))
            } catch {
                failure = error
                break
            }
        }
        // Agree on failure first, so no rank waits in a gather another rank skipped.
        let failed = try comm.allreduce(Int32(failure == nil ? 0 : 1), op: .max)
        if let failure { throw failure }
        if failed != 0 { throw MPILearnError.mismatch("a task failed on another rank") }
        let allLengths = try comm.allgatherv(lengths)
        let allValues = try comm.allgatherv(mine).values
        var results = [[Double]](repeating: [], count: tasks.count)
        var at = 0, li = 0
        for r in 0 ..< comm.size {
            let myLengths = allLengths.values[allLengths.layout.range(of: r)]
            var k = myLengths.startIndex
            for t in tasks.indices where owner[t] == r {
                let n = Int(myLengths[k])
                results[t] = Array(allValues[at ..< at + n])
                at += n
                k += 1
                li += 1
            }
        }
        return results
    }
}
