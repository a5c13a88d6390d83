import Foundation
import SwiftMPI

extension KMeansModel {
    /// Checks new data has the model's feature count.
    func checkFeatures(_ columns: Int, _ dataName: String) throws {
        guard columns == featureCount else {
            throw MPILearnError.mismatch("\(dataName) has \(columns) feature(s) but the k-means model was fitted on \(featureCount) (\(featureNames.joined(separator: ", ")))")
        }
    }

    /// Runs `body` with an engine over `x` whose labels and squared distances hold each row's
    /// nearest centre (one pass, GEMM distances in bounded blocks).
    /// Runs `body` with each row's nearest centre in `labels` and its squared distance in `mind2`.
    func withAssignment<T: LinearAlgebraScalar & MPIScalar, R>(_ x: Matrix<T>, threads: Int, globalStart: Int = 0, globalCount: Int? = nil,
                                                             comm: any Communicator, dataName: String,
                                                             _ body: (_ labels: UnsafeBufferPointer<Int32>, _ mind2: UnsafeBufferPointer<Double>) throws -> R) throws -> R {
        // Concrete types for the optimizer (see KMeans.fit).
        if T.self == Double.self {
            return try assignSpecialised(x as! Matrix<Double>, threads: threads, globalStart: globalStart, globalCount: globalCount, comm: comm, dataName: dataName, body)
        }
        if T.self == Float.self {
            return try assignSpecialised(x as! Matrix<Float>, threads: threads, globalStart: globalStart, globalCount: globalCount, comm: comm, dataName: dataName, body)
        }
        throw MPILearnError.invalidParameter(name: "dtype", value: "\(T.self)", allowed: "Double or Float")
    }

    func assignSpecialised<T: KMeansScalar, R>(_ x: Matrix<T>, threads: Int, globalStart: Int, globalCount: Int?,
                                                                comm: any Communicator, dataName: String,
                                                                _ body: (UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Double>) throws -> R) throws -> R {
        try checkFeatures(x.columns, dataName)
        return try x.storage.withUnsafeBufferPointer { xs in
            let e = KMeansEngine<T>(x: xs.baseAddress, rows: x.rows, features: x.columns, globalStart: globalStart,
                                    globalCount: globalCount ?? x.rows, comm: comm, threads: threads)
            for (i, v) in xs.enumerated() where !v.isFinite {
                throw MPILearnError.dataError(SourceLocation(file: dataName),
                                              "row \(globalStart + i / x.columns + 1), column \(i % x.columns + 1) is \(v); k-means needs finite values")
            }
            e.computeNorms()
            _ = e.assign(.init(clusterCenters.storage, d: x.columns))
            return try body(UnsafeBufferPointer(start: e.labels, count: e.n), UnsafeBufferPointer(start: e.mind2, count: e.n))
        }
    }

    /// The index of the nearest centre of each row (`predict`). Local: no communication.
    /// - Throws: ``MPILearnError/mismatch`` when the feature count differs from the model's;
    ///   ``MPILearnError/dataError`` for a non-finite value.
    public func predict<T: LinearAlgebraScalar & MPIScalar>(_ x: Matrix<T>, threads: Int = 1, dataName: String = "data") throws -> [Int32] {
        try withAssignment(x, threads: threads, comm: LocalCommunicator.solo(), dataName: dataName) { labels, _ in Array(labels) }
    }

    /// Euclidean distance of each row to every centre, rows × k (`transform`). Local.
    public func transform<T: LinearAlgebraScalar & MPIScalar>(_ x: Matrix<T>, dataName: String = "data") throws -> Matrix<Double> {
        try checkFeatures(x.columns, dataName)
        let k = nClusters, d = featureCount
        var out = Matrix<Double>(rows: x.rows, columns: k)
        var cn = [Double](repeating: 0, count: k)
        for j in 0 ..< k { for f in 0 ..< d { cn[j] += clusterCenters[j, f] * clusterCenters[j, f] } }
        let xd = Matrix<Double>(rows: x.rows, columns: d, storage: x.storage.map { Double($0) })
        var dot = Matrix<Double>(rows: x.rows, columns: k)
        try gemm(xd, clusterCenters, into: &dot, transposeB: true)
        for i in 0 ..< x.rows {
            var xn = 0.0
            for f in 0 ..< d { xn += xd[i, f] * xd[i, f] }
            for j in 0 ..< k { out[i, j] = max(0, xn - 2 * dot[i, j] + cn[j]).squareRoot() }
        }
        return out
    }

