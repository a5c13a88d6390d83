import Foundation
@testable import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// The dense centred Gram step (blocked SYRK) against a two-pass centred product, its timer,
/// and the phase table `linear fit` prints.
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

    func testGramTimerRecordsOnlyWhereItIsCurrent() throws {
        let x = Matrix<Double>(rows: 500, columns: 3, storage: (0 ..< 1500).map { Double($0 % 17) })
        let y = (0 ..< 500).map { Double($0 % 5) }
        XCTAssertNil(GramTimer.current)
        _ = try DenseDesign(x: x).centredGram(means: [0, 0, 0], y: y, yMean: 0)   // no timer: nothing to record into
        let timer = GramTimer()
        try GramTimer.$current.withValue(timer) {
            _ = try Ridge().fit(Dataset(features: x, target: y), comm: LocalCommunicator.solo())
        }
        XCTAssertGreaterThan(timer.seconds, 0)
        XCTAssertNil(GramTimer.current)
    }

    /// `linear fit`'s summary ends with the phase table: the Gram step as its own phase for
    /// ridge and linear-regression, one fit phase for logistic-regression.
    func testFitSummaryReportsPhases() throws {
        let dir = try MPIRun.temporaryDirectory("linear-phases")
        defer { try? FileManager.default.removeItem(at: dir) }
        for (estimator, spec, phases) in [("ridge", "regression:3000,4", ["read", "gram", "sums + reduce + solve", "save"]),
                                          ("linear-regression", "regression:3000,4", ["read", "gram", "sums + reduce + solve", "save"]),
                                          ("logistic-regression", "classification:3000,4", ["read", "fit", "save"])] {
            let model = dir.appendingPathComponent("\(estimator).model").path
            let summaries = try LocalWorld.run(size: 2) { comm in
                try LinearWorkflow.fitAndSave(ForestWorkflow.TrainingSource(path: spec), estimator: estimator, parameters: [:], model: model, comm: comm)
            }
            XCTAssertNil(summaries[1], "only rank 0 reports")
            let text = try XCTUnwrap(summaries[0]?.phases, estimator)
            let names = text.split(separator: "\n").dropFirst().dropLast().map { String($0.prefix(24)).trimmingCharacters(in: .whitespaces) }
            XCTAssertEqual(names, phases, "\(estimator):\n\(text)")
            XCTAssertTrue(summaries[0]!.text.hasSuffix(text), summaries[0]!.text)
        }
    }
}
