import Foundation
import SwiftMPI

// Categorical encoders: fixed categories, one-hot and ordinal codes. A categorical column's
// codes are local to the rows that were read together (a rank's shard, a streaming chunk), so
// every encoder learns and applies categories by their string values: fitting merges the
// ranks' distinct values and counts by string (one allgather), and transforming maps each
// distinct value of the chunk's dictionary once, then the codes.

/// The key a value of an encoded column has: a categorical value's string, or a number as
/// Python prints a float (`5.0`, `0.25`), so numeric columns can be one-hot encoded too.
enum CategoryKey {
    static func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e16 ? String(format: "%.1f", v) : "\(v)"
    }

    /// Per row, the index into `keys` of the row's value (−1 if missing), and the keys (the
    /// column's distinct values as strings).
    static func rows(_ values: ColumnValues) -> (codes: [Int32], keys: [String], numeric: Bool) {
        switch values {
        case .categorical(let codes, let dict):
            return (codes, dict.values, false)
        case .datetime(let s):
            var index: [Int64: Int32] = [:], keys: [String] = []
            let codes = s.map { v -> Int32 in
                if v == .min { return -1 }
                if let c = index[v] { return c }
                let c = Int32(keys.count)
                index[v] = c
                keys.append(ISODatetime.format(v))
                return c
            }
            return (codes, keys, false)
        default:
            var index: [UInt64: Int32] = [:], keys: [String] = []
            var codes = [Int32](repeating: -1, count: values.count)
            for i in 0 ..< values.count {
                let v = values.double(at: i)
                if v.isNaN { continue }
                let bits = (v == 0 ? 0.0 : v).bitPattern
                if let c = index[bits] { codes[i] = c; continue }
                let c = Int32(keys.count)
                index[bits] = c
                keys.append(number(v))
                codes[i] = c
            }
            return (codes, keys, true)
        }
    }

    /// Orders keys as scikit-learn's `np.unique` does: numbers numerically, strings by code point.
    static func sorted(_ keys: [String], numeric: Bool) -> [String] {
        numeric ? keys.sorted { Double($0)! < Double($1)! } : keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}

/// Global counts of each distinct value of some columns, merged by value across ranks.
struct CategoryCounts: Codable {
    var keys: [String]
    var counts: [Int]
    var missing: Int
    var numeric: Bool

    /// This rank's counts of `values`.
    init(local values: ColumnValues) {
        let (codes, keys, numeric) = CategoryKey.rows(values)
        var counts = [Int](repeating: 0, count: keys.count)
        var missing = 0
        for c in codes { if c < 0 { missing += 1 } else { counts[Int(c)] += 1 } }
        let used = keys.indices.filter { counts[$0] > 0 }
        self.keys = used.map { keys[$0] }
        self.counts = used.map { counts[$0] }
        self.missing = missing
        self.numeric = numeric
    }

    init(keys: [String], counts: [Int], missing: Int, numeric: Bool) {
        self.keys = keys
        self.counts = counts
        self.missing = missing
        self.numeric = numeric
    }

    /// Collective. The counts of each column over every rank, keys sorted (see ``CategoryKey/sorted(_:numeric:)``).
    static func global(_ columns: [ColumnValues], comm: any Communicator) throws -> [CategoryCounts] {
        let local = columns.map(CategoryCounts.init(local:))
        let all = try comm.allgatherObject(local)
        return columns.indices.map { j in
            var total: [String: Int] = [:]
            var missing = 0
            let numeric = all.allSatisfy { $0[j].numeric }
            for r in all {
                for (k, n) in zip(r[j].keys, r[j].counts) { total[k, default: 0] += n }
                missing += r[j].missing
            }
            let keys = CategoryKey.sorted(Array(total.keys), numeric: numeric)
            return CategoryCounts(keys: keys, counts: keys.map { total[$0]! }, missing: missing, numeric: numeric)
        }
    }
}

