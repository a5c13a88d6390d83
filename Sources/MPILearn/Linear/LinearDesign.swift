import CKernels
import Foundation
import SwiftMPI

/// One rank's rows as a linear model reads them: the two products every fit and prediction
/// needs, `X·Wᵀ` and `Rᵀ·X`, plus column sums and a centred Gram matrix.
///
/// Linear models never look at the feature layout themselves; they go through this
/// protocol, so a sparse (CSR) layout only adds a conformance. Dense rows use BLAS GEMM.
/// Not API: the layouts are chosen by ``linearDesign(_:learner:)``.
protocol LinearDesign {
    /// Rows on this rank.
    var rows: Int { get }
    /// Features (global).
    var columns: Int { get }
    /// Z := X·Wᵀ + 1·bᵀ, with W k×columns and b k values; Z is rows × k.
    func decision(_ w: Matrix<Double>, intercept: [Double], into z: inout Matrix<Double>) throws
    /// G := Rᵀ·X, with R rows × k; G is k × columns.
    func transposeTimes(_ r: Matrix<Double>, into g: inout Matrix<Double>) throws
    /// Z := X·W (+ 1·bᵀ) into caller-owned storage, with W `columns × k` feature-major (row j
    /// holds feature j's k weights: the layout of an optimiser's parameter vector) and Z
    /// `rows × k`, both row-major; `intercept` is k values or nil. Single-threaded.
    func multiply(featureMajor w: UnsafePointer<Double>, outputs k: Int, intercept: UnsafePointer<Double>?,
                  into z: UnsafeMutablePointer<Double>)
    /// G := Xᵀ·R with R `rows × k` and G `columns × k` (overwritten), both row-major.
    /// Single-threaded, rows in order.
    func transposeMultiply(_ r: UnsafePointer<Double>, outputs k: Int, into g: UnsafeMutablePointer<Double>)
    /// Σᵢ xᵢ (columns values).
    func columnSums() -> [Double]
    /// (X − 1·μᵀ)ᵀ(X − 1·μᵀ) and (X − 1·μᵀ)ᵀ(y − ȳ): columns × columns and columns values.
    func centredGram(means: [Double], y: [Double], yMean: Double) throws -> (gram: Matrix<Double>, xty: [Double])
}

/// Dense row-major rows (``Dataset/Features/dense(_:)``).
struct DenseDesign: LinearDesign {
    let x: Matrix<Double>
    var rows: Int { x.rows }
    var columns: Int { x.columns }

    func decision(_ w: Matrix<Double>, intercept: [Double], into z: inout Matrix<Double>) throws {
        let k = w.rows
        if k > 0 {
            for i in 0 ..< z.rows { for c in 0 ..< k { z.storage[i * k + c] = intercept[c] } }
        }
        try gemm(x, w, into: &z, transposeB: true, beta: 1)
    }

    func transposeTimes(_ r: Matrix<Double>, into g: inout Matrix<Double>) throws {
        try gemm(r, x, into: &g, transposeA: true)
    }

    func multiply(featureMajor w: UnsafePointer<Double>, outputs k: Int, intercept: UnsafePointer<Double>?,
                  into z: UnsafeMutablePointer<Double>) {
        let n = rows, d = columns
        for i in 0 ..< n { for c in 0 ..< k { z[i * k + c] = intercept?[c] ?? 0 } }
        guard n > 0, k > 0, d > 0 else { return }
        x.storage.withUnsafeBufferPointer { xp in
            if k == 1 {   // one output: the matrix-vector product (GEMV)
                Double.gemv(transA: false, m: n, n: d, alpha: 1, a: xp.baseAddress!, lda: d, x: w, beta: 1, y: z)
            } else {
                Double.gemm(transA: false, transB: false, m: n, n: k, k: d, alpha: 1, a: xp.baseAddress!, lda: d,
                            b: w, ldb: k, beta: 1, c: z, ldc: k)
            }
        }
    }

    func transposeMultiply(_ r: UnsafePointer<Double>, outputs k: Int, into g: UnsafeMutablePointer<Double>) {
        let n = rows, d = columns
        g.update(repeating: 0, count: d * k)
        guard n > 0, k > 0, d > 0 else { return }
        x.storage.withUnsafeBufferPointer { xp in
            if k == 1 {
                Double.gemv(transA: true, m: n, n: d, alpha: 1, a: xp.baseAddress!, lda: d, x: r, beta: 0, y: g)
            } else {
                Double.gemm(transA: true, transB: false, m: d, n: k, k: n, alpha: 1, a: xp.baseAddress!, lda: d,
                            b: r, ldb: k, beta: 0, c: g, ldc: k)
            }
        }
    }