    /// The opposite of the inertia of all ranks' rows (`score`, higher is better). Collective.
    public func score<T: LinearAlgebraScalar & MPIScalar>(_ data: Dataset<T>, comm: any Communicator, threads: Int = 1, dataName: String = "data") throws -> Double {
        try data.requireDense(for: "k-means")
        return try withAssignment(data.matrix, threads: threads, globalStart: data.globalRowStart, globalCount: data.globalRowCount,
                                  comm: comm, dataName: dataName) { _, mind2 in
            -(try comm.allreduce(mind2.reduce(0, +), op: .sum))
        }
    }
}

// MARK: persistence

/// The JSON header of a saved k-means model.
struct KMeansModelHeader: Codable {
    var configuration: KMeans
    var nClusters: Int
    var nFeatures: Int
    var featureNames: [String]
    var inertia: Double
    var nIter: Int
    var history: [KMeansIteration]
    var mpilearnVersion: String

    enum CodingKeys: String, CodingKey {
        case configuration = "params", nClusters = "n_clusters", nFeatures = "n_features", featureNames = "feature_names"
        case inertia, nIter = "n_iter", history = "inertia_history", mpilearnVersion = "mpilearn_version"
    }
}

extension KMeansModel {
    /// The model-container kind of k-means models.
    public static let kind = "kmeans"

    /// The model as a versioned ``ModelContainer``: a JSON header (parameters, shape, feature
    /// names, inertia, iterations; with `SOURCE_DATE_EPOCH` set, iteration times are written
    /// as 0 for reproducible files) and two Float64 sections, `cluster_centers` and
    /// `initial_centers` (k × d, row-major, little-endian).
    public func container() throws -> ModelContainer {
        // Reproducible output (SOURCE_DATE_EPOCH set, as for the forest's date): no wall times,
        // so a resumed fit's file is byte for byte the uninterrupted one's.
        var history = history
        if ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"] != nil { for i in history.indices { history[i].seconds = 0 } }
        let header = KMeansModelHeader(configuration: configuration, nClusters: nClusters, nFeatures: featureCount,
                                       featureNames: featureNames, inertia: inertia, nIter: nIter, history: history,
                                       mpilearnVersion: MPILearnVersion.string)
        return ModelContainer(kind: Self.kind, header: try ModelJSON.encoder.encode(header),
                              sections: [("cluster_centers", Data(flat: clusterCenters.storage)),
                                         ("initial_centers", Data(flat: initialCenters.storage))])
    }

    /// Reads a model file written by ``save(to:)``.
    /// - Throws: ``MPILearnError/cannotRead`` for a missing file, ``MPILearnError/dataError``
    ///   naming the file for a corrupt one (bad magic, checksum, kind, header or shapes).
    public static func load(from path: String) throws -> KMeansModel {
        try decodeContainer(ModelContainer.read(from: path, expectedKinds: [kind]), path: path)
    }

    static func decodeContainer(_ c: ModelContainer, path: String) throws -> KMeansModel {
        func bad(_ msg: String) -> MPILearnError { .dataError(SourceLocation(file: path), msg) }
        let h: KMeansModelHeader
        do { h = try ModelJSON.decoder.decode(KMeansModelHeader.self, from: c.header) } catch {
            throw bad("k-means model header is not valid: \(error)")
        }
        guard h.nClusters >= 1, h.nFeatures >= 1, h.featureNames.count == h.nFeatures else {
            throw bad("k-means model header has \(h.nClusters) clusters, \(h.nFeatures) features and \(h.featureNames.count) feature names")
        }
        let centres = try c.section("cluster_centers", in: path).flatArray(of: Double.self, path: path)
        let initial = try c.section("initial_centers", in: path).flatArray(of: Double.self, path: path)
        guard centres.count == checkedProduct(h.nClusters, h.nFeatures), initial.count == centres.count else {
            throw bad("k-means model has \(centres.count) centre values; expected \(h.nClusters) × \(h.nFeatures)")
        }
        guard centres.allSatisfy(\.isFinite) else { throw bad("k-means model has non-finite centre coordinates") }
        return KMeansModel(configuration: h.configuration, clusterCenters: Matrix(rows: h.nClusters, columns: h.nFeatures, storage: centres),
                           featureNames: h.featureNames, inertia: h.inertia, nIter: h.nIter, history: h.history,
                           initialCenters: Matrix(rows: h.nClusters, columns: h.nFeatures, storage: initial))
    }

