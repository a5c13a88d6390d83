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

    func columnSums() -> [Double] { x.transposeMultiply([Double](repeating: 1, count: rows)) }

    func centredGram(means: [Double], y: [Double], yMean: Double) throws -> (gram: Matrix<Double>, xty: [Double]) {
        throw MPILearnError.invalidParameter(name: "features", value: "a sparse \(x.rows) × \(x.columns) matrix",
                                             allowed: "dense features for LinearRegression and Ridge (their normal equations would be \(x.columns) × \(x.columns)); "
                                                 + "use LogisticRegression or SGDRegressor on sparse features")
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
