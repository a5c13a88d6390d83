import Foundation
@testable import MPILearn
import SwiftMPI
import XCTest

/// The bounded (Hamerly) Lloyd passes: they must give the plain passes' labels and centres
/// whatever the start, type, feature count, thread count, rank count or kernel variant, while
/// actually skipping rows.
final class KMeansBoundsTests: XCTestCase {
    override func tearDown() {
        _ = Kernels.use("avx512")   // back to the widest the machine has
    }

    /// Fits overlapping blobs (rows near the boundaries keep failing their bounds, so both the
    /// skipped and the recomputed paths run) with `algorithm` on `size` in-process ranks.
    func fit<T: LinearAlgebraScalar & MPIScalar>(_: T.Type, _ algorithm: KMeansAlgorithm, size: Int = 1, n: Int = 3000, d: Int,
                                                 std: Double = 2.5, initialization: KMeansInitialization, threads: Int = 1,
                                                 maxIter: Int = 300) throws -> [KMeansModel] {
        try LocalWorld.run(size: size) { comm in
            let data = try Generators.makeBlobs(T.self, nSamples: n, nFeatures: d, centers: 6, clusterStd: std, randomState: 3,
                                                rows: Partition.block(count: n, parts: comm.size, index: comm.rank))
            let config = KMeans(nClusters: 6, initialization: initialization, maxIter: maxIter, tol: 0, nInit: 1, randomState: 5,
                                threads: threads, algorithm: algorithm)
            return try config.fit(data, comm: comm)
        }
    }

