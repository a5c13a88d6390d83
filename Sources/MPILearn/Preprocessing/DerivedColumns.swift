import Foundation
import SwiftMPI

/// The `derive` step: new columns computed from others by ``ColumnExpression``s
/// (`delay_ratio: arr_delay / (air_time + 1)`, `late: arr_delay > 15`).
///
/// ``columns`` is applied in order, each expression reading the table as the earlier ones
/// left it (so one may use a column derived before it); a name that exists already replaces
/// that column in place, a new name is appended. In a spec file `columns` is either a list of
/// `{name, expression}` pairs (applied in list order) or an object name → expression (applied
/// in name order, UTF-8 byte order: JSON and YAML objects carry no order); the step encodes
/// the list. Then the columns of ``drop`` are removed. Every derived column is float64, NaN
/// where an operand is missing. Nothing is learned: fit checks every column named exists.
public struct DerivedColumns: TableTransformer, FittedTableTransformer, Equatable {
    public typealias Fitted = DerivedColumns
    public static let transformerName = "derive"

    /// One derived column.
    public struct Derivation: Codable, Sendable, Equatable {
        public var name: String
        public var expression: String
        public init(name: String, expression: String) {
            self.name = name
            self.expression = expression
        }
    }

    /// The derived columns, in the order they are computed.
    public var columns: [Derivation]
    /// Columns removed after deriving.
    public var drop: [String]

    public init(columns: [Derivation] = [], drop: [String] = []) {
        self.columns = columns
        self.drop = drop
    }

    enum CodingKeys: String, CodingKey { case columns, drop }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if try !c.contains(.columns) || c.decodeNil(forKey: .columns) {
            columns = []
        } else if let list = try? c.decode([Derivation].self, forKey: .columns) {
            columns = list
        } else {
            let object = try c.decode([String: String].self, forKey: .columns)
            columns = object.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map { Derivation(name: $0, expression: object[$0]!) }
        }
        drop = try c.decodeIfPresent([String].self, forKey: .drop) ?? []
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(columns, forKey: .columns)
        try c.encode(drop, forKey: .drop)
    }

    /// The parsed expressions, in order.
    /// - Throws: ``MPILearnError/invalidParameter`` naming the column and the position of a syntax error.
    public func expressions() throws -> [ColumnExpression] {
        try columns.map { try ColumnExpression($0.expression, parameter: "\(Self.transformerName).columns.\($0.name)") }
    }

    public func validate() throws {
        let name = Self.transformerName
        guard !columns.isEmpty else {
            throw MPILearnError.invalidParameter(name: "\(name).columns", value: "[]", allowed: "one or more name: expression pairs")
        }
        if let dup = firstDuplicate(columns.map(\.name)) {
            throw MPILearnError.invalidParameter(name: "\(name).columns", value: "'\(dup)'", allowed: "each name once")
        }
        if let empty = columns.first(where: { $0.name.isEmpty }) {
            throw MPILearnError.invalidParameter(name: "\(name).columns", value: "'' (for '\(empty.expression)')", allowed: "a non-empty column name")
        }
        if let dup = firstDuplicate(drop) {
            throw MPILearnError.invalidParameter(name: "\(name).drop", value: "'\(dup)'", allowed: "each column once")
        }
        _ = try expressions()
    }

    /// Checks every column the expressions read, and every column dropped, exists (in order:
    /// a derived column counts from its definition on).
    public func fit(_ table: Table, comm: any Communicator) throws -> DerivedColumns {
        try validate()
        var names = Set(table.columnNames)
        for (d, e) in zip(columns, try expressions()) {
            for c in e.columnNames where !names.contains(c) {
                throw MPILearnError.mismatch("\(Self.transformerName): '\(d.name) = \(d.expression)' reads column '\(c)', which the input lacks (columns: \(listPreview(table.columnNames)))")
            }
            names.insert(d.name)
        }
        for c in drop where !names.contains(c) {
            throw MPILearnError.mismatch("\(Self.transformerName): drop names column '\(c)', which the input lacks (columns: \(listPreview(table.columnNames)))")
        }
        return self
    }

    public func transform(_ table: Table, context: TransformContext) throws -> Table {
        var t = table
        for (d, e) in zip(columns, try expressions()) {
            t = t.replacing(d.name, with: .float64(try e.evaluate(t)))
        }
        for c in drop { _ = try t.requireColumn(c, for: "\(Self.transformerName) (drop)") }
        return t.removing(Set(drop))
    }

    public func summary() -> [String] {
        columns.map { "\($0.name) = \($0.expression)" } + (drop.isEmpty ? [] : ["drop: \(drop.joined(separator: ", "))"])
    }
}
