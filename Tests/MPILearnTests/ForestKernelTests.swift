import Foundation
import CKernels
@testable import MPILearn
import SwiftMPI
import XCTest

/// The forest's C kernels (CKernels `trees.c`): binning must give the codes of the plain
/// binary search (``FeatureBins/code(_:feature:)``) for every edge count and every kind of
/// value, and every instruction-set variant of the descent must bring every row to the leaf a
/// plain walk reaches, for row counts that fill the vector pools partly, exactly or not at all.
final class ForestKernelTests: XCTestCase {
    override func tearDown() {
        _ = Kernels.use("avx512")   // back to the widest the machine has
    }

    func testBinningMatchesTheBinarySearchForEveryEdgeCount() {
        var g = Philox(seed: 11)
        for m in [0, 1, 2, 3, 7, 8, 9, 64, 200, 254] {
            // Ascending distinct edges, and values on, just beside, between and beyond them.
            var edges: [Double] = []
            var e = -50.0
            for _ in 0 ..< m { e += 0.25 + Double(g.next() % 1000) / 100; edges.append(e) }
            var values: [Double] = [.nan, -.infinity, .infinity, 0, -0.0, -1e300, 1e300]
            for v in edges { values += [v, v.nextUp, v.nextDown] }
            for _ in 0 ..< 997 { values.append(-60 + Double(g.next() % 1_000_000) / 1_000_000 * (e + 70)) }
            // Three features with m, 1 and 0 edges, rows not a multiple of the 8 searched at once.
            let bins = FeatureBins(edges: [edges, [0.5], []])
            let rows = values.count
            var x: [Double] = []
            for (i, v) in values.enumerated() { x += [v, Double(i % 3) - 0.5, values[(i * 7) % rows]] }
            let codes = bins.bin(Matrix(rows: rows, columns: 3, storage: x), padding: 4)
            XCTAssertEqual(codes.count, rows * 3 + 4)
            XCTAssertEqual(Array(codes.suffix(4)), [0, 0, 0, 0])
            for i in 0 ..< rows {
                for f in 0 ..< 3 {
                    let want = bins.code(x[i * 3 + f], feature: f)
                    if codes[i * 3 + f] != want {
                        return XCTFail("m=\(m): value \(x[i * 3 + f]) of feature \(f) got code \(codes[i * 3 + f]), want \(want)")
                    }
                }
            }
            XCTAssertEqual(codes[0], UInt8(m + 1), "NaN takes the missing code")
        }
    }

    /// Trees on noisy data with missing values (so rows go both ways at nodes that send
    /// missing values left and right), all on the same bins: a deep one, depth-limited ones
    /// (a stump among them), one on sqrt features and one with larger leaves.
    func grownTrees() throws -> (full: [Tree], packed: [BinnedPackedTree], bins: FeatureBins, x: Matrix<Double>) {
        let d = try Generators.makeClassification(nSamples: 3000, nFeatures: 6, nInformative: 3, nClasses: 3, flipY: 0.2, randomState: 5)
        var x = d.matrix
        var g = Philox(seed: 7)
        for i in 0 ..< x.rows where g.next() % 9 == 0 { x.storage[i * x.columns + Int(g.next() % 6)] = .nan }
        let data = BinnedData(x: x, classes: 3, y: d.target!.map { Int32($0) }, maxBins: 255)
        let settings = [TreeParameters(), TreeParameters(maxDepth: 3), TreeParameters(maxDepth: 1),
                        TreeParameters(maxFeatures: .sqrt), TreeParameters(minSamplesLeaf: 20)]
        var full: [Tree] = [], packed: [BinnedPackedTree] = []
        for (t, params) in settings.enumerated() {
            var samples = (0 ..< Int32(data.rows)).map { ($0 &* 7 &+ Int32(t)) % Int32(data.rows) }
            let weights = [Double](repeating: 1, count: data.rows)
            var rng = Philox(seed: UInt64(t))
            let tree = samples.withUnsafeMutableBufferPointer { s in
                weights.withUnsafeBufferPointer { w in TreeBuilder(params: params, data: data).grow(samples: s.baseAddress!, count: data.rows, weights: w.baseAddress!, rng: &rng) }
            }
            // The library's fit stops on this (a precondition failure), so a test must fail, not skip.
            let p = try XCTUnwrap(BinnedPackedTree(tree, bins: data.bins), "tree \(t), grown on these bins, did not pack")
            full.append(tree)
            packed.append(p)
        }
        XCTAssertGreaterThan(full[0].depth, 12, "a deep tree, so rows finish at very different steps")
        return (full, packed, data.bins, x)
    }