/// The columns an encoder works on: those named, or every categorical column.
func encoderColumns(_ names: [String]?, _ table: Table, step: String) throws -> [String] {
    if let names {
        for n in names { _ = try table.requireColumn(n, for: step) }
        return names
    }
    return table.categoricalColumnNames
}

/// Checks that every column named in a `categories` mapping is one the step encodes.
func checkCategoryMapping(_ categories: [String: [String]]?, columns: [String], step: String) throws {
    for name in (categories ?? [:]).keys.sorted() where !columns.contains(name) {
        throw MPILearnError.invalidParameter(name: "\(step).categories", value: "'\(name)'",
                                             allowed: "columns the step encodes: \(listPreview(columns))")
    }
}

/// For each distinct value of a chunk's column (its keys), its index in `categories`, or −1.
func categoryIndex(_ keys: [String], _ categories: [String], numeric: Bool) -> [Int32] {
    var index: [String: Int32] = [:]
    for (i, c) in categories.enumerated() { index[numeric ? CategoryKey.number(Double(c) ?? .nan) : c] = Int32(i) }
    return keys.map { index[$0] ?? -1 }
}

// MARK: - CategoricalEncoder

/// Fixes a categorical column's categories: the output is the column coded against one
/// dictionary (learned from every rank's values, or given), so a learner that reads
/// categories (a forest's categorical splits) sees the same codes at training and prediction.
///
/// A value outside the categories becomes missing (`handle_unknown: missing`, which trees
/// send the way missing values go) or stops the job naming the value, file and line (`error`).
public struct CategoricalEncoder: TableTransformer {
    public static let transformerName = "categorical-encoder"
    /// Columns to encode; nil: every categorical column.
    public var columns: [String]?
    /// Fixed categories per column; columns not listed learn theirs (sorted distinct values).
    public var categories: [String: [String]]?
    /// `missing` or `error`.
    public var handleUnknown: String = "missing"

    enum CodingKeys: String, CodingKey { case columns, categories, handleUnknown = "handle_unknown" }

    public init(columns: [String]? = nil, categories: [String: [String]]? = nil, handleUnknown: String = "missing") {
        self.columns = columns
        self.categories = categories
        self.handleUnknown = handleUnknown
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        columns = try c.decodeIfPresent([String].self, forKey: .columns)
        categories = try c.decodeIfPresent([String: [String]].self, forKey: .categories)
        handleUnknown = try c.decodeIfPresent(String.self, forKey: .handleUnknown) ?? "missing"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if let columns { try c.encode(columns, forKey: .columns) } else { try c.encodeNil(forKey: .columns) }
        if let categories { try c.encode(categories, forKey: .categories) } else { try c.encodeNil(forKey: .categories) }
        try c.encode(handleUnknown, forKey: .handleUnknown)
    }

    public func validate() throws {
        try require(["missing", "error"].contains(handleUnknown), "\(Self.transformerName).handle_unknown", handleUnknown, "missing or error")
    }

    public func fit(_ table: Table, comm: any Communicator) throws -> Fitted {
        try validate()
        let names = try encoderColumns(columns, table, step: Self.transformerName)
        try checkCategoryMapping(categories, columns: names, step: Self.transformerName)
        let counts = try CategoryCounts.global(names.map { table.columns[try table.requireColumn($0, for: Self.transformerName)].values }, comm: comm)
        var learned: [[String]] = []
        for (j, name) in names.enumerated() {
            if let fixed = categories?[name] {
                if handleUnknown == "error", let unknown = counts[j].keys.first(where: { !fixed.contains($0) }) {
                    throw MPILearnError.invalidParameter(name: "\(Self.transformerName).categories[\(name)]", value: "\(listPreview(fixed))",
                                                         allowed: "a list holding every value of the training data: '\(unknown)' is not in it (or handle_unknown: missing)")
                }
                learned.append(fixed)
            } else {
                learned.append(counts[j].keys)
            }
        }
        return Fitted(columns: names, categories: learned, handleUnknown: handleUnknown)
    }

    public struct Fitted: FittedTableTransformer {
        public var columns: [String]
        /// `categories_`: per column, its categories in code order.
        public var categories: [[String]]
        public var handleUnknown: String

