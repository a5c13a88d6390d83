import CLinearAlgebra

/// C := alpha·op(A)·op(B) + beta·C through `cblas_?gemm`.
///
/// - Parameters:
///   - transposeA: use Aᵀ in place of A; likewise `transposeB`.
///   - c: the output; its shape must be op(A).rows × op(B).columns.
/// - Throws: ``MPILearnError/mismatch`` when the shapes do not fit.
public func gemm<T: LinearAlgebraScalar>(_ a: Matrix<T>, _ b: Matrix<T>, into c: inout Matrix<T>,
                                         transposeA: Bool = false, transposeB: Bool = false,
                                         alpha: T = 1, beta: T = 0) throws {
    let (m, k) = transposeA ? (a.columns, a.rows) : (a.rows, a.columns)
    let (kb, n) = transposeB ? (b.columns, b.rows) : (b.rows, b.columns)
    guard k == kb, c.rows == m, c.columns == n else {
        throw MPILearnError.mismatch("gemm: cannot multiply \(m)×\(k) by \(kb)×\(n) into \(c.rows)×\(c.columns)")
    }
    if m == 0 || n == 0 { return }
    if k == 0 {
        for i in c.storage.indices { c.storage[i] *= beta }
        return
    }
    a.storage.withUnsafeBufferPointer { pa in
        b.storage.withUnsafeBufferPointer { pb in
            c.storage.withUnsafeMutableBufferPointer { pc in
                T.gemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k, alpha: alpha,
                       a: pa.baseAddress!, lda: max(1, a.columns), b: pb.baseAddress!, ldb: max(1, b.columns),
                       beta: beta, c: pc.baseAddress!, ldc: max(1, n))
            }
        }
    }
}

/// C := alpha·A·Aᵀ + beta·C, or with `transpose` C := alpha·Aᵀ·A + beta·C (a Gram matrix of
/// A's columns), through `cblas_?syrk`: a symmetric product in half of GEMM's flops.
///
/// Only the upper triangle of C is read and written; the strict lower triangle keeps what it
/// held (``Matrix/mirrorUpperTriangle()`` copies the upper one there).
/// - Parameters:
///   - c: the output, square: A.rows × A.rows, or A.columns × A.columns with `transpose`.
/// - Throws: ``MPILearnError/mismatch`` when C's shape does not fit.
public func syrk<T: LinearAlgebraScalar>(_ a: Matrix<T>, into c: inout Matrix<T>, transpose: Bool = false,
                                         alpha: T = 1, beta: T = 0) throws {
    let (n, k) = transpose ? (a.columns, a.rows) : (a.rows, a.columns)
    guard c.rows == n, c.columns == n else {
        throw MPILearnError.mismatch("syrk: the \(transpose ? "Aᵀ·A" : "A·Aᵀ") of a \(a.rows)×\(a.columns) matrix is \(n)×\(n), not \(c.rows)×\(c.columns)")
    }
    if n == 0 { return }
    if k == 0 {
        for i in 0 ..< n { for j in i ..< n { c.storage[i * n + j] *= beta } }
        return
    }
    a.storage.withUnsafeBufferPointer { pa in
        c.storage.withUnsafeMutableBufferPointer { pc in
            T.syrk(trans: transpose, n: n, k: k, alpha: alpha, a: pa.baseAddress!, lda: max(1, a.columns),
                   beta: beta, c: pc.baseAddress!, ldc: max(1, n))
        }
    }
}

extension Matrix {
    /// Copies the upper triangle onto the strict lower one (after ``syrk(_:into:transpose:alpha:beta:)``).
    public mutating func mirrorUpperTriangle() {
        precondition(rows == columns, "mirrorUpperTriangle: a \(rows)×\(columns) matrix is not square")
        let n = rows
        storage.withUnsafeMutableBufferPointer { p in
            for i in 0 ..< n { for j in i + 1 ..< max(i + 1, n) { p[j * n + i] = p[i * n + j] } }
        }
    }
}

/// The product op(A)·op(B) as a new matrix (`cblas_?gemm`).
public func matmul<T: LinearAlgebraScalar>(_ a: Matrix<T>, _ b: Matrix<T>, transposeA: Bool = false, transposeB: Bool = false) throws -> Matrix<T> {
    var c = Matrix<T>(rows: transposeA ? a.columns : a.rows, columns: transposeB ? b.rows : b.columns)
    try gemm(a, b, into: &c, transposeA: transposeA, transposeB: transposeB)
    return c
}

/// Facts about the linked BLAS, for `mpilearn info`.
public enum BLASInfo {
    /// OpenBLAS's build configuration string, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ...".
    public static var vendor: String { String(cString: openblas_get_config()) }
    /// The CPU kernel OpenBLAS selected at run time.
    public static var coreName: String { String(cString: openblas_get_corename()) }
    /// Threads OpenBLAS uses for one call.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
    }
    /// Sets the threads OpenBLAS uses per call (1 when ranks already fill the cores).
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
}
