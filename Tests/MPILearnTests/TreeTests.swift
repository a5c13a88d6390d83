import Foundation
import MPILearn
import SwiftMPI
import XCTest

/// Hand-checked trees on tiny datasets: the split, the leaves and the routing of missing
/// values can be worked out on paper.
final class TreeTests: XCTestCase {
    /// Grows one tree on every row with weight 1.
    func grow(_ x: [[Double]], classes: Int, y: [Int32], params: TreeParameters) -> Tree {
        let data = BinnedData(x: Matrix(x), classes: classes, y: y, maxBins: params.maxBins)
        return growOn(data, params)
    }

    func growRegression(_ x: [[Double]], y: [Double], params: TreeParameters) -> Tree {
        growOn(BinnedData(x: Matrix(x), y: y, maxBins: params.maxBins), params)
    }

    func growOn(_ data: BinnedData, _ params: TreeParameters) -> Tree {
        var samples = (0 ..< Int32(data.rows)).map { $0 }
        let weights = [Double](repeating: 1, count: data.rows)
        var rng = Philox(seed: 1)
        let b = TreeBuilder(params: params, data: data)
        return samples.withUnsafeMutableBufferPointer { s in
            weights.withUnsafeBufferPointer { w in b.grow(samples: s.baseAddress!, count: data.rows, weights: w.baseAddress!, rng: &rng) }
        }
    }

