import Foundation
@testable import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// Dictionary-coded feature columns: lossless, the same bins and codes as the dense rows, and
/// a forest search on coded rows equal to one on dense rows.
final class CodedColumnTests: XCTestCase {
    /// Three columns of `n` rows: few distinct values (with -0.0, 0.0, ±inf and NaN), about a
    /// thousand, and all distinct.
    static func columns(_ n: Int) -> [[Double]] {
        var rng = Philox(seed: 3, domain: 1, stream: 0)
        let special: [Double] = [-0.0, 0.0, .infinity, -.infinity, .nan]
        let few = (0 ..< n).map { i in i % 7 == 0 ? special[(i / 7) % special.count] : Double(rng.below(40)) - 20 }
        let thousand = (0 ..< n).map { i in i % 11 == 0 ? Double.nan : Double(rng.below(1000)) * 0.25 }
        let distinct = (0 ..< n).map { i in Double(i) * 1.5 - Double(n) / 3 }
        return [few, thousand, distinct]
    }

    func testCodedColumnsGiveBackEveryValueBitForBit() {
        let cols = Self.columns(70_000)
        let coded = cols.map { CodedColumn($0) }
        guard case .byte = coded[0].storage, case .short = coded[1].storage, case .values = coded[2].storage else {
            return XCTFail("storage: \(coded.map { "\($0.storage)".prefix(6) })")
        }
        for (c, col) in zip(coded, cols) {
            XCTAssertEqual(c.count, col.count)
            XCTAssertEqual(c.decoded().map { $0.isNaN ? Double.nan.bitPattern : $0.bitPattern },
                           col.map { $0.isNaN ? Double.nan.bitPattern : $0.bitPattern })
        }
        // -0.0 and 0.0 are two entries, in that order; NaN is not one.
        XCTAssertEqual(coded[0].values.filter { $0 == 0 }.map { $0.sign }, [.minus, .plus])
        XCTAssertFalse(coded[0].values.contains { $0.isNaN })
        XCTAssertEqual(coded[0].values, coded[0].values.sorted())
        XCTAssertLessThan(coded[0].byteCount, 70_000 + 64 * 8)
        XCTAssertLessThan(coded[1].byteCount, 2 * 70_000 + 1001 * 8)
        XCTAssertEqual(CodedColumn([Double]()).count, 0)
    }

    func testCodedRowsBinAndReadAsTheDenseRows() throws {
        let n = 70_000
        let cols = Self.columns(n)
        let columns = Dataset(columns: cols, rows: n)
        var dense = columns
        dense.makeDense()
        var coded = columns
        coded.makeCoded()
        guard case .coded = coded.features else { return XCTFail("not coded") }
        var rng = Philox(seed: 9, domain: 2, stream: 0)
        let rows = (0 ..< 30_000).map { _ in rng.below(n) }
        for subset in [nil, rows] {
            let a = FeatureBins(dense, rows: subset, maxBins: 32), b = FeatureBins(coded, rows: subset, maxBins: 32)
            let c = FeatureBins(columns, rows: subset, maxBins: 32)
            XCTAssertEqual(a.edges, b.edges)
            XCTAssertEqual(a.edges, c.edges)
            XCTAssertEqual(a.bin(dense, rows: subset, padding: 4), a.bin(coded, rows: subset, padding: 4))
            XCTAssertEqual(a.bin(dense, rows: subset), a.bin(columns, rows: subset))
        }
        // Subsets of coded rows are dense rows; making coded rows dense gives the matrix back.
        func bits(_ m: Matrix<Double>) -> [UInt64] { m.storage.map { $0.isNaN ? Double.nan.bitPattern : $0.bitPattern } }
        XCTAssertEqual(bits(coded.rows(rows).matrix), bits(dense.rows(rows).matrix))
        XCTAssertEqual(bits(coded.denseCopy()), bits(dense.matrix))
        coded.makeDense()
        XCTAssertEqual(bits(coded.matrix), bits(dense.matrix))
    }

    func testForestSearchOnCodedRowsEqualsDenseRows() throws {
        var data = try SearchTests.data(rows: 300, features: 4)
        // Rounded features: few distinct values, as in tabular data.
        data.matrix.storage = data.matrix.storage.map { ($0 * 4).rounded() / 4 }
        var coded = data
        coded.makeCoded()
        let grid = ParameterGrid(["max_depth": [2, 5], "n_estimators": [2, 4]])
        let options = SearchOptions(cv: KFold(nSplits: 3), returnTrainScore: true)
        let solo = LocalCommunicator.solo()
        for p in [1, 3] {
            // The same cv_results at any rank count; the model file records the ranks' share of trees.
            let expected = try LocalWorld.run(size: p) { comm in
                try GridSearchCV(SearchTests.forest, grid: grid, options: options).fit(.replicated(data), comm: comm)
            }[0]
            let out = try LocalWorld.run(size: p) { comm in
                try GridSearchCV(SearchTests.forest, grid: grid, options: options).fit(.replicated(coded), comm: comm)
            }
            for r in out {
                XCTAssertEqual(r.cvResults.csv(times: false), expected.cvResults.csv(times: false), "p=\(p)")
                // The same file but for the provenance date (the two fits may straddle a second).
                var a = r.bestModel!, b = expected.bestModel!
                a.forest.header.provenance.date = ""
                b.forest.header.provenance.date = ""
                XCTAssertEqual(try a.container().encoded(), try b.container().encoded(), "p=\(p)")
            }
        }
        // A learner that reads rows is told to make them dense.
        let kmeans = GridSearchCV(KMeans(nClusters: 2), grid: ParameterGrid(["n_clusters": [2, 3]]), options: SearchOptions(cv: KFold(nSplits: 3)))
        XCTAssertThrowsError(try kmeans.fit(.replicated(coded), comm: solo)) { error in
            XCTAssertTrue("\(error)".contains("makeDense()"), "\(error)")
        }
    }
}
