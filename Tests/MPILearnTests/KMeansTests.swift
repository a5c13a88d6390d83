import Foundation
@testable import MPILearn
import SwiftMPI
import XCTest

/// K-means in one process: rank-parallel logic through `LocalWorld` (N ranks as threads).
/// The purpose of most tests is that the parallel result equals the serial one.
final class KMeansTests: XCTestCase {
    /// Fits blobs on `size` in-process ranks and returns every rank's model.
    func fitBlobs<T: LinearAlgebraScalar & MPIScalar>(_ type: T.Type, size: Int, n: Int, d: Int, centers: Int, std: Double,
                                                      _ config: KMeans, randomState: UInt64 = 0) throws -> [KMeansModel] {
        try LocalWorld.run(size: size) { comm in
            let data = try Generators.makeBlobs(T.self, nSamples: n, nFeatures: d, centers: centers, clusterStd: std, randomState: randomState,
                                                rows: Partition.block(count: n, parts: comm.size, index: comm.rank))
            return try config.fit(data, comm: comm)
        }
    }

    /// All ranks' labels in global row order.
    func allLabels(_ models: [KMeansModel]) -> [Int32] { models.flatMap(\.labels) }

    func ari(_ a: [Int32], _ b: [Int32]) throws -> Double {
        try ClusteringMetrics.adjustedRandIndex(a, b, comm: LocalCommunicator.solo())
    }

    /// Rows sorted lexicographically, so centres can be compared whatever their numbering.
    func sortedRows(_ m: Matrix<Double>) -> [[Double]] {
        (0 ..< m.rows).map { Array(m.row($0)) }.sorted { $0.lexicographicallyPrecedes($1) }
    }

    func maxRelativeDifference(_ a: Matrix<Double>, _ b: Matrix<Double>) -> Double {
        zip(a.storage, b.storage).map { abs($0 - $1) / max(1, abs($0), abs($1)) }.max() ?? 0
    }

    // MARK: quality

    func testWellSeparatedBlobsRecoverTrueLabelsAndCentres() throws {
        let n = 3000, d = 4, c = 5
        for size in [1, 3] {
            let models = try fitBlobs(Double.self, size: size, n: n, d: d, centers: c, std: 0.5, KMeans(nClusters: c))
            let truth = (0 ..< n).map { Int32($0 % c) }   // makeBlobs: row i belongs to blob i % centers
            XCTAssertGreaterThanOrEqual(try ari(allLabels(models), truth), 0.99, "p=\(size)")
            let fitted = sortedRows(models[0].clusterCenters)
            let trueCentres = sortedRows(Generators.blobCenters(nFeatures: d, centers: c))
            for (f, t) in zip(fitted, trueCentres) {
                // Each centre is the mean of 600 points of std 0.5: ±0.02 per coordinate.
                for (a, b) in zip(f, t) { XCTAssertEqual(a, b, accuracy: 0.1, "p=\(size)") }
            }
            XCTAssertEqual(models[0].history.count, models[0].nIter)
            XCTAssertLessThanOrEqual(models[0].history.last!.inertia, models[0].history.first!.inertia)
        }
    }

    func testRandomAndPlusPlusInitialisationAlsoRecoverBlobs() throws {
        let n = 2000, c = 4
        let truth = (0 ..< n).map { Int32($0 % c) }
        for initialization in [KMeansInitialization.kMeansPlusPlus, .random] {
            let models = try fitBlobs(Double.self, size: 2, n: n, d: 3, centers: c, std: 0.5, KMeans(nClusters: c, initialization: initialization))
            XCTAssertGreaterThanOrEqual(try ari(allLabels(models), truth), 0.99, "\(initialization.name)")
        }
    }

    // MARK: rank invariance

    func testSameCentresForOneToFourRanks() throws {
        for type in ["f64", "f32"] {
            let config = KMeans(nClusters: 6, tol: 0)
            func run(_ p: Int) throws -> [KMeansModel] {
                type == "f64" ? try fitBlobs(Double.self, size: p, n: 2501, d: 3, centers: 6, std: 1.5, config)
                    : try fitBlobs(Float.self, size: p, n: 2501, d: 3, centers: 6, std: 1.5, config)
            }
            let serial = try run(1)[0]
            for p in 2 ... 4 {
                let models = try run(p)
                for m in models {
                    XCTAssertEqual(m.initialCenters, serial.initialCenters, "\(type) p=\(p): initial centres differ")
                    XCTAssertLessThanOrEqual(maxRelativeDifference(m.clusterCenters, serial.clusterCenters), 1e-9, "\(type) p=\(p)")
                    XCTAssertEqual(m.nIter, serial.nIter, "\(type) p=\(p)")
                    XCTAssertEqual(m.report.candidates, serial.report.candidates, "\(type) p=\(p)")
                    XCTAssertEqual(m.inertia, serial.inertia, accuracy: 1e-9 * serial.inertia)
                }
                XCTAssertEqual(allLabels(models), serial.labels, "\(type) p=\(p)")
            }
        }
    }

