import ArgumentParser
import Foundation
import MPILearn

/// `mpilearn model`: work with saved model files (no MPI needed).
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "model", abstract: "Inspect saved model files.",
                                                    subcommands: [ModelInspect.self])
}

struct ModelInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Summarise a model file: kind, trees, depth and leaf statistics, features, classes, importances, provenance.")
    @Argument(help: "Model file.") var file: String
    @Flag(help: "Print JSON instead of text.") var json: Bool = false

    struct Summary: Codable {
        var kind: String
        var formatVersion: UInt32
        var header: ForestHeader
        var trees: Int
        var nodes: Int
        var depth: Stats
        var leaves: Stats
        struct Stats: Codable { var min: Int; var mean: Double; var max: Int }
        enum CodingKeys: String, CodingKey { case kind, formatVersion = "format_version", header, trees, nodes, depth, leaves }
    }

    func run() throws {
        do {
            // The file is read once; its bytes are freed when the trees are decoded.
            let (kind, version, m): (String, UInt32, ForestModel) = try {
                let c = try ModelContainer.read(from: file)
                guard [ForestModel.classifierKind, ForestModel.regressorKind].contains(c.kind) else {
                    throw MPILearnError.dataError(SourceLocation(file: file), "model inspect knows random forest models; this is a '\(c.kind)' model")
                }
                return (c.kind, c.version, try ForestModel.decode(c, path: file))
            }()
            let depths = m.trees.map(\.depth), leaves = m.trees.map(\.leafCount)
            func stats(_ v: [Int]) -> Summary.Stats {
                Summary.Stats(min: v.min() ?? 0, mean: v.isEmpty ? 0 : Double(v.reduce(0, +)) / Double(v.count), max: v.max() ?? 0)
            }
            let s = Summary(kind: kind, formatVersion: version, header: m.header, trees: m.trees.count,
                            nodes: m.trees.reduce(0) { $0 + $1.nodeCount }, depth: stats(depths), leaves: stats(leaves))
            if json {
                let e = JSONEncoder()
                e.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try e.encode(s), as: UTF8.self))
                return
            }
            let h = m.header
            print("\(file): \(kind), format version \(version)")
            print("trees:      \(s.trees) (\(s.nodes) nodes)")
            print(String(format: "depth:      min %d, mean %.1f, max %d", s.depth.min, s.depth.mean, s.depth.max))
            print(String(format: "leaves:     min %d, mean %.1f, max %d", s.leaves.min, s.leaves.mean, s.leaves.max))
            print("target:     \(h.target)" + (h.task == .classification ? "   classes: \(h.classes.joined(separator: ", "))" : ""))
            let p = h.parameters
            print("parameters: n_estimators=\(p.nEstimators) criterion=\(p.tree.criterion.rawValue) max_depth=\(p.tree.maxDepth.map(String.init) ?? "none") "
                + "min_samples_split=\(p.tree.minSamplesSplit) min_samples_leaf=\(p.tree.minSamplesLeaf) max_features=\(p.tree.maxFeatures) "
                + "max_leaf_nodes=\(p.tree.maxLeafNodes.map(String.init) ?? "none") max_bins=\(p.tree.maxBins) bootstrap=\(p.bootstrap) "
                + "max_samples=\(p.maxSamples?.description ?? "none") class_weight=\(p.classWeight?.rawValue ?? "none") random_state=\(p.randomState)")
            if let o = h.oobScore { print("oob score:  \(String(format: "%.4f", o))") }
            let pr = h.provenance
            print("trained:    \(pr.date) on \(pr.ranks) rank(s), \(pr.trainRows) rows from \(pr.data) (MPILearn \(pr.mpilearn))")
            print("features (\(h.featureNames.count)) by importance:")
            let order = h.featureNames.indices.sorted { h.featureImportances[$0] > h.featureImportances[$1] }
            for j in order {
                let kind = h.categories[j].map { "categorical, \($0.count) values" } ?? "numeric"
                print(String(format: "  %-24@ %.4f  (%@)", h.featureNames[j] as NSString, h.featureImportances[j], kind as NSString))
            }
        } catch let e as MPILearnError {
            FileHandle.standardError.write(Data("error: \(e.description)\n".utf8))
            throw ExitCode(e.exitCode.rawValue)
        }
    }
}