        public func transform(_ table: Table, context: TransformContext) throws -> Table {
            var out = table
            for (j, name) in columns.enumerated() {
                let k = try table.requireColumn(name, for: CategoricalEncoder.transformerName)
                let (codes, keys, numeric) = CategoryKey.rows(table.columns[k].values)
                let map = categoryIndex(keys, categories[j], numeric: numeric)
                var result = [Int32](repeating: -1, count: codes.count)
                for (i, c) in codes.enumerated() where c >= 0 {
                    let m = map[Int(c)]
                    if m < 0 && handleUnknown == "error" {
                        throw context.error(row: i, of: table, column: name,
                                            "category '\(keys[Int(c)])' was not seen in training (\(listPreview(categories[j]))); handle_unknown is error")
                    }
                    result[i] = m
                }
                out.columns[k].values = .categorical(result, CategoryDictionary(sortedUnique: categories[j]))
            }
            return out
        }

        public func summary() -> [String] {
            zip(columns, categories).map { "\($0): \($1.count) categories (\(listPreview($1, limit: 8)))" }
        }
    }
}

// MARK: - OneHotEncoder

/// scikit-learn's `OneHotEncoder` with dense output: each encoded column becomes one 0/1
/// column per category, named `<column>_<category>` (scikit-learn's `get_feature_names_out`),
/// placed where the column was.
///
/// - `categories`: learned (every rank's distinct values, sorted as `np.unique` sorts them) or
///   fixed per column. A missing value seen in training is a category of its own, `nan`, last
///   (as scikit-learn treats `NaN`/`None`).
/// - `drop`: `first` drops each column's first category, `if_binary` only for columns with two
///   categories; nil keeps all.
/// - `handle_unknown`: `error` stops at a value never seen in training (naming the value, file
///   and line); `ignore` encodes it as all zeros; `infrequent_if_exist` sends it to the
///   infrequent category when there is one.
/// - `min_frequency`: categories seen fewer times (a count ≥ 1, or a fraction of the rows
///   below 1) are grouped into one `<column>_infrequent_sklearn` column, placed last.
public struct OneHotEncoder: TableTransformer {
    public static let transformerName = "one-hot-encoder"
    public var columns: [String]?
    public var categories: [String: [String]]?
    public var drop: String?
    public var handleUnknown: String = "error"
    public var minFrequency: Double?

    enum CodingKeys: String, CodingKey {
        case columns, categories, drop
        case handleUnknown = "handle_unknown", minFrequency = "min_frequency"
    }

    public init(columns: [String]? = nil, categories: [String: [String]]? = nil, drop: String? = nil,
                handleUnknown: String = "error", minFrequency: Double? = nil) {
        self.columns = columns
        self.categories = categories
        self.drop = drop
        self.handleUnknown = handleUnknown
        self.minFrequency = minFrequency
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        columns = try c.decodeIfPresent([String].self, forKey: .columns)
        categories = try c.decodeIfPresent([String: [String]].self, forKey: .categories)
        drop = try c.decodeIfPresent(String.self, forKey: .drop)
        if drop?.lowercased() == "none" { drop = nil }
        handleUnknown = try c.decodeIfPresent(String.self, forKey: .handleUnknown) ?? "error"
        minFrequency = try c.decodeIfPresent(Double.self, forKey: .minFrequency)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if let columns { try c.encode(columns, forKey: .columns) } else { try c.encodeNil(forKey: .columns) }
        if let categories { try c.encode(categories, forKey: .categories) } else { try c.encodeNil(forKey: .categories) }
        if let drop { try c.encode(drop, forKey: .drop) } else { try c.encodeNil(forKey: .drop) }
        try c.encode(handleUnknown, forKey: .handleUnknown)
        if let minFrequency { try c.encode(minFrequency, forKey: .minFrequency) } else { try c.encodeNil(forKey: .minFrequency) }
    }

