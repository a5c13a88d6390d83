import Foundation
@testable import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// The dense centred Gram step (blocked SYRK) against a two-pass centred product.
final class LinearDesignTests: XCTestCase {
    /// (X − 1·μᵀ)ᵀ(X − 1·μᵀ) and (X − 1·μᵀ)ᵀ(y − ȳ) by the definition.
    static func naiveCentredGram(_ x: Matrix<Double>, _ y: [Double], _ mu: [Double], _ yMean: Double) -> ([Double], [Double]) {
        let d = x.columns
        var g = [Double](repeating: 0, count: d * d), xty = [Double](repeating: 0, count: d)
        for i in 0 ..< x.rows {
            let r = (0 ..< d).map { x[i, $0] - mu[$0] }, yc = y[i] - yMean
            for a in 0 ..< d {
                xty[a] += r[a] * yc
                for b in 0 ..< d { g[a * d + b] += r[a] * r[b] }
            }
        }
        return (g, xty)
    }

    /// Several blocks and a shorter last one (d = 7: blocks of 9,362 rows), means far from 0
    /// (centring first keeps the small spread exact), and no rows at all.
    func testCentredGramMatchesTheDefinitionOverBlocks() throws {
        let d = 7, n = 2 * ((1 << 16) / d) + 101
        var x = Matrix<Double>(rows: n, columns: d)
        var y = [Double](repeating: 0, count: n)
        for i in 0 ..< n {
            for j in 0 ..< d { x[i, j] = 1e6 * Double(j + 1) + Double((i * 31 + j * 17) % 101) / 7 - Double(j) }
            y[i] = 5e5 + Double((i * 13) % 29) / 3
        }
        let mu = (0 ..< d).map { j in (0 ..< n).reduce(0.0) { $0 + x[$1, j] } / Double(n) }, yMean = y.reduce(0, +) / Double(n)
        let (gram, xty) = try DenseDesign(x: x).centredGram(means: mu, y: y, yMean: yMean)
        let (g, v) = Self.naiveCentredGram(x, y, mu, yMean)
        let scale = g.map(abs).max()!
        for k in 0 ..< d * d { XCTAssertEqual(gram.storage[k], g[k], accuracy: 1e-12 * scale, "Gram entry (\(k / d), \(k % d))") }
        XCTAssertEqual(gram, gram.transposed, "the Gram matrix is symmetric")
        let vScale = v.map(abs).max()!
        for j in 0 ..< d { XCTAssertEqual(xty[j], v[j], accuracy: 1e-12 * vScale, "Xᵀy entry \(j)") }

        let empty = try DenseDesign(x: Matrix(rows: 0, columns: 3)).centredGram(means: [0, 0, 0], y: [], yMean: 0)
        XCTAssertEqual(empty.gram, Matrix(rows: 3, columns: 3))
        XCTAssertEqual(empty.xty, [0, 0, 0])
    }
}