    func testThreadsPerRankGiveTheSameResult() throws {
        let one = try fitBlobs(Double.self, size: 2, n: 3000, d: 5, centers: 7, std: 1.0, KMeans(nClusters: 7))
        let three = try fitBlobs(Double.self, size: 2, n: 3000, d: 5, centers: 7, std: 1.0, KMeans(nClusters: 7, threads: 3))
        XCTAssertEqual(one[0].initialCenters, three[0].initialCenters)
        XCTAssertLessThanOrEqual(maxRelativeDifference(one[0].clusterCenters, three[0].clusterCenters), 1e-12)
        XCTAssertEqual(allLabels(one), allLabels(three))
    }

    func testEmptyShardsWhenRanksOutnumberRows() throws {
        let rows: [[Double]] = [[0, 0], [0, 1], [10, 10], [10, 11], [20, 0]]
        let x = Matrix(rows)
        func fit(_ p: Int) throws -> [KMeansModel] {
            try LocalWorld.run(size: p) { comm in
                let r = Partition.block(count: x.rows, parts: comm.size, index: comm.rank)
                let local = Matrix(rows: r.count, columns: 2, storage: Array(x.storage[r.lowerBound * 2 ..< r.upperBound * 2]))
                return try KMeans(nClusters: 3).fit(Dataset(features: local, globalRowStart: r.lowerBound, globalRowCount: x.rows), comm: comm)
            }
        }
        let serial = try fit(1)[0]
        XCTAssertEqual(serial.inertia, 1.0, accuracy: 1e-12)   // {0,1}, {2,3} with 0.5² · 4, {4}
        let wide = try fit(7)
        XCTAssertEqual(wide.map(\.labels.count), [1, 1, 1, 1, 1, 0, 0])
        XCTAssertEqual(allLabels(wide), serial.labels)
        XCTAssertEqual(wide[6].clusterCenters, wide[0].clusterCenters)
        XCTAssertLessThanOrEqual(maxRelativeDifference(wide[0].clusterCenters, serial.clusterCenters), 1e-12)
    }

    // MARK: hand computations

    func testOneIterationFromGivenCentresMatchesHandComputation() throws {
        // Rows 0-2 are nearest (0, 0), rows 3-4 nearest (4, 4).
        let x = Matrix<Double>([[0, 0], [1, 0], [0, 2], [4, 5], [6, 4]])
        let start = Matrix<Double>([[0, 0], [4, 4]])
        for p in [1, 2] {
            let models = try LocalWorld.run(size: p) { comm in
                let r = Partition.block(count: 5, parts: comm.size, index: comm.rank)
                let local = Matrix(rows: r.count, columns: 2, storage: Array(x.storage[r.lowerBound * 2 ..< r.upperBound * 2]))
                return try KMeans(nClusters: 2, initialization: .centers(start), maxIter: 1)
                    .fit(Dataset(features: local, globalRowStart: r.lowerBound, globalRowCount: 5), comm: comm)
            }
            let m = models[0]
            // New centres: mean of rows 0-2 = (1/3, 2/3); mean of rows 3-4 = (5, 4.5).
            XCTAssertEqual(m.clusterCenters.storage[0], 1.0 / 3, accuracy: 1e-15)
            XCTAssertEqual(m.clusterCenters.storage[1], 2.0 / 3, accuracy: 1e-15)
            XCTAssertEqual(m.clusterCenters.storage[2], 5, accuracy: 1e-15)
            XCTAssertEqual(m.clusterCenters.storage[3], 4.5, accuracy: 1e-15)
            // Inertia of the assignment to the given centres: 0 + 1 + 4 + 1 + 4 = 10.
            XCTAssertEqual(m.history[0].inertia, 10, accuracy: 1e-12)
            // Shift: (1/3)² + (2/3)² + 1² + 0.5² = 5/9 + 1.25.
            XCTAssertEqual(m.history[0].shift, 5.0 / 9 + 1.25, accuracy: 1e-12)
            XCTAssertEqual(m.nIter, 1)
            XCTAssertEqual(allLabels(models), [0, 0, 0, 1, 1])
            // Final inertia is for the final centres: (1/9+4/9) + (4/9+4/9) + (1/9+16/9) + (1+1/4) + (1+1/4).
            XCTAssertEqual(m.inertia, 30.0 / 9 + 2.5, accuracy: 1e-12)
        }
    }

