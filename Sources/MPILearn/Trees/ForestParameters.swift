/// `class_weight` of a forest classifier.
public enum ClassWeight: String, Codable, Sendable, CaseIterable {
    /// `w_k = N / (K · N_k)` with the global class counts `N_k` (allreduced over ranks).
    case balanced
    /// As `balanced`, with the counts of each tree's bootstrap sample.
    case balancedSubsample = "balanced_subsample"
}

/// `max_samples`: rows drawn per tree when bootstrapping.
public enum MaxSamples: Codable, Equatable, Sendable, CustomStringConvertible {
    /// A fraction in (0, 1] of the shard's rows.
    case fraction(Double)
    /// A number of rows over the whole dataset (1 ... rows); each rank draws its share,
    /// `count · shardRows / totalRows` rounded, at least 1.
    case count(Int)

    /// Parses `0.5` (fraction) or `1000` (count).
    public init(parsing s: String) throws {
        if s.contains("."), let f = Double(s) { self = .fraction(f) } else if let c = Int(s) { self = .count(c) } else {
            throw MPILearnError.invalidParameter(name: "max_samples", value: s, allowed: "a fraction in (0, 1] like 0.5, or a row count >= 1")
        }
    }

    public var description: String {
        switch self {
        case .fraction(let f): return "\(f)"
        case .count(let c): return "\(c)"
        }
    }
}

/// How the ranks' trees combine into one classification.
public enum Voting: String, Codable, Sendable, CaseIterable {
    /// Sum of the trees' class fractions (scikit-learn's `predict_proba` rule).
    case soft
    /// Count of the trees' predicted classes (majority vote).
    case hard
}

/// How a forest's trees are grown over the ranks.
public enum ForestMode: String, Codable, Sendable, CaseIterable {
    /// Each rank grows its share of the trees on its own rows (the per-shard forest; one
    /// rank's result at one rank, and accuracy falls as the shards shrink).
    case local
    /// Every tree is grown on all rows of all ranks, histograms summed by collectives: the
    /// forest (and its model file) is byte-identical for any number of ranks.
    case global
}

/// The hyper-parameters of a random forest (scikit-learn's names and meaning).
///
/// `threads` is an execution setting, not part of the model: the fitted forest is
/// byte-identical for any thread count, and it is not saved in model files.
public struct RandomForestParameters: Codable, Equatable, Sendable {
    /// Trees over all ranks (≥ 1).
    public var nEstimators: Int = 100
    /// Per-tree parameters. `max_features` defaults to `sqrt` for classification and to
    /// `all` (1.0) for regression, as in scikit-learn.
    public var tree: TreeParameters
    /// Draw each tree's rows with replacement (else every row of the shard, weight 1).
    public var bootstrap: Bool = true
    public var maxSamples: MaxSamples? = nil
    public var classWeight: ClassWeight? = nil
    /// Compute the out-of-bag score after fitting.
    public var oobScore: Bool = false
    /// Seed of every tree's streams: tree `g` uses `Philox(seed: randomState, stream: g)`.
    public var randomState: UInt64 = 0
    /// Threads growing this rank's trees (≥ 1). Not saved.
    public var threads: Int = 1
    /// Per-shard trees (`local`, the default) or data-parallel trees over all rows (`global`).
    /// Saved (as `mode`) only when global, so local model files are unchanged.
    public var mode: ForestMode = .local

    enum CodingKeys: String, CodingKey {
        case nEstimators = "n_estimators", tree, bootstrap, maxSamples = "max_samples", classWeight = "class_weight"
        case oobScore = "oob_score", randomState = "random_state", mode
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        nEstimators = try c.decode(Int.self, forKey: .nEstimators)
        tree = try c.decode(TreeParameters.self, forKey: .tree)
        bootstrap = try c.decode(Bool.self, forKey: .bootstrap)
        maxSamples = try c.decodeIfPresent(MaxSamples.self, forKey: .maxSamples)
        classWeight = try c.decodeIfPresent(ClassWeight.self, forKey: .classWeight)
        oobScore = try c.decode(Bool.self, forKey: .oobScore)
        randomState = try c.decode(UInt64.self, forKey: .randomState)
        mode = try c.decodeIfPresent(ForestMode.self, forKey: .mode) ?? .local
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(nEstimators, forKey: .nEstimators)
        try c.encode(tree, forKey: .tree)
        try c.encode(bootstrap, forKey: .bootstrap)
        try c.encodeIfPresent(maxSamples, forKey: .maxSamples)
        try c.encodeIfPresent(classWeight, forKey: .classWeight)
        try c.encode(oobScore, forKey: .oobScore)
        try c.encode(randomState, forKey: .randomState)
        if mode == .global { try c.encode(mode, forKey: .mode) }
    }

    public init(nEstimators: Int = 100, tree: TreeParameters, bootstrap: Bool = true, maxSamples: MaxSamples? = nil,
                classWeight: ClassWeight? = nil, oobScore: Bool = false, randomState: UInt64 = 0, threads: Int = 1,
                mode: ForestMode = .local) {
        self.mode = mode
        self.nEstimators = nEstimators
        self.tree = tree
        self.bootstrap = bootstrap
        self.maxSamples = maxSamples
        self.classWeight = classWeight
        self.oobScore = oobScore
        self.randomState = randomState
        self.threads = threads
    }

    /// Validates every parameter (called by `fit`).
    /// With `features` nil (no data yet) the checks that need the feature count are left out.
    public func validate(features d: Int?, classification: Bool) throws {
        try require(nEstimators >= 1, "n_estimators", nEstimators, "an integer >= 1")
        try require(threads >= 1, "n_jobs", threads, "an integer >= 1")
        try tree.validate(features: d)
        if classification {
            try require(tree.criterion.isClassification, "criterion", tree.criterion.rawValue, "gini or entropy for a classifier")
        } else {
            try require(!tree.criterion.isClassification, "criterion", tree.criterion.rawValue, "squared_error for a regressor")
            try require(classWeight == nil, "class_weight", classWeight?.rawValue ?? "", "none for a regressor")
        }
        switch maxSamples {
        case .fraction(let f)?: try require(f > 0 && f <= 1, "max_samples", f, "a fraction in (0, 1]")
        case .count(let c)?: try require(c >= 1, "max_samples", c, "a row count >= 1")
        case nil: break
        }
        if maxSamples != nil { try require(bootstrap, "max_samples", maxSamples!, "unset when bootstrap is false") }
        if oobScore { try require(bootstrap, "oob_score", true, "false when bootstrap is false (no out-of-bag rows)") }
        if mode == .global {
            try require(tree.maxLeafNodes == nil, "max_leaf_nodes", tree.maxLeafNodes ?? 0,
                        "unset with mode global (best-first growth orders the nodes of a whole tree; use max_depth)")
        }
    }
}

extension RandomForestParameters {
    /// scikit-learn's classifier defaults: gini, `max_features = sqrt`.
    public static func classifier(nEstimators: Int = 100) -> RandomForestParameters {
        RandomForestParameters(nEstimators: nEstimators, tree: TreeParameters(criterion: .gini, maxFeatures: .sqrt))
    }

    /// scikit-learn's regressor defaults: squared error, every feature.
    public static func regressor(nEstimators: Int = 100) -> RandomForestParameters {
        RandomForestParameters(nEstimators: nEstimators, tree: TreeParameters(criterion: .squaredError, maxFeatures: .all))
    }
}
