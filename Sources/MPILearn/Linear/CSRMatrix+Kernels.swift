import CKernels
import Dispatch

/// The row norm ``CSRMatrix/normalizeRows(_:threads:)`` divides by (scikit-learn's
/// `normalize(norm=...)`).
public enum CSRRowNorm: String, Codable, Sendable, CaseIterable {
    /// The sum of absolute values.
    case l1
    /// The Euclidean norm.
    case l2
}

/// The products a linear model needs, computed by the C kernels of `CKernels/sparse.c`.
///
/// Every kernel reads a row's stored entries in stored order and sums in the element type.
/// With `threads > 1` the rows are split into blocks of about equal stored entries, one per
/// thread; a row's result never depends on the split, so only ``transposeMultiply(_:into:threads:)``
/// needs more care (see there).
extension CSRMatrix {
    /// `X·w + intercept`, one value per row.
    /// - Parameters:
    ///   - w: `columns` coefficients.
    ///   - intercept: added to every row's product.
    ///   - threads: threads to split the rows across.
    /// - Returns: `rows` values.
    public func multiply(_ w: [T], intercept: T = 0, threads: Int = 1) -> [T] {
        precondition(w.count == columns, "CSRMatrix.multiply: \(w.count) coefficients for \(columns) columns")
        var out = [T](repeating: 0, count: rows)
        withKernelArrays { ip, ix, d in
            w.withUnsafeBufferPointer { wp in
                out.withUnsafeMutableBufferPointer { op in
                    let o = UnsafeSendable(op.baseAddress)
                    forEachBlock(threads: threads) { r0, r1 in
                        if T.self == Double.self {
                            mpl_csr_matvec_f64(ip, ix, d.double, r0, r1, wp.baseAddress.map(Self.double), Double(intercept), o.double)
                        } else {
                            mpl_csr_matvec_f32(ip, ix, d.float, r0, r1, wp.baseAddress.map(Self.float), Float(intercept), o.float)
                        }
                    }
                }
            }
        }
        return out
    }

