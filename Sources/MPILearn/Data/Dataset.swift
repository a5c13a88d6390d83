import CKernels
import Foundation

/// One rank's rows, ready for a learner: features, an optional target, and what the
/// features mean (their names and category dictionaries, the target's name and class names,
/// where the rows came from, and which block of the global rows this shard is).
///
/// The features are held in one of several layouts (``Features``): a row-major matrix
/// (``Features/dense(_:)``, what k-means, scoring, search and metrics read through
/// ``matrix``) or one array per feature (``Features/columns(_:rows:)``, a CSV table's columns
/// as ``TrainingData/loadTrain(path:target:categorical:features:classification:comm:note:)``
/// returns them, which a random forest bins one column at a time without ever forming the
/// row-major matrix), dictionary-coded columns (``Features/coded(_:rows:)``) or a sparse CSR
/// matrix (``Features/sparse(_:)``, what a linear model reads from hashed text features).
/// ``makeDense()`` turns any of them into the matrix in place (columns without holding the
/// data twice).
///
/// Rows are a contiguous block of the global rows: row `i` here is global row
/// `globalRowStart + i`, which keys every random stream so results do not depend on the
/// number of ranks.
public struct Dataset<T: LinearAlgebraScalar>: Sendable {
    /// How a dataset holds its features. Every layout knows its shape; code that depends on
    /// the layout switches over the cases, dense-only code reads ``Dataset/matrix``.
    public enum Features: Sendable {
        /// Rows × features, row-major.
        case dense(Matrix<T>)
        /// One array of `rows` values per feature (a table's columns; categorical codes with
        /// NaN for missing).
        case columns([[T]], rows: Int)
        /// One dictionary-coded array per feature (``CodedColumn``: a byte or two a value,
        /// lossless), for learners that only bin or look values up (a random forest's search).
        case coded([CodedColumn<T>], rows: Int)
        /// A sparse matrix in scipy's CSR layout (``CSRMatrix``): rows × features with only the
        /// stored entries held, for linear models (``CSRMatrix/multiply(_:intercept:threads:)``
        /// and its kin). Learners that bin or read rows (a random forest, k-means) refuse it
        /// with an error naming ``Dataset/makeDense()``.
        case sparse(CSRMatrix<T>)

        public var rowCount: Int {
            switch self {
            case .dense(let m): return m.rows
            case .columns(_, let rows), .coded(_, let rows): return rows
            case .sparse(let m): return m.rows
            }
        }

        public var featureCount: Int {
            switch self {
            case .dense(let m): return m.columns
            case .columns(let c, _): return c.count
            case .coded(let c, _): return c.count
            case .sparse(let m): return m.columns
            }
        }

        /// Whether the features are a sparse CSR matrix.
        public var isSparse: Bool {
            if case .sparse = self { return true }
            return false
        }

        /// The layout and shape in words, for error messages: e.g. "a sparse 1000 × 1048576
        /// matrix with 52000 stored entries".
        public var shapeDescription: String {
            switch self {
            case .dense(let m): return "a dense \(m.rows) × \(m.columns) matrix"
            case .columns(let c, let n): return "\(c.count) feature columns of \(n) rows"
            case .coded(let c, let n): return "\(c.count) coded feature columns of \(n) rows"
            case .sparse(let m): return "a sparse \(m.rows) × \(m.columns) matrix with \(m.storedCount) stored entries"
            }
        }

        /// Whether the features are a row-major matrix (``Dataset/matrix`` can be read).
        public var isDense: Bool {
            if case .dense = self { return true }
            return false
        }
    }

    /// The features, in their layout.
    public var features: Features
    /// One target per row (class codes as Doubles for classification), if any.
    public var target: [Double]?
    /// The target's name (a column, or a derived spec like `arr_delay>15`).
    public var targetName: String
    /// Display names of the class labels, indexed by label value (a categorical target's
    /// dictionary, or `false`/`true`); nil when the labels are numbers that name themselves.
    public var classNames: [String]?
    /// Where the rows came from (a path or generator spec), recorded in models' provenance.
    public var source: String
    public var featureNames: [String]
    /// For each feature, its category dictionary if the feature is categorical.
    public var categories: [CategoryDictionary?]
    /// Global index of this shard's first row, and rows over all ranks.
    public var globalRowStart: Int
    public var globalRowCount: Int

