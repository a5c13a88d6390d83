import Foundation
import SwiftMPI

// The estimator contract: every learner is a Codable value of hyper-parameters (scikit-learn
// names as its coding keys) whose collective `fit` returns a fitted model, whole and identical
// on every rank. Search, cross-validation and (later) pipelines are written once against it.

/// What a fitted model does: its role decides how it predicts and how it is scored by default.
public enum EstimatorRole: String, Codable, Sendable, CaseIterable {
    /// Predicts a class per row (``ClassifierModel``); default score: accuracy.
    case classifier
    /// Predicts a number per row (``RegressorModel``); default score: R².
    case regressor
    /// Assigns rows to clusters (``ClustererModel``); default score: negative inertia.
    case clusterer
    /// Transforms features (``TransformerModel``); no default score.
    case transformer
}

/// A learner's hyper-parameters and its collective `fit` (scikit-learn's estimator).
///
/// The value only stores hyper-parameters, under scikit-learn's names (its `CodingKeys`); it
/// is validated in ``fit(_:comm:)`` (and by ``validate()`` for what does not depend on the
/// data), with messages that quote the bad value and the allowed range. ``setting(_:)`` is
/// scikit-learn's `set_params`. The fitted state is a separate type, so "not fitted" cannot
/// compile.
///
/// Encoding must write every parameter, `nil` ones as JSON `null`: the encoded keys are the
/// parameter names ``setting(_:)`` accepts.
public protocol Estimator: Codable, Sendable {
    associatedtype Model: FittedModel
    /// The name on the command line and in search results (`random-forest-classifier`).
    static var estimatorName: String { get }
    /// What the fitted model does.
    static var role: EstimatorRole { get }
    /// Checks every parameter that can be checked without data.
    /// - Throws: ``MPILearnError/invalidParameter`` naming the parameter, its value and the allowed range.
    func validate() throws
    /// Collective. Fits on every rank's rows of `data` and returns the model, whole and
    /// identical on every rank.
    func fit(_ data: Dataset<Double>, comm: any Communicator) throws -> Model
    /// A relative guess of the time a fit takes on `rows` rows (only ratios matter): search
    /// starts the longest tasks first. The default is `rows`.
    func expectedCost(rows: Int) -> Double
    /// Whether a fit over several ranks gives the same model as over one (a data-parallel
    /// fit such as k-means'), so a search may fit it on sharded data. Default false.
    static var fitsShardedData: Bool { get }
    /// Whether `fit(_:rows:cache:comm:)` and scoring read dictionary-coded features
    /// (``Dataset/Features/coded(_:rows:)``) as well as dense ones: a learner that only bins
    /// or looks values up (a forest). A search then holds its replicated data coded, a byte
    /// or two a value. Default false (the search makes the features dense).
    static var readsCodedFeatures: Bool { get }
    /// Collective. Fits on the rows `rows` (local positions) of `data`: the same model as
    /// `fit(data.rows(rows), comm:)`. `cache` holds work that fits on the same rows share
    /// (a search passes one per fold, so a forest bins a fold's rows once for all its
    /// candidates); the default copies the rows and ignores the cache.
    func fit(_ data: Dataset<Double>, rows: [Int], cache: FitCache?, comm: any Communicator) throws -> Model
    /// Collective. Every rank holds the same rows (all of them); returns the model a one-rank
    /// fit gives, on every rank. The default fits on each rank alone; a forest shares its
    /// trees out over the ranks.
    func fitReplicated(_ data: Dataset<Double>, comm: any Communicator) throws -> Model
    /// An integer parameter whose smaller values give a prefix of the model of a larger one
    /// (a forest's `n_estimators`: tree g depends only on g), so a search fits the largest
    /// once and scores the others as ``truncated(_:to:)``. Default nil.
    static var nestedParameter: String? { get }
    /// The model a fit with the nested parameter set to `value` gives, cut from `model`
    /// (fitted with a larger value). Only called when ``nestedParameter`` is set.
    func truncated(_ model: Model, to value: Int) throws -> Model
    /// Collective over `comm`. The scores of `model` truncated to each of `values`
    /// (ascending) on the rows `rows` of `data`, with targets `y` for those rows. The default
    /// truncates and scores each; a forest scores every prefix in one pass over its trees.
    func nestedScores(_ model: Model, values: [Int], scoring: Scoring, data: Dataset<Double>, rows: [Int], y: [Double]?,
                      labels: [String], comm: any Communicator) throws -> [Double]
}

/// Work that fits on the same rows can share: a search keeps one per fold and rank.
/// Values are computed once per key, under a lock.
public final class FitCache: @unchecked Sendable {
    private var store: [String: Any] = [:]
    private let lock = NSLock()

    public init() {}

    /// The value under `key`, made by `make` the first time.
    public func value<T>(_ key: String, make: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        if let v = store[key] as? T { return v }
        let v = try make()
        store[key] = v
        return v
    }
}