    /// Same labels, iterations and changes; centres to 1e-12. The inertia to `inertiaTolerance`
    /// (relative): the plain pass adds ‖x‖² + (‖c‖² − 2x·c) from the GEMM, in the data's type,
    /// the bounded pass direct Float64 distances, so in Float32 they differ at float precision.
    func assertSame(_ a: [KMeansModel], _ b: [KMeansModel], _ what: String, inertiaTolerance: Double = 1e-10,
                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.flatMap(\.labels), b.flatMap(\.labels), "labels, \(what)", file: file, line: line)
        XCTAssertEqual(a[0].nIter, b[0].nIter, "n_iter, \(what)", file: file, line: line)
        for (x, y) in zip(a[0].clusterCenters.storage, b[0].clusterCenters.storage) {
            XCTAssertEqual(x, y, accuracy: 1e-12 * max(1, abs(x)), "centres, \(what)", file: file, line: line)
        }
        XCTAssertEqual(a[0].inertia, b[0].inertia, accuracy: inertiaTolerance * a[0].inertia, "inertia, \(what)", file: file, line: line)
        for (u, v) in zip(a[0].history, b[0].history) {
            XCTAssertEqual(u.changed, v.changed, "changed labels per iteration, \(what)", file: file, line: line)
        }
    }

    func testBoundedPassesGiveThePlainPassesLabelsAndCentres() throws {
        let starts: [(String, (Int) -> KMeansInitialization)] = [
            ("k-means||", { _ in .kMeansParallel }), ("k-means++", { _ in .kMeansPlusPlus }), ("random", { _ in .random }),
            ("given", { d in .centers(Matrix(rows: 6, columns: d, storage: (0 ..< 6 * d).map { Double(($0 * 7) % 13) - 6 })) }),
        ]
        for d in [3, 11] {
            for (name, start) in starts {
                let plain = try fit(Double.self, .lloyd, d: d, initialization: start(d))
                let bounded = try fit(Double.self, .hamerly, d: d, initialization: start(d))
                assertSame(plain, bounded, "float64, d=\(d), init \(name)")
                let h = bounded[0].history
                XCTAssertGreaterThan(h.count, 3, "overlapping blobs take several iterations (d=\(d), \(name))")
                XCTAssertEqual(plain[0].history.map(\.skipped).reduce(0, +), 0, "lloyd never skips")
                // Both paths ran: some iterations skip many rows (at least a third; after plain
                // passes a retried bounded pass has only the centres' separation to go on), yet
                // rows are recomputed after the first.
                XCTAssertTrue(h.contains { $0.skipped >= 3000 / 3 }, "d=\(d), \(name): \(h.map(\.skipped))")
                XCTAssertTrue(h.dropFirst().contains { $0.skipped < 3000 }, "d=\(d), \(name): \(h.map(\.skipped))")
            }
            let plain32 = try fit(Float.self, .lloyd, d: d, initialization: .kMeansParallel)
            let bounded32 = try fit(Float.self, .hamerly, d: d, initialization: .kMeansParallel)
            assertSame(plain32, bounded32, "float32, d=\(d)", inertiaTolerance: 1e-5)
        }
    }

    func testBoundedPassesAcrossRanksThreadsAndKernelVariants() throws {
        let reference = try fit(Double.self, .lloyd, d: 11, initialization: .kMeansParallel)
        for size in [2, 3] {
            assertSame(reference, try fit(Double.self, .hamerly, size: size, d: 11, initialization: .kMeansParallel), "\(size) ranks")
        }
        assertSame(reference, try fit(Double.self, .hamerly, d: 11, initialization: .kMeansParallel, threads: 2), "2 threads")
        // Every instruction-set variant of the bounded kernels gives the same bits.
        var results: [String: [KMeansModel]] = [:]
        for variant in ["scalar", "avx2", "avx512"] {
            let used = Kernels.use(variant)
            results[used] = try fit(Double.self, .hamerly, d: 11, initialization: .kMeansParallel)
            results[used + "/f32"] = try fit(Float.self, .hamerly, d: 11, initialization: .kMeansParallel)
        }
        let scalar = results["scalar"]!, scalar32 = results["scalar/f32"]!
        for (name, models) in results {
            let base = name.hasSuffix("/f32") ? scalar32 : scalar
            XCTAssertEqual(models[0].clusterCenters.storage.map(\.bitPattern), base[0].clusterCenters.storage.map(\.bitPattern), name)
            XCTAssertEqual(models[0].inertia.bitPattern, base[0].inertia.bitPattern, name)
            XCTAssertEqual(models[0].labels, base[0].labels, name)
        }
    }

    /// Exact ties: integer rows and two identical given centres. A row equidistant from two
    /// centres can never be proved by bounds, so it goes to the GEMM argmin and takes the lower
    /// index, as in the plain pass; the duplicate centre's cluster starts empty and is
    /// relocated the same way.
    func testTiesAndDuplicateCentresFollowThePlainPass() throws {
        let n = 500, d = 5
        var g = Philox(seed: 11)
        let rows = (0 ..< n * d).map { _ in Double(Int(g.next() % 5) - 2) }
        var centres = Array(rows[0 ..< 4 * d])
        for f in 0 ..< d { centres[d + f] = centres[f] }   // centre 1 = centre 0
        func run(_ algorithm: KMeansAlgorithm) throws -> KMeansModel {
            let data = Dataset(features: Matrix(rows: n, columns: d, storage: rows))
            return try KMeans(nClusters: 4, initialization: .centers(Matrix(rows: 4, columns: d, storage: centres)), tol: 0,
                              algorithm: algorithm).fit(data, comm: LocalCommunicator.solo())
        }
        let plain = try run(.lloyd), bounded = try run(.hamerly)
        XCTAssertGreaterThan(plain.history[0].relocated, 0, "the duplicate centre starts empty")
        XCTAssertEqual(plain.labels, bounded.labels)
        XCTAssertEqual(plain.nIter, bounded.nIter)
        XCTAssertEqual(plain.history.map(\.relocated), bounded.history.map(\.relocated))
        for (x, y) in zip(plain.clusterCenters.storage, bounded.clusterCenters.storage) { XCTAssertEqual(x, y, accuracy: 1e-12) }
    }

    /// Strongly overlapping blobs: bounded passes skip few rows, so the run falls back to
    /// plain passes (skipped 0) and retries a bounded one every 4th iteration — with the same
    /// result as plain passes throughout.
    func testFewSkippedRowsFallBackToPlainPassesAndRetry() throws {
        let bounded = try fit(Double.self, .hamerly, d: 6, std: 12, initialization: .kMeansParallel, maxIter: 12)
        let plain = try fit(Double.self, .lloyd, d: 6, std: 12, initialization: .kMeansParallel, maxIter: 12)
        assertSame(plain, bounded, "overlapping")
        let skipped = bounded[0].history.map(\.skipped)
        XCTAssertEqual(skipped.count, 12, "\(skipped)")
        XCTAssertLessThan(skipped[0], 3000 * 3 / 4, "\(skipped)")
        XCTAssertEqual(skipped[1], 0, "a plain pass follows: \(skipped)")
        XCTAssertTrue(skipped[2 ..< 5].contains { $0 > 0 }, "a bounded pass is retried: \(skipped)")
    }

    /// Well-separated blobs after k-means||: the first pass already proves almost every row
    /// from its nearest candidate, and the next proves all of them.
    func testWellSeparatedBlobsSkipAlmostEveryRow() throws {
        let models = try fit(Double.self, .hamerly, size: 2, n: 4000, d: 8, std: 0.5, initialization: .kMeansParallel)
        let h = models[0].history
        XCTAssertGreaterThanOrEqual(h.count, 2)
        XCTAssertGreaterThan(h[0].skipped, 4000 * 9 / 10, "\(h.map(\.skipped))")
        XCTAssertEqual(h.last!.skipped, 4000, "\(h.map(\.skipped))")
    }

    /// Model files written before `algorithm` and `skipped` existed still load: as `lloyd`
    /// (the only algorithm then) and 0 skipped rows.
    func testParametersAndHistoryWithoutTheNewFieldsDecode() throws {
        let params = #"{"n_clusters":3,"init":"k-means||","init_max_iter":2,"max_iter":300,"tol":0.0001,"random_state":0,"threads":1}"#
        let config = try JSONDecoder().decode(KMeans.self, from: Data(params.utf8))
        XCTAssertEqual(config.algorithm, .lloyd)
        XCTAssertEqual(config.nClusters, 3)
        let it = #"{"run":0,"iteration":1,"inertia":2.5,"shift":0.1,"changed":7,"relocated":0,"seconds":0.01}"#
        let record = try JSONDecoder().decode(KMeansIteration.self, from: Data(it.utf8))
        XCTAssertEqual(record.skipped, 0)
        XCTAssertEqual(record.changed, 7)
        // A fitted configuration round-trips with its algorithm.
        let again = try JSONDecoder().decode(KMeans.self, from: JSONEncoder().encode(KMeans(nClusters: 2, algorithm: .hamerly)))
        XCTAssertEqual(again.algorithm, .hamerly)
        XCTAssertEqual(KMeans().algorithm, .hamerly)
    }
}
