import MPILearn
import SwiftMPI
import XCTest

/// gemm against a naive product, the LAPACK solvers against known solutions, and their errors.
final class LinearAlgebraTests: XCTestCase {
    /// op(A)·op(B) by the definition, in Double, for reference.
    func naive<T: LinearAlgebraScalar>(_ a: Matrix<T>, _ b: Matrix<T>, _ ta: Bool, _ tb: Bool) -> [Double] {
        let a = ta ? a.transposed : a, b = tb ? b.transposed : b
        var c = [Double](repeating: 0, count: a.rows * b.columns)
        for i in 0 ..< a.rows {
            for j in 0 ..< b.columns {
                var s = 0.0
                for p in 0 ..< a.columns { s += Double(a[i, p]) * Double(b[p, j]) }
                c[i * b.columns + j] = s
            }
        }
        return c
    }

    /// A deterministic, non-symmetric rows × columns matrix.
    func filled<T: LinearAlgebraScalar>(_ rows: Int, _ columns: Int, _ salt: Int) -> Matrix<T> {
        var m = Matrix<T>(rows: rows, columns: columns)
        for i in 0 ..< rows { for j in 0 ..< columns { m[i, j] = T(((i * 7 + j * 3 + salt) % 11) - 5) / 4 } }
        return m
    }

    func checkGemm<T: LinearAlgebraScalar>(_: T.Type, tolerance: Double) throws {
        let (m, k, n) = (3, 4, 5)
        for ta in [false, true] {
            for tb in [false, true] {
                // Store A and B so that op(A) is m×k and op(B) is k×n.
                let a: Matrix<T> = ta ? filled(k, m, 1) : filled(m, k, 1)
                let b: Matrix<T> = tb ? filled(n, k, 2) : filled(k, n, 2)
                let c = try matmul(a, b, transposeA: ta, transposeB: tb)
                XCTAssertEqual(c.rows, m)
                XCTAssertEqual(c.columns, n)
                let expected = naive(a, b, ta, tb)
                for (got, want) in zip(c.storage, expected) {
                    XCTAssertEqual(Double(got), want, accuracy: tolerance, "\(T.self) transposeA=\(ta) transposeB=\(tb)")
                }
                // alpha and beta: C := 2·op(A)·op(B) − 1·C
                var acc = Matrix<T>(rows: m, columns: n, repeating: 1)
                try gemm(a, b, into: &acc, transposeA: ta, transposeB: tb, alpha: 2, beta: -1)
                for (got, want) in zip(acc.storage, expected) {
                    XCTAssertEqual(Double(got), 2 * want - 1, accuracy: 2 * tolerance, "\(T.self) alpha/beta ta=\(ta) tb=\(tb)")
                }
            }
        }
    }

    func testGemmAllTransposesDouble() throws { try checkGemm(Double.self, tolerance: 1e-12) }
    func testGemmAllTransposesFloat() throws { try checkGemm(Float.self, tolerance: 1e-4) }

    /// syrk's upper triangle is gemm's (both transposes, alpha and beta); its strict lower
    /// triangle is left alone until mirrored.
    func checkSyrk<T: LinearAlgebraScalar>(_: T.Type, tolerance: Double) throws {
        let a: Matrix<T> = filled(7, 4, 3)
        for transpose in [false, true] {
            let n = transpose ? a.columns : a.rows
            let expected = naive(a, a, transpose, !transpose)
            var c = Matrix<T>(rows: n, columns: n, repeating: 9)
            try syrk(a, into: &c, transpose: transpose, alpha: 2, beta: -1)
            for i in 0 ..< n {
                for j in 0 ..< n {
                    if j >= i {
                        XCTAssertEqual(Double(c[i, j]), 2 * expected[i * n + j] - 9, accuracy: 2 * tolerance, "\(T.self) transpose=\(transpose) (\(i), \(j))")
                    } else {
                        XCTAssertEqual(c[i, j], 9, "\(T.self) transpose=\(transpose): the lower triangle (\(i), \(j)) was written")
                    }
                }
            }
            c.mirrorUpperTriangle()
            XCTAssertEqual(c, c.transposed)
            var wrong = Matrix<T>(rows: n + 1, columns: n + 1)
            XCTAssertThrowsError(try syrk(a, into: &wrong, transpose: transpose))
        }
        var empty = Matrix<T>(rows: 2, columns: 2, repeating: 4)
        try syrk(Matrix<T>(rows: 2, columns: 0), into: &empty, beta: 0.5)
        XCTAssertEqual(empty.storage, [2, 2, 4, 2])
    }

    func testSyrkMatchesGemmDouble() throws { try checkSyrk(Double.self, tolerance: 1e-12) }
    func testSyrkMatchesGemmFloat() throws { try checkSyrk(Float.self, tolerance: 1e-4) }

    func testGemmWithEmptyInnerDimensionScalesC() throws {
        let a = Matrix<Double>(rows: 3, columns: 0), b = Matrix<Double>(rows: 0, columns: 2)
        XCTAssertEqual(try matmul(a, b), Matrix(rows: 3, columns: 2, repeating: 0))
        var c = Matrix<Double>(rows: 3, columns: 2, repeating: 4)
        try gemm(a, b, into: &c, alpha: 1, beta: 0.5)
        XCTAssertEqual(c, Matrix(rows: 3, columns: 2, repeating: 2))
        let f = try matmul(Matrix<Float>(rows: 0, columns: 4), Matrix<Float>(rows: 4, columns: 3))
        XCTAssertEqual(f.rows, 0)
        XCTAssertEqual(f.columns, 3)
    }