    /// A dataset of features in any layout. Feature names default to `x0`, `x1`, …, the
    /// global row range to this shard alone.
    public init(features: Features, target: [Double]? = nil, featureNames: [String]? = nil,
                categories: [CategoryDictionary?]? = nil, globalRowStart: Int = 0, globalRowCount: Int? = nil,
                targetName: String = "target", classNames: [String]? = nil, source: String = "") {
        if case .columns(let c, let rows) = features {
            precondition(c.allSatisfy { $0.count == rows }, "Dataset: column lengths differ from \(rows) rows")
        }
        if case .coded(let c, let rows) = features {
            precondition(c.allSatisfy { $0.count == rows }, "Dataset: column lengths differ from \(rows) rows")
        }
        self.features = features
        self.target = target
        self.targetName = targetName
        self.classNames = classNames
        self.source = source
        self.featureNames = featureNames ?? (0 ..< features.featureCount).map { "x\($0)" }
        self.categories = categories ?? Array(repeating: nil, count: features.featureCount)
        self.globalRowStart = globalRowStart
        self.globalRowCount = globalRowCount ?? features.rowCount
    }

    /// A dataset of row-major features.
    public init(features: Matrix<T>, target: [Double]? = nil, featureNames: [String]? = nil,
                categories: [CategoryDictionary?]? = nil, globalRowStart: Int = 0, globalRowCount: Int? = nil,
                targetName: String = "target", classNames: [String]? = nil) {
        self.init(features: .dense(features), target: target, featureNames: featureNames, categories: categories,
                  globalRowStart: globalRowStart, globalRowCount: globalRowCount, targetName: targetName, classNames: classNames)
    }

    /// A dataset of separate feature columns, each `rows` long.
    public init(columns: [[T]], rows: Int, target: [Double]? = nil, featureNames: [String]? = nil,
                categories: [CategoryDictionary?]? = nil, globalRowStart: Int = 0, globalRowCount: Int? = nil,
                targetName: String = "target", classNames: [String]? = nil) {
        self.init(features: .columns(columns, rows: rows), target: target, featureNames: featureNames, categories: categories,
                  globalRowStart: globalRowStart, globalRowCount: globalRowCount, targetName: targetName, classNames: classNames)
    }

    public var rowCount: Int { features.rowCount }
    public var featureCount: Int { features.featureCount }

    /// The features as a row-major matrix, for dense-only code (k-means, scoring, search,
    /// metrics). Reading and modifying it in place neither copies nor converts; assigning a
    /// matrix makes the features dense.
    ///
    /// - Precondition: the features are dense. Columns become dense in place with
    ///   ``makeDense()`` or ``densified()`` (the data is never held twice), or are copied with
    ///   ``denseCopy()``.
    public var matrix: Matrix<T> {
        get {
            guard case .dense(let m) = features else { Self.notDense(features) }
            return m
        }
        set { features = .dense(newValue) }
        _modify {
            guard case .dense(var m) = features else { Self.notDense(features) }
            features = .columns([], rows: 0)   // let go, so `m` holds the only reference and is modified in place
            defer { features = .dense(m) }
            yield &m
        }
    }

    private static func notDense(_ features: Features) -> Never {
        preconditionFailure("Dataset.matrix: the features are \(features.shapeDescription), not a row-major matrix: "
                            + "call makeDense() (in place) or denseCopy() (a copy) first")
    }

