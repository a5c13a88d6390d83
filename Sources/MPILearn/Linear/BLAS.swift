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