    public func validate() throws {
        let name = Self.transformerName
        if let drop { try require(["first", "if_binary"].contains(drop), "\(name).drop", drop, "none, first or if_binary") }
        try require(["error", "ignore", "infrequent_if_exist"].contains(handleUnknown), "\(name).handle_unknown", handleUnknown,
                    "error, ignore or infrequent_if_exist")
        if let m = minFrequency { try require(m > 0 && m.isFinite, "\(name).min_frequency", m, "a count >= 1 or a fraction in (0, 1)") }
    }

    public func fit(_ table: Table, comm: any Communicator) throws -> Fitted {
        try validate()
        let name = Self.transformerName
        let names = try encoderColumns(columns, table, step: name)
        try checkCategoryMapping(categories, columns: names, step: name)
        let counts = try CategoryCounts.global(names.map { table.columns[try table.requireColumn($0, for: name)].values }, comm: comm)
        var encoded: [Fitted.Encoded] = []
        for (j, column) in names.enumerated() {
            let c = counts[j]
            var cats: [String]
            var freq: [Int]
            if let fixed = categories?[column] {
                if handleUnknown == "error", let unknown = c.keys.first(where: { !fixed.contains($0) }) {
                    throw MPILearnError.invalidParameter(name: "\(name).categories[\(column)]", value: listPreview(fixed),
                                                         allowed: "a list holding every value of the training data: '\(unknown)' is not in it (or handle_unknown: ignore)")
                }
                cats = fixed
                freq = fixed.map { v in c.keys.firstIndex(of: v).map { c.counts[$0] } ?? 0 }
            } else {
                cats = c.keys
                freq = c.counts
            }
            let missingIsCategory = c.missing > 0 && categories?[column] == nil
            if missingIsCategory { cats.append("nan"); freq.append(c.missing) }
            // Infrequent categories (scikit-learn's min_frequency).
            var infrequent: [Bool] = Array(repeating: false, count: cats.count)
            if let m = minFrequency {
                let total = freq.reduce(0, +)
                let threshold = m >= 1 ? m : m * Double(total)
                infrequent = freq.map { Double($0) < threshold }
                if infrequent.filter({ $0 }).count < 1 { infrequent = Array(repeating: false, count: cats.count) }
            }
            let frequent = cats.indices.filter { !infrequent[$0] }
            var outputs = frequent.map { "\(column)_\(cats[$0])" }
            let hasInfrequent = infrequent.contains(true)
            if hasInfrequent { outputs.append("\(column)_infrequent_sklearn") }
            // Output slot of each category.
            var slot = [Int32](repeating: -1, count: cats.count)
            for (o, k) in frequent.enumerated() { slot[k] = Int32(o) }
            for k in cats.indices where infrequent[k] { slot[k] = Int32(frequent.count) }
            // drop: the first output column, or for two outputs only (if_binary).
            var dropped = -1
            if drop == "first" || (drop == "if_binary" && outputs.count == 2) { dropped = 0 }
            if dropped >= 0 {
                outputs.remove(at: dropped)
                for k in slot.indices { slot[k] = slot[k] == Int32(dropped) ? -2 : slot[k] > Int32(dropped) ? slot[k] - 1 : slot[k] }
            }
            let infrequentSlot = cats.indices.first { infrequent[$0] }.map { Int(slot[$0]) } ?? -1
            encoded.append(Fitted.Encoded(column: column, categories: cats, numeric: c.numeric, missingIsCategory: missingIsCategory,
                                          slots: slot.map(Int.init), outputs: outputs, infrequentSlot: infrequentSlot))
        }
        return Fitted(encoded: encoded, handleUnknown: handleUnknown)
    }

    public struct Fitted: FittedTableTransformer {
        public struct Encoded: Codable, Sendable {
            public var column: String
            /// `categories_` of this column (with `nan` last when missing values were seen).
            public var categories: [String]
            public var numeric: Bool
            public var missingIsCategory: Bool
            /// Per category, its output column; −2 if dropped.
            public var slots: [Int]
            /// Output column names.
            public var outputs: [String]
            /// The output column of the infrequent categories (−1 none, −2 dropped).
            public var infrequentSlot: Int
        }