    func testEmptyClusterTakesTheFarthestRowTiesToLowerGlobalIndex() throws {
        // Every row is nearest (0, 0); cluster 1 at (100, 100) is empty after the first
        // assignment. Rows 1 and 2 tie as farthest (d² = 25): the lower global index wins.
        let x = Matrix<Double>([[0, 0], [3, 4], [-3, -4], [1, 0]])
        let start = Matrix<Double>([[0, 0], [100, 100]])
        for p in [1, 2, 4] {
            let models = try LocalWorld.run(size: p) { comm in
                let r = Partition.block(count: 4, parts: comm.size, index: comm.rank)
                let local = Matrix(rows: r.count, columns: 2, storage: Array(x.storage[r.lowerBound * 2 ..< r.upperBound * 2]))
                return try KMeans(nClusters: 2, initialization: .centers(start), maxIter: 1)
                    .fit(Dataset(features: local, globalRowStart: r.lowerBound, globalRowCount: 4), comm: comm)
            }
            let m = models[0]
            XCTAssertEqual(m.history[0].relocated, 1, "p=\(p)")
            XCTAssertEqual(Array(m.clusterCenters.row(1)), [3, 4], "p=\(p)")
            // Cluster 0 keeps rows 0, 2, 3: mean (-2/3, -4/3).
            XCTAssertEqual(m.clusterCenters[0, 0], -2.0 / 3, accuracy: 1e-15)
            XCTAssertEqual(m.clusterCenters[0, 1], -4.0 / 3, accuracy: 1e-15)
            XCTAssertEqual(allLabels(models), [0, 1, 0, 0], "p=\(p)")
        }
    }

    // MARK: types

    func testFloat32AndFloat64GiveTheSameClustering() throws {
        let a = try fitBlobs(Double.self, size: 2, n: 4000, d: 6, centers: 5, std: 1.0, KMeans(nClusters: 5))
        let b = try fitBlobs(Float.self, size: 2, n: 4000, d: 6, centers: 5, std: 1.0, KMeans(nClusters: 5))
        XCTAssertEqual(try ari(allLabels(a), allLabels(b)), 1.0)
        XCTAssertLessThanOrEqual(maxRelativeDifference(a[0].clusterCenters, b[0].clusterCenters), 1e-5)
        XCTAssertEqual(a[0].inertia, b[0].inertia, accuracy: 1e-4 * a[0].inertia)
    }

    // MARK: k-means||

    func testKMeansParallelFindsEnoughCandidatesAndSeedsAsWellAsKMeansPlusPlus() throws {
        // Overlapping blobs, so seeding quality matters. Bound: Bahmani et al. (Tables 1-3)
        // report k-means|| seeding cost (ℓ = k/2 or 2k, r = 5) at or below k-means++'s on
        // every dataset, because the weighted reclustering (step 8) runs Lloyd on the
        // candidates; k-means++ itself is only O(log k)-competitive in expectation, so one
        // draw varies. We allow 1.25× k-means++'s initial inertia.
        let n = 6000, d = 5, k = 10
        for seed in [UInt64(0), 7] {
            func initialInertia(_ initialization: KMeansInitialization) throws -> (Double, KMeansModel) {
                let models = try LocalWorld.run(size: 2) { comm -> (Double, KMeansModel) in
                    let data = try Generators.makeBlobs(Double.self, nSamples: n, nFeatures: d, centers: k, clusterStd: 2.0, randomState: 3,
                                                        rows: Partition.block(count: n, parts: 2, index: comm.rank))
                    let m = try KMeans(nClusters: k, initialization: initialization, maxIter: 1, randomState: seed).fit(data, comm: comm)
                    return (m.history[0].inertia, m)
                }
                return models[0]
            }
            let (parallel, model) = try initialInertia(.kMeansParallel)
            let (plusPlus, _) = try initialInertia(.kMeansPlusPlus)
            XCTAssertGreaterThanOrEqual(model.report.candidates ?? 0, k, "seed \(seed)")
            XCTAssertTrue(model.report.warnings.isEmpty, "\(model.report.warnings)")
            XCTAssertLessThanOrEqual(parallel, 1.25 * plusPlus, "seed \(seed): k-means|| \(parallel) vs k-means++ \(plusPlus)")
        }
    }

    func testTooFewCandidatesWarnsAndTopsUp() throws {
        // ℓ = 0.01 and one round: almost surely only the first candidate; top-up to k.
        let models = try fitBlobs(Double.self, size: 3, n: 900, d: 2, centers: 3, std: 0.3,
                                  KMeans(nClusters: 3, oversamplingFactor: 0.01, initMaxIter: 1))
        XCTAssertLessThan(models[0].report.candidates ?? 99, 3)
        XCTAssertTrue(models[0].report.warnings.contains { $0.contains("candidate") }, "\(models[0].report.warnings)")
        XCTAssertEqual(Set((0 ..< 3).map { models[0].initialCenters.row($0).map { $0 } }).count, 3)
        XCTAssertGreaterThanOrEqual(try ari(allLabels(models), (0 ..< 900).map { Int32($0 % 3) }), 0.99)
    }