    func columnSums() -> [Double] {
        var s = [Double](repeating: 0, count: columns)
        let d = columns
        x.storage.withUnsafeBufferPointer { p in
            for i in 0 ..< rows { for j in 0 ..< d { s[j] += p[i * d + j] } }
        }
        return s
    }

    func centredGram(means: [Double], y: [Double], yMean: Double) throws -> (gram: Matrix<Double>, xty: [Double]) {
        let t0 = monotonicSeconds()
        let d = columns
        // Each block of rows is centred into one reused buffer of about 512 KiB (an L2 cache;
        // at least 256 rows), so SYRK reads it from cache, and one SYRK adds its XcᵀXc: the
        // upper triangle only, half of GEMM's flops. Xcᵀyc is summed in the centring loop (no
        // second pass over the block), per block and then into the total. Centring before the
        // product, not XᵀX − n·μμᵀ after it, keeps the Gram accurate when the means are large.
        let block = max(1, min(rows, max(256, (1 << 16) / max(1, d))))
        var gram = Matrix<Double>(rows: d, columns: d)
        var xty = [Double](repeating: 0, count: d), blockXty = [Double](repeating: 0, count: d)
        var xc = Matrix<Double>(rows: block, columns: d)
        var start = 0
        while start < rows {
            let n = min(block, rows - start)
            if n < xc.rows { xc = Matrix(rows: n, columns: d) }   // the last, shorter block
            x.storage.withUnsafeBufferPointer { px in
                means.withUnsafeBufferPointer { mu in
                    y.withUnsafeBufferPointer { py in
                        xc.storage.withUnsafeMutableBufferPointer { out in
                            blockXty.withUnsafeMutableBufferPointer { acc in
                                // Pointers per row and two simple loops, so both vectorise.
                                let m = mu.baseAddress!, a = acc.baseAddress!
                                a.update(repeating: 0, count: d)
                                for i in 0 ..< n {
                                    let src = px.baseAddress! + (start + i) * d, dst = out.baseAddress! + i * d
                                    let yc = py[start + i] - yMean
                                    for j in 0 ..< d { dst[j] = src[j] - m[j] }
                                    for j in 0 ..< d { a[j] += dst[j] * yc }
                                }
                            }
                        }
                    }
                }
            }
            for j in 0 ..< d { xty[j] += blockXty[j] }
            try syrk(xc, into: &gram, transpose: true, beta: 1)
            start += n
        }
        gram.mirrorUpperTriangle()
        GramTimer.current?.add(monotonicSeconds() - t0)
        return (gram, xty)
    }
}

/// Seconds spent in ``LinearDesign/centredGram(means:y:yMean:)`` (dense rows) by the fits run
/// while this timer is ``current``: `linear fit` reports the Gram step as a phase of its own.
///
/// ```swift
/// let gram = GramTimer()
/// let model = try GramTimer.$current.withValue(gram) { try Ridge().fit(data, comm: comm) }
/// print(gram.seconds)
/// ```
final class GramTimer: @unchecked Sendable {
    /// The timer the Gram steps of this task (or thread) add to; nil: not timed.
    @TaskLocal static var current: GramTimer?
    private let lock = NSLock()
    private var total = 0.0

    /// Seconds recorded so far.
    var seconds: Double { lock.withLock { total } }

    func add(_ seconds: Double) { lock.withLock { total += seconds } }
}

/// Sparse CSR rows (``Dataset/Features/sparse(_:)``): products through the CSR kernels, so a
/// logistic regression on hashed text never forms the dense matrix.
struct SparseDesign: LinearDesign {
    let x: CSRMatrix<Double>
    var rows: Int { x.rows }
    var columns: Int { x.columns }

    func decision(_ w: Matrix<Double>, intercept: [Double], into z: inout Matrix<Double>) throws {
        // X·Wᵀ: the kernel takes W as columns × k.
        let k = w.rows, d = w.columns
        if k == 1 {
            // One output: the matrix-vector kernel reads the coefficients in place.
            z = Matrix(rows: x.rows, columns: 1, storage: x.multiply(w.storage, intercept: intercept.first ?? 0))
            return
        }
        var wt = Matrix<Double>(rows: d, columns: k)
        for c in 0 ..< k { for j in 0 ..< d { wt.storage[j * k + c] = w.storage[c * d + j] } }
        z = x.multiply(wt, intercept: intercept.isEmpty ? nil : intercept)
    }