        public var encoded: [Encoded]
        public var handleUnknown: String

        public func transform(_ table: Table, context: TransformContext) throws -> Table {
            var out = table
            for e in encoded {
                let k = try table.requireColumn(e.column, for: OneHotEncoder.transformerName)
                let (codes, keys, _) = CategoryKey.rows(table.columns[k].values)
                let known = Array(e.categories.prefix(e.missingIsCategory ? e.categories.count - 1 : e.categories.count))
                let index = categoryIndex(keys, known, numeric: e.numeric)
                let missingSlot = e.missingIsCategory ? e.slots[e.categories.count - 1] : -1
                let width = e.outputs.count, n = table.rowCount
                var columns = [[Double]](repeating: [Double](repeating: 0, count: n), count: width)
                // The output slot of each of the chunk's distinct values (−1 unknown, −2 dropped).
                let slotOfKey = index.map { $0 < 0 ? -1 : e.slots[Int($0)] }
                for i in 0 ..< n {
                    let c = codes[i]
                    var s: Int
                    if c < 0 {
                        s = missingSlot
                        if !e.missingIsCategory {
                            if handleUnknown == "error" {
                                throw context.error(row: i, of: table, column: e.column,
                                                    "a missing value, never seen in training (handle_unknown is error; impute it first, or use handle_unknown: ignore)")
                            }
                            continue
                        }
                    } else {
                        s = slotOfKey[Int(c)]
                        if index[Int(c)] < 0 {
                            switch handleUnknown {
                            case "error":
                                throw context.error(row: i, of: table, column: e.column,
                                                    "category '\(keys[Int(c)])' was not seen in training (\(listPreview(known))); handle_unknown is error")
                            case "infrequent_if_exist" where e.infrequentSlot != -1:
                                s = e.infrequentSlot
                            default:
                                continue
                            }
                        }
                    }
                    if s >= 0 { columns[s][i] = 1 }
                }
                let new = zip(e.outputs, columns).map { Column(name: $0, values: .float64($1)) }
                let at = out.columns.firstIndex { $0.name == e.column }!
                out.columns.replaceSubrange(at ... at, with: new)
            }
            return out
        }

        public func summary() -> [String] {
            encoded.map { "\($0.column) → \($0.outputs.count) columns (\(listPreview($0.outputs, limit: 6)))" }
        }
    }
}

// MARK: - OrdinalEncoder

/// scikit-learn's `OrdinalEncoder`: each encoded column becomes its category's index (a
/// float64 column of the same name). Categories are learned (sorted distinct values over
/// every rank) or fixed; a missing value becomes `encoded_missing_value` (NaN by default); an
/// unknown value stops the job (`handle_unknown: error`, naming value, file and line) or
/// becomes `unknown_value` (`use_encoded_value`).
public struct OrdinalEncoder: TableTransformer {
    public static let transformerName = "ordinal-encoder"
    public var columns: [String]?
    public var categories: [String: [String]]?
    public var handleUnknown: String = "error"
    public var unknownValue: Double?
    public var encodedMissingValue: Double = .nan

    enum CodingKeys: String, CodingKey {
        case columns, categories
        case handleUnknown = "handle_unknown", unknownValue = "unknown_value", encodedMissingValue = "encoded_missing_value"
    }