extension Estimator {
    public func expectedCost(rows: Int) -> Double { Double(rows) }
    public func fit(_ data: Dataset<Double>, rows: [Int], cache: FitCache?, comm: any Communicator) throws -> Model {
        try fit(data.rows(rows), comm: comm)
    }
    public static var nestedParameter: String? { nil }
    public func nestedScores(_ model: Model, values: [Int], scoring: Scoring, data: Dataset<Double>, rows: [Int], y: [Double]?,
                             labels: [String], comm: any Communicator) throws -> [Double] {
        try values.map { try scoring.score(truncated(model, to: $0), data: data, rows: rows, y: y, labels: labels, comm: comm) }
    }
    public func fitReplicated(_ data: Dataset<Double>, comm: any Communicator) throws -> Model {
        try fit(data, comm: LocalCommunicator.solo())
    }
    public func truncated(_ model: Model, to value: Int) throws -> Model {
        throw MPILearnError.mismatch("\(Self.estimatorName) has no nested parameter to truncate a model by")
    }
    public static var fitsShardedData: Bool { false }
    public static var readsCodedFeatures: Bool { false }

    /// The hyper-parameters by name, as ``setting(_:)`` accepts them.
    public func parameters() throws -> [String: ParameterValue] {
        try ModelJSON.decoder.decode([String: ParameterValue].self, from: ModelJSON.encoder.encode(self))
    }

    /// The valid parameter names, sorted.
    public func parameterNames() throws -> [String] { try parameters().keys.sorted() }

    /// A copy with the named parameters replaced (scikit-learn's `set_params`).
    /// - Throws: ``MPILearnError/invalidParameter`` for a name that is not a parameter
    ///   (listing the valid ones) or a value of the wrong type (naming the parameter).
    public func setting(_ changes: [String: ParameterValue]) throws -> Self {
        var all = try parameters()
        for (name, value) in changes.sorted(by: { $0.key < $1.key }) {
            guard all[name] != nil else {
                throw MPILearnError.unknownParameter(name: name, estimator: Self.estimatorName, valid: all.keys.sorted())
            }
            all[name] = value
        }
        do {
            return try ModelJSON.decoder.decode(Self.self, from: ModelJSON.encoder.encode(all))
        } catch let e as MPILearnError {
            throw e
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            let name = context.codingPath.first?.stringValue ?? "?"
            throw MPILearnError.invalidParameter(name: name, value: all[name]?.description ?? "?",
                                                 allowed: "a value of type \(ParameterValue.typeName(type)) (\(context.debugDescription))")
        } catch let DecodingError.dataCorrupted(context) {
            let name = context.codingPath.first?.stringValue ?? "?"
            throw MPILearnError.invalidParameter(name: name, value: all[name]?.description ?? "?", allowed: context.debugDescription)
        } catch {
            throw MPILearnError.invalidParameter(name: Self.estimatorName, value: "\(changes)", allowed: "\(error)")
        }
    }
}

/// A fitted model: predicts, saves and loads. One registry (``ModelRegistry``) maps a file's
/// kind to its type, so `model inspect` and generic loading work for every kind.
public protocol FittedModel: Sendable {
    /// The model-file kind (`random-forest-classifier`, `kmeans`).
    static var kind: String { get }
    /// What the model does.
    static var role: EstimatorRole { get }
    /// Names of the features, in the order `predict` reads them.
    var featureNames: [String] { get }
    /// The model as a model-file container.
    func container() throws -> ModelContainer
    /// The model in a decoded container (kind checked by the caller).
    static func decode(_ container: ModelContainer, path: String) throws -> Self
    /// Lines `model inspect` prints after the kind (parameters, shape, provenance).
    func summary() -> [(String, String)]
}

extension FittedModel {
    /// Writes the model file atomically (call on one rank).
    public func save(to path: String) throws { try container().write(to: path) }

    /// Reads a model file of this kind; no MPI needed.
    public static func load(from path: String) throws -> Self {
        try decode(ModelContainer.read(from: path, expectedKinds: [kind]), path: path)
    }

    /// Checks that `x` has the model's number of features.
    public func checkFeatures(_ columns: Int, _ what: String = "input") throws {
        guard columns == featureNames.count else {
            throw MPILearnError.mismatch("\(what) has \(columns) features but the model was trained on \(featureNames.count) (\(listPreview(featureNames)))")
        }
    }
}

/// A fitted classifier. Class codes index ``classes``.
public protocol ClassifierModel: FittedModel {
    /// Class names, in code order.
    var classes: [String] { get }
    /// Class probabilities, rows × classes. Local: no communication.
    func predictProba(_ x: Matrix<Double>) throws -> Matrix<Double>
    /// Predicted class codes. Local.
    func predict(_ x: Matrix<Double>) throws -> [Int]
}

extension ClassifierModel {
    public static var role: EstimatorRole { .classifier }
}

/// A classifier with scikit-learn's `decision_function`: a calibrator
/// (``CalibratedClassifierCV``) reads these values rather than probabilities when a model
/// has them, as scikit-learn does.
public protocol DecisionFunctionModel: ClassifierModel {
    /// Decision values, rows × 1 for two classes (positive: the second class, `classes[1]`),
    /// rows × classes otherwise (larger: more likely). Local.
    func decisionFunction(_ x: Matrix<Double>) throws -> Matrix<Double>
}