    /// Makes the features row-major in place; a no-op when they already are. Columns are
    /// consumed: each is appended to one buffer, column after column, and released, then the
    /// buffer is transposed in place (cycle following, one bit per value of scratch). When
    /// nothing else holds the columns the peak is the data plus one column, not twice the data.
    /// A sparse matrix is expanded (``CSRMatrix/toDense()``): the peak is the dense matrix
    /// plus the sparse one, which is released at the end.
    public mutating func makeDense() {
        if case .sparse(let m) = features {
            features = .dense(m.toDense())
            return
        }
        if case .coded(var coded, let n) = features {
            features = .columns([], rows: n)
            let d = coded.count
            let storage = [T](unsafeUninitializedCapacity: n * d) { buffer, count in
                for j in 0 ..< d {
                    for i in 0 ..< n { buffer[i * d + j] = coded[j][i] }
                    coded[j] = CodedColumn([])
                }
                count = n * d
            }
            features = .dense(Matrix(rows: n, columns: d, storage: storage))
            return
        }
        guard case .columns(var columns, let n) = features else { return }
        features = .columns([], rows: n)   // `columns` now holds the only reference
        let d = columns.count
        let storage = [T](unsafeUninitializedCapacity: n * d) { buffer, count in
            for j in 0 ..< d {
                columns[j].withUnsafeBufferPointer { c in _ = UnsafeMutableBufferPointer(rebasing: buffer[(j * n) ..< (j * n + n)]).initialize(from: c) }
                columns[j] = []
            }
            count = n * d
            // d × n (a column per row) into n × d.
            Self.transposeInPlace(buffer, rows: d, columns: n)
        }
        features = .dense(Matrix(rows: n, columns: d, storage: storage))
    }

    /// Codes every feature column in place (``CodedColumn``: its distinct values and a byte or
    /// two a row, lossless), one column at a time, each column's values released as it is
    /// coded. Dense features are coded from the matrix, which is released at the end; sparse
    /// features are made dense first (``makeDense()``).
    public mutating func makeCoded() {
        if features.isSparse { makeDense() }
        switch features {
        case .coded:
            return
        case .columns(var columns, let n):
            features = .columns([], rows: n)   // `columns` now holds the only reference
            var coded: [CodedColumn<T>] = []
            coded.reserveCapacity(columns.count)
            for j in columns.indices {
                coded.append(CodedColumn(columns[j]))
                columns[j] = []
            }
            features = .coded(coded, rows: n)
        case .dense(let m):
            let d = m.columns
            let coded = (0 ..< d).map { j in CodedColumn((0 ..< m.rows).map { m.storage[$0 * d + j] }) }
            features = .coded(coded, rows: m.rows)
        case .sparse:
            preconditionFailure("Dataset.makeCoded: sparse features were made dense above")
        }
    }

    /// Checks that the features are dense, for a learner that reads rows (a clear error rather
    /// than the precondition failure of ``matrix``).
    /// - Throws: ``MPILearnError/invalidParameter`` naming ``makeDense()``.
    public func requireDense(for learner: String) throws {
        guard !features.isDense else { return }
        if features.isSparse { try refuseSparse(for: learner, accepted: "row-major features") }
        throw MPILearnError.invalidParameter(name: "data", value: features.shapeDescription,
                                             allowed: "row-major features for \(learner): call makeDense() on the dataset first (in place, no second copy)")
    }

    /// Checks that the features are not sparse, for a learner that bins or reads whole rows
    /// (a random forest): a clear error naming the size the dense matrix would take.
    /// - Throws: ``MPILearnError/invalidParameter`` naming the matrix's shape and ``makeDense()``.
    public func refuseSparse(for learner: String) throws {
        try refuseSparse(for: learner, accepted: "dense or column features")
    }

    private func refuseSparse(for learner: String, accepted: String) throws {
        guard case .sparse(let m) = features else { return }
        let bytes = Double(m.rows) * Double(m.columns) * Double(MemoryLayout<T>.size)
        throw MPILearnError.invalidParameter(
            name: "data", value: features.shapeDescription,
            allowed: "\(accepted) for \(learner), which does not read sparse matrices: call makeDense() on the dataset first "
                + "(the dense matrix takes \(Self.byteText(bytes)))")
    }

