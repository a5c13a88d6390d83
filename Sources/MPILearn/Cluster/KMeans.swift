import Foundation
import SwiftMPI

/// How ``KMeans`` chooses its initial centres (scikit-learn's `init`).
public enum KMeansInitialization: Equatable, Sendable {
    /// k-means|| (Bahmani et al., "Scalable K-Means++", VLDB 2012): a few oversampling
    /// rounds, each one pass over the data and one small allgather. The default.
    case kMeansParallel
    /// k-means++ (Arthur and Vassilvitskii, SODA 2007) with scikit-learn's greedy local
    /// trials: k passes over the data.
    case kMeansPlusPlus
    /// k distinct rows chosen uniformly at random (from all rows, not one rank's).
    case random
    /// Given centres, k × n_features.
    case centers(Matrix<Double>)

    /// The CLI and JSON spelling: `k-means||`, `k-means++`, `random`, or `centers`.
    public var name: String {
        switch self {
        case .kMeansParallel: return "k-means||"
        case .kMeansPlusPlus: return "k-means++"
        case .random: return "random"
        case .centers: return "centers"
        }
    }

    /// Parses `k-means||`, `k-means++` or `random`.
    public init?(name: String) {
        switch name {
        case "k-means||", "kmeans||", "scalable-k-means++": self = .kMeansParallel
        case "k-means++", "kmeans++": self = .kMeansPlusPlus
        case "random": self = .random
        default: return nil
        }
    }
}

extension KMeansInitialization: Codable {
    /// Encoded as its name, or as the array of centre rows for given centres.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            guard let v = KMeansInitialization(name: s) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "unknown k-means init '\(s)'")
            }
            self = v
        } else {
            let rows = try c.decode([[Double]].self)
            guard let w = rows.first?.count, rows.allSatisfy({ $0.count == w }) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "given centres are empty or ragged")
            }
            self = .centers(Matrix(rows))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if case .centers(let m) = self {
            try c.encode((0 ..< m.rows).map { Array(m.row($0)) })
        } else {
            try c.encode(name)
        }
    }
}

/// How Lloyd iterations assign rows to centres (scikit-learn's `algorithm`).
///
/// Both give the same labels and centres, bit for bit: the bounded pass skips only rows it
/// can prove keep their centre, with a margin for rounding (see `mpl_bounds_ctx`).
public enum KMeansAlgorithm: String, Codable, Sendable, CaseIterable {
    /// Every iteration computes every row's distances to all centres (one GEMM per block).
    case lloyd
    /// Hamerly's bounds (SDM 2010; scikit-learn's `elkan` keeps k bounds per row, this one
    /// bound): one lower bound per row (8 bytes) and the centres' movements let most rows of
    /// a converging fit keep their centre with one direct distance instead of k; the sums
    /// still read every row. The first pass after k-means|| or k-means++ starts from the
    /// nearest candidate or centre each row already has.
    case hamerly
}

/// K-means clustering over rows spread across ranks (scikit-learn's `KMeans`).
///
/// Every rank holds its rows; centres are replicated on every rank. Initialisation is
/// k-means|| by default; each Lloyd iteration computes squared distances with BLAS GEMM
/// (‖x‖² − 2x·c + ‖c‖², in row blocks of bounded size) for the rows whose Hamerly bounds do
/// not already prove their centre (``KMeansAlgorithm``), assigns each row to its nearest
/// centre, and combines per-centre sums, counts, the inertia and the skipped-row count with
/// one allreduce of k·(d+1)+3 values. Random choices are keyed by (seed, step, global row index), so the
/// candidates, the initial and the final centres are the same for any number of ranks
/// (final centres up to the order of floating-point reductions).
///
/// This struct only stores hyper-parameters; ``fit(_:comm:dataName:progress:)`` validates
/// them and returns a ``KMeansModel``.
public struct KMeans: Codable, Equatable, Sendable {
    /// k, the number of clusters (`n_clusters`).
    public var nClusters: Int
    /// How initial centres are chosen (`init`).
    public var initialization: KMeansInitialization
    /// ℓ, the expected number of rows k-means|| samples per round (`oversampling_factor`),
    /// in rows, as in the paper and Dask-ML (p = min(1, ℓ·d²(x)/φ)). `nil` means 2k, the
    /// paper's ℓ = 2k and Spark MLlib's choice. With r = 2 rounds (below) that gives about
    /// 1 + 4k candidates in 3 passes over the data; the paper's ℓ = k/2 with r = 5 gives
    /// about 1 + 2.5k in 6 passes. Both reach the same seeding and final cost in the paper
    /// (Table 1) and on our blobs benchmark; each pass reads all the data while the GEMM work
    /// grows only with ℓ, so fewer, larger rounds are cheaper (0.21 s against 0.33 s of init
    /// at 2 ranks on 2 million × 20). Dask-ML's default is ℓ = 2 with about ln ψ rounds.
    public var oversamplingFactor: Double?
    /// r, the number of k-means|| oversampling rounds (`init_max_iter`). Default 2, Spark
    /// MLlib's `initializationSteps` default (with ℓ = 2k, see ``oversamplingFactor``).
    public var initMaxIter: Int
    /// Maximum Lloyd iterations per run (`max_iter`).
    public var maxIter: Int
    /// Convergence tolerance on the squared centre shift, relative to the mean per-feature
    /// variance of the data, as scikit-learn (`tol`).
    public var tol: Double
    /// Runs with different seeds; the lowest inertia wins (`n_init`). `nil` is scikit-learn's
    /// "auto": 1, or 10 for random initialisation.
    public var nInit: Int?
    /// Seed of every random choice (`random_state`).
    public var randomState: UInt64
    /// Threads per rank for the passes over the data (OpenBLAS runs single-threaded inside).
    public var threads: Int
    /// How Lloyd iterations assign rows (`algorithm`); the result does not depend on it.
    public var algorithm: KMeansAlgorithm

