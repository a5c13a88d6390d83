/// Solves A·X = B for a symmetric positive-definite A (Cholesky, `LAPACKE_?posv`).
///
/// - Parameters:
///   - a: n×n, symmetric positive definite (only its upper triangle is read).
///   - b: n×nrhs right-hand sides.
/// - Returns: X, n×nrhs.
/// - Throws: ``MPILearnError/numerical`` when A is not positive definite (singular included),
///   ``MPILearnError/mismatch`` for shapes that do not fit.
public func solveSymmetricPositiveDefinite<T: LinearAlgebraScalar>(_ a: Matrix<T>, _ b: Matrix<T>) throws -> Matrix<T> {
    guard a.rows == a.columns, b.rows == a.rows else {
        throw MPILearnError.mismatch("posv: A is \(a.rows)×\(a.columns) and B is \(b.rows)×\(b.columns); need n×n and n×k")
    }
    if a.rows == 0 || b.columns == 0 { return b }
    var a = a, x = b
    let info = a.storage.withUnsafeMutableBufferPointer { pa in
        x.storage.withUnsafeMutableBufferPointer { px in
            T.posv(n: a.rows, nrhs: b.columns, a: pa.baseAddress!, b: px.baseAddress!)
        }
    }
    if info > 0 {
        throw MPILearnError.numerical("posv: the matrix is not positive definite (leading minor of order \(info) is not positive); it may be singular")
    }
    if info < 0 { throw MPILearnError.numerical("posv: argument \(-info) had an illegal value") }
    return x
}

/// Least-squares solution of A·X ≈ B for a full-rank A (QR or LQ, `LAPACKE_?gels`).
///
/// - Parameters:
///   - a: m×n of full rank.
///   - b: m×nrhs.
/// - Returns: X, n×nrhs: the least-squares solution when m ≥ n, the minimum-norm one otherwise.
/// - Throws: ``MPILearnError/numerical`` when A is rank deficient.
public func solveLeastSquares<T: LinearAlgebraScalar>(_ a: Matrix<T>, _ b: Matrix<T>) throws -> Matrix<T> {
    guard b.rows == a.rows else {
        throw MPILearnError.mismatch("gels: A is \(a.rows)×\(a.columns) but B has \(b.rows) rows")
    }
    let m = a.rows, n = a.columns, k = b.columns
    if n == 0 || k == 0 { return Matrix(rows: n, columns: k) }
    var a = a
    // gels overwrites B (max(m,n) rows) with the solution in its first n rows.
    var work = Matrix<T>(rows: max(m, n), columns: k)
    for i in 0 ..< m { for j in 0 ..< k { work[i, j] = b[i, j] } }
    let info = a.storage.withUnsafeMutableBufferPointer { pa in
        work.storage.withUnsafeMutableBufferPointer { pw in
            T.gels(m: m, n: n, nrhs: k, a: pa.baseAddress!, b: pw.baseAddress!)
        }
    }
    if info > 0 {
        throw MPILearnError.numerical("gels: the matrix is rank deficient (diagonal element \(info) of its triangular factor is zero)")
    }
    if info < 0 { throw MPILearnError.numerical("gels: argument \(-info) had an illegal value") }
    return Matrix(rows: n, columns: k, storage: Array(work.storage[0 ..< n * k]))
}

/// Minimum-norm least-squares solution of A·X ≈ B for any A, rank deficient included
/// (divide-and-conquer SVD, `LAPACKE_?gelsd`; scipy's `lstsq` default driver).
///
/// - Parameters:
///   - a: m×n.
///   - b: m×nrhs.
///   - rcond: singular values at most `rcond`·σ₁ count as zero; a negative value means
///     machine precision.
/// - Returns: X, n×nrhs (the pseudo-inverse solution A⁺B), and the effective rank of A.
/// - Throws: ``MPILearnError/numerical`` when the SVD does not converge.
public func solveLeastSquaresSVD<T: LinearAlgebraScalar>(_ a: Matrix<T>, _ b: Matrix<T>, rcond: T = -1) throws -> (x: Matrix<T>, rank: Int) {
    guard b.rows == a.rows else {
        throw MPILearnError.mismatch("gelsd: A is \(a.rows)×\(a.columns) but B has \(b.rows) rows")
    }
    let m = a.rows, n = a.columns, k = b.columns
    if n == 0 || k == 0 || m == 0 { return (Matrix(rows: n, columns: k), 0) }
    var a = a
    var work = Matrix<T>(rows: max(m, n), columns: k)
    for i in 0 ..< m { for j in 0 ..< k { work[i, j] = b[i, j] } }
    var s = [T](repeating: 0, count: min(m, n))
    var rank: Int32 = 0
    let info = a.storage.withUnsafeMutableBufferPointer { pa in
        work.storage.withUnsafeMutableBufferPointer { pw in
            s.withUnsafeMutableBufferPointer { ps in
                T.gelsd(m: m, n: n, nrhs: k, a: pa.baseAddress!, b: pw.baseAddress!, s: ps.baseAddress!, rcond: rcond, rank: &rank)
            }
        }
    }
    if info > 0 { throw MPILearnError.numerical("gelsd: the SVD did not converge (\(info) off-diagonal elements did not converge to zero)") }
    if info < 0 { throw MPILearnError.numerical("gelsd: argument \(-info) had an illegal value") }
    return (Matrix(rows: n, columns: k, storage: Array(work.storage[0 ..< n * k])), Int(rank))
}