/// A fitted regressor.
public protocol RegressorModel: FittedModel {
    /// Predicted values. Local.
    func predict(_ x: Matrix<Double>) throws -> [Double]
}

extension RegressorModel {
    public static var role: EstimatorRole { .regressor }
}

/// A fitted clusterer.
public protocol ClustererModel: FittedModel {
    /// The nearest cluster of each row. Local.
    func predict(_ x: Matrix<Double>) throws -> [Int]
    /// The opposite of the sum of squared distances of the rows to their nearest centre
    /// (scikit-learn's `KMeans.score`: higher is better). Local.
    func score(_ x: Matrix<Double>) throws -> Double
}

extension ClustererModel {
    public static var role: EstimatorRole { .clusterer }
}

/// A fitted transformer.
public protocol TransformerModel: FittedModel {
    /// The transformed rows. Local.
    func transform(_ x: Matrix<Double>) throws -> Matrix<Double>
}

extension TransformerModel {
    public static var role: EstimatorRole { .transformer }
}

// MARK: - parameter values

/// One hyper-parameter value, as search grids, `setting` and `cv_results` see it.
public enum ParameterValue: Codable, Hashable, Sendable, CustomStringConvertible, Comparable,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByNilLiteral {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)
    case none

    public init(integerLiteral v: Int) { self = .int(v) }
    public init(floatLiteral v: Double) { self = .double(v) }
    public init(stringLiteral v: String) { self = .string(v) }
    public init(booleanLiteral v: Bool) { self = .bool(v) }
    public init(nilLiteral: ()) { self = .none }

    /// Parses a command-line value: `none`/`null` → none, `true`/`false` → bool, an integer,
    /// a number, else a string.
    public init(parsing text: String) {
        let s = text.trimmingCharacters(in: .whitespaces)
        switch s.lowercased() {
        case "none", "null": self = .none
        case "true": self = .bool(true)
        case "false": self = .bool(false)
        default:
            if let i = Int(s) { self = .int(i) } else if let d = Double(s), !s.lowercased().hasPrefix("inf"), !s.lowercased().hasPrefix("nan") {
                self = .double(d)
            } else { self = .string(s) }
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .none; return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let i = try? c.decode(Int.self) { self = .int(i); return }
        if let d = try? c.decode(Double.self) { self = .double(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "a parameter value must be a number, a string, a boolean or null")
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let v): try c.encode(v)
        case .double(let v): try c.encode(v)
        case .string(let v): try c.encode(v)
        case .bool(let v): try c.encode(v)
        case .none: try c.encodeNil()
        }
    }

    /// The value as scikit-learn prints it in `cv_results_` (`10`, `0.5`, `sqrt`, `True`, `None`).
    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .double(let v): return v == v.rounded() && abs(v) < 1e15 ? String(format: "%.1f", v) : "\(v)"
        case .string(let v): return v
        case .bool(let v): return v ? "True" : "False"
        case .none: return "None"
        }
    }

    /// The value in Python literal syntax (strings quoted), for a `params` dict.
    public var pythonLiteral: String {
        if case .string(let s) = self { return "'" + s.replacingOccurrences(of: "'", with: "\\'") + "'" }
        return description
    }

    /// The value as a number, if it is one.
    public var number: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .double(let v): return v
        default: return nil
        }
    }

    private var order: Int {
        switch self {
        case .none: return 0
        case .bool: return 1
        case .int, .double: return 2
        case .string: return 3
        }
    }

    /// Orders none < booleans < numbers < strings, then by value.
    public static func < (a: ParameterValue, b: ParameterValue) -> Bool {
        if a.order != b.order { return a.order < b.order }
        switch (a, b) {
        case let (.bool(x), .bool(y)): return !x && y
        case let (.string(x), .string(y)): return x < y
        default: return (a.number ?? 0) < (b.number ?? 0)
        }
    }

    static func typeName(_ t: Any.Type) -> String {
        switch t {
        case is Int.Type, is Optional<Int>.Type, is UInt64.Type: return "integer"
        case is Double.Type, is Optional<Double>.Type: return "number"
        case is Bool.Type: return "boolean"
        case is String.Type: return "string"
        default: return "\(t)"
        }
    }
}

/// A Python-style dict of parameters, keys sorted: `{'max_depth': 2, 'n_estimators': 10}`.
public func pythonDict(_ params: [String: ParameterValue]) -> String {
    "{" + params.keys.sorted().map { "'\($0)': \(params[$0]!.pythonLiteral)" }.joined(separator: ", ") + "}"
}

// MARK: - shared JSON coding

/// A coding key by name, for parameters whose names are only known at run time (a wrapper's
/// `step__param` or `estimator__param`).
struct NamedCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// The one JSON coder of model headers and parameters: keys sorted (stable bytes), and
/// non-finite numbers as the strings `nan`, `inf` and `-inf` (a NaN out-of-bag score saves).
public enum ModelJSON {
    public static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    public static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }
}