    /// `X·W (+ intercept)` for `k = W.columns` outputs (one per class): `W` is `columns × k`,
    /// row-major, and the result `rows × k`, row-major.
    /// - Parameters:
    ///   - w: `columns × k` coefficients.
    ///   - intercept: `k` values added to every row's outputs, or nil.
    ///   - threads: threads to split the rows across.
    public func multiply(_ w: Matrix<T>, intercept: [T]? = nil, threads: Int = 1) -> Matrix<T> {
        precondition(w.rows == columns, "CSRMatrix.multiply: a \(w.rows) × \(w.columns) coefficient matrix for \(columns) columns")
        let k = w.columns
        precondition(intercept == nil || intercept!.count == k, "CSRMatrix.multiply: \(intercept?.count ?? 0) intercepts for \(k) outputs")
        var out = Matrix<T>(rows: rows, columns: k)
        guard k > 0 else { return out }
        let b = intercept ?? []
        withKernelArrays { ip, ix, d in
            w.storage.withUnsafeBufferPointer { wp in
                b.withUnsafeBufferPointer { bp in
                    out.storage.withUnsafeMutableBufferPointer { op in
                        let o = UnsafeSendable(op.baseAddress)
                        let bias = intercept == nil ? nil : bp.baseAddress
                        forEachBlock(threads: threads) { r0, r1 in
                            if T.self == Double.self {
                                mpl_csr_matmat_f64(ip, ix, d.double, r0, r1, wp.baseAddress.map(Self.double), k, bias.map(Self.double), o.double)
                            } else {
                                mpl_csr_matmat_f32(ip, ix, d.float, r0, r1, wp.baseAddress.map(Self.float), k, bias.map(Self.float), o.float)
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// The number of partial vectors ``transposeMultiply(_:into:threads:)`` sums: a function of
    /// the stored entries alone (one per 32,768, at most 8), never of the thread count.
    public var transposeSlices: Int { Swift.min(8, Swift.max(1, storedCount / 32_768)) }

    /// Adds `Xᵀ·r` to `out` (`columns` values): `out[j] += Σᵢ X[i, j]·r[i]`.
    ///
    /// The rows are cut into ``transposeSlices`` slices of about equal stored entries, a number
    /// that depends on the matrix only. Slice 0 adds into `out`, every other slice into its own
    /// zeroed partial vector, row after row; the partials are then added to `out` in slice
    /// order. Threads share the slices (and the final sums, by columns), so **the result is the
    /// same bits for every thread count**. The cost is up to 7 partial vectors of `columns`
    /// values while it runs.
    /// - Parameters:
    ///   - r: `rows` values (residuals or gradients per row).
    ///   - out: `columns` values, added to.
    ///   - threads: threads to share the slices across.
    public func transposeMultiply(_ r: [T], into out: inout [T], threads: Int = 1) {
        precondition(r.count == rows, "CSRMatrix.transposeMultiply: \(r.count) values for \(rows) rows")
        precondition(out.count == columns, "CSRMatrix.transposeMultiply: an output of \(out.count) values for \(columns) columns")
        let slices = transposeSlices
        let bounds = rowBlocks(slices)
        let c = columns
        var partials = [T](repeating: 0, count: (slices - 1) * c)
        withKernelArrays { ip, ix, d in
            r.withUnsafeBufferPointer { rp in
                out.withUnsafeMutableBufferPointer { op in
                    partials.withUnsafeMutableBufferPointer { pp in
                        let o = UnsafeSendable(op.baseAddress), p = UnsafeSendable(pp.baseAddress)
                        let rb = rp.baseAddress
                        Self.parallel(slices, threads: threads) { s in
                            let target = s == 0 ? o : p.advanced(by: (s - 1) * c)
                            if T.self == Double.self {
                                mpl_csr_tmatvec_f64(ip, ix, d.double, bounds[s], bounds[s + 1], rb.map(Self.double), target.double)
                            } else {
                                mpl_csr_tmatvec_f32(ip, ix, d.float, bounds[s], bounds[s + 1], rb.map(Self.float), target.float)
                            }
                        }
                        guard slices > 1 else { return }
                        let t = Swift.max(1, Swift.min(threads, c / 4096))
                        Self.parallel(t, threads: t) { b in
                            guard let ob = o.pointer, let pb = p.pointer else { return }
                            for j in (c * b / t) ..< (c * (b + 1) / t) {
                                var v = ob[j]
                                for s in 0 ..< slices - 1 { v += pb[s * c + j] }
                                ob[j] = v
                            }
                        }
                    }
                }
            }
        }
    }

    /// `Xᵀ·r`: `columns` values (see ``transposeMultiply(_:into:threads:)``, the same bits for
    /// every thread count).
    public func transposeMultiply(_ r: [T], threads: Int = 1) -> [T] {
        var out = [T](repeating: 0, count: columns)
        transposeMultiply(r, into: &out, threads: threads)
        return out
    }

    /// Each row's squared Euclidean norm (explicit zeros add nothing).
    public func rowSquaredNorms(threads: Int = 1) -> [T] {
        var out = [T](repeating: 0, count: rows)
        withKernelArrays { ip, _, d in
            out.withUnsafeMutableBufferPointer { op in
                let o = UnsafeSendable(op.baseAddress)
                forEachBlock(threads: threads) { r0, r1 in
                    if T.self == Double.self { mpl_csr_row_sqnorms_f64(ip, d.double, r0, r1, o.double) }
                    else { mpl_csr_row_sqnorms_f32(ip, d.float, r0, r1, o.float) }
                }
            }
        }
        return out
    }

    /// `XᵀX`: `columns × columns`, symmetric (scipy's `(X.T @ X).toarray()`).
    ///
    /// One pass over the rows: each row adds the products of its pairs of stored entries to
    /// the upper triangle (`mpl_csr_gram_upper`), which is then copied to the lower one. The
    /// work is Σᵢ nnzᵢ², not rows × columns²; the memory is the `columns²` result, so callers
    /// keep `columns` small (the ridge and least-squares Gram path stops at a few thousand).
    /// Duplicate column indices within a row count as their sum would.
    public func gram() -> Matrix<T> {
        let c = columns
        var g = Matrix<T>(rows: c, columns: c)
        guard c > 0 else { return g }
        withKernelArrays { ip, ix, d in
            g.storage.withUnsafeMutableBufferPointer { gp in
                let out = UnsafeSendable(gp.baseAddress)
                if T.self == Double.self {
                    mpl_csr_gram_upper_f64(ip, ix, d.double, 0, rows, c, out.double)
                } else {
                    mpl_csr_gram_upper_f32(ip, ix, d.float, 0, rows, c, out.float)
                }
                let p = gp.baseAddress!
                for j in 0 ..< c { for k in j + 1 ..< c { p[k * c + j] = p[j * c + k] } }
            }
        }
        return g
    }

    /// Multiplies every stored value of row `i` by `scale[i]`, in place.
    public mutating func scaleRows(by scale: [T], threads: Int = 1) {
        precondition(scale.count == rows, "CSRMatrix.scaleRows: \(scale.count) factors for \(rows) rows")
        let ipArray = indptr
        let blocks = Swift.max(1, Swift.min(threads, rows / 256))
        let bounds = rowBlocks(blocks)
        ipArray.withUnsafeBufferPointer { ipb in
            scale.withUnsafeBufferPointer { sp in
                data.withUnsafeMutableBufferPointer { dp in
                    let d = UnsafeSendable(dp.baseAddress)
                    let ip = ipb.baseAddress!, sb = sp.baseAddress
                    Self.parallel(blocks, threads: threads, bounds) { r0, r1 in
                        if T.self == Double.self { mpl_csr_scale_rows_f64(ip, d.double, r0, r1, sb.map(Self.double)) }
                        else { mpl_csr_scale_rows_f32(ip, d.float, r0, r1, sb.map(Self.float)) }
                    }
                }
            }
        }
    }

    /// Scales every row to unit `norm` in place (scikit-learn's `normalize`): rows whose norm
    /// is 0 are left as they are.
    public mutating func normalizeRows(_ norm: CSRRowNorm, threads: Int = 1) {
        var scale: [T]
        switch norm {
        case .l2:
            scale = rowSquaredNorms(threads: threads).map { $0 > 0 ? 1 / $0.squareRoot() : 1 }
        case .l1:
            scale = [T](repeating: 1, count: rows)
            for i in 0 ..< rows {
                var s: T = 0
                for p in range(ofRow: i) { s += abs(data[p]) }
                if s > 0 { scale[i] = 1 / s }
            }
        }
        scaleRows(by: scale, threads: threads)
    }

    // MARK: - Plumbing

    /// `blocks + 1` row bounds cutting the rows into `blocks` runs of about equal stored
    /// entries (a function of `indptr` alone).
    func rowBlocks(_ blocks: Int) -> [Int] {
        var bounds = [0]
        let total = Int64(storedCount)
        for b in 1 ..< blocks {
            let goal = total * Int64(b) / Int64(blocks)
            // First row whose start offset reaches the goal, at or after the previous bound.
            var lo = bounds[b - 1], hi = rows
            while lo < hi {
                let mid = (lo + hi) / 2
                if indptr[mid] < goal { lo = mid + 1 } else { hi = mid }
            }
            bounds.append(lo)
        }
        bounds.append(rows)
        return bounds
    }

    /// Runs `body(row0, row1)` over the rows, one block per thread.
    private func forEachBlock(threads: Int, _ body: (Int, Int) -> Void) {
        let blocks = Swift.max(1, Swift.min(threads, rows / 256))
        Self.parallel(blocks, threads: threads, rowBlocks(blocks), body)
    }

    private static func parallel(_ blocks: Int, threads: Int, _ bounds: [Int], _ body: (Int, Int) -> Void) {
        parallel(blocks, threads: threads) { b in body(bounds[b], bounds[b + 1]) }
    }

    /// Runs `body(b)` for `b` in `0 ..< count` on up to `threads` threads, thread `t` taking
    /// `b = t, t + threads, …`.
    private static func parallel(_ count: Int, threads: Int, _ body: (Int) -> Void) {
        let t = Swift.min(threads, count)
        if t <= 1 {
            for b in 0 ..< count { body(b) }
        } else {
            DispatchQueue.concurrentPerform(iterations: t) { w in
                for b in stride(from: w, to: count, by: t) { body(b) }
            }
        }
    }

    /// Calls `body` with the row offsets, column indices and values.
    private func withKernelArrays(_ body: (UnsafePointer<Int64>, UnsafePointer<Int32>?, UnsafeSendable<T>) -> Void) {
        indptr.withUnsafeBufferPointer { ip in
            indices.withUnsafeBufferPointer { ix in
                data.withUnsafeBufferPointer { d in
                    body(ip.baseAddress!, ix.baseAddress, UnsafeSendable(UnsafeMutablePointer(mutating: d.baseAddress)))
                }
            }
        }
    }

    private static func double(_ p: UnsafePointer<T>) -> UnsafePointer<Double> { UnsafeRawPointer(p).assumingMemoryBound(to: Double.self) }
    private static func float(_ p: UnsafePointer<T>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
}

/// A buffer pointer handed to kernel threads that write disjoint parts of it.
struct UnsafeSendable<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>?
    init(_ pointer: UnsafeMutablePointer<T>?) { self.pointer = pointer }
    func advanced(by n: Int) -> UnsafeSendable<T> { UnsafeSendable(pointer.map { $0 + n }) }
    var double: UnsafeMutablePointer<Double>? { pointer.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Double.self) } }
    var float: UnsafeMutablePointer<Float>? { pointer.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Float.self) } }
}