    func predict(_ t: Tree, _ rows: [[Double]]) -> [[Double]] {
        let m = Matrix(rows)
        var out = [Double](repeating: 0, count: rows.count * t.outputs)
        m.storage.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in PackedTree(t).accumulate(x, rows: rows.count, columns: m.columns, into: o) }
        }
        return (0 ..< rows.count).map { Array(out[$0 * t.outputs ..< ($0 + 1) * t.outputs]) }
    }

    func testOneCleanSplitGivesTwoPureLeaves() {
        // Classes separate between 3 and 4: the root splits there (midpoint 3.5), both leaves pure.
        let t = grow([[1], [2], [3], [4], [5], [6]], classes: 2, y: [0, 0, 0, 1, 1, 1], params: TreeParameters())
        XCTAssertEqual(t.nodeCount, 3)
        XCTAssertEqual(t.feature[0], 0)
        XCTAssertEqual(t.threshold[0], 3.5)
        XCTAssertEqual(t.impurity[0], 0.5, accuracy: 1e-12)            // gini of a 50/50 node
        XCTAssertEqual(t.value[Int(t.left[0]) * 2 ..< Int(t.left[0]) * 2 + 2], [1, 0])
        XCTAssertEqual(t.value[Int(t.right[0]) * 2 ..< Int(t.right[0]) * 2 + 2], [0, 1])
        XCTAssertEqual(t.impurity[1], 0); XCTAssertEqual(t.impurity[2], 0)
        XCTAssertEqual(predict(t, [[3.4], [3.6], [-100], [100]]).map { $0[1] }, [0, 1, 0, 1])
    }

    func testPicksTheInformativeFeature() {
        // Feature 0 is noise, feature 1 separates the classes at 15.
        let x: [[Double]] = [[5, 10], [1, 20], [4, 11], [2, 21], [3, 12], [6, 22]]
        let t = grow(x, classes: 2, y: [0, 1, 0, 1, 0, 1], params: TreeParameters())
        XCTAssertEqual(t.feature[0], 1)
        XCTAssertEqual(t.threshold[0], 16)   // midpoint of 12 and 20
        XCTAssertEqual(t.nodeCount, 3)
    }

    func testDepthLimit() {
        // XOR needs depth 2; with max_depth 1 the tree stops after one split.
        let x: [[Double]] = [[0, 0], [0, 1], [1, 0], [1, 1], [0, 0], [0, 1], [1, 0], [1, 1]]
        let y: [Int32] = [0, 1, 1, 0, 0, 1, 1, 0]
        let full = grow(x, classes: 2, y: y, params: TreeParameters(criterion: .entropy))
        XCTAssertEqual(full.depth, 2)
        XCTAssertEqual(full.leafCount, 4)
        XCTAssertEqual(predict(full, x).map { $0[1] }, y.map(Double.init))
        let limited = grow(x, classes: 2, y: y, params: TreeParameters(maxDepth: 1))
        XCTAssertEqual(limited.depth, 1)
        XCTAssertEqual(limited.leafCount, 2)
    }

    func testRegressionLeafMeansAndThreshold() {
        let x: [[Double]] = [[1], [2], [3], [10], [11], [12]]
        let t = growRegression(x, y: [1, 2, 3, 21, 20, 19], params: TreeParameters(criterion: .squaredError, maxDepth: 1))
        XCTAssertEqual(t.threshold[0], 6.5)
        XCTAssertEqual(t.value[Int(t.left[0])], 2, accuracy: 1e-12)
        XCTAssertEqual(t.value[Int(t.right[0])], 20, accuracy: 1e-12)
        XCTAssertEqual(t.value[0], 11, accuracy: 1e-12)
        // Root impurity: variance of the six targets.
        let y = [1.0, 2, 3, 21, 20, 19], m = y.reduce(0, +) / 6
        XCTAssertEqual(t.impurity[0], y.map { ($0 - m) * ($0 - m) }.reduce(0, +) / 6, accuracy: 1e-9)
    }

    func testMissingValuesGoWhereTrainingSentThem() {
        // Rows with NaN are class 1 like the large values: NaN must go right.
        let x: [[Double]] = [[1], [2], [3], [.nan], [.nan], [7], [8]]
        let t = grow(x, classes: 2, y: [0, 0, 0, 1, 1, 1, 1], params: TreeParameters())
        XCTAssertEqual(t.nodeCount, 3)
        XCTAssertEqual(t.missingGoesLeft[0], 0)
        XCTAssertEqual(predict(t, [[.nan], [2.5], [7.5]]).map { $0[1] }, [1, 0, 1])
        // Now NaN rows are class 0 like the small values: NaN must go left.
        let t2 = grow(x, classes: 2, y: [0, 0, 0, 0, 0, 1, 1], params: TreeParameters())
        XCTAssertEqual(t2.missingGoesLeft[0], 1)
        XCTAssertEqual(predict(t2, [[.nan], [2.5], [7.5]]).map { $0[1] }, [0, 0, 1])
    }

    func testMissingOnlySplit() {
        // The only signal is missing vs present: threshold +inf, NaN right.
        let x: [[Double]] = [[1], [1], [.nan], [.nan]]
        let t = grow(x, classes: 2, y: [0, 0, 1, 1], params: TreeParameters())
        XCTAssertEqual(t.threshold[0], .infinity)
        XCTAssertEqual(predict(t, [[.nan], [5]]).map { $0[1] }, [1, 0])
    }

    func testMinSamplesLeafAndMaxLeafNodes() throws {
        let d = try Generators.makeClassification(nSamples: 400, nFeatures: 6, nInformative: 3, nRedundant: 1, randomState: 3)
        let y = d.target!.map { Int32($0) }
        let data = BinnedData(x: d.matrix, classes: 2, y: y, maxBins: 255)
        let leafy = growOn(data, TreeParameters(minSamplesLeaf: 7))
        for i in 0 ..< leafy.nodeCount where leafy.feature[i] < 0 { XCTAssertGreaterThanOrEqual(leafy.samples[i], 7) }
        let small = growOn(data, TreeParameters(maxLeafNodes: 5))
        XCTAssertEqual(small.leafCount, 5)
        let split = growOn(data, TreeParameters(minSamplesSplit: 50))
        for i in 0 ..< split.nodeCount where split.feature[i] >= 0 { XCTAssertGreaterThanOrEqual(split.samples[i], 50) }
        let decrease = growOn(data, TreeParameters(minImpurityDecrease: 0.01))
        XCTAssertLessThan(decrease.nodeCount, growOn(data, TreeParameters()).nodeCount)
    }

    func testBinsAreQuantilesAndCodesMatchThresholds() {
        let x = Matrix(rows: 1000, columns: 1, storage: (0 ..< 1000).map { Double($0 % 500) })
        let bins = FeatureBins(x, maxBins: 10)
        XCTAssertEqual(bins.binCount(0), 10)
        let codes = bins.bin(x)
        for i in 0 ..< 1000 {
            let c = Int(codes[i])
            if c < bins.edges[0].count { XCTAssertLessThanOrEqual(x[i, 0], bins.edges[0][c]) }
            if c > 0 { XCTAssertGreaterThan(x[i, 0], bins.edges[0][c - 1]) }
        }
        XCTAssertEqual(bins.code(.nan, feature: 0), 10)
    }

    /// Separate columns (a CSV table's, as `forest fit` hands them over) give the same edges
    /// and codes as their row-major matrix: with missing and infinite values, a heavy value,
    /// few and many distinct values, the stride sample (more rows than `sampleLimit`), and no rows.
    func testBinsFromColumnsEqualBinsFromTheMatrix() {
        var rng = Philox(seed: 31)
        for (n, limit) in [(0, 250_000), (1, 250_000), (997, 250_000), (5000, 700)] {
            let columns: [[Double]] = [
                (0 ..< n).map { _ in Double(rng.below(1000)) / 7 },                       // many distinct values
                (0 ..< n).map { (i: Int) -> Double in i % 11 == 0 ? .nan : Double(rng.below(4)) },   // few, and missing
                (0 ..< n).map { (i: Int) -> Double in
                    if i % 3 == 0 { return 2.5 }                       // a heavy value
                    return i % 101 == 0 ? -Double.infinity : Double(i)
                },
                (0 ..< n).map { _ in .nan },                                                // all missing
            ]
            let d = columns.count
            let x = Matrix(rows: n, columns: d, storage: (0 ..< n).flatMap { i in columns.map { $0[i] } })
            let fromMatrix = FeatureBins(x, maxBins: 40, sampleLimit: limit)
            let fromColumns = FeatureBins(columns: columns, rows: n, maxBins: 40, sampleLimit: limit)
            XCTAssertEqual(fromColumns.edges, fromMatrix.edges, "n=\(n)")
            XCTAssertEqual(fromColumns.bin(columns: columns, rows: n, padding: 4), fromMatrix.bin(x, padding: 4), "n=\(n)")
            if n == 997 { XCTAssertEqual(fromColumns.binCount(1), 4, "one bin per distinct value (the missing code is 4)") }
        }
    }

    func testBadTreeParameters() {
        XCTAssertThrowsError(try TreeParameters(maxDepth: 0).validate(features: 3)) { e in
            XCTAssertTrue("\(e)".contains("max_depth"), "\(e)")
        }
        XCTAssertThrowsError(try TreeParameters(maxFeatures: .count(4)).validate(features: 3))
        XCTAssertThrowsError(try TreeParameters(maxFeatures: .fraction(1.5)).validate(features: 3))
        XCTAssertThrowsError(try TreeParameters(minSamplesLeaf: 0).validate(features: 3))
        XCTAssertThrowsError(try TreeParameters(maxBins: 256).validate(features: 3))
        XCTAssertThrowsError(try MaxFeatures(parsing: "most"))
        XCTAssertEqual(MaxFeatures.sqrt.resolve(features: 15), 3)
        XCTAssertEqual(MaxFeatures.log2.resolve(features: 15), 3)
        XCTAssertEqual(MaxFeatures.fraction(0.5).resolve(features: 15), 7)
    }

    /// A tree with more distinct leaf outputs than a node's 16-bit field holds (131,072 leaves,
    /// each its own value) keeps per-node entries and still predicts exactly as on raw values.
    func testCompactTreeWithManyDistinctLeaves() {
        let levels = 17, features = 4
        var t = Tree(outputs: 1)
        func add(_ value: Double) -> Int32 {
            t.feature.append(-1); t.threshold.append(0); t.left.append(-1); t.right.append(-1); t.missingGoesLeft.append(0)
            t.samples.append(1); t.weightedSamples.append(1); t.impurity.append(0); t.value.append(value)
            return Int32(t.feature.count - 1)
        }
        _ = add(0)
        // Breadth-first: node i splits on feature i % 4 at edge 1.5 (code <= 1 left).
        var level: [Int32] = [0], leaves = 0
        for _ in 0 ..< levels {
            var next: [Int32] = []
            for node in level {
                t.feature[Int(node)] = node % Int32(features)
                t.threshold[Int(node)] = 1.5
                t.left[Int(node)] = add(Double(2 * leaves) + 0.25)
                t.right[Int(node)] = add(Double(2 * leaves + 1) + 0.25)
                next += [t.left[Int(node)], t.right[Int(node)]]
                leaves += 1
            }
            level = next
        }
        XCTAssertNil(t.validate(features: features))
        let bins = FeatureBins(edges: Array(repeating: [0.5, 1.5, 2.5], count: features))
        guard let packed = BinnedPackedTree(t, bins: bins) else { return XCTFail("tree did not pack") }
        XCTAssertEqual(packed.distinctLeafOutputs, 1 << levels)
        var rng = Philox(seed: 3, domain: 1, stream: 0)
        let rows = 2000
        let x = (0 ..< rows * features).map { _ in Double(rng.below(4)) }
        let m = Matrix(rows: rows, columns: features, storage: x)
        var raw = [Double](repeating: 0, count: rows), coded = raw
        x.withUnsafeBufferPointer { xs in raw.withUnsafeMutableBufferPointer { PackedTree(t).accumulate(xs, rows: rows, columns: features, into: $0) } }
        let codes = bins.bin(m, padding: 4)
        var scratch: [Int32] = []
        codes.withUnsafeBufferPointer { cs in coded.withUnsafeMutableBufferPointer { packed.accumulate(cs, rows: rows, columns: features, into: $0, scratch: &scratch) } }
        XCTAssertEqual(raw, coded)
    }
}
