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
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
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
    @OptionGroup(title: "Checkpoints")
    var checkpoints: CheckpointArguments

    func validate() throws {
        if (data == nil) == (blobs == nil) { throw ValidationError("give exactly one of --data FILE or --blobs N,D,CENTERS") }
    }

    func run(world: any Communicator) throws {
        let source: KMeansWorkflow.DataSource
        if blobs != nil {
            let s = try blobShape()
            source = .blobs(rows: s.n, features: s.d, centers: s.centers, clusterStd: clusterStd, randomState: blobsRandomState)
        } else {
            source = .file(data!, categorical: categoricalColumns(categorical))
        }
        var options = KMeansWorkflow.FitOptions(
            data: source,
            estimator: KMeans(nClusters: k, oversamplingFactor: oversamplingFactor, initMaxIter: initMaxIter, maxIter: maxIter, tol: tol,
                              nInit: nInit, randomState: randomState, threads: threads, algorithm: algorithm))
        switch initMethod {
        case let .method(m): options.estimator.initialization = m
        case let .centresFile(path): options.initialCentersFile = path
        }
        options.float32 = float32
        options.outputCenters = outputCenters
        options.outputModel = outputModel
        options.outputLabels = outputLabels
        options.checkpoint = try checkpoints.options()
        _ = try KMeansWorkflow.fit(options, comm: world, log: printLine)
    }

    /// Parses --blobs N,D,CENTERS.
    func blobShape() throws -> (n: Int, d: Int, centers: Int) {
        let parts = (blobs ?? "").split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3, let n = parts[0], let d = parts[1], let c = parts[2], n >= 1, d >= 1, c >= 1 else {
            throw MPILearnError.invalidParameter(name: "--blobs", value: blobs ?? "", allowed: "N,D,CENTERS with three positive integers, e.g. 1000000,20,12")
        }
        return (n, d, c)
    }
}

struct KMeansPredictCommand: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
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
        let summary = try KMeansWorkflow.predict(model: model, data: data, output: output, categorical: categoricalColumns(categorical),
                                                 float32: float32, threads: threads, comm: world, log: printLine)
        say(world, summary.text)
    }
}

/// The names of a comma-separated `--categorical` list.
private func categoricalColumns(_ list: String) -> [String] {
    list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}
