import Foundation
import SwiftMPI

/// The `mpilearn kmeans` workflows as library calls: load a `.npy`/`.csv` file (or generate
/// blobs) as every rank's block of rows, fit with one line per Lloyd iteration, write the
/// centres, the model and every row's label; label a file with a saved model.
///
/// Every function is collective: call it on every rank with the same arguments. Lines for
/// the user go to `log`, called on rank 0 only, one line per call.
///
/// ```swift
/// var options = KMeansWorkflow.FitOptions(data: .file("rows.npy"), estimator: KMeans(nClusters: 12))
/// options.outputLabels = "labels.npy"
/// let model = try KMeansWorkflow.fit(options, comm: world) { print($0) }
/// ```
public enum KMeansWorkflow {
    // MARK: data

    /// Collective. Loads this rank's block of rows of a `.npy` file (every column) or a
    /// `.csv` file (every numeric column; categorical and datetime columns are left out and
    /// named in a `log` line on rank 0). `categorical` names CSV columns to read as
    /// categories (so left out) whatever they hold: a column of numbers with some text cells
    /// is otherwise a data error.
    ///
    /// Rows are contiguous blocks in file order, so `globalRowStart` is the row's index in the
    /// file.
    /// - Throws: ``MPILearnError/cannotRead(path:reason:)`` for a missing file,
    ///   ``MPILearnError/dataError(_:_:)`` with the location for malformed content or a file
    ///   without numeric columns. (Missing and non-finite values are reported by `KMeans.fit`
    ///   with their row and column, during the pass it makes over the data anyway.)
    public static func loadData<T: LinearAlgebraScalar & MPIScalar>(_ type: T.Type, path: String, categorical: [String] = [],
                                                                    comm: any Communicator, log: (String) -> Void = { _ in }) throws -> Dataset<T> {
        let lower = path.lowercased()
        if lower.hasSuffix(".npy") {
            return try NPY.read(path, as: T.self, comm: comm)
        }
        guard lower.hasSuffix(".csv") else {
            throw MPILearnError.invalidParameter(name: "--data", value: path, allowed: "a .npy or .csv file")
        }
        var options = CSVOptions(float32: T.self == Float.self)
        for name in categorical { options.types[name] = .categorical }
        let table = try CSVReader.read(path, options: options, comm: comm)
        let numeric = table.columns.filter {
            switch $0.values { case .float64, .float32: return true; default: return false }
        }.map(\.name)
        guard !numeric.isEmpty else {
            throw MPILearnError.dataError(SourceLocation(file: path), "no numeric columns to cluster (columns: \(listPreview(table.columnNames)))")
        }
        let skipped = table.columnNames.filter { !numeric.contains($0) }
        if comm.isRoot && !skipped.isEmpty { log("kmeans: clustering \(numeric.count) numeric column(s); leaving out \(listPreview(skipped))") }
        return try table.dataset(T.self, features: numeric)
    }

    /// Collective. Writes every rank's labels, in global row order, to one file in parallel:
    /// `.npy` gives an int32 array of shape (N,), any other extension a text file with the
    /// header `label` and one label per line. The folder must be shared by all ranks.
    public static func writeLabels(_ labels: [Int32], to path: String, comm: any Communicator) throws {
        if path.lowercased().hasSuffix(".npy") {
            try NPY.write(labels, columns: nil, to: path, comm: comm)
            return
        }
        var text = ""
        text.reserveCapacity(labels.count * 3)
        for l in labels { text += "\(l)\n" }
        let bytes = Array(text.utf8)
        try bytes.withUnsafeBytes { try ParallelFile.write(path, header: Array("label\n".utf8), bytes: $0, comm: comm) }
    }

    // MARK: fit

