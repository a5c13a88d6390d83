import ArgumentParser
import Foundation
import MPILearn
import SwiftMPI

/// `mpilearn kmeans`: fit and predict with distributed k-means.
struct KMeansCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kmeans",
        abstract: "K-means clustering over rows spread across ranks (k-means|| initialisation, Lloyd iterations).",
        subcommands: [KMeansFitCommand.self, KMeansPredictCommand.self])
}

struct KMeansFitCommand: SPMDCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit",
        abstract: "Cluster a .npy/.csv file or generated blobs; print one line per iteration and a summary.",
        discussion: """
        Every rank reads (or generates) only its block of rows. Rank 0 prints one line per Lloyd \
        iteration (iteration, inertia, squared centre shift, seconds) and a summary. Outputs: \
        --output-centers (CSV), --output-model (MPILearn model file, kind "kmeans"), \
        --output-labels (.npy int32 or text, written in parallel by all ranks).
        """)

    @Option(help: "Input rows: a .npy (float64/float32/int, C order) or numeric .csv file.")
    var data: String?
    @Option(help: ArgumentHelp("CSV columns to read as categories, so left out of the clustering, whatever they hold.", valueName: "NAME,..."))
    var categorical: String = ""
    @Option(help: ArgumentHelp("Generate Gaussian blobs on the ranks instead: rows,features,centers.", valueName: "N,D,CENTERS"))
    var blobs: String?
    @Option(help: "Standard deviation of each blob (--blobs).")
    var clusterStd: Double = 1.0
    @Option(help: "Seed of the generated blobs (--blobs).")
    var blobsRandomState: UInt64 = 0
    @Option(name: [.customLong("k"), .customLong("n-clusters")], help: "Number of clusters.")
    var k: Int = 8
    @Option(name: .customLong("init"), help: "A named initialisation, or a CSV file of initial centres.")
    var initMethod: KMeansInitArgument = .method(.kMeansParallel)
    @Option(help: "k-means||: expected rows sampled per round, ℓ (default 2k).")
    var oversamplingFactor: Double?
    @Option(help: "k-means||: oversampling rounds.")
    var initMaxIter: Int = 2
    @Option(help: "Maximum Lloyd iterations.")
    var maxIter: Int = 300
    @Option(help: "Tolerance on the squared centre shift, relative to the mean feature variance.")
    var tol: Double = 1e-4
    @Option(help: "Runs with different seeds (default: 1, or 10 for random init).")
    var nInit: Int?
    @Option(help: "Seed of the initialisation.")
    var randomState: UInt64 = 0
    @Flag(help: "Cluster in float32 (half the memory).")
    var float32 = false
    @Option(help: "Threads per rank for the passes over the data.")
    var threads: Int = 1
    @Option(help: "Lloyd passes: hamerly (skip rows whose bounds prove their centre) or lloyd (all distances every pass); same result.")
    var algorithm: KMeansAlgorithm = .hamerly
    @Option(help: "Write the centres as CSV.")
    var outputCenters: String?
    @Option(help: "Write the model file (kind kmeans).")
    var outputModel: String?
    @Option(help: "Write every row's label: .npy (int32) or text, in parallel.")
    var outputLabels: String?

    func validate() throws {
        if (data == nil) == (blobs == nil) { throw ValidationError("give exactly one of --data FILE or --blobs N,D,CENTERS") }
    }

    func run(world: any Communicator) throws {
        if float32 { try fit(Float.self, world) } else { try fit(Double.self, world) }
    }

    /// Parses --blobs N,D,CENTERS.
    func blobShape() throws -> (n: Int, d: Int, centers: Int) {
        let parts = (blobs ?? "").split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3, let n = parts[0], let d = parts[1], let c = parts[2], n >= 1, d >= 1, c >= 1 else {
            throw MPILearnError.invalidParameter(name: "--blobs", value: blobs ?? "", allowed: "N,D,CENTERS with three positive integers, e.g. 1000000,20,12")
        }
        return (n, d, c)
    }

    func fit<T: LinearAlgebraScalar & MPIScalar>(_ type: T.Type, _ world: any Communicator) throws {
        let t0 = Date()
        let rows: Dataset<T>
        let name: String
        if blobs != nil {
            let s = try blobShape()
            rows = try Generators.makeBlobs(T.self, nSamples: s.n, nFeatures: s.d, centers: s.centers, clusterStd: clusterStd,
                                            randomState: blobsRandomState, rows: Partition.block(count: s.n, parts: world.size, index: world.rank))
            name = "blobs"
        } else {
            name = self.data!
            rows = try loadKMeansData(T.self, path: name, categorical: categoricalColumns(categorical), comm: world)
        }
        let data = rows
        let initialization = try initMethod.initialization()
        let config = KMeans(nClusters: k, initialization: initialization, oversamplingFactor: oversamplingFactor, initMaxIter: initMaxIter,
                            maxIter: maxIter, tol: tol, nInit: nInit, randomState: randomState, threads: threads, algorithm: algorithm)
        say(world, "kmeans: \(data.globalRowCount) rows × \(data.featureCount) features (\(T.self == Float.self ? "float32" : "float64")) "
            + "on \(world.size) rank(s) × \(threads) thread(s), k=\(k), init \(initialization.name), algorithm \(algorithm.rawValue), kernels \(Kernels.active); data ready in \(fmt(Date().timeIntervalSince(t0))) s")
        say(world, "  run  iter        inertia        shift   changed   skipped   seconds")
        let model = try config.fit(data, comm: world, dataName: name) { it in
            let skipped = String(format: "%.1f%%", 100 * Double(it.skipped) / Double(max(1, data.globalRowCount)))
            say(world, String(format: "%5d %5d  %13.6e  %11.4e  %8d  %8@  %8.4f%@", it.run, it.iteration, it.inertia, it.shift, it.changed,
                              skipped as NSString, it.seconds,
                              it.relocated > 0 ? "  (\(it.relocated) empty cluster(s) relocated)" as NSString : "" as NSString))
        }
        for w in model.report.warnings { say(world, "warning: \(w)") }
        let r = model.report
        let slowestComm = try world.allreduce(r.communicationSeconds, op: .max)
        say(world, "inertia \(String(format: "%.6e", model.inertia)), \(model.nIter) iteration(s)"
            + (r.candidates.map { ", \($0) k-means|| candidates" } ?? ""))
        say(world, "time: fit \(fmt(r.totalSeconds)) s = init \(fmt(r.initSeconds)) s + Lloyd \(fmt(r.lloydSeconds)) s"
            + " (\(fmt(r.lloydSeconds / Double(max(1, model.history.count)))) s/iteration) + variance pass; "
            + "communication \(String(format: "%.1f", 100 * slowestComm / max(r.totalSeconds, 1e-12)))% (slowest rank, includes waiting)")
        if blobs != nil, let truth = data.target {
            let ari = try ClusteringMetrics.adjustedRandIndex(model.labels, truth.map { Int32($0) }, comm: world)
            say(world, "adjusted Rand index against the true blobs: \(String(format: "%.6f", ari))")
        }
        if world.isRoot {
            if let p = outputCenters { try AtomicFile.write(model.centersCSV(), to: p) }
            if let p = outputModel { try model.save(to: p) }
        }
        if let p = outputLabels {
            try writeLabelsParallel(model.labels, path: p, comm: world)
        }
        say(world, "fit done in \(fmt(Date().timeIntervalSince(t0))) s")
    }
}