    private static func byteText(_ bytes: Double) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var v = bytes, u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        return u == 0 ? "\(Int(v)) bytes" : String(format: "%.1f %@", v, units[u])
    }

    /// The dataset with row-major features, converted in place (``makeDense()``).
    public consuming func densified() -> Dataset<T> {
        makeDense()
        return self
    }

    /// The features as a new row-major matrix: a **copy** when they are columns or sparse (the
    /// data is then held twice; prefer ``makeDense()`` when the columns are no longer needed).
    public func denseCopy() -> Matrix<T> {
        switch features {
        case .dense(let m):
            return m
        case .columns(let columns, let n):
            return Self.matrix(rows: n, columns: columns.count) { i, j in columns[j][i] }
        case .coded(let columns, let n):
            return Self.matrix(rows: n, columns: columns.count) { i, j in columns[j][i] }
        case .sparse(let m):
            return m.toDense()
        }
    }

    /// A `rows × columns` row-major matrix of `value(i, j)`, filled a column at a time.
    static func matrix(rows n: Int, columns d: Int, _ value: (Int, Int) -> T) -> Matrix<T> {
        var m = Matrix<T>(rows: n, columns: d)
        m.storage.withUnsafeMutableBufferPointer { out in
            for j in 0 ..< d { for i in 0 ..< n { out[i * d + j] = value(i, j) } }
        }
        return m
    }

    /// Transposes a `rows × columns` row-major buffer in place into its `columns × rows`
    /// transpose: element k moves to k·rows mod (rows·columns − 1), cycle by cycle, with one
    /// bit per element marking the moved ones (the C kernel for Doubles).
    static func transposeInPlace(_ a: UnsafeMutableBufferPointer<T>, rows: Int, columns: Int) {
        if T.self == Double.self,
           a.withMemoryRebound(to: Double.self, { mpl_transpose_inplace_f64($0.baseAddress, rows, columns) }) == 0 {
            return
        }
        let n = rows * columns
        guard rows > 1, columns > 1 else { return }
        var done = [UInt64](repeating: 0, count: (n + 63) / 64)
        let m = n - 1
        for start in 1 ..< m where done[start >> 6] >> UInt64(start & 63) & 1 == 0 {
            var k = start
            var carried = a[k]
            repeat {
                let next = m.dividingFullWidth(k.multipliedFullWidth(by: rows)).remainder
                swap(&a[next], &carried)
                done[k >> 6] |= 1 << UInt64(k & 63)
                k = next
            } while k != start
        }
    }

    /// The rows at `indices` (local positions, in the given order) as a new dataset in the
    /// same layout (coded columns give dense rows: a subset is read, not kept; sparse rows stay
    /// sparse); the global row range becomes the subset's own, since a subset is no longer one
    /// contiguous block.
    public func rows(_ indices: [Int]) -> Dataset<T> {
        for i in indices { precondition(i >= 0 && i < rowCount, "Dataset.rows: index \(i) is not a row of \(rowCount)") }
        var out = self
        switch features {
        case .dense(let x):
            let d = featureCount
            var m = Matrix<T>(rows: indices.count, columns: d)
            x.storage.withUnsafeBufferPointer { src in
                m.storage.withUnsafeMutableBufferPointer { dst in
                    for (r, i) in indices.enumerated() { for f in 0 ..< d { dst[r * d + f] = src[i * d + f] } }
                }
            }
            out.features = .dense(m)
        case .columns(let columns, _):
            out.features = .columns(columns.map { c in indices.map { c[$0] } }, rows: indices.count)
        case .coded(let columns, _):
            let d = featureCount
            var m = Matrix<T>(rows: indices.count, columns: d)
            m.storage.withUnsafeMutableBufferPointer { dst in
                for (f, c) in columns.enumerated() { for (r, i) in indices.enumerated() { dst[r * d + f] = c[i] } }
            }
            out.features = .dense(m)
        case .sparse(let m):
            out.features = .sparse(m.rows(indices))
        }
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
