import CLinearAlgebra

/// Element types with BLAS and LAPACK routines: `Double` (d-prefixed) and `Float` (s-prefixed).
public protocol LinearAlgebraScalar: BinaryFloatingPoint, Sendable {
    /// y := alpha·op(A)·x + beta·y, A m×n row-major (`cblas_?gemv`).
    static func gemv(transA: Bool, m: Int, n: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int, x: UnsafePointer<Self>,
                     beta: Self, y: UnsafeMutablePointer<Self>)
    /// C := alpha·op(A)·op(B) + beta·C, row-major (`cblas_?gemm`).
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                     a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                     beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    /// C := alpha·op(A)·op(A)ᵀ + beta·C on the upper triangle of the n×n matrix C, row-major
    /// (`cblas_?syrk`): op(A) is A (n×k) or, with `trans`, Aᵀ (A is k×n). The strict lower
    /// triangle of C is not referenced.
    static func syrk(trans: Bool, n: Int, k: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
                     beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    /// Solves A·X = B for symmetric positive-definite A, row-major (`LAPACKE_?posv`).
    static func posv(n: Int, nrhs: Int, a: UnsafeMutablePointer<Self>, b: UnsafeMutablePointer<Self>) -> Int32
    /// Least-squares solve of A·X ≈ B, row-major (`LAPACKE_?gels`); `b` is max(m,n)×nrhs.
    static func gels(m: Int, n: Int, nrhs: Int, a: UnsafeMutablePointer<Self>, b: UnsafeMutablePointer<Self>) -> Int32
    /// Minimum-norm least-squares solve of A·X ≈ B by divide-and-conquer SVD, row-major
    /// (`LAPACKE_?gelsd`); `b` is max(m,n)×nrhs, `s` min(m,n) singular values (descending).
    /// Singular values at most `rcond`·s₁ count as zero; `rank` receives the effective rank.
    static func gelsd(m: Int, n: Int, nrhs: Int, a: UnsafeMutablePointer<Self>, b: UnsafeMutablePointer<Self>,
                      s: UnsafeMutablePointer<Self>, rcond: Self, rank: UnsafeMutablePointer<Int32>) -> Int32
}

extension Double: LinearAlgebraScalar {
    public static func gemv(transA: Bool, m: Int, n: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int, x: UnsafePointer<Double>,
                            beta: Double, y: UnsafeMutablePointer<Double>) {
        cblas_dgemv(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), alpha, a, Int32(lda), x, 1, beta, y, 1)
    }
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                            a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                            beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    public static func syrk(trans: Bool, n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
                            beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dsyrk(CblasRowMajor, CblasUpper, trans ? CblasTrans : CblasNoTrans, Int32(n), Int32(k), alpha, a, Int32(lda), beta, c, Int32(ldc))
    }
    public static func posv(n: Int, nrhs: Int, a: UnsafeMutablePointer<Double>, b: UnsafeMutablePointer<Double>) -> Int32 {
        LAPACKE_dposv(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "U")), Int32(n), Int32(nrhs), a, Int32(n), b, Int32(nrhs))
    }
    public static func gels(m: Int, n: Int, nrhs: Int, a: UnsafeMutablePointer<Double>, b: UnsafeMutablePointer<Double>) -> Int32 {
        LAPACKE_dgels(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "N")), Int32(m), Int32(n), Int32(nrhs), a, Int32(n), b, Int32(nrhs))
    }
    public static func gelsd(m: Int, n: Int, nrhs: Int, a: UnsafeMutablePointer<Double>, b: UnsafeMutablePointer<Double>,
                             s: UnsafeMutablePointer<Double>, rcond: Double, rank: UnsafeMutablePointer<Int32>) -> Int32 {
        LAPACKE_dgelsd(LAPACK_ROW_MAJOR, Int32(m), Int32(n), Int32(nrhs), a, Int32(n), b, Int32(nrhs), s, rcond, rank)
    }
}

extension Float: LinearAlgebraScalar {
    public static func gemv(transA: Bool, m: Int, n: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>,
                            beta: Float, y: UnsafeMutablePointer<Float>) {
        cblas_sgemv(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), alpha, a, Int32(lda), x, 1, beta, y, 1)
    }
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    public static func syrk(trans: Bool, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_ssyrk(CblasRowMajor, CblasUpper, trans ? CblasTrans : CblasNoTrans, Int32(n), Int32(k), alpha, a, Int32(lda), beta, c, Int32(ldc))
    }
    public static func posv(n: Int, nrhs: Int, a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>) -> Int32 {
        LAPACKE_sposv(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "U")), Int32(n), Int32(nrhs), a, Int32(n), b, Int32(nrhs))
    }
    public static func gels(m: Int, n: Int, nrhs: Int, a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>) -> Int32 {
        LAPACKE_sgels(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "N")), Int32(m), Int32(n), Int32(nrhs), a, Int32(n), b, Int32(nrhs))
    }
    public static func gelsd(m: Int, n: Int, nrhs: Int, a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>,
                             s: UnsafeMutablePointer<Float>, rcond: Float, rank: UnsafeMutablePointer<Int32>) -> Int32 {
        LAPACKE_sgelsd(LAPACK_ROW_MAJOR, Int32(m), Int32(n), Int32(nrhs), a, Int32(n), b, Int32(nrhs), s, rcond, rank)
    }
}

/// A dense row-major matrix: `rows × columns` elements, contiguous, row `i` at `i·columns`.
public struct Matrix<T: LinearAlgebraScalar>: Equatable, Sendable {
    public private(set) var rows: Int
    public private(set) var columns: Int
    /// The elements in row-major order.
    public var storage: [T]

    /// A `rows × columns` matrix filled with `value`.
    public init(rows: Int, columns: Int, repeating value: T = 0) {
        precondition(rows >= 0 && columns >= 0, "Matrix: negative shape \(rows)×\(columns)")
        self.rows = rows
        self.columns = columns
        storage = [T](repeating: value, count: rows * columns)
    }

    /// A matrix over existing row-major elements.
    public init(rows: Int, columns: Int, storage: [T]) {
        precondition(storage.count == rows * columns, "Matrix: \(storage.count) elements do not fill \(rows)×\(columns)")
        self.rows = rows
        self.columns = columns
        self.storage = storage
    }

    /// A matrix from nested rows (all rows the same length).
    public init(_ rowsOfValues: [[T]]) {
        let c = rowsOfValues.first?.count ?? 0
        precondition(rowsOfValues.allSatisfy { $0.count == c }, "Matrix: ragged rows")
        self.init(rows: rowsOfValues.count, columns: c, storage: rowsOfValues.flatMap { $0 })
    }

    public subscript(row: Int, column: Int) -> T {
        get { storage[row * columns + column] }
        set { storage[row * columns + column] = newValue }
    }

    /// Row `i` as an array copy.
    public func row(_ i: Int) -> ArraySlice<T> { storage[i * columns ..< (i + 1) * columns] }

    /// The transpose.
    public var transposed: Matrix {
        var t = Matrix(rows: columns, columns: rows)
        for i in 0 ..< rows { for j in 0 ..< columns { t.storage[j * rows + i] = storage[i * columns + j] } }
        return t
    }

    /// The identity of size `n`.
    public static func identity(_ n: Int) -> Matrix {
        var m = Matrix(rows: n, columns: n)
        for i in 0 ..< n { m[i, i] = 1 }
        return m
    }
}