    enum CodingKeys: String, CodingKey {
        case nClusters = "n_clusters", initialization = "init", oversamplingFactor = "oversampling_factor"
        case initMaxIter = "init_max_iter", maxIter = "max_iter", tol, nInit = "n_init", randomState = "random_state", threads
        case algorithm
    }

    /// Decodes saved parameters; files written before `algorithm` existed read as `lloyd`,
    /// the only algorithm then.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        nClusters = try c.decode(Int.self, forKey: .nClusters)
        initialization = try c.decode(KMeansInitialization.self, forKey: .initialization)
        oversamplingFactor = try c.decodeIfPresent(Double.self, forKey: .oversamplingFactor)
        initMaxIter = try c.decode(Int.self, forKey: .initMaxIter)
        maxIter = try c.decode(Int.self, forKey: .maxIter)
        tol = try c.decode(Double.self, forKey: .tol)
        nInit = try c.decodeIfPresent(Int.self, forKey: .nInit)
        randomState = try c.decode(UInt64.self, forKey: .randomState)
        threads = try c.decode(Int.self, forKey: .threads)
        algorithm = try c.decodeIfPresent(KMeansAlgorithm.self, forKey: .algorithm) ?? .lloyd
    }

    /// Encodes every parameter, unset ones as null (the names ``setting(_:)`` accepts).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(nClusters, forKey: .nClusters)
        try c.encode(initialization, forKey: .initialization)
        try c.encode(oversamplingFactor, forKey: .oversamplingFactor)
        try c.encode(initMaxIter, forKey: .initMaxIter)
        try c.encode(maxIter, forKey: .maxIter)
        try c.encode(tol, forKey: .tol)
        try c.encode(nInit, forKey: .nInit)
        try c.encode(randomState, forKey: .randomState)
        try c.encode(threads, forKey: .threads)
        try c.encode(algorithm, forKey: .algorithm)
    }

    public init(nClusters: Int = 8, initialization: KMeansInitialization = .kMeansParallel, oversamplingFactor: Double? = nil,
                initMaxIter: Int = 2, maxIter: Int = 300, tol: Double = 1e-4, nInit: Int? = nil, randomState: UInt64 = 0,
                threads: Int = 1, algorithm: KMeansAlgorithm = .hamerly) {
        self.algorithm = algorithm
        self.nClusters = nClusters
        self.initialization = initialization
        self.oversamplingFactor = oversamplingFactor
        self.initMaxIter = initMaxIter
        self.maxIter = maxIter
        self.tol = tol
        self.nInit = nInit
        self.randomState = randomState
        self.threads = threads
    }

    /// ℓ as used: ``oversamplingFactor`` or 2k.
    public var effectiveOversampling: Double { oversamplingFactor ?? 2 * Double(nClusters) }

    /// Runs as used: ``nInit``, or 1 (10 for random initialisation); always 1 for given centres.
    public var effectiveNInit: Int {
        switch initialization {
        case .centers: return 1
        case .random: return nInit ?? 10
        default: return nInit ?? 1
        }
    }

    /// Checks the hyper-parameters against the data's shape.
    /// - Throws: ``MPILearnError/invalidParameter`` naming the parameter, its value and the
    ///   allowed range; ``MPILearnError/dataError`` when the data has no features.
    func validate(rows: Int, features: Int, dataName: String) throws {
        guard features >= 1 else {
            throw MPILearnError.dataError(SourceLocation(file: dataName), "the data has no numeric feature columns; k-means needs at least one")
        }
        try require(nClusters >= 1, "n_clusters", nClusters, "an integer >= 1")
        try require(nClusters <= rows, "n_clusters", nClusters, "at most the number of rows (\(rows))")
        try validate()   // the checks that need no data (Estimator.validate)
        if case .centers(let c) = initialization {
            try require(c.rows == nClusters, "init", "centres with \(c.rows) rows", "\(nClusters) rows (n_clusters)")
            try require(c.columns == features, "init", "centres with \(c.columns) columns", "\(features) columns (the data's features)")
            if let bad = c.storage.firstIndex(where: { !$0.isFinite }) {
                throw MPILearnError.invalidParameter(name: "init", value: "centre \(bad / c.columns), feature \(bad % c.columns) = \(c.storage[bad])",
                                                     allowed: "finite centre coordinates")
            }
        }
    }
}