    /// The centres as CSV: a header of feature names, then one row per centre, every value
    /// printed with 17 significant digits (round-trips Float64).
    public func centersCSV() -> String {
        Self.csv(clusterCenters, names: featureNames)
    }

    static func csv(_ m: Matrix<Double>, names: [String]) -> String {
        var s = names.joined(separator: ",") + "\n"
        for i in 0 ..< m.rows {
            s += (0 ..< m.columns).map { String(format: "%.17g", m[i, $0]) }.joined(separator: ",") + "\n"
        }
        return s
    }

    /// Reads centres from a CSV written by ``centersCSV()`` (header line, then numeric rows).
    /// - Throws: ``MPILearnError/dataError`` with file:line:column for a bad value or ragged row.
    public static func readCentersCSV(_ path: String) throws -> (centres: Matrix<Double>, names: [String]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MPILearnError.cannotRead(path: path, reason: FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
        }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        guard let header = lines.first, !header.isEmpty else { throw MPILearnError.dataError(SourceLocation(file: path, line: 1), "empty centres file") }
        let names = header.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: .whitespaces) }
        var values: [Double] = []
        var rows = 0
        for (li, line) in lines.enumerated().dropFirst() where !line.isEmpty {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == names.count else {
                throw MPILearnError.dataError(SourceLocation(file: path, line: li + 1), "\(fields.count) values; the header has \(names.count) columns")
            }
            for (ci, f) in fields.enumerated() {
                guard let v = Double(f.trimmingCharacters(in: .whitespaces)), v.isFinite else {
                    throw MPILearnError.dataError(SourceLocation(file: path, line: li + 1, column: ci + 1), "'\(f)' is not a finite number")
                }
                values.append(v)
            }
            rows += 1
        }
        guard rows > 0 else { throw MPILearnError.dataError(SourceLocation(file: path, line: 2), "no centre rows") }
        return (Matrix(rows: rows, columns: names.count, storage: values), names)
    }
}

// MARK: the estimator contract

extension KMeans: Estimator {
    public static let estimatorName = "kmeans"
    public static let role = EstimatorRole.clusterer
    /// k-means' fit is data-parallel and gives the same centres on any number of ranks.
    public static var fitsShardedData: Bool { true }

    public func validate() throws {
        try require(nClusters >= 1, "n_clusters", nClusters, "an integer >= 1")
        try require(maxIter >= 1, "max_iter", maxIter, "an integer >= 1")
        try require(tol >= 0 && tol.isFinite, "tol", tol, "a finite number >= 0")
        try require(initMaxIter >= 0, "init_max_iter", initMaxIter, "an integer >= 0")
        try require(effectiveOversampling > 0 && effectiveOversampling.isFinite, "oversampling_factor", effectiveOversampling, "a finite number > 0")
        try require(effectiveNInit >= 1, "n_init", effectiveNInit, "an integer >= 1")
        try require(threads >= 1 && threads <= 1024, "threads", threads, "an integer in 1...1024")
    }

    /// Collective. Clusters every rank's rows (see ``fit(_:comm:dataName:progress:)``); the
    /// centres are identical on every rank, the labels are this rank's rows'.
    public func fit(_ data: Dataset<Double>, comm: any Communicator) throws -> KMeansModel {
        try fit(data, comm: comm, dataName: "data", progress: nil)
    }

    public func expectedCost(rows: Int) -> Double { Double(rows) * Double(nClusters) * Double(effectiveNInit) }
}

extension KMeansModel: ClustererModel {
    public func predict(_ x: Matrix<Double>) throws -> [Int] {
        try predict(x, threads: configuration.threads, dataName: "data").map { Int($0) }
    }

    public func score(_ x: Matrix<Double>) throws -> Double {
        try withAssignment(x, threads: configuration.threads, comm: LocalCommunicator.solo(), dataName: "data") { _, mind2 in -mind2.reduce(0, +) }
    }

    public static func decode(_ container: ModelContainer, path: String) throws -> KMeansModel {
        try decodeContainer(container, path: path)
    }

    public func summary() -> [(String, String)] {
        let c = configuration
        return [
            ("clusters", "\(nClusters) × \(featureCount) features (\(listPreview(featureNames)))"),
            ("inertia", String(format: "%.6g after %d iteration(s)", inertia, nIter)),
            ("parameters", "n_clusters=\(c.nClusters) init=\(c.initialization.name) max_iter=\(c.maxIter) tol=\(c.tol) "
                + "n_init=\(c.effectiveNInit) algorithm=\(c.algorithm.rawValue) random_state=\(c.randomState)"),
        ]
    }
}
