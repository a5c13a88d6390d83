import Foundation
import SwiftMPI

// The preprocessing contract. A pipeline step reads and writes a `Table` (named columns of
// numbers, categories, datetimes), not a matrix: its input is what a CSV, NPY or HDF5 file
// holds (timestamps, messy category strings, numbers with gaps), and its output is what the
// next step or the final estimator reads. Like an `Estimator`, a transformer is a Codable
// value of hyper-parameters (scikit-learn's names as its coding keys) whose collective `fit`
// returns a fitted step, whole and identical on every rank; the fitted step transforms any
// chunk of rows locally, with no communication, so a streaming predict can run it on one
// chunk at a time.

/// A preprocessing step's hyper-parameters and its collective fit (scikit-learn's transformer).
public protocol TableTransformer: Codable, Sendable {
    associatedtype Fitted: FittedTableTransformer
    /// The step's kind in spec files and model files (`standard-scaler`).
    static var transformerName: String { get }
    /// Checks every parameter that can be checked without data.
    /// - Throws: ``MPILearnError/invalidParameter`` naming the parameter, its value and the allowed values.
    func validate() throws
    /// Collective. Learns what the step needs from every rank's rows of `table` (statistics
    /// merged exactly across ranks) and returns the fitted step, identical on every rank and
    /// for any number of ranks.
    func fit(_ table: Table, comm: any Communicator) throws -> Fitted
}

extension TableTransformer {
    public func validate() throws {}
}

/// A fitted preprocessing step: transforms any rows, locally.
public protocol FittedTableTransformer: Codable, Sendable {
    /// Local: no communication. The rows of `table` transformed (same rows, same order, same
    /// global row numbers; columns added, replaced or removed).
    /// - Throws: ``MPILearnError/dataError`` at `context.location(row:column:)` for a value
    ///   the step cannot take (an unparsable timestamp, an unknown category under an `error`
    ///   policy); ``MPILearnError/mismatch`` naming a column the step needs that is missing
    ///   or of the wrong kind.
    func transform(_ table: Table, context: TransformContext) throws -> Table
    /// Lines `model inspect` prints for this step (what it learned).
    func summary() -> [String]
}

/// Where the rows a step transforms came from, so an error can name the file, line and column.
public struct TransformContext: Sendable {
    /// The input's name (a path, or `training data`).
    public var source: String
    /// The file location of local row `row` (0-based in the table being transformed) and of a
    /// named column, if known. The default names the source and the global row number.
    public var locate: @Sendable (_ row: Int, _ column: String) -> SourceLocation

    public init(source: String, locate: (@Sendable (_ row: Int, _ column: String) -> SourceLocation)? = nil) {
        self.source = source
        self.locate = locate ?? { _, _ in SourceLocation(file: source) }
    }

    /// A context for rows held in memory: locations name the source only; messages add the
    /// global row number themselves.
    public static func memory(_ source: String) -> TransformContext { TransformContext(source: source) }

    /// A data error at `row`, `column`, with the global row number in the message.
    public func error(row: Int, of table: Table, column: String, _ message: String) -> MPILearnError {
        .dataError(locate(row, column), "column '\(column)', data row \(table.globalRowStart + row + 1): \(message)")
    }
}

// MARK: - table helpers for steps

extension Table {
    /// The index of column `name`.
    /// - Throws: ``MPILearnError/mismatch`` naming the column, the step and the columns there are.
    public func requireColumn(_ name: String, for step: String) throws -> Int {
        guard let j = columns.firstIndex(where: { $0.name == name }) else {
            throw MPILearnError.mismatch("\(step): the input has no column '\(name)' (columns: \(listPreview(columnNames)))")
        }
        return j
    }

    /// The names of the numeric (float64/float32) columns, in order.
    public var numericColumnNames: [String] {
        columns.filter { if case .float64 = $0.values { return true }; if case .float32 = $0.values { return true }; return false }.map(\.name)
    }

    /// The names of the categorical columns, in order.
    public var categoricalColumnNames: [String] {
        columns.filter { if case .categorical = $0.values { return true }; return false }.map(\.name)
    }

    /// Column `name` as Doubles (float32 widened; categories as codes, datetimes as seconds, NaN where missing).
    /// - Throws: ``MPILearnError/mismatch`` if it is missing or, with `numericOnly`, not numeric.
    public func doubles(_ name: String, for step: String, numericOnly: Bool = true) throws -> [Double] {
        let c = columns[try requireColumn(name, for: step)]
        switch c.values {
        case .float64(let v): return v
        case .float32(let v): return v.map(Double.init)
        default:
            if numericOnly {
                throw MPILearnError.mismatch("\(step): column '\(name)' is \(c.values.columnType.rawValue), not numeric")
            }
            return (0 ..< rowCount).map { c.values.double(at: $0) }
        }
    }

    /// This table with column `name` replaced by `values` (kept in place), or appended if absent.
    public func replacing(_ name: String, with values: ColumnValues) -> Table {
        var t = self
        if let j = t.columns.firstIndex(where: { $0.name == name }) {
            t.columns[j].values = values
        } else {
            t.columns.append(Column(name: name, values: values))
        }
        return t
    }

