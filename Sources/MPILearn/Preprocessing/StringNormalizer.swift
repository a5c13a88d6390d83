import Foundation
import SwiftMPI

/// The `normalize-strings` step: messy category strings made one category (`CASH`, `Cash`,
/// ` cash ` become `cash`).
///
/// Each value of a categorical column is, in order: stripped of leading and trailing
/// whitespace (``strip``), its inner runs of whitespace made one space
/// (``collapseWhitespace``), lowercased (``lowercase``), then replaced through ``mapping``
/// if it is a key there. The mapping's keys are normalised by the same rules when the step is
/// made, so `{"American Airlines": "AA"}` matches `american airlines  ` under the defaults;
/// its values are used as written. The column stays categorical: its dictionary is the
/// normalised distinct values, sorted by UTF-8 bytes (as ``CategoryDictionary/init(_:)``
/// does), and the codes are remapped. Missing stays missing; a value that becomes empty is
/// the category `""`, not missing.
///
/// Each distinct value is normalised once per chunk of rows (the dictionary may be local to
/// the chunk). Nothing is learned; with ``columns`` nil, fit fixes the list to the table's
/// categorical columns, so every later chunk normalises the same columns.
public struct StringNormalizer: TableTransformer, FittedTableTransformer, Equatable {
    public typealias Fitted = StringNormalizer
    public static let transformerName = "normalize-strings"

    /// The categorical columns (nil: every categorical column of the table fit sees).
    public var columns: [String]?
    public var lowercase: Bool
    public var strip: Bool
    public var collapseWhitespace: Bool
    /// Normalised value → replacement.
    public var mapping: [String: String]

    public init(columns: [String]? = nil, lowercase: Bool = true, strip: Bool = true, collapseWhitespace: Bool = false,
                mapping: [String: String] = [:]) {
        self.columns = columns
        self.lowercase = lowercase
        self.strip = strip
        self.collapseWhitespace = collapseWhitespace
        self.mapping = mapping
    }

    enum CodingKeys: String, CodingKey {
        case columns, lowercase, strip, mapping
        case collapseWhitespace = "collapse_whitespace"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = StringNormalizer()
        columns = try c.decodeIfPresent([String].self, forKey: .columns)
        lowercase = try c.decodeIfPresent(Bool.self, forKey: .lowercase) ?? d.lowercase
        strip = try c.decodeIfPresent(Bool.self, forKey: .strip) ?? d.strip
        collapseWhitespace = try c.decodeIfPresent(Bool.self, forKey: .collapseWhitespace) ?? d.collapseWhitespace
        mapping = try c.decodeIfPresent([String: String].self, forKey: .mapping) ?? d.mapping
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if let columns { try c.encode(columns, forKey: .columns) } else { try c.encodeNil(forKey: .columns) }
        try c.encode(lowercase, forKey: .lowercase)
        try c.encode(strip, forKey: .strip)
        try c.encode(collapseWhitespace, forKey: .collapseWhitespace)
        try c.encode(mapping, forKey: .mapping)
    }

    public func validate() throws {
        if let columns, let dup = firstDuplicate(columns) {
            throw MPILearnError.invalidParameter(name: "\(Self.transformerName).columns", value: "'\(dup)'", allowed: "each column once")
        }
        _ = try normalizedMapping()
    }

    /// The mapping with its keys normalised.
    /// - Throws: ``MPILearnError/invalidParameter`` if two keys normalise to one with different values.
    func normalizedMapping() throws -> [String: String] {
        var out: [String: String] = [:]
        for key in mapping.keys.sorted() {
            let k = normalizeBase(key), v = mapping[key]!
            if let old = out[k], old != v {
                throw MPILearnError.invalidParameter(name: "\(Self.transformerName).mapping", value: "'\(key)'",
                                                     allowed: "keys that stay distinct once normalised ('\(k)' maps to both '\(old)' and '\(v)')")
            }
            out[k] = v
        }
        return out
    }

    /// `value` stripped, collapsed and lowercased as the parameters say (no mapping).
    func normalizeBase(_ value: String) -> String {
        var s = value
        if strip { s = s.trimmingCharacters(in: .whitespacesAndNewlines) }
        if collapseWhitespace {
            var out = ""
            out.reserveCapacity(s.utf8.count)
            var inSpace = false
            for ch in s {
                if ch.isWhitespace {
                    if !inSpace { out.append(" ") }
                    inSpace = true
                } else {
                    out.append(ch)
                    inSpace = false
                }
            }
            s = out
        }
        if lowercase { s = s.lowercased() }
        return s
    }

    /// `value` normalised: the rules, then the mapping.
    public func normalize(_ value: String) throws -> String {
        let s = normalizeBase(value)
        return try normalizedMapping()[s] ?? s
    }

    /// Fixes the columns (nil: the table's categorical columns) and checks they are categorical.
    public func fit(_ table: Table, comm: any Communicator) throws -> StringNormalizer {
        try validate()
        var fitted = self
        fitted.columns = columns ?? table.categoricalColumnNames
        try check(table, columns: fitted.columns!)
        return fitted
    }

    private func check(_ table: Table, columns: [String]) throws {
        for name in columns {
            let c = table.columns[try table.requireColumn(name, for: Self.transformerName)]
            guard case .categorical = c.values else {
                throw MPILearnError.mismatch("\(Self.transformerName): column '\(name)' is \(c.values.columnType.rawValue), not categorical")
            }
        }
    }

    public func transform(_ table: Table, context: TransformContext) throws -> Table {
        let names = columns ?? table.categoricalColumnNames
        try check(table, columns: names)
        let map = try normalizedMapping()
        var t = table
        for name in names {
            let j = try t.requireColumn(name, for: Self.transformerName)
            guard case .categorical(let codes, let dict) = t.columns[j].values else { continue }
            let normalized = dict.values.map { v -> String in
                let s = normalizeBase(v)
                return map[s] ?? s
            }
            let newDict = CategoryDictionary(normalized)
            let onto = normalized.map { newDict.code(of: $0)! }
            let out = [Int32](unsafeUninitializedCapacity: codes.count) { out, k in
                codes.withUnsafeBufferPointer { c in onto.withUnsafeBufferPointer { m in
                    for i in 0 ..< c.count { out[i] = c[i] < 0 ? -1 : m[Int(c[i])] }
                } }
                k = codes.count
            }
            t.columns[j].values = .categorical(out, newDict)
        }
        return t
    }

    public func summary() -> [String] {
        var lines = ["columns: \(columns.map { $0.joined(separator: ", ") } ?? "every categorical column")",
                     "lowercase: \(lowercase), strip: \(strip), collapse_whitespace: \(collapseWhitespace)"]
        if !mapping.isEmpty {
            lines.append("mapping: " + mapping.keys.sorted().map { "'\($0)' → '\(mapping[$0]!)'" }.joined(separator: ", "))
        }
        return lines
    }
}