    func transposeTimes(_ r: Matrix<Double>, into g: inout Matrix<Double>) throws {
        let k = r.columns, n = r.rows, d = columns
        if k == 1 {
            g = Matrix(rows: 1, columns: d, storage: x.transposeMultiply(r.storage))
            return
        }
        g = Matrix(rows: k, columns: d)
        for c in 0 ..< k {
            let rc = (0 ..< n).map { r.storage[$0 * k + c] }
            let column = x.transposeMultiply(rc)
            for j in 0 ..< d { g.storage[c * d + j] = column[j] }
        }
    }

    func multiply(featureMajor w: UnsafePointer<Double>, outputs k: Int, intercept: UnsafePointer<Double>?,
                  into z: UnsafeMutablePointer<Double>) {
        x.indptr.withUnsafeBufferPointer { ip in
            x.indices.withUnsafeBufferPointer { ix in
                x.data.withUnsafeBufferPointer { dp in
                    if k == 1 {
                        mpl_csr_matvec_f64(ip.baseAddress!, ix.baseAddress, dp.baseAddress, 0, rows, w, intercept?[0] ?? 0, z)
                    } else {
                        mpl_csr_matmat_f64(ip.baseAddress!, ix.baseAddress, dp.baseAddress, 0, rows, w, k, intercept, z)
                    }
                }
            }
        }
    }

    func transposeMultiply(_ r: UnsafePointer<Double>, outputs k: Int, into g: UnsafeMutablePointer<Double>) {
        g.update(repeating: 0, count: columns * k)
        x.indptr.withUnsafeBufferPointer { ip in
            x.indices.withUnsafeBufferPointer { ix in
                x.data.withUnsafeBufferPointer { dp in
                    if k == 1 {
                        mpl_csr_tmatvec_f64(ip.baseAddress!, ix.baseAddress, dp.baseAddress, 0, rows, r, g)
                    } else {
                        mpl_csr_tmatmat_f64(ip.baseAddress!, ix.baseAddress, dp.baseAddress, 0, rows, r, k, g)
                    }
                }
            }
        }
    }

    func columnSums() -> [Double] { x.transposeMultiply([Double](repeating: 1, count: rows)) }

    /// Collective. This design restricted to the columns in which some rank stores an entry,
    /// renumbered from the most stored entries to the fewest (ties in column order), with
    /// those columns' original indices; nil when there is nothing to drop or reorder.
    ///
    /// A column no rank stores anything in is zero in every row: a penalised or gradient-based
    /// fit leaves its coefficient at 0, so an optimiser can skip it — for hashed text most of
    /// the 2¹⁸ or 2²⁰ columns. Ordering by frequency puts the coefficients most rows read
    /// side by side, so the gathers and scatters of a pass over the rows mostly hit cache
    /// (word frequencies are Zipf-distributed). The counts are global, so the kept columns
    /// and their order are the same on every rank and for every rank count.
    func compacted(comm: any Communicator) throws -> (design: SparseDesign, columns: [Int32])? {
        var counts = [Int64](repeating: 0, count: columns)
        x.indices.withUnsafeBufferPointer { ix in
            counts.withUnsafeMutableBufferPointer { cp in for j in ix { cp[Int(j)] += 1 } }
        }
        try comm.allreduce(&counts, op: .sum)
        let stored: [Int] = (0 ..< columns).filter { counts[$0] > 0 }
        let byFrequency = stored.sorted { (a: Int, b: Int) -> Bool in
            counts[a] != counts[b] ? counts[a] > counts[b] : a < b
        }
        let kept: [Int32] = byFrequency.map { Int32($0) }
        var renumber = [Int32](repeating: -1, count: columns)
        for (k, j) in kept.enumerated() { renumber[Int(j)] = Int32(k) }
        if kept.count == columns && byFrequency == Array(0 ..< columns) { return nil }
        let indices = x.indices.map { renumber[Int($0)] }
        return (SparseDesign(x: CSRMatrix(rows: x.rows, columns: kept.count, indptr: x.indptr, indices: indices, data: x.data)), kept)
    }

    /// The most columns whose Gram matrix ``centredGram(means:y:yMean:)`` forms: 32,768
    /// (8 GiB of Float64). Ridge's `auto` solver and LinearRegression switch to iterative
    /// solvers far earlier (``sparseGramColumnLimit``); this only stops an explicit
    /// `solver="cholesky"` on hashed text from asking for terabytes.
    static let gramColumnCap = 1 << 15

