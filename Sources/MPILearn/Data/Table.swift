import CKernels
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
        m.storage.withUnsafeMutableBufferPointer { out in
            for (j, c) in cols.enumerated() {
                switch c.values {
                case .float64(let v): for i in 0 ..< rowCount { out[i * cols.count + j] = T(v[i]) }
                case .float32(let v): for i in 0 ..< rowCount { out[i * cols.count + j] = T(v[i]) }
                default: for i in 0 ..< rowCount { out[i * cols.count + j] = T(c.values.double(at: i)) }
                }
            }
        }
        return m
    }
}

/// Features and (optionally) a target for one rank's rows, ready for a learner.
public struct Dataset<T: LinearAlgebraScalar>: Sendable {
    /// Rows × features, row-major.
    public var features: Matrix<T>
    /// One target per row (class codes as Doubles for classification), if any.
    public var target: [Double]?
    /// The target's name (a column, or a derived spec like `arr_delay>15`).
    public var targetName: String
    /// Display names of the class labels, indexed by label value (a categorical target's
    /// dictionary, or `false`/`true`); nil when the labels are numbers that name themselves.
    public var classNames: [String]?
    /// Where the rows came from (a path or generator spec), recorded in models' provenance.
    public var source: String = ""
    public var featureNames: [String]
    /// For each feature, its category dictionary if the feature is categorical.
    public var categories: [CategoryDictionary?]
    /// Global index of this shard's first row, and rows over all ranks.
    public var globalRowStart: Int
    public var globalRowCount: Int

    public init(features: Matrix<T>, target: [Double]? = nil, featureNames: [String]? = nil,
                categories: [CategoryDictionary?]? = nil, globalRowStart: Int = 0, globalRowCount: Int? = nil,
                targetName: String = "target", classNames: [String]? = nil) {
        self.features = features
        self.target = target
        self.targetName = targetName
        self.classNames = classNames
        self.featureNames = featureNames ?? (0 ..< features.columns).map { "x\($0)" }
        self.categories = categories ?? Array(repeating: nil, count: features.columns)
        self.globalRowStart = globalRowStart
        self.globalRowCount = globalRowCount ?? features.rows
    }

    public var rowCount: Int { features.rows }
    public var featureCount: Int { features.columns }

    /// The rows at `indices` (local positions, in the given order) as a new dataset; the
    /// global row range is kept, since a subset is no longer one contiguous block.
    public func rows(_ indices: [Int]) -> Dataset<T> {
        let d = featureCount
        var m = Matrix<T>(rows: indices.count, columns: d)
        features.storage.withUnsafeBufferPointer { src in
            m.storage.withUnsafeMutableBufferPointer { dst in
                for (r, i) in indices.enumerated() {
                    precondition(i >= 0 && i < rowCount, "Dataset.rows: index \(i) is not a row of \(rowCount)")
                    for f in 0 ..< d { dst[r * d + f] = src[i * d + f] }
                }
            }
        }
        var out = self
        out.features = m
        out.target = target.map { t in indices.map { t[$0] } }
        out.globalRowStart = 0
        out.globalRowCount = indices.count
        return out
    }

    /// Calls `body` with the rows `rows` (local positions, in that order) a block of
    /// `blockRows` at a time, so a long row list is never copied whole.
    public func forEachBlock(of rows: [Int], blockRows: Int, _ body: (Dataset<T>) throws -> Void) rethrows {
        var start = 0
        while start < rows.count {
            let end = min(rows.count, start + max(1, blockRows))
            try body(self.rows(Array(rows[start ..< end])))
            start = end
        }
    }

    /// The name of each target value: the class name it indexes, or the number printed as
    /// an integer where it is one (the names a classifier's classes use).
    public func labelName(_ value: Double) -> String { ClassLabels.name(of: value, classNames: classNames) }
}