    /// The leaf of a row by a plain walk over the packed nodes.
    func walk(_ t: BinnedPackedTree, _ row: ArraySlice<UInt8>) -> Int32 {
        var cur = 0
        while true {
            let n = t.nodes[cur]
            let c = row[row.startIndex + Int(n.feature)]
            let next = Int(n.child) + ((c > n.bin && UInt16(c) != n.missing) ? 1 : 0)
            if next == cur { return Int32(cur) }
            cur = next
        }
    }

    func testEveryDescentVariantFindsTheLeafOfAPlainWalk() throws {
        let (_, trees, bins, x) = try grownTrees()
        let codes = bins.bin(x, padding: 4)
        let d = x.columns
        for variant in Kernels.choices {
            let inUse = Kernels.use(variant)
            for t in trees {
                for rows in [1, 3, 4, 15, 16, 17, 63, 64, 65, 257, 1000, x.rows] {
                    var leaf = [Int32](repeating: -1, count: rows)
                    var scratch = [Int32](repeating: 0, count: 2 * (rows + 64))
                    codes.withUnsafeBufferPointer { c in
                        t.nodes.withUnsafeBufferPointer { nd in
                            mpl_tree_leaves(nd.baseAddress!, c.baseAddress!, rows, d, &leaf, &scratch)
                        }
                    }
                    for i in 0 ..< rows {
                        let want = walk(t, codes[(i * d) ..< (i * d + d)])
                        if leaf[i] != want { return XCTFail("\(inUse): \(rows) rows, row \(i): leaf \(leaf[i]), plain walk \(want)") }
                    }
                }
            }
        }
    }

    func testEveryVariantSumsExactlyWhatTheRawTreesSum() throws {
        let (full, packed, bins, x) = try grownTrees()
        let codes = bins.bin(x, padding: 4)
        let k = full[0].outputs
        // The raw-value trees (no bins) are the reference.
        var raw = [Double](repeating: 0, count: x.rows * k)
        x.storage.withUnsafeBufferPointer { xs in
            raw.withUnsafeMutableBufferPointer { o in for t in full { PackedTree(t).accumulate(xs, rows: x.rows, columns: x.columns, into: o) } }
        }
        for variant in Kernels.choices {
            let inUse = Kernels.use(variant)
            for hard in [false, true] {
                var sums = [Double](repeating: 0, count: x.rows * k), scratch: [Int32] = []
                codes.withUnsafeBufferPointer { c in
                    sums.withUnsafeMutableBufferPointer { o in
                        for t in packed { t.accumulate(c, rows: x.rows, columns: x.columns, into: o, hard: hard, scratch: &scratch) }
                    }
                }
                if hard {
                    for i in 0 ..< x.rows { XCTAssertEqual((0 ..< k).reduce(0) { $0 + sums[i * k + $1] }, Double(full.count)) }
                } else {
                    XCTAssertEqual(sums, raw, "\(inUse): soft sums differ from the raw trees'")
                }
            }
        }
    }

    /// The radix sort behind the bins orders like a comparison sort: negatives, zeros of both
    /// signs, infinities, subnormals, duplicates and columns of few distinct values.
    func testRadixSortOrdersLikeAComparisonSort() {
        var rng = Philox(seed: 11, domain: 3, stream: 0)
        var cases: [[Double]] = [[], [1], [2, 1], [-0.0, 0.0, -0.0, 0.0, 5, -5], [.infinity, -.infinity, 0, .leastNonzeroMagnitude, -.leastNonzeroMagnitude]]
        cases.append((0 ..< 5000).map { _ in (rng.uniform() - 0.5) * 1e6 })
        cases.append((0 ..< 5000).map { _ in Double(rng.below(12)) })                 // few distinct values: skipped passes
        cases.append((0 ..< 5000).map { _ in rng.normal() * pow(10, Double(rng.below(40)) - 20) })
        for c in cases {
            var v = c
            FeatureBins.radixSort(&v)
            XCTAssertEqual(v, c.sorted(), "\(c.prefix(6))")
            XCTAssertEqual(FeatureBins.cuts(sorted: v, maxBins: 16), FeatureBins.cuts(sorted: c.sorted(), maxBins: 16))
        }
    }
}