    /// This table with the columns of `names` removed.
    public func removing(_ names: Set<String>) -> Table {
        var t = self
        t.columns.removeAll { names.contains($0.name) }
        return t
    }

    /// This table with column `name` replaced by `new` columns at its position.
    public func expanding(_ name: String, into new: [Column]) -> Table {
        var t = self
        guard let j = t.columns.firstIndex(where: { $0.name == name }) else {
            t.columns += new
            return t
        }
        t.columns.replaceSubrange(j ... j, with: new)
        return t
    }
}

// MARK: - type erasure and registry

/// A transformer of any kind, with its kind for coding (a pipeline's list of steps).
public struct AnyTableTransformer: Sendable {
    public let base: any TableTransformer
    public init(_ base: any TableTransformer) { self.base = base }
    public var kind: String { type(of: base).transformerName }

    /// Collective: fits the step.
    public func fit(_ table: Table, comm: any Communicator) throws -> AnyFittedTransformer {
        try AnyFittedTransformer(kind: kind, base: base.fit(table, comm: comm))
    }

    /// The parameters as a JSON object.
    public func parameterJSON() throws -> Data { try ModelJSON.encoder.encode(base) }

    /// The transformer of `kind` with the parameters in `json` (a JSON object; omitted keys
    /// take their defaults).
    /// - Throws: ``MPILearnError/invalidParameter`` for an unknown kind, an unknown parameter
    ///   (listing the valid ones) or a value of the wrong type.
    public static func decode(kind: String, json: Data) throws -> AnyTableTransformer {
        guard let t = TransformerRegistry.type(of: kind) else {
            throw MPILearnError.invalidParameter(name: "step", value: "'\(kind)'", allowed: TransformerRegistry.kinds.joined(separator: ", "))
        }
        return try AnyTableTransformer(TransformerRegistry.decodeParameters(t, json: json))
    }
}

/// A fitted step of any kind.
public struct AnyFittedTransformer: Sendable {
    public let kind: String
    public let base: any FittedTableTransformer
    public init(kind: String, base: any FittedTableTransformer) {
        self.kind = kind
        self.base = base
    }

    public func transform(_ table: Table, context: TransformContext) throws -> Table { try base.transform(table, context: context) }
    public func fittedJSON() throws -> Data { try ModelJSON.encoder.encode(base) }

    public static func decode(kind: String, json: Data) throws -> AnyFittedTransformer {
        guard let t = TransformerRegistry.type(of: kind) else {
            throw MPILearnError.invalidParameter(name: "step", value: "'\(kind)'", allowed: TransformerRegistry.kinds.joined(separator: ", "))
        }
        return AnyFittedTransformer(kind: kind, base: try TransformerRegistry.decodeFitted(t, json: json))
    }
}

/// The preprocessing steps MPILearn knows, by kind: spec files, model files and `model
/// inspect` go through it. A new step adds its type to ``types``.
public enum TransformerRegistry {
    /// Every transformer type.
    public static let types: [any TableTransformer.Type] = builtinTypes

    /// The kinds, in registry order.
    public static var kinds: [String] { types.map { $0.transformerName } }

    public static func type(of kind: String) -> (any TableTransformer.Type)? { types.first { $0.transformerName == kind } }

    static func decodeParameters<T: TableTransformer>(_ t: T.Type, json: Data) throws -> T {
        let valid = try validNames(t)
        if let object = try JSONSerialization.jsonObject(with: json) as? [String: Any] {
            for key in object.keys.sorted() where !valid.contains(key) {
                throw MPILearnError.unknownParameter(name: key, estimator: t.transformerName, valid: valid.sorted())
            }
        }
        do {
            let v = try ModelJSON.decoder.decode(T.self, from: json)
            try v.validate()
            return v
        } catch let e as MPILearnError {
            throw e
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            throw MPILearnError.invalidParameter(name: "\(t.transformerName).\(context.codingPath.map(\.stringValue).joined(separator: "."))",
                                                 value: "?", allowed: "a value of type \(ParameterValue.typeName(type))")
        } catch let DecodingError.dataCorrupted(context) {
            throw MPILearnError.invalidParameter(name: "\(t.transformerName).\(context.codingPath.map(\.stringValue).joined(separator: "."))",
                                                 value: "?", allowed: context.debugDescription)
        } catch {
            throw MPILearnError.invalidParameter(name: t.transformerName, value: String(decoding: json, as: UTF8.self), allowed: "\(error)")
        }
    }

    /// The parameter names of the step `kind`, sorted.
    public static func parameterNames(of kind: String) throws -> [String] {
        guard let t = type(of: kind) else { return [] }
        return try validNames(t).sorted()
    }

    static func decodeFitted<T: TableTransformer>(_ t: T.Type, json: Data) throws -> any FittedTableTransformer {
        try ModelJSON.decoder.decode(T.Fitted.self, from: json)
    }

    /// The parameter names of a transformer: the keys its default value encodes.
    static func validNames<T: TableTransformer>(_ t: T.Type) throws -> Set<String> {
        let defaults = try ModelJSON.decoder.decode(T.self, from: Data("{}".utf8))
        let object = try JSONSerialization.jsonObject(with: ModelJSON.encoder.encode(defaults)) as? [String: Any] ?? [:]
        return Set(object.keys)
    }
}
