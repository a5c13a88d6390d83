import Foundation
@testable import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// The global forest (`mode = global`) over in-process ranks: the same model bytes at any rank
/// and thread count, the serial learner's tree where the two modes coincide, empty ranks and
/// ranks lacking a class, and the combinations it refuses.
final class GlobalForestTests: XCTestCase {
    override func setUp() {
        setenv("SOURCE_DATE_EPOCH", "1700000000", 1)
    }

    static func params(_ n: Int = 6, threads: Int = 1) -> RandomForestParameters {
        var p = RandomForestParameters.classifier(nEstimators: n)
        p.randomState = 11
        p.threads = threads
        p.mode = .global
        return p
    }

    /// The whole forest's model file bytes, on rank 0, from `p` in-process ranks.
    static func modelBytes(ranks: Int, rows: Int, features: Int = 8, parameters: RandomForestParameters) throws -> Data {
        let out = try LocalWorld.run(size: ranks) { comm -> Data? in
            let d = try ForestTests.shard(comm, rows: rows, features: features, seed: 21)
            let m = try RandomForestClassifier(parameters).fitLocal(d, comm: comm)
            return try m.forest.gathered(comm).map { try $0.container().encoded() }
        }
        return out[0]!
    }

    /// 5,000 rows: large enough that the top of each tree is grown over the ranks and its
    /// small nodes are moved and finished on one rank each (a node of at most 1,024 rows).
    func testModelBytesAreIdenticalForAnyRankAndThreadCount() throws {
        var p = Self.params(5)
        p.oobScore = true
        let reference = try Self.modelBytes(ranks: 1, rows: 5000, parameters: p)
        for (ranks, threads) in [(2, 1), (3, 2), (4, 1), (7, 2), (1, 2)] {
            p.threads = threads
            XCTAssertEqual(try Self.modelBytes(ranks: ranks, rows: 5000, parameters: p), reference, "ranks \(ranks), threads \(threads)")
        }
        // The model records its mode, and the local mode gives another forest.
        let forest = try ForestModel.decode(fileBytes: [UInt8](reference), path: "global")
        XCTAssertEqual(forest.header.parameters.mode, .global)
        XCTAssertEqual(forest.trees.count, 5)
        XCTAssertNotNil(forest.header.oobScore)
        XCTAssertGreaterThan(forest.header.oobScore!, 0.8)
        var local = p
        local.mode = .local
        let localForest = try ForestModel.decode(fileBytes: [UInt8](try Self.modelBytes(ranks: 1, rows: 5000, parameters: local)), path: "local")
        XCTAssertEqual(localForest.header.parameters.mode, .local)
        XCTAssertNotEqual(localForest.trees, forest.trees)
    }

    /// Class weights (applied when a histogram is scanned), `max_samples`, depth and leaf
    /// limits, and `balanced_subsample` (per-tree weights from counts summed over the ranks).
    func testOptionsKeepTheModelIdenticalAcrossRanks() throws {
        var p = Self.params(4)
        p.classWeight = .balancedSubsample
        p.maxSamples = .fraction(0.5)
        p.tree.maxDepth = 7
        p.tree.minSamplesLeaf = 3
        p.tree.criterion = .entropy
        let one = try Self.modelBytes(ranks: 1, rows: 4000, parameters: p)
        XCTAssertEqual(try Self.modelBytes(ranks: 3, rows: 4000, parameters: p), one)
        p.classWeight = .balanced
        p.maxSamples = .count(1500)
        p.bootstrap = true
        XCTAssertEqual(try Self.modelBytes(ranks: 2, rows: 4000, parameters: p), try Self.modelBytes(ranks: 1, rows: 4000, parameters: p))
        p.bootstrap = false
        p.maxSamples = nil
        XCTAssertEqual(try Self.modelBytes(ranks: 4, rows: 4000, parameters: p), try Self.modelBytes(ranks: 1, rows: 4000, parameters: p))
    }