    func testGemmShapeMismatchThrows() {
        let a = Matrix<Double>(rows: 2, columns: 3), b = Matrix<Double>(rows: 2, columns: 3)
        XCTAssertThrowsError(try matmul(a, b)) { error in
            guard case .mismatch(let msg)? = error as? MPILearnError else { return XCTFail("\(error)") }
            XCTAssertTrue(msg.contains("2×3 by 2×3"), msg)
            XCTAssertEqual((error as? MPILearnError)?.exitCode, .dataError)
        }
        var wrong = Matrix<Double>(rows: 3, columns: 3)
        XCTAssertThrowsError(try gemm(a, b, into: &wrong, transposeB: true))  // 2×2 result into 3×3
        XCTAssertNoThrow(try matmul(a, b, transposeB: true))
    }

    func testPosvKnownSolution() throws {
        // A = [[4,2,0],[2,5,1],[0,1,3]] (SPD), X = [[1,0],[2,-1],[-1,2]]  =>  B = A·X
        let a = Matrix<Double>([[4, 2, 0], [2, 5, 1], [0, 1, 3]])
        let x = Matrix<Double>([[1, 0], [2, -1], [-1, 2]])
        let b = try matmul(a, x)
        XCTAssertEqual(b, Matrix([[8, -2], [11, -3], [-1, 5]]))
        let solved = try solveSymmetricPositiveDefinite(a, b)
        for (g, w) in zip(solved.storage, x.storage) { XCTAssertEqual(g, w, accuracy: 1e-12) }
        let sf = try solveSymmetricPositiveDefinite(Matrix<Float>([[4, 2], [2, 3]]), Matrix<Float>([[8], [8]]))
        XCTAssertEqual(sf.storage[0], 1, accuracy: 1e-5)
        XCTAssertEqual(sf.storage[1], 2, accuracy: 1e-5)
    }

    func testPosvSingularOrIndefiniteIsNumericalError() {
        for a in [Matrix<Double>([[1, 2], [2, 4]]), Matrix<Double>([[1, 0], [0, -1]]), Matrix<Double>([[0, 0], [0, 0]])] {
            XCTAssertThrowsError(try solveSymmetricPositiveDefinite(a, Matrix([[1], [1]])), "\(a)") { error in
                guard case .numerical(let msg)? = error as? MPILearnError else { return XCTFail("\(error)") }
                XCTAssertTrue(msg.contains("not positive definite"), msg)
                XCTAssertEqual((error as? MPILearnError)?.exitCode, .software)
            }
        }
    }

    func testPosvShapeMismatchThrows() {
        XCTAssertThrowsError(try solveSymmetricPositiveDefinite(Matrix<Double>(rows: 2, columns: 3), Matrix(rows: 2, columns: 1))) {
            guard case .mismatch? = $0 as? MPILearnError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try solveSymmetricPositiveDefinite(Matrix<Double>.identity(2), Matrix(rows: 3, columns: 1))) {
            guard case .mismatch? = $0 as? MPILearnError else { return XCTFail("\($0)") }
        }
    }

    func testGelsExactOverdeterminedAndLeastSquares() throws {
        // Consistent 4×2 system: the exact solution.
        let a = Matrix<Double>([[1, 2], [3, -1], [0, 1], [2, 2]])
        let x = try solveLeastSquares(a, try matmul(a, Matrix([[1], [-2]])))
        XCTAssertEqual(x.rows, 2)
        XCTAssertEqual(x.storage[0], 1, accuracy: 1e-12)
        XCTAssertEqual(x.storage[1], -2, accuracy: 1e-12)
        // Line through (0,1), (1,3), (2,2): the normal equations give y = 1.5 + 0.5 t.
        let line = try solveLeastSquares(Matrix<Double>([[1, 0], [1, 1], [1, 2]]), Matrix([[1], [3], [2]]))
        XCTAssertEqual(line.storage[0], 1.5, accuracy: 1e-12)
        XCTAssertEqual(line.storage[1], 0.5, accuracy: 1e-12)
        // Underdetermined x1 + x2 = 2: the minimum-norm solution is (1, 1).
        let minNorm = try solveLeastSquares(Matrix<Float>([[1, 1]]), Matrix([[2]]))
        XCTAssertEqual(minNorm.rows, 2)
        XCTAssertEqual(minNorm.storage[0], 1, accuracy: 1e-5)
        XCTAssertEqual(minNorm.storage[1], 1, accuracy: 1e-5)
    }

    func testGelsRankDeficientIsNumericalErrorAndShapesAreChecked() {
        XCTAssertThrowsError(try solveLeastSquares(Matrix<Double>([[1, 0], [2, 0], [3, 0]]), Matrix([[1], [2], [3]]))) { error in
            guard case .numerical(let msg)? = error as? MPILearnError else { return XCTFail("\(error)") }
            XCTAssertTrue(msg.contains("rank deficient"), msg)
        }
        XCTAssertThrowsError(try solveLeastSquares(Matrix<Double>(rows: 3, columns: 2), Matrix(rows: 2, columns: 1))) { error in
            guard case .mismatch(let msg)? = error as? MPILearnError else { return XCTFail("\(error)") }
            XCTAssertTrue(msg.contains("3×2") && msg.contains("2 rows"), msg)
        }
    }
}
