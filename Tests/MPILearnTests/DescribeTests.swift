import Foundation
import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// `Describe.summarize`: the same statistics for p = 1...4 (to 1e-12 relative) and equal to a
/// direct single-process computation; generator sanity (class balance, blob centres).
final class DescribeTests: XCTestCase {
    func testStatisticsAreRankInvariantAndMatchDirectComputation() throws {
        let dir = try MPIRun.temporaryDirectory("describe")
        defer { try? FileManager.default.removeItem(at: dir) }
        var text = "a,b,c\n"
        var a: [Double] = [], b: [Double] = [], cats: [String] = []
        var rng = Philox(seed: 7)
        for i in 0 ..< 997 {
            let x = 1e3 + 3 * rng.normal()
            let y = i % 17 == 0 ? Double.nan : Double(i % 50) - 20.5
            let c = ["UA", "AA", "DL", "B6"][Int(rng.below(4))]
            a.append(x); b.append(y); cats.append(c)
            text += "\(x),\(y.isNaN ? "NA" : "\(y)"),\(c)\n"
        }
        let path = dir.appendingPathComponent("d.csv").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))

        func direct(_ v: [Double]) -> (n: Int, mean: Double, std: Double, min: Double, max: Double) {
            let x = v.filter { !$0.isNaN }
            let mean = x.reduce(0, +) / Double(x.count)
            let ss = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
            return (x.count, mean, (ss / Double(x.count - 1)).squareRoot(), x.min()!, x.max()!)
        }
        func close(_ x: Double?, _ y: Double, _ what: String) {
            guard let x else { return XCTFail("\(what) missing") }
            XCTAssertLessThanOrEqual(abs(x - y), 1e-12 * max(abs(y), 1e-300), "\(what): \(x) vs \(y)")
        }
        var first: [ColumnSummary]? = nil
        for p in 1 ... 4 {
            let summaries = try LocalWorld.run(size: p) { comm in
                try Describe.summarize(try CSVReader.read(path, comm: comm), comm: comm)
            }
            XCTAssertTrue(summaries.allSatisfy { $0 == summaries[0] }, "ranks disagree at p=\(p)")
            let s = summaries[0]
            for (k, v) in [(0, a), (1, b)] {
                let d = direct(v)
                XCTAssertEqual(s[k].count, d.n)
                XCTAssertEqual(s[k].missing, v.count - d.n)
                close(s[k].mean, d.mean, "mean \(k) p=\(p)")
                close(s[k].std, d.std, "std \(k) p=\(p)")
                XCTAssertEqual(s[k].min, d.min)
                XCTAssertEqual(s[k].max, d.max)
                if let f = first {
                    close(s[k].mean, f[k].mean!, "mean vs p=1")
                    close(s[k].std, f[k].std!, "std vs p=1")
                }
            }
            XCTAssertEqual(s[2].categories, 4)
            let counts = Dictionary(grouping: cats, by: { $0 }).mapValues(\.count)
            XCTAssertEqual(Dictionary(uniqueKeysWithValues: zip(s[2].top!, s[2].topCounts!)), counts)
            XCTAssertEqual(s[2].topCounts, s[2].topCounts!.sorted(by: >))
            if first == nil { first = s }
        }
    }

    func testGeneratorsClassBalanceAndBlobCentres() throws {
        let n = 4000
        let parts = try LocalWorld.run(size: 3) { comm in
            try Generators.makeClassification(nSamples: n, nFeatures: 6, nInformative: 3, nClasses: 3, flipY: 0,
                                              randomState: 5, rows: Partition.block(count: n, parts: 3, index: comm.rank))
        }
        let y = parts.flatMap { $0.target! }
        for c in 0 ..< 3 { XCTAssertEqual(Double(y.filter { $0 == Double(c) }.count) / Double(n), 1.0 / 3, accuracy: 0.01) }

        let centres = Generators.blobCenters(nFeatures: 2, centers: 4, randomState: 9)
        let blobs = try Generators.makeBlobs(nSamples: n, nFeatures: 2, centers: 4, clusterStd: 0.5, randomState: 9)
        for k in 0 ..< 4 {
            let rows = (0 ..< n).filter { blobs.target![$0] == Double(k) }
            for j in 0 ..< 2 {
                let mean = rows.map { blobs.matrix[$0, j] }.reduce(0, +) / Double(rows.count)
                XCTAssertEqual(mean, centres[k, j], accuracy: 0.05, "blob \(k) feature \(j)")
            }
        }
    }
}