struct KMeansPredictCommand: SPMDCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Label rows of a .npy/.csv file with the nearest centre of a saved k-means model.")

    @Option(help: "Model file written by `kmeans fit --output-model`.")
    var model: String
    @Option(help: "Rows to label (.npy or numeric .csv) with the model's number of features.")
    var data: String
    @Option(help: "Labels output: .npy (int32) or text, written in parallel.")
    var output: String
    @Option(help: ArgumentHelp("CSV columns to read as categories, so left out, whatever they hold.", valueName: "NAME,..."))
    var categorical: String = ""
    @Flag(help: "Compute in float32.")
    var float32 = false
    @Option(help: "Threads per rank.")
    var threads: Int = 1

    func run(world: any Communicator) throws {
        if float32 { try predict(Float.self, world) } else { try predict(Double.self, world) }
    }

    func predict<T: LinearAlgebraScalar & MPIScalar>(_ type: T.Type, _ world: any Communicator) throws {
        try require(threads >= 1 && threads <= 1024, "threads", threads, "an integer in 1...1024")
        let m = try KMeansModel.load(from: model)
        let x: Dataset<T> = try loadKMeansData(T.self, path: data, categorical: categoricalColumns(categorical), comm: world)
        let labels = try m.predict(x.matrix, threads: threads, dataName: data)
        let score = try m.score(x, comm: world, threads: threads, dataName: data)
        try writeLabelsParallel(labels, path: output, comm: world)
        say(world, "labelled \(x.globalRowCount) rows with \(m.nClusters) clusters; inertia \(String(format: "%.6e", -score)); wrote \(output)")
    }
}

private func fmt(_ s: Double) -> String { String(format: "%.3f", s) }

/// The names of a comma-separated `--categorical` list.
private func categoricalColumns(_ list: String) -> [String] {
    list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}
