import Foundation
import SwiftMPI

/// The `select` step: keeps the named columns, in the order named (``columns``), or removes
/// the named columns (``drop``). Exactly one of the two is given. A named column the input
/// lacks is an error naming it and listing the input's columns, at fit and at every transform.
/// Nothing is learned.
public struct ColumnSelector: TableTransformer, FittedTableTransformer, Equatable {
    public typealias Fitted = ColumnSelector
    public static let transformerName = "select"

    /// The columns to keep, in this order.
    public var columns: [String]?
    /// The columns to remove.
    public var drop: [String]?

    public init(columns: [String]? = nil, drop: [String]? = nil) {
        self.columns = columns
        self.drop = drop
    }

    enum CodingKeys: String, CodingKey { case columns, drop }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        columns = try c.decodeIfPresent([String].self, forKey: .columns)
        drop = try c.decodeIfPresent([String].self, forKey: .drop)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if let columns { try c.encode(columns, forKey: .columns) } else { try c.encodeNil(forKey: .columns) }
        if let drop { try c.encode(drop, forKey: .drop) } else { try c.encodeNil(forKey: .drop) }
    }

    public func validate() throws {
        let name = Self.transformerName
        switch (columns, drop) {
        case (nil, nil):
            throw MPILearnError.invalidParameter(name: "\(name).columns", value: "null", allowed: "a list of columns to keep, or drop: a list of columns to remove")
        case (.some(let keep), .some(let remove)):
            throw MPILearnError.invalidParameter(name: "\(name).drop", value: "[\(remove.joined(separator: ", "))]",
                                                 allowed: "null when columns is given ([\(keep.joined(separator: ", "))]): one of columns and drop")
        case (.some(let keep), nil):
            if let dup = firstDuplicate(keep) {
                throw MPILearnError.invalidParameter(name: "\(name).columns", value: "'\(dup)'", allowed: "each column once")
            }
        case (nil, .some(let remove)):
            if let dup = firstDuplicate(remove) {
                throw MPILearnError.invalidParameter(name: "\(name).drop", value: "'\(dup)'", allowed: "each column once")
            }
        }
    }

    /// Checks the named columns exist.
    public func fit(_ table: Table, comm: any Communicator) throws -> ColumnSelector {
        try validate()
        _ = try transform(table, context: .memory("training data"))
        return self
    }

    public func transform(_ table: Table, context: TransformContext) throws -> Table {
        for name in (columns ?? drop ?? []) { _ = try table.requireColumn(name, for: Self.transformerName) }
        var t = table
        if let columns {
            t.columns = try columns.map { table.columns[try table.requireColumn($0, for: Self.transformerName)] }
        } else if let drop {
            t = t.removing(Set(drop))
        }
        return t
    }

    public func summary() -> [String] {
        if let columns { return ["keep: \(columns.joined(separator: ", "))"] }
        return ["drop: \((drop ?? []).joined(separator: ", "))"]
    }
}
