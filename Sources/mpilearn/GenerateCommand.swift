import ArgumentParser
import Foundation
import MPILearn
import SwiftMPI

/// `mpilearn generate {classification|blobs|regression}`: synthetic data written in parallel
/// to one CSV or NPY file, the same bytes for any number of ranks.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate a synthetic dataset (scikit-learn's make_*) in parallel into one .csv or .npy file.",
        discussion: """
        Each rank generates its block of rows (keyed by global row index) and writes it at its \
        offset; the file appears atomically and is byte-identical for any number of ranks. CSV \
        files get a header x0,...,y; NPY files hold the features with the target as the last \
        column, unless --target-output names a separate file for it.
        """,
        subcommands: [Classification.self, Blobs.self, Regression.self])

    struct Common: ParsableArguments {
        @Option(help: "Rows over all ranks (n_samples).") var nSamples: Int = 100
        @Option(help: "Seed (random_state).") var randomState: UInt64 = 0
        @Option(help: "Output file: .csv or .npy.") var output: String
        @Option(help: "Write the target here (.csv or .npy) instead of as the last column of --output.") var targetOutput: String?
        @Flag(help: "Write 32-bit floats (NPY only; CSV keeps the shortest Float text).") var float32 = false

        func validate() throws {
            if nSamples < 0 { throw ValidationError("--n-samples must be >= 0, got \(nSamples)") }
            for p in [output] + (targetOutput.map { [$0] } ?? []) where !(p.hasSuffix(".csv") || p.hasSuffix(".npy")) {
                throw ValidationError("output \(p) must end in .csv or .npy")
            }
        }
    }

    /// Writes the rank's rows: features (+ target) to `output`, or the target to its own file.
    static func write<T: LinearAlgebraScalar & NPYElement>(_ data: Dataset<T>, _ common: Common, integerTarget: Bool,
                                                          comm: any Communicator) throws {
        let start = Date()
        var features = data
        if let t = common.targetOutput {
            features.target = nil
            try writeOne(features, to: common.output, integerTarget: integerTarget, comm: comm)
            let y = Dataset(features: Matrix<T>(rows: data.rowCount, columns: 1, storage: (data.target ?? []).map { T($0) }),
                            featureNames: ["y"], globalRowStart: data.globalRowStart, globalRowCount: data.globalRowCount)
            if t.hasSuffix(".npy") {
                try NPY.write(y.matrix.storage, columns: nil, to: t, comm: comm)
            } else {
                try CSVWriter.write(y, to: t, comm: comm)
            }
        } else {
            try writeOne(features, to: common.output, integerTarget: integerTarget, comm: comm)
        }
        say(comm, "wrote \(common.output): \(data.globalRowCount) rows × \(data.featureCount) features\(common.targetOutput == nil ? " + target" : ", target in \(common.targetOutput!)") on \(comm.size) rank(s) in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
    }

    static func writeOne<T: LinearAlgebraScalar & NPYElement>(_ data: Dataset<T>, to path: String, integerTarget: Bool, comm: any Communicator) throws {
        if path.hasSuffix(".npy") {
            var m = data.matrix
            if let y = data.target {
                let d = m.columns
                var s = [T](repeating: 0, count: m.rows * (d + 1))
                for i in 0 ..< m.rows {
                    for j in 0 ..< d { s[i * (d + 1) + j] = m.storage[i * d + j] }
                    s[i * (d + 1) + d] = T(y[i])
                }
                m = Matrix(rows: m.rows, columns: d + 1, storage: s)
            }
            try NPY.write(m, to: path, comm: comm)
        } else {
            try CSVWriter.write(data, to: path, integerTarget: integerTarget, comm: comm)
        }
    }

    struct Classification: SPMDCommand {
        @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
        static let configuration = CommandConfiguration(abstract: "make_classification: hypercube clusters, informative/redundant/repeated/noise features.")
        @OptionGroup var common: Common
        @Option var nFeatures: Int = 20
        @Option var nInformative: Int = 2
        @Option var nRedundant: Int = 2
        @Option var nRepeated: Int = 0
        @Option var nClasses: Int = 2
        @Option var nClustersPerClass: Int = 2
        @Option(help: "Class proportions, comma-separated.") var weights: String?
        @Option var flipY: Double = 0.01
        @Option var classSep: Double = 1.0

        func run(world: any Communicator) throws {
            let rows = Partition.block(count: common.nSamples, parts: world.size, index: world.rank)
            let w = try weights.map { s in
                try s.split(separator: ",").map { v -> Double in
                    guard let d = Double(v) else { throw MPILearnError.invalidParameter(name: "weights", value: s, allowed: "comma-separated numbers") }
                    return d
                }
            }
            func make<T: LinearAlgebraScalar & NPYElement>(_: T.Type) throws {
                let d = try Generators.makeClassification(
                    T.self, nSamples: common.nSamples, nFeatures: nFeatures, nInformative: nInformative, nRedundant: nRedundant,
                    nRepeated: nRepeated, nClasses: nClasses, nClustersPerClass: nClustersPerClass, weights: w, flipY: flipY,
                    classSep: classSep, randomState: common.randomState, rows: rows)
                try GenerateCommand.write(d, common, integerTarget: true, comm: world)
            }
            if common.float32 { try make(Float.self) } else { try make(Double.self) }
        }
    }

    struct Blobs: SPMDCommand {
        @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
        static let configuration = CommandConfiguration(abstract: "make_blobs: isotropic Gaussian blobs; the target is the blob.")
        @OptionGroup var common: Common
        @Option var nFeatures: Int = 2
        @Option var centers: Int = 3
        @Option var clusterStd: Double = 1.0

        func run(world: any Communicator) throws {
            let rows = Partition.block(count: common.nSamples, parts: world.size, index: world.rank)
            func make<T: LinearAlgebraScalar & NPYElement>(_: T.Type) throws {
                let d = try Generators.makeBlobs(T.self, nSamples: common.nSamples, nFeatures: nFeatures, centers: centers,
                                                 clusterStd: clusterStd, randomState: common.randomState, rows: rows)
                try GenerateCommand.write(d, common, integerTarget: true, comm: world)
            }
            if common.float32 { try make(Float.self) } else { try make(Double.self) }
        }
    }

    struct Regression: SPMDCommand {
        @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
        static let configuration = CommandConfiguration(abstract: "make_regression: a linear model of Gaussian features plus noise.")
        @OptionGroup var common: Common
        @Option var nFeatures: Int = 100
        @Option var nInformative: Int = 10
        @Option var bias: Double = 0
        @Option var noise: Double = 0

        func run(world: any Communicator) throws {
            let rows = Partition.block(count: common.nSamples, parts: world.size, index: world.rank)
            func make<T: LinearAlgebraScalar & NPYElement>(_: T.Type) throws {
                let d = try Generators.makeRegression(T.self, nSamples: common.nSamples, nFeatures: nFeatures, nInformative: nInformative,
                                                      bias: bias, noise: noise, randomState: common.randomState, rows: rows).data
                try GenerateCommand.write(d, common, integerTarget: false, comm: world)
            }
            if common.float32 { try make(Float.self) } else { try make(Double.self) }
        }
    }
}