    /// Where ``fit(_:comm:log:)`` gets its rows.
    public enum DataSource: Sendable {
        /// A `.npy` or numeric `.csv` file (see ``loadData(_:path:categorical:comm:log:)``).
        case file(String, categorical: [String] = [])
        /// Gaussian blobs generated on the ranks (``Generators/makeBlobs(_:nSamples:nFeatures:centers:clusterStd:centerBox:randomState:rows:)``);
        /// the fit then reports the adjusted Rand index against the true blobs.
        case blobs(rows: Int, features: Int, centers: Int, clusterStd: Double = 1, randomState: UInt64 = 0)
    }

    /// The options of ``fit(_:comm:log:)``.
    public struct FitOptions: Sendable {
        public var data: DataSource
        public var estimator: KMeans
        /// A CSV file of initial centres, read once the data is loaded; replaces the
        /// estimator's initialisation.
        public var initialCentersFile: String?
        /// Cluster in Float (half the memory) instead of Double.
        public var float32 = false
        /// Write the centres as CSV (rank 0).
        public var outputCenters: String?
        /// Write the model file (rank 0).
        public var outputModel: String?
        /// Write every row's label (``writeLabels(_:to:comm:)``, all ranks).
        public var outputLabels: String?
        /// Save the fit's state after Lloyd iterations, and resume from it (``Checkpointer``).
        public var checkpoint: CheckpointOptions?

        public init(data: DataSource, estimator: KMeans) {
            self.data = data
            self.estimator = estimator
        }
    }

    /// Collective. Loads or generates the rows, fits, writes the outputs asked for.
    ///
    /// `log` gets, on rank 0 and in order: a line describing the data and the fit, a header
    /// and one line per Lloyd iteration, warnings, the inertia, the time split, the adjusted
    /// Rand index (blobs), and the total time.
    /// - Returns: the model; its `labels` are this rank's rows'.
    public static func fit(_ options: FitOptions, comm: any Communicator, log: (String) -> Void) throws -> KMeansModel {
        if options.float32 { return try fit(Float.self, options, comm: comm, log: log) }
        return try fit(Double.self, options, comm: comm, log: log)
    }