/// How class labels are named: the same rule in every fit, score and report.
public enum ClassLabels {
    /// `classNames[value]` when the value indexes the names, else the number (as an integer when it is one).
    public static func name(of value: Double, classNames: [String]?) -> String {
        if let classNames, value >= 0, let i = Int(exactly: value), i < classNames.count { return classNames[i] }
        return value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}

/// Features as separate columns, and (optionally) a target, for one rank's rows: a table's
/// columns handed to a learner that reads one feature at a time. A random forest bins each
/// column straight into its one-byte codes, so a shard is never held both as a table and
/// as a row-major matrix (``Dataset``).
public struct ColumnDataset: Sendable {
    /// One array of `rowCount` values per feature (categorical codes with NaN for missing).
    public var columns: [[Double]]
    public var rowCount: Int
    public var target: [Double]?
    public var targetName: String
    public var classNames: [String]?
    public var featureNames: [String]
    public var categories: [CategoryDictionary?]
    public var globalRowStart: Int
    public var globalRowCount: Int

    public init(columns: [[Double]], rows: Int, target: [Double]? = nil, featureNames: [String]? = nil,
                categories: [CategoryDictionary?]? = nil, globalRowStart: Int = 0, globalRowCount: Int? = nil,
                targetName: String = "target", classNames: [String]? = nil) {
        precondition(columns.allSatisfy { $0.count == rows }, "ColumnDataset: column lengths differ from \(rows) rows")
        self.columns = columns
        self.rowCount = rows
        self.target = target
        self.targetName = targetName
        self.classNames = classNames
        self.featureNames = featureNames ?? (0 ..< columns.count).map { "x\($0)" }
        self.categories = categories ?? Array(repeating: nil, count: columns.count)
        self.globalRowStart = globalRowStart
        self.globalRowCount = globalRowCount ?? rows
    }

    public var featureCount: Int { columns.count }

    /// The rows as a row-major ``Dataset`` (the features copied).
    public func dataset() -> Dataset<Double> {
        Dataset(features: matrix(), target: target, featureNames: featureNames, categories: categories,
                globalRowStart: globalRowStart, globalRowCount: globalRowCount, targetName: targetName, classNames: classNames)
    }

    /// The rows as a row-major ``Dataset`` without holding the data twice (when nothing else
    /// holds the columns): each column is appended to one buffer, column after column, and
    /// released; then the buffer is transposed in place (cycle following, one bit per value
    /// of scratch). The peak is the data plus one column, not twice the data.
    public consuming func intoDataset() -> Dataset<Double> {
        let d = columns.count, n = rowCount
        var cols = columns
        columns = []
        let storage = [Double](unsafeUninitializedCapacity: n * d) { buffer, count in
            for j in 0 ..< d {
                cols[j].withUnsafeBufferPointer { c in _ = UnsafeMutableBufferPointer(rebasing: buffer[(j * n) ..< (j * n + n)]).initialize(from: c) }
                cols[j] = []
            }
            count = n * d
            // d × n (a column per row) into n × d.
            if mpl_transpose_inplace_f64(buffer.baseAddress, d, n) != 0 {
                // No memory for the bits: transpose through a copy instead.
                let copy = Array(buffer)
                for j in 0 ..< d { for i in 0 ..< n { buffer[i * d + j] = copy[j * n + i] } }
            }
        }
        var out = Dataset(features: Matrix(rows: n, columns: d, storage: storage), target: target, featureNames: featureNames, categories: categories,
                          globalRowStart: globalRowStart, globalRowCount: globalRowCount, targetName: targetName, classNames: classNames)
        out.source = ""
        return out
    }

    /// The columns as a row-major matrix (a copy).
    public func matrix() -> Matrix<Double> {
        let d = columns.count
        var m = Matrix<Double>(rows: rowCount, columns: d)
        m.storage.withUnsafeMutableBufferPointer { out in
            for (j, c) in columns.enumerated() { for i in 0 ..< rowCount { out[i * d + j] = c[i] } }
        }
        return m
    }
}
