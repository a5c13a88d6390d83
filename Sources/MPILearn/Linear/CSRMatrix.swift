/// A compressed sparse row matrix, laid out as scipy's `csr_matrix`: row `i`'s stored entries
/// are `data[indptr[i] ..< indptr[i + 1]]` in columns `indices[indptr[i] ..< indptr[i + 1]]`.
/// Explicit zeros may be stored (scikit-learn's `HashingVectorizer` leaves them where signed
/// hashes cancel) and count as stored entries. Column indices within a row are not required
/// to be sorted unless a producer says so.
///
/// A rank holds a block of rows of a larger matrix (see ``Dataset``'s global row range);
/// `columns` is the global column count.
public struct CSRMatrix<T: LinearAlgebraScalar>: Sendable, Equatable {
    public var rows: Int
    public var columns: Int
    /// `rows + 1` offsets into `indices` and `data`, starting at 0, non-decreasing.
    public var indptr: [Int64]
    public var indices: [Int32]
    public var data: [T]

    /// A matrix from its three arrays.
    /// - Precondition: the arrays are consistent (``validate()`` checks it with a message).
    public init(rows: Int, columns: Int, indptr: [Int64], indices: [Int32], data: [T]) {
        self.rows = rows
        self.columns = columns
        self.indptr = indptr
        self.indices = indices
        self.data = data
        precondition(indptr.count == rows + 1 && indices.count == data.count && Int(indptr.last ?? 0) == data.count,
                     "CSRMatrix: \(indptr.count) row offsets for \(rows) rows, \(indices.count) indices, \(data.count) values")
    }

    /// An empty `rows × columns` matrix (no stored entries).
    public init(rows: Int, columns: Int) {
        self.init(rows: rows, columns: columns, indptr: [Int64](repeating: 0, count: rows + 1), indices: [], data: [])
    }

    /// Stored entries (explicit zeros included).
    public var storedCount: Int { data.count }

    /// Row `i`'s stored entries' positions in `indices` and `data`.
    @inlinable public func range(ofRow i: Int) -> Range<Int> { Int(indptr[i]) ..< Int(indptr[i + 1]) }

    /// Checks what the initialiser assumes, plus: offsets start at 0 and never decrease, and
    /// every column index is in `0 ..< columns`.
    /// - Throws: ``MPILearnError/mismatch`` naming the first offending row or entry.
    public func validate() throws {
        guard rows >= 0, columns >= 0, indptr.count == rows + 1 else {
            throw MPILearnError.mismatch("CSR matrix: \(indptr.count) row offsets for \(rows) rows (need rows + 1)")
        }
        guard indptr.first == 0 else { throw MPILearnError.mismatch("CSR matrix: the first row offset is \(indptr[0]), not 0") }
        for i in 0 ..< rows where indptr[i + 1] < indptr[i] {
            throw MPILearnError.mismatch("CSR matrix: row \(i)'s end offset \(indptr[i + 1]) is before its start \(indptr[i])")
        }
        guard Int(indptr[rows]) == data.count, indices.count == data.count else {
            throw MPILearnError.mismatch("CSR matrix: the offsets end at \(indptr[rows]) but there are \(indices.count) indices and \(data.count) values")
        }
        if let k = indices.firstIndex(where: { $0 < 0 || Int($0) >= columns }) {
            throw MPILearnError.mismatch("CSR matrix: entry \(k) has column \(indices[k]), outside 0..<\(columns)")
        }
    }

    /// Whether no row stores the same column twice (scipy's canonical form has this; a
    /// matrix built from COO triplets may not).
    public func hasDistinctColumnsInRows() -> Bool {
        var lastRow = [Int](repeating: -1, count: columns)
        for i in 0 ..< rows {
            for p in range(ofRow: i) {
                let j = Int(indices[p])
                if lastRow[j] == i { return false }
                lastRow[j] = i
            }
        }
        return true
    }
}