/// One Lloyd iteration, as reported to the progress callback and kept in the model.
public struct KMeansIteration: Codable, Equatable, Sendable {
    /// Which of the `n_init` runs (0-based).
    public var run: Int
    /// 1-based iteration number.
    public var iteration: Int
    /// Sum of squared distances of the rows to the centres they were assigned to in this
    /// iteration (the centres before the update).
    public var inertia: Double
    /// Squared Frobenius norm of the centre update (scikit-learn's `center_shift_tot`).
    public var shift: Double
    /// Rows whose label changed in this iteration.
    public var changed: Int
    /// Empty clusters relocated in this iteration.
    public var relocated: Int
    /// Wall seconds of the iteration.
    public var seconds: Double
    /// Rows whose distances to all centres were not computed, because their bounds proved
    /// their centre (``KMeansAlgorithm/hamerly``; 0 for `lloyd`).
    public var skipped: Int = 0

    public init(run: Int, iteration: Int, inertia: Double, shift: Double, changed: Int, relocated: Int, seconds: Double, skipped: Int = 0) {
        self.run = run
        self.iteration = iteration
        self.inertia = inertia
        self.shift = shift
        self.changed = changed
        self.relocated = relocated
        self.seconds = seconds
        self.skipped = skipped
    }

    enum CodingKeys: String, CodingKey { case run, iteration, inertia, shift, changed, relocated, seconds, skipped }

    /// Decodes a saved iteration; files written before `skipped` existed read 0.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        run = try c.decode(Int.self, forKey: .run)
        iteration = try c.decode(Int.self, forKey: .iteration)
        inertia = try c.decode(Double.self, forKey: .inertia)
        shift = try c.decode(Double.self, forKey: .shift)
        changed = try c.decode(Int.self, forKey: .changed)
        relocated = try c.decode(Int.self, forKey: .relocated)
        seconds = try c.decode(Double.self, forKey: .seconds)
        skipped = try c.decodeIfPresent(Int.self, forKey: .skipped) ?? 0
    }
}

/// Timings and facts about a fit.
public struct KMeansFitReport: Codable, Equatable, Sendable {
    /// Seconds choosing initial centres (all runs).
    public var initSeconds: Double = 0
    /// Seconds in Lloyd iterations, including the final assignment (all runs).
    public var lloydSeconds: Double = 0
    /// Whole fit, including the variance pass.
    public var totalSeconds: Double = 0
    /// Seconds inside collectives on this rank (includes waiting for slower ranks).
    public var communicationSeconds: Double = 0
    /// k-means|| candidates of the best run (before top-up), if k-means|| was used.
    public var candidates: Int?
    /// The run whose result was kept (0-based).
    public var bestRun: Int = 0
    /// Absolute tolerance used: `tol` × mean per-feature variance.
    public var absoluteTolerance: Double = 0
    /// Warnings (too few candidates, duplicate points); print them once, on rank 0.
    public var warnings: [String] = []

    public init() {}
}

/// A fitted k-means model: centres and the facts of the fit (scikit-learn's fitted
/// attributes `cluster_centers_`, `labels_`, `inertia_`, `n_iter_`).
public struct KMeansModel: Sendable {
    /// The hyper-parameters it was fitted with.
    public var configuration: KMeans
    /// k × n_features centres (`cluster_centers_`), in Float64 whatever the data's type.
    public var clusterCenters: Matrix<Double>
    /// The feature names of the training data.
    public var featureNames: [String]
    /// `labels_` for this rank's training rows (empty for a loaded model).
    public var labels: [Int32]
    /// Sum of squared distances of all rows to their nearest centre (`inertia_`).
    public var inertia: Double
    /// Lloyd iterations of the kept run (`n_iter_`).
    public var nIter: Int
    /// Iterations of the kept run, with the inertia after each.
    public var history: [KMeansIteration]
    /// The initial centres of the kept run.
    public var initialCenters: Matrix<Double>
    /// Timings, candidates and warnings (not saved).
    public var report: KMeansFitReport

    public var nClusters: Int { clusterCenters.rows }
    public var featureCount: Int { clusterCenters.columns }

    public init(configuration: KMeans, clusterCenters: Matrix<Double>, featureNames: [String], labels: [Int32] = [],
                inertia: Double, nIter: Int, history: [KMeansIteration] = [], initialCenters: Matrix<Double>? = nil,
                report: KMeansFitReport = KMeansFitReport()) {
        self.configuration = configuration
        self.clusterCenters = clusterCenters
        self.featureNames = featureNames
        self.labels = labels
        self.inertia = inertia
        self.nIter = nIter
        self.history = history
        self.initialCenters = initialCenters ?? clusterCenters
        self.report = report
    }
}

/// Monotonic wall clock in seconds.
@inline(__always)
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