    public init(columns: [String]? = nil, categories: [String: [String]]? = nil, handleUnknown: String = "error",
                unknownValue: Double? = nil, encodedMissingValue: Double = .nan) {
        self.columns = columns
        self.categories = categories
        self.handleUnknown = handleUnknown
        self.unknownValue = unknownValue
        self.encodedMissingValue = encodedMissingValue
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        columns = try c.decodeIfPresent([String].self, forKey: .columns)
        categories = try c.decodeIfPresent([String: [String]].self, forKey: .categories)
        handleUnknown = try c.decodeIfPresent(String.self, forKey: .handleUnknown) ?? "error"
        unknownValue = try c.decodeIfPresent(Double.self, forKey: .unknownValue)
        encodedMissingValue = try c.decodeIfPresent(Double.self, forKey: .encodedMissingValue) ?? .nan
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if let columns { try c.encode(columns, forKey: .columns) } else { try c.encodeNil(forKey: .columns) }
        if let categories { try c.encode(categories, forKey: .categories) } else { try c.encodeNil(forKey: .categories) }
        try c.encode(handleUnknown, forKey: .handleUnknown)
        if let unknownValue { try c.encode(unknownValue, forKey: .unknownValue) } else { try c.encodeNil(forKey: .unknownValue) }
        try c.encode(encodedMissingValue, forKey: .encodedMissingValue)
    }

    public func validate() throws {
        let name = Self.transformerName
        try require(["error", "use_encoded_value"].contains(handleUnknown), "\(name).handle_unknown", handleUnknown, "error or use_encoded_value")
        if handleUnknown == "use_encoded_value" {
            try require(unknownValue != nil, "\(name).unknown_value", "null", "a number (required with handle_unknown: use_encoded_value)")
        }
    }

    public func fit(_ table: Table, comm: any Communicator) throws -> Fitted {
        try validate()
        let name = Self.transformerName
        let names = try encoderColumns(columns, table, step: name)
        try checkCategoryMapping(categories, columns: names, step: name)
        let counts = try CategoryCounts.global(names.map { table.columns[try table.requireColumn($0, for: name)].values }, comm: comm)
        var learned: [[String]] = []
        for (j, column) in names.enumerated() {
            if let fixed = categories?[column] {
                if handleUnknown == "error", let unknown = counts[j].keys.first(where: { !fixed.contains($0) }) {
                    throw MPILearnError.invalidParameter(name: "\(name).categories[\(column)]", value: listPreview(fixed),
                                                         allowed: "a list holding every value of the training data: '\(unknown)' is not in it")
                }
                learned.append(fixed)
            } else {
                learned.append(counts[j].keys)
            }
        }
        if let u = unknownValue, !u.isNaN, let j = learned.indices.first(where: { Double(learned[$0].count) > u && u >= 0 && u == u.rounded() }) {
            throw MPILearnError.invalidParameter(name: "\(name).unknown_value", value: "\(u)",
                                                 allowed: "a value that is not the code of a category of \(names[j]) (0...\(learned[j].count - 1)), e.g. -1 or nan")
        }
        return Fitted(columns: names, categories: learned, numeric: counts.map(\.numeric), handleUnknown: handleUnknown,
                      unknownValue: unknownValue ?? .nan, encodedMissingValue: encodedMissingValue)
    }

    public struct Fitted: FittedTableTransformer {
        public var columns: [String]
        public var categories: [[String]]
        public var numeric: [Bool]
        public var handleUnknown: String
        public var unknownValue: Double
        public var encodedMissingValue: Double

        public func transform(_ table: Table, context: TransformContext) throws -> Table {
            var out = table
            for (j, name) in columns.enumerated() {
                let k = try table.requireColumn(name, for: OrdinalEncoder.transformerName)
                let (codes, keys, _) = CategoryKey.rows(table.columns[k].values)
                let map = categoryIndex(keys, categories[j], numeric: numeric[j])
                var result = [Double](repeating: encodedMissingValue, count: codes.count)
                for (i, c) in codes.enumerated() where c >= 0 {
                    let m = map[Int(c)]
                    if m < 0 {
                        if handleUnknown == "error" {
                            throw context.error(row: i, of: table, column: name,
                                                "category '\(keys[Int(c)])' was not seen in training (\(listPreview(categories[j]))); handle_unknown is error")
                        }
                        result[i] = unknownValue
                    } else {
                        result[i] = Double(m)
                    }
                }
                out.columns[k].values = .float64(result)
            }
            return out
        }

        public func summary() -> [String] {
            zip(columns, categories).map { "\($0): \($1.count) categories (\(listPreview($1, limit: 8)))" }
        }
    }
}