    /// Where the modes coincide (every feature at every node, so no feature draws; no class
    /// weights), the global tree at one rank is the serial learner's tree node for node, on
    /// the same bins and the same bootstrap counts.
    func testOneRankGlobalTreeIsTheSerialLearnersTree() throws {
        let solo = LocalCommunicator.solo()
        let d = try ForestTests.shard(solo, rows: 3000, features: 6, seed: 4)
        var p = Self.params(3)
        p.tree.maxFeatures = .all
        let forest = try RandomForestClassifier(p).fitLocal(d, comm: solo).forest
        let x = d.matrix, y = d.target!.map { Int32($0) }
        let binned = BinnedData(x: x, classes: 2, y: y, maxBins: p.tree.maxBins)
        XCTAssertEqual(binned.bins.edges, forest.bins!.edges)
        let thresholds = GlobalBootstrap.thresholds(lambda: 1)
        for t in 0 ..< 3 {
            let counts = UnsafeMutablePointer<Int32>.allocate(capacity: x.rows)
            defer { counts.deallocate() }
            GlobalBootstrap.counts(seed: p.randomState, tree: t, thresholds: thresholds, first: 0, n: x.rows, into: counts)
            var samples = (0 ..< x.rows).filter { counts[$0] > 0 }.map { Int32($0) }
            let weights = (0 ..< x.rows).map { Double(counts[$0]) }
            var rng = Philox(seed: 0)
            let serial = samples.withUnsafeMutableBufferPointer { s in
                weights.withUnsafeBufferPointer { w in
                    TreeBuilder(params: p.tree, data: binned).grow(samples: s.baseAddress!, count: s.count, weights: w.baseAddress!, rng: &rng)
                }
            }
            XCTAssertGreaterThan(serial.nodeCount, 50)
            XCTAssertEqual(forest.trees[t], serial, "tree \(t)")
        }
    }

    /// The Poisson bootstrap: a row's count depends on (seed, tree, global row) only, and the
    /// mean count is λ.
    func testBootstrapCountsDependOnTheGlobalRowOnly() {
        let th = GlobalBootstrap.thresholds(lambda: 1)
        let all = UnsafeMutablePointer<Int32>.allocate(capacity: 100_000)
        let part = UnsafeMutablePointer<Int32>.allocate(capacity: 1000)
        defer { all.deallocate(); part.deallocate() }
        GlobalBootstrap.counts(seed: 3, tree: 7, thresholds: th, first: 0, n: 100_000, into: all)
        GlobalBootstrap.counts(seed: 3, tree: 7, thresholds: th, first: 12_345, n: 1000, into: part)
        for i in 0 ..< 1000 { XCTAssertEqual(part[i], all[12_345 + i]) }
        let total = (0 ..< 100_000).reduce(0) { $0 + Int(all[$1]) }
        let empty = (0 ..< 100_000).filter { all[$0] == 0 }.count
        XCTAssertEqual(Double(total) / 100_000, 1, accuracy: 0.01)
        XCTAssertEqual(Double(empty) / 100_000, exp(-1), accuracy: 0.01)
        GlobalBootstrap.counts(seed: 3, tree: 8, thresholds: th, first: 12_345, n: 1000, into: part)
        XCTAssertNotEqual((0 ..< 1000).map { part[$0] }, (0 ..< 1000).map { all[12_345 + $0] })
    }

    /// Global bins from an allgathered sample keyed by global row: the same edges at any rank
    /// count, and the local forest's edges at one rank (also when sampling every k-th row).
    func testGlobalBinsAreTheOneRankBins() throws {
        let solo = LocalCommunicator.solo()
        let whole = try ForestTests.shard(solo, rows: 2000, features: 6, seed: 8)
        let local = FeatureBins(whole.matrix, maxBins: 40, sampleLimit: 300)
        for ranks in [1, 3, 4] {
            let out = try LocalWorld.run(size: ranks) { comm -> [[Double]] in
                let d = try ForestTests.shard(comm, rows: 2000, features: 6, seed: 8)
                return try FeatureBins.global(d, firstRow: d.globalRowStart, totalRows: 2000, maxBins: 40, comm: comm, sampleLimit: 300).edges
            }
            for r in 0 ..< ranks { XCTAssertEqual(out[r], local.edges, "ranks \(ranks) rank \(r)") }
        }
    }

    /// Uneven shards with empty ranks in the middle, large enough that the trees' tops are grown
    /// over the ranks: the 1-rank model.
    func testUnevenShardsWithEmptyRanksGiveTheOneRankModel() throws {
        let bounds = [0, 1500, 1500, 2600, 4000, 4000, 4000, 5000]
        let p = Self.params(4)
        let out = try LocalWorld.run(size: 7) { comm -> Data? in
            let lo = bounds[comm.rank], hi = bounds[comm.rank + 1]
            var d = try Generators.makeClassification(nSamples: 5000, nFeatures: 8, nInformative: 4, nRedundant: 2, randomState: 21, rows: lo ..< hi)
            d.globalRowStart = lo
            d.globalRowCount = 5000
            return try RandomForestClassifier(p).fitLocal(d, comm: comm).forest.gathered(comm).map { try $0.container().encoded() }
        }
        XCTAssertEqual(out[0], try Self.modelBytes(ranks: 1, rows: 5000, parameters: p))
    }