    // MARK: model

    func testSaveLoadPredictTransformScore() throws {
        let models = try fitBlobs(Double.self, size: 1, n: 1000, d: 3, centers: 4, std: 0.7, KMeans(nClusters: 4))
        let m = models[0]
        let dir = try tempDir()
        let path = dir.appendingPathComponent("km.model").path
        try m.save(to: path)
        let loaded = try KMeansModel.load(from: path)
        XCTAssertEqual(loaded.clusterCenters, m.clusterCenters)
        XCTAssertEqual(loaded.initialCenters, m.initialCenters)
        XCTAssertEqual(loaded.nIter, m.nIter)
        XCTAssertEqual(loaded.configuration, m.configuration)
        let data = try Generators.makeBlobs(Double.self, nSamples: 1000, nFeatures: 3, centers: 4, clusterStd: 0.7)
        XCTAssertEqual(try loaded.predict(data.matrix), m.labels)
        let f32 = Matrix<Float>(rows: 1000, columns: 3, storage: data.matrix.storage.map { Float($0) })
        XCTAssertEqual(try loaded.predict(f32), m.labels)
        let dist = try loaded.transform(data.matrix)
        XCTAssertEqual(dist.rows, 1000)
        XCTAssertEqual(dist.columns, 4)
        var inertia = 0.0
        for i in 0 ..< 1000 {
            let row = Array(dist.row(i))
            XCTAssertEqual(Int32(row.firstIndex(of: row.min()!)!), m.labels[i])
            inertia += row.min()! * row.min()!
        }
        XCTAssertEqual(inertia, m.inertia, accuracy: 1e-9 * m.inertia)
        XCTAssertEqual(-(try loaded.score(data, comm: LocalCommunicator.solo())), m.inertia, accuracy: 1e-9 * m.inertia)
        // Centres CSV round trip.
        let csv = dir.appendingPathComponent("c.csv").path
        try AtomicFile.write(m.centersCSV(), to: csv)
        XCTAssertEqual(try KMeansModel.readCentersCSV(csv).centres, m.clusterCenters)
    }

    // MARK: bad input

    func testBadParametersAndDataAreClearErrors() throws {
        let data = try Generators.makeBlobs(Double.self, nSamples: 10, nFeatures: 2, centers: 2)
        let solo = LocalCommunicator.solo()
        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch { return "\(error)" }
            return "no error"
        }
        XCTAssertTrue(message { _ = try KMeans(nClusters: 0).fit(data, comm: solo) }.contains("n_clusters"))
        XCTAssertTrue(message { _ = try KMeans(nClusters: 11).fit(data, comm: solo) }.contains("at most the number of rows (10)"))
        XCTAssertTrue(message { _ = try KMeans(nClusters: 2, tol: -1).fit(data, comm: solo) }.contains("tol"))
        XCTAssertTrue(message { _ = try KMeans(nClusters: 2, initialization: .centers(Matrix([[0, 0, 0], [1, 1, 1]]))).fit(data, comm: solo) }
            .contains("columns"))
        var bad = data
        bad.matrix[6, 1] = .nan
        let e = message { _ = try KMeans(nClusters: 2).fit(bad, comm: solo, dataName: "x.npy") }
        XCTAssertTrue(e.contains("x.npy") && e.contains("row 7, column 2") && e.contains("nan"), e)
        // NaN on one rank of several: the error names the global row.
        XCTAssertThrowsError(try LocalWorld.run(size: 3) { comm -> Int in
            let r = Partition.block(count: 10, parts: 3, index: comm.rank)
            var local = try Generators.makeBlobs(Double.self, nSamples: 10, nFeatures: 2, centers: 2, rows: r)
            if r.contains(8) { local.matrix[8 - r.lowerBound, 0] = .infinity }
            return try KMeans(nClusters: 2).fit(local, comm: comm).nIter
        }) { XCTAssertTrue("\($0)".contains("row 9, column 1"), "\($0)") }
        let empty = Dataset<Double>(features: Matrix(rows: 10, columns: 0))
        XCTAssertTrue(message { _ = try KMeans(nClusters: 2).fit(empty, comm: solo) }.contains("no numeric feature columns"))
        let model = try KMeans(nClusters: 2).fit(data, comm: solo)
        XCTAssertTrue(message { _ = try model.predict(Matrix<Double>(rows: 3, columns: 3)) }.contains("has 3 feature(s) but the k-means model was fitted on 2"))
        // A corrupt model file: one flipped byte fails the checksum.
        let dir = try tempDir()
        let path = dir.appendingPathComponent("m.model").path
        try model.save(to: path)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 20] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        XCTAssertTrue(message { _ = try KMeansModel.load(from: path) }.contains("checksum"))
    }

    func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kmeans-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }
}
