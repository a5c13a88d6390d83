/// Conversions between CSR and dense matrices, row subsets and stacking.
extension CSRMatrix {
    /// The nonzero entries of a dense matrix, row by row in column order (zeros are dropped,
    /// NaN is kept: it is not zero).
    public init(dense m: Matrix<T>) {
        var indptr = [Int64](repeating: 0, count: m.rows + 1)
        var indices: [Int32] = []
        var data: [T] = []
        precondition(m.columns <= Int(Int32.max), "CSRMatrix(dense:): \(m.columns) columns do not fit Int32 column indices")
        let d = m.columns
        m.storage.withUnsafeBufferPointer { x in
            for i in 0 ..< m.rows {
                for j in 0 ..< d where x[i * d + j] != 0 {
                    indices.append(Int32(j))
                    data.append(x[i * d + j])
                }
                indptr[i + 1] = Int64(data.count)
            }
        }
        self.init(rows: m.rows, columns: m.columns, indptr: indptr, indices: indices, data: data)
    }

    /// The matrix with every entry in place: `rows × columns`, row-major. Entries stored more
    /// than once in a row are added, as scipy's `toarray()` does.
    public func toDense() -> Matrix<T> {
        var m = Matrix<T>(rows: rows, columns: columns)
        let d = columns
        m.storage.withUnsafeMutableBufferPointer { out in
            for i in 0 ..< rows {
                for p in range(ofRow: i) { out[i * d + Int(indices[p])] += data[p] }
            }
        }
        return m
    }

    /// The rows at `rowIndices` (in that order, repeats allowed) as a new CSR matrix with the
    /// same columns.
    public func rows(_ rowIndices: [Int]) -> CSRMatrix {
        var ptr = [Int64](repeating: 0, count: rowIndices.count + 1)
        var total = 0
        for (r, i) in rowIndices.enumerated() {
            precondition(i >= 0 && i < rows, "CSRMatrix.rows: index \(i) is not a row of \(rows)")
            total += Int(indptr[i + 1] - indptr[i])
            ptr[r + 1] = Int64(total)
        }
        var idx = [Int32](repeating: 0, count: total)
        var vals = [T](repeating: 0, count: total)
        idx.withUnsafeMutableBufferPointer { io in
            vals.withUnsafeMutableBufferPointer { vo in
                indices.withUnsafeBufferPointer { ii in
                    data.withUnsafeBufferPointer { dd in
                        for (r, i) in rowIndices.enumerated() {
                            let s = Int(indptr[i]), n = Int(indptr[i + 1]) - s, o = Int(ptr[r])
                            for k in 0 ..< n {
                                io[o + k] = ii[s + k]
                                vo[o + k] = dd[s + k]
                            }
                        }
                    }
                }
            }
        }
        return CSRMatrix(rows: rowIndices.count, columns: columns, indptr: ptr, indices: idx, data: vals)
    }

    /// The matrices' rows one after the other (scipy's `vstack`).
    /// - Throws: ``MPILearnError/mismatch`` when the column counts differ, naming both.
    public static func vstack(_ parts: [CSRMatrix]) throws -> CSRMatrix {
        guard let first = parts.first else { return CSRMatrix(rows: 0, columns: 0) }
        if let other = parts.firstIndex(where: { $0.columns != first.columns }) {
            throw MPILearnError.mismatch("CSR vstack: matrix \(other) has \(parts[other].columns) columns, matrix 0 has \(first.columns)")
        }
        var ptr: [Int64] = [0]
        ptr.reserveCapacity(parts.reduce(1) { $0 + $1.rows })
        var idx: [Int32] = [], vals: [T] = []
        idx.reserveCapacity(parts.reduce(0) { $0 + $1.storedCount })
        vals.reserveCapacity(idx.capacity)
        for m in parts {
            let base = Int64(vals.count)
            ptr.append(contentsOf: m.indptr.dropFirst().map { $0 + base })
            idx.append(contentsOf: m.indices)
            vals.append(contentsOf: m.data)
        }
        return CSRMatrix(rows: ptr.count - 1, columns: first.columns, indptr: ptr, indices: idx, data: vals)
    }
}