    func testEmptyRanksAndARankLackingAClass() throws {
        // 3 rows on 5 ranks: two ranks hold none.
        let few = try LocalWorld.run(size: 5) { comm -> Data? in
            let block = Partition.block(count: 3, parts: 5, index: comm.rank)
            let x = Matrix<Double>(rows: block.count, columns: 1, storage: block.map { Double($0) })
            let d = Dataset(features: x, target: block.map { Double($0 % 2) }, globalRowStart: block.lowerBound, globalRowCount: 3)
            let m = try RandomForestClassifier(Self.params(4)).fitLocal(d, comm: comm)
            XCTAssertEqual(try m.votes(Matrix([[0], [1], [2]]), comm: comm, voting: .hard).reduce(0, +), 12)
            return try m.forest.gathered(comm).map { try $0.container().encoded() }
        }
        let one = try LocalWorld.run(size: 1) { comm -> Data? in
            let d = Dataset(features: Matrix([[0], [1], [2]]), target: [0, 1, 0], globalRowStart: 0, globalRowCount: 3)
            return try RandomForestClassifier(Self.params(4)).fitLocal(d, comm: comm).forest.container().encoded()
        }
        XCTAssertEqual(few[0], one[0])
        // Rank 0 holds only class 0; balanced weights from the global counts.
        func lacking(_ ranks: Int) throws -> Data? {
            try LocalWorld.run(size: ranks) { comm -> Data? in
                let x: [[Double]] = [[0], [1], [2], [3], [4], [5], [10], [11], [12], [13]]
                let y: [Double] = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
                let block = ranks == 1 ? 0 ..< 10 : (comm.rank == 0 ? 0 ..< 4 : 4 ..< 10)
                let d = Dataset(features: Matrix(Array(x[block])), target: Array(y[block]), globalRowStart: block.lowerBound, globalRowCount: 10)
                var p = Self.params(6)
                p.classWeight = .balanced
                p.oobScore = true
                let m = try RandomForestClassifier(p).fitLocal(d, comm: comm)
                XCTAssertEqual(m.classes, ["0", "1"])
                return try m.forest.gathered(comm).map { try $0.container().encoded() }
            }[0]
        }
        XCTAssertEqual(try lacking(2), try lacking(1))
    }

    func testRefusedCombinations() throws {
        let solo = LocalCommunicator.solo()
        let d = try ForestTests.shard(solo, rows: 100)
        var p = Self.params(2)
        p.tree.maxLeafNodes = 10
        XCTAssertThrowsError(try RandomForestClassifier(p).fitLocal(d, comm: solo)) { e in
            XCTAssertTrue("\(e)".contains("max_leaf_nodes"), "\(e)")
            XCTAssertTrue("\(e)".contains("mode global"), "\(e)")
        }
    }

    /// Regression: fixed-point targets make the histogram sums exact, so the global regressor is
    /// byte-identical at any rank count (OOB R² included), and it fits as well as the local one.
    func testRegressionIsByteIdenticalAcrossRanksAndFitsAsWellAsLocal() throws {
        func shard(_ comm: any Communicator, rows: Int, offset: Int = 0) throws -> Dataset<Double> {
            let block = Partition.block(count: rows, parts: comm.size, index: comm.rank)
            var d = try Generators.makeRegression(nSamples: offset + rows, nFeatures: 6, nInformative: 4, noise: 5, randomState: 3,
                                                  rows: (offset + block.lowerBound) ..< (offset + block.upperBound)).data
            d.globalRowStart = block.lowerBound
            d.globalRowCount = rows
            return d
        }
        var p = RandomForestParameters.regressor(nEstimators: 5)
        p.mode = .global
        p.randomState = 2
        p.oobScore = true
        func bytes(_ ranks: Int, threads: Int = 1) throws -> Data {
            var q = p
            q.threads = threads
            return try LocalWorld.run(size: ranks) { comm -> Data? in
                try RandomForestRegressor(q).fitLocal(try shard(comm, rows: 4000), comm: comm).forest.gathered(comm).map { try $0.container().encoded() }
            }[0]!
        }
        let one = try bytes(1)
        XCTAssertEqual(try bytes(2), one)
        XCTAssertEqual(try bytes(3, threads: 2), one)
        XCTAssertEqual(try bytes(5), one)
        let solo = LocalCommunicator.solo()
        let test = try shard(solo, rows: 1000, offset: 10_000)
        let global = try RandomForestRegressor(p).fitLocal(try shard(solo, rows: 4000), comm: solo)
        var lp = p
        lp.mode = .local
        let local = try RandomForestRegressor(lp).fitLocal(try shard(solo, rows: 4000), comm: solo)
        let r2g = try Metrics.r2(yTrue: test.target!, yPred: try global.predict(test.matrix), comm: solo)
        let r2l = try Metrics.r2(yTrue: test.target!, yPred: try local.predict(test.matrix), comm: solo)
        XCTAssertGreaterThan(r2g, 0.6)
        XCTAssertGreaterThan(r2g, r2l - 0.02, "global \(r2g), local \(r2l)")
        XCTAssertNotNil(global.oobScore)
        // A constant target: one leaf per tree, predicting it.
        let constant = Dataset(features: Matrix([[0], [1], [2], [3]]), target: [7, 7, 7, 7], globalRowStart: 0, globalRowCount: 4)
        let m = try RandomForestRegressor(p).fitLocal(constant, comm: solo)
        XCTAssertEqual(m.forest.trees.map(\.nodeCount), [1, 1, 1, 1, 1])
        XCTAssertEqual(try m.predict(Matrix([[5]])), [7])
    }

