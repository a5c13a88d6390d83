import Foundation

/// The impurity a tree minimises when it splits a node.
///
/// Impurities are computed from a node's weighted statistics (the splitter's histogram
/// rows): per-class weights for classification, `(w, Σwy, Σwy²)` for regression.
public enum Criterion: String, Codable, Sendable, CaseIterable {
    /// Gini impurity `1 − Σ p_k²` (classification).
    case gini
    /// Shannon entropy `−Σ p_k log2 p_k` (classification).
    case entropy
    /// Weighted variance of the target (regression; `squared_error` in scikit-learn).
    case squaredError = "squared_error"

    public var isClassification: Bool { self != .squaredError }

    /// Impurity of a node with class weights `w[0..<k]` summing to `total` (classification),
    /// or with `w[0] = Σw, w[1] = Σwy, w[2] = Σwy²` (regression; `k` ignored).
    @inlinable
    public func impurity(_ w: UnsafePointer<Double>, classes k: Int) -> Double {
        switch self {
        case .gini:
            var t = 0.0, s = 0.0
            for c in 0 ..< k { t += w[c]; s += w[c] * w[c] }
            return t > 0 ? 1 - s / (t * t) : 0
        case .entropy:
            var t = 0.0
            for c in 0 ..< k { t += w[c] }
            guard t > 0 else { return 0 }
            var e = 0.0
            for c in 0 ..< k where w[c] > 0 {
                let p = w[c] / t
                e -= p * Foundation.log2(p)
            }
            return e
        case .squaredError:
            guard w[0] > 0 else { return 0 }
            let mean = w[1] / w[0]
            return Swift.max(0, w[2] / w[0] - mean * mean)
        }
    }
}

/// How many features a node considers (`max_features`).
public enum MaxFeatures: Codable, Equatable, Sendable, CustomStringConvertible {
    /// `max(1, ⌊√d⌋)`.
    case sqrt
    /// `max(1, ⌊log2 d⌋)`.
    case log2
    /// `max(1, ⌊fraction · d⌋)`, fraction in (0, 1].
    case fraction(Double)
    /// Exactly this many, 1 ... d.
    case count(Int)
    /// Every feature.
    case all

    /// Parses `sqrt`, `log2`, `all`/`none`, a fraction like `0.3`, or a count like `5`.
    public init(parsing s: String) throws {
        switch s.lowercased() {
        case "sqrt", "auto": self = .sqrt
        case "log2": self = .log2
        case "all", "none": self = .all
        default:
            if let i = Int(s) { self = .count(i) } else if let f = Double(s) { self = .fraction(f) } else {
                throw MPILearnError.invalidParameter(name: "max_features", value: s, allowed: "sqrt, log2, all, a fraction in (0, 1] or a count >= 1")
            }
        }
    }

    public var description: String {
        switch self {
        case .sqrt: return "sqrt"
        case .log2: return "log2"
        case .all: return "all"
        case .fraction(let f): return "\(f)"
        case .count(let c): return "\(c)"
        }
    }

    /// Checks the value against `d` features (nil: only what does not depend on them).
    public func validate(features d: Int?) throws {
        switch self {
        case .fraction(let f): try require(f > 0 && f <= 1, "max_features", f, "a fraction in (0, 1]")
        case .count(let c):
            if let d { try require(c >= 1 && c <= d, "max_features", c, "a count in 1...\(d) (the number of features)") } else {
                try require(c >= 1, "max_features", c, "a count >= 1")
            }
        default: break
        }
    }

    /// The number of features per node for `d` features.
    public func resolve(features d: Int) -> Int {
        let m: Int
        switch self {
        case .sqrt: m = Int(Double(d).squareRoot())
        case .log2: m = d > 0 ? Int(Foundation.log2(Double(d))) : 0
        case .fraction(let f): m = Int(f * Double(d))
        case .count(let c): m = c
        case .all: m = d
        }
        return Swift.min(d, Swift.max(1, m))
    }
}

/// The hyper-parameters of one decision tree (scikit-learn's names and meaning).
public struct TreeParameters: Codable, Equatable, Sendable {
    public var criterion: Criterion = .gini
    /// Maximum depth (root = 0); nil grows until leaves are pure or too small.
    public var maxDepth: Int? = nil
    /// A node with fewer rows is not split (≥ 2).
    public var minSamplesSplit: Int = 2
    /// Each child keeps at least this many rows (≥ 1).
    public var minSamplesLeaf: Int = 1
    /// A split must decrease the weighted impurity by at least this (≥ 0), in
    /// scikit-learn's units `N_t / N · (impurity − N_tR/N_t · right − N_tL/N_t · left)`.
    public var minImpurityDecrease: Double = 0
    public var maxFeatures: MaxFeatures = .all
    /// Grow best-first with at most this many leaves (≥ 2); nil grows depth-first.
    public var maxLeafNodes: Int? = nil
    /// Non-missing bins per feature, 2 ... 255.
    public var maxBins: Int = 255

    public init(criterion: Criterion = .gini, maxDepth: Int? = nil, minSamplesSplit: Int = 2, minSamplesLeaf: Int = 1,
                minImpurityDecrease: Double = 0, maxFeatures: MaxFeatures = .all, maxLeafNodes: Int? = nil, maxBins: Int = 255) {
        self.criterion = criterion
        self.maxDepth = maxDepth
        self.minSamplesSplit = minSamplesSplit
        self.minSamplesLeaf = minSamplesLeaf
        self.minImpurityDecrease = minImpurityDecrease
        self.maxFeatures = maxFeatures
        self.maxLeafNodes = maxLeafNodes
        self.maxBins = maxBins
    }

    /// Validates every parameter (called by `fit`), quoting the bad value and the allowed range.
    public func validate(features d: Int?) throws {
        if let m = maxDepth { try require(m >= 1, "max_depth", m, "an integer >= 1 (or none for unlimited)") }
        try require(minSamplesSplit >= 2, "min_samples_split", minSamplesSplit, "an integer >= 2")
        try require(minSamplesLeaf >= 1, "min_samples_leaf", minSamplesLeaf, "an integer >= 1")
        try require(minImpurityDecrease >= 0 && minImpurityDecrease.isFinite, "min_impurity_decrease", minImpurityDecrease, "a finite number >= 0")
        if let l = maxLeafNodes { try require(l >= 2, "max_leaf_nodes", l, "an integer >= 2 (or none for unlimited)") }
        try require(maxBins >= 2 && maxBins <= 255, "max_bins", maxBins, "an integer in 2...255")
        try maxFeatures.validate(features: d)
    }
}