    /// The centred Gram matrix without centring the rows (which would fill them in):
    /// Σᵢ (xᵢ − μ)(xᵢ − μ)ᵀ = XᵀX − s·μᵀ − μ·sᵀ + n·μ·μᵀ, with s the column sums and n the
    /// rows of this rank. XᵀX comes from the sparse outer-product kernel (Σᵢ nnzᵢ² work) and
    /// the rank-two correction from one GEMM (columns × 2 by 2 × columns); Xcᵀyc is
    /// Xᵀ(y − ȳ) − μ·Σᵢ(yᵢ − ȳ). Subtracting n·μ·μᵀ loses digits only where a column's mean is
    /// large against its spread, which hashed and one-hot columns (mostly zeros) are not.
    func centredGram(means: [Double], y: [Double], yMean: Double) throws -> (gram: Matrix<Double>, xty: [Double]) {
        let d = columns, n = rows
        guard d <= Self.gramColumnCap else {
            throw MPILearnError.invalidParameter(name: "solver", value: "'cholesky' on a sparse \(x.rows) × \(d) matrix",
                                                 allowed: "at most \(Self.gramColumnCap) columns for the Gram matrix (it would be \(d) × \(d)); "
                                                     + "use solver='sparse_cg' (Ridge) or the default 'auto'")
        }
        var gram = x.gram()
        let yc = y.map { $0 - yMean }
        var xty = x.transposeMultiply(yc)
        let ycSum = yc.reduce(0, +)
        for j in 0 ..< d { xty[j] -= means[j] * ycSum }
        if means.contains(where: { $0 != 0 }) {
            // G += A·Bᵀ with A = [μ | s] and B = [n·μ − s | −μ]: −μsᵀ + nμμᵀ − sμᵀ.
            let s = columnSums()
            var a = Matrix<Double>(rows: d, columns: 2), b = Matrix<Double>(rows: d, columns: 2)
            for j in 0 ..< d {
                a.storage[2 * j] = means[j]
                a.storage[2 * j + 1] = s[j]
                b.storage[2 * j] = Double(n) * means[j] - s[j]
                b.storage[2 * j + 1] = -means[j]
            }
            try gemm(a, b, into: &gram, transposeB: true, beta: 1)
        }
        return (gram, xty)
    }
}

/// The linear-model view of `data`'s features.
/// - Throws: ``MPILearnError/invalidParameter`` for a layout linear models do not read yet
///   (callers make columns dense first), ``MPILearnError/dataError`` naming the row and
///   column of the first non-finite value.
func linearDesign(_ data: Dataset<Double>, learner: String) throws -> any LinearDesign {
    switch data.features {
    case .dense(let m):
        if let bad = m.storage.firstIndex(where: { !$0.isFinite }) {
            let r = bad / max(1, m.columns), c = bad % max(1, m.columns)
            let name = c < data.featureNames.count ? data.featureNames[c] : "x\(c)"
            throw MPILearnError.dataError(SourceLocation(file: data.source.isEmpty ? "data" : data.source),
                                          "row \(data.globalRowStart + r + 1), column \(c + 1) (\(name)) is \(m.storage[bad]); \(learner) needs finite feature values")
        }
        return DenseDesign(x: m)
    case .sparse(let csr):
        if let bad = csr.data.firstIndex(where: { !$0.isFinite }) {
            let r = (csr.indptr.firstIndex { Int($0) > bad } ?? csr.rows + 1) - 1, c = Int(csr.indices[bad])
            let name = c < data.featureNames.count ? data.featureNames[c] : "x\(c)"
            throw MPILearnError.dataError(SourceLocation(file: data.source.isEmpty ? "data" : data.source),
                                          "row \(data.globalRowStart + r + 1), column \(c + 1) (\(name)) is \(csr.data[bad]); \(learner) needs finite feature values")
        }
        return SparseDesign(x: csr)
    default:
        var d = data
        d.makeDense()
        return try linearDesign(d, learner: learner)
    }
}

/// Checks the target is present and finite; returns it.
func linearTarget(_ data: Dataset<Double>, learner: String) throws -> [Double] {
    guard let y = data.target, y.count == data.rowCount else {
        throw MPILearnError.mismatch("\(learner) needs a target: the data has \(data.target?.count ?? 0) target values for \(data.rowCount) rows")
    }
    if let bad = y.firstIndex(where: { !$0.isFinite }) {
        throw MPILearnError.dataError(SourceLocation(file: data.source.isEmpty ? "data" : data.source),
                                      "row \(data.globalRowStart + bad + 1): the target \(data.targetName) is \(y[bad]); \(learner) needs finite targets")
    }
    return y
}