    /// `mode` is a scikit-learn-style parameter of the estimator (so a search can set it), and
    /// an unknown value is refused by name.
    func testModeAsAnEstimatorParameter() throws {
        let est = try JSONDecoder().decode(RandomForestClassifier.self, from: Data(#"{"n_estimators": 3, "mode": "global"}"#.utf8))
        XCTAssertEqual(est.parameters.mode, .global)
        XCTAssertTrue(String(decoding: try JSONEncoder().encode(est), as: UTF8.self).contains("\"mode\":\"global\""))
        XCTAssertThrowsError(try JSONDecoder().decode(RandomForestClassifier.self, from: Data(#"{"mode": "federated"}"#.utf8))) { e in
            XCTAssertTrue("\(e)".contains("local or global"), "\(e)")
        }
        let enc = try JSONEncoder().encode(RandomForestClassifier(RandomForestParameters.classifier()))
        XCTAssertTrue(String(decoding: enc, as: UTF8.self).contains("\"mode\":\"local\""))
    }
}

/// The registry of random-stream domains: subsystems' ranges are disjoint, and every domain in
/// use lies in its subsystem's range.
final class RandomDomainTests: XCTestCase {
    func testRangesAreDisjointAndHoldTheirDomains() {
        let r = RandomDomains.ranges
        for a in 0 ..< r.count {
            for b in a + 1 ..< r.count { XCTAssertFalse(r[a].range.overlaps(r[b].range), "\(r[a].name) overlaps \(r[b].name)") }
        }
        for d in [RandomDomains.forestBootstrap, RandomDomains.forestFeatures, RandomDomains.globalForestFeatures, RandomDomains.globalForestBootstrap] {
            XCTAssertTrue(RandomDomains.forest.contains(d))
        }
        XCTAssertEqual(Set([RandomDomains.forestBootstrap, RandomDomains.forestFeatures, RandomDomains.globalForestFeatures,
                            RandomDomains.globalForestBootstrap]).count, 4)
        for d in [KMeansDomain.firstCentre, .sampleRound, .top, .randomInit, .plusPlus, .recluster, .runSeed] {
            XCTAssertTrue(RandomDomains.kmeans.contains(d.rawValue), "\(d)")
        }
        for d in [SplitterDomain.kFold, .stratifiedKFold, .shuffleSplit, .stratifiedShuffleSplit] {
            XCTAssertTrue(RandomDomains.splitters.contains(d.rawValue), "\(d)")
        }
        for d in [Generators.Domain.blobCenters, .blobRows, .classCentroids, .classCovariance, .classRedundant, .classRepeated,
                  .classRows, .classFlip, .regressionCoef, .regressionRows] {
            XCTAssertTrue(RandomDomains.generators.contains(d.rawValue), "\(d)")
        }
        XCTAssertTrue(RandomDomains.parameterSampling.contains(ParameterSampler.domain))
        XCTAssertTrue(RandomDomains.halving.contains(HalvingSearchCV<RandomForestClassifier>.domain))
        XCTAssertEqual(RandomDomains.sgdEpochs.lowerBound, RandomDomains.sgdEpochBase)
    }
}
