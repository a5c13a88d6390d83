/// The sorted distinct values of a categorical column; a value's code is its index.
///
/// Built globally (every rank's distinct values are allgathered and sorted), so the code of
/// "UA" is the same on every rank and for any number of ranks.
public struct CategoryDictionary: Codable, Equatable, Sendable {
    /// Distinct values in code order (sorted by UTF-8 bytes).
    public private(set) var values: [String]
    private var index: [String: Int32]

    public init(sortedUnique values: [String]) {
        self.values = values
        var idx: [String: Int32] = [:]
        idx.reserveCapacity(values.count)
        for (i, v) in values.enumerated() { idx[v] = Int32(i) }
        index = idx
    }

    /// A dictionary of the distinct `values`, sorted.
    public init<S: Sequence>(_ values: S) where S.Element == String {
        self.init(sortedUnique: Array(Set(values)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
    }

    /// The code of `value`, or nil if it is not in the dictionary (see ``UnseenCategoryPolicy``).
    public func code(of value: String) -> Int32? { index[value] }

    public var count: Int { values.count }

    enum CodingKeys: String, CodingKey { case values }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(sortedUnique: try c.decode([String].self, forKey: .values))
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(values, forKey: .values)
    }
}

/// What happens to a category seen at predict time but not in training.
public enum UnseenCategoryPolicy: String, Codable, Sendable, CaseIterable {
    /// Treated as missing (code −1): trees send it the way missing values go.
    case missing
    /// An error naming the value, file, line and column.
    case error
}

/// One column of a table shard.
public enum ColumnValues: Sendable {
    /// 64-bit floats; missing is NaN.
    case float64([Double])
    /// 32-bit floats; missing is NaN.
    case float32([Float])
    /// Codes into a global dictionary; missing is −1.
    case categorical([Int32], CategoryDictionary)
    /// Seconds since 1970-01-01T00:00:00Z; missing is `Int64.min`.
    case datetime([Int64])

    public var count: Int {
        switch self {
        case .float64(let v): return v.count
        case .float32(let v): return v.count
        case .categorical(let v, _): return v.count
        case .datetime(let v): return v.count
        }
    }

    /// Element `i` as a Double (codes for categories, seconds for datetimes; NaN if missing).
    @inlinable
    public func double(at i: Int) -> Double {
        switch self {
        case .float64(let v): return v[i]
        case .float32(let v): return Double(v[i])
        case .categorical(let v, _): return v[i] < 0 ? .nan : Double(v[i])
        case .datetime(let v): return v[i] == Int64.min ? .nan : Double(v[i])
        }
    }
}

/// A named column.
public struct Column: Sendable {
    public var name: String
    public var values: ColumnValues
    public init(name: String, values: ColumnValues) {
        self.name = name
        self.values = values
    }
}

/// One rank's shard of a column-oriented table.
///
/// Rows are a contiguous block of the global table: row `i` here is global row
/// `globalRowStart + i`, which keys every random stream so results do not depend on the
/// number of ranks.
public struct Table: Sendable {
    public var columns: [Column]
    /// Rows in this shard.
    public var rowCount: Int
    /// Global index of this shard's first row.
    public var globalRowStart: Int
    /// Rows over all ranks.
    public var globalRowCount: Int

    public init(columns: [Column], rowCount: Int, globalRowStart: Int, globalRowCount: Int) {
        precondition(columns.allSatisfy { $0.values.count == rowCount }, "Table: column lengths differ from rowCount \(rowCount)")
        self.columns = columns
        self.rowCount = rowCount
        self.globalRowStart = globalRowStart
        self.globalRowCount = globalRowCount
    }

    public var columnNames: [String] { columns.map(\.name) }

    /// The column called `name`.
    /// - Throws: ``MPILearnError/invalidParameter`` listing the available columns.
    public func column(named name: String) throws -> Column {
        guard let c = columns.first(where: { $0.name == name }) else {
            throw MPILearnError.invalidParameter(name: "column", value: "'\(name)'", allowed: "one of \(listPreview(columnNames))")
        }
        return c
    }

    /// The named columns as a row-major matrix (categorical columns as their codes, missing
    /// as NaN; datetimes as seconds).
    public func matrix<T: LinearAlgebraScalar>(_ type: T.Type = T.self, columns names: [String]) throws -> Matrix<T> {
        let cols = try names.map { try column(named: $0) }
        var m = Matrix<T>(rows: rowCount, columns: cols.count)
        let d = cols.count, n = rowCount
        m.storage.withUnsafeMutableBufferPointer { out in
            // Blocks of rows, so the block's rows stay in cache while each column is scattered in.
            let block = 512
            var start = 0
            while start < n {
                let end = min(n, start + block)
                for (j, c) in cols.enumerated() {
                    switch c.values {
                    case .float64(let v):
                        v.withUnsafeBufferPointer { src in for i in start ..< end { out[i * d + j] = T(src[i]) } }
                    case .float32(let v):
                        v.withUnsafeBufferPointer { src in for i in start ..< end { out[i * d + j] = T(src[i]) } }
                    default: for i in start ..< end { out[i * d + j] = T(c.values.double(at: i)) }
                    }
                }
                start = end
            }
        }
        return m
    }
}