    static func fit<T: LinearAlgebraScalar & MPIScalar>(_ type: T.Type, _ options: FitOptions, comm world: any Communicator,
                                                        log: (String) -> Void) throws -> KMeansModel {
        func say(_ s: String) { if world.isRoot { log(s) } }
        let t0 = Date()
        world.traceMark("load")
        let data: Dataset<T>
        let name: String
        var isBlobs = false
        switch options.data {
        case let .blobs(n, d, centers, clusterStd, randomState):
            data = try Generators.makeBlobs(T.self, nSamples: n, nFeatures: d, centers: centers, clusterStd: clusterStd,
                                            randomState: randomState, rows: Partition.block(count: n, parts: world.size, index: world.rank))
            name = "blobs"
            isBlobs = true
        case let .file(path, categorical):
            name = path
            data = try loadData(T.self, path: path, categorical: categorical, comm: world, log: log)
        }
        var config = options.estimator
        if let file = options.initialCentersFile { config.initialization = .centers(try KMeansModel.readCentersCSV(file).centres) }
        let threads = config.threads
        say("kmeans: \(data.globalRowCount) rows × \(data.featureCount) features (\(T.self == Float.self ? "float32" : "float64")) "
            + "on \(world.size) rank(s) × \(threads) thread(s), k=\(config.nClusters), init \(config.initialization.name), "
            + "algorithm \(config.algorithm.rawValue), kernels \(Kernels.active); data ready in \(seconds(Date().timeIntervalSince(t0))) s")
        let checkpointer = try options.checkpoint.map { c in
            try Checkpointer(c, kind: "kmeans", unit: "iterations", identity: [
                ("parameters", String(decoding: try CheckpointJSON.encode(config), as: UTF8.self)),
                ("data", "\(name): \(data.globalRowCount) rows × \(data.featureCount) features, \(T.self == Float.self ? "float32" : "float64")"),
            ], comm: world)
        }
        if let c = checkpointer { say(c.plan) }
        say("  run  iter        inertia        shift   changed   skipped   seconds")
        world.traceMark("fit")
        // The fit takes an optional (so escaping) callback; it calls it only during the fit.
        let model = try withoutActuallyEscaping(say) { say in try config.fit(data, comm: world, dataName: name, checkpoint: checkpointer) { it in
            let skipped = String(format: "%.1f%%", 100 * Double(it.skipped) / Double(max(1, data.globalRowCount)))
            say(String(format: "%5d %5d  %13.6e  %11.4e  %8d  %8@  %8.4f%@", it.run, it.iteration, it.inertia, it.shift, it.changed,
                       skipped as NSString, it.seconds,
                       it.relocated > 0 ? "  (\(it.relocated) empty cluster(s) relocated)" as NSString : "" as NSString))
        } }
        for w in model.report.warnings { say("warning: \(w)") }
        if let c = checkpointer { say(c.summary) }
        let r = model.report
        let slowestComm = try world.allreduce(r.communicationSeconds, op: .max)
        say("inertia \(String(format: "%.6e", model.inertia)), \(model.nIter) iteration(s)"
            + (r.candidates.map { ", \($0) k-means|| candidates" } ?? ""))
        say("time: fit \(seconds(r.totalSeconds)) s = init \(seconds(r.initSeconds)) s + Lloyd \(seconds(r.lloydSeconds)) s"
            + " (\(seconds(r.lloydSeconds / Double(max(1, model.history.count)))) s/iteration) + variance pass; "
            + "communication \(String(format: "%.1f", 100 * slowestComm / max(r.totalSeconds, 1e-12)))% (slowest rank, includes waiting)")
        world.traceMark("score")
        if isBlobs, let truth = data.target {
            let ari = try ClusteringMetrics.adjustedRandIndex(model.labels, truth.map { Int32($0) }, comm: world)
            say("adjusted Rand index against the true blobs: \(String(format: "%.6f", ari))")
        }
        world.traceMark("write")
        if world.isRoot {
            if let p = options.outputCenters { try AtomicFile.write(model.centersCSV(), to: p) }
            if let p = options.outputModel { try model.save(to: p) }
        }
        if let p = options.outputLabels {
            try writeLabels(model.labels, to: p, comm: world)
        }
        traceReport(model, rows: data.globalRowCount, comm: world)
        say("fit done in \(seconds(Date().timeIntervalSince(t0))) s")
        return model
    }

    // MARK: predict

    /// What ``predict(model:data:output:categorical:float32:threads:comm:log:)`` did.
    public struct PredictSummary: Sendable {
        /// Rows labelled over all ranks.
        public var rows: Int
        public var clusters: Int
        /// The sum of squared distances to the nearest centre, over all ranks.
        public var inertia: Double
        public var output: String

        public var text: String { "labelled \(rows) rows with \(clusters) clusters; inertia \(String(format: "%.6e", inertia)); wrote \(output)" }
    }

    /// Collective. Labels every rank's block of `data` with the nearest centre of the saved
    /// model and writes the labels (``writeLabels(_:to:comm:)``).
    public static func predict(model: String, data: String, output: String, categorical: [String] = [], float32: Bool = false,
                               threads: Int = 1, comm: any Communicator, log: (String) -> Void = { _ in }) throws -> PredictSummary {
        try require(threads >= 1 && threads <= 1024, "threads", threads, "an integer in 1...1024")
        let m = try KMeansModel.load(from: model)
        func label<T: LinearAlgebraScalar & MPIScalar>(_: T.Type) throws -> PredictSummary {
            let x = try loadData(T.self, path: data, categorical: categorical, comm: comm, log: log)
            let labels = try m.predict(x.matrix, threads: threads, dataName: data)
            let score = try m.score(x, comm: comm, threads: threads, dataName: data)
            try writeLabels(labels, to: output, comm: comm)
            return PredictSummary(rows: x.globalRowCount, clusters: m.nClusters, inertia: -score, output: output)
        }
        return float32 ? try label(Float.self) : try label(Double.self)
    }

    /// Seconds with three decimals, as the k-means lines print them.
    static func seconds(_ s: Double) -> String { String(format: "%.3f", s) }
}
