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

    struct GenericSummary: Codable {
        var kind: String
        var formatVersion: UInt32
        var role: String
        var featureNames: [String]
        var summary: [String: String]
        enum CodingKeys: String, CodingKey { case kind, formatVersion = "format_version", role, featureNames = "feature_names", summary }
    }

    func run() throws {
        do {
            let c = try ModelContainer.read(from: file)
            let model = try ModelRegistry.decode(c, path: file)
            let forest = (model as? RandomForestClassifierModel)?.forest ?? (model as? RandomForestRegressorModel)?.forest
            guard let m = forest else {
                // Every other registered kind: its own summary lines.
                if json {
                    let s = GenericSummary(kind: c.kind, formatVersion: c.version, role: type(of: model).role.rawValue,
                                           featureNames: model.featureNames, summary: Dictionary(model.summary(), uniquingKeysWith: { a, _ in a }))
                    let e = ModelJSON.encoder
                    e.outputFormatting = [.prettyPrinted, .sortedKeys]
                    print(String(decoding: try e.encode(s), as: UTF8.self))
                    return
                }
                print("\(file): \(c.kind), format version \(c.version)")
                printSummary(model.summary())
                return
            }
            let (kind, version) = (c.kind, c.version)
            let depths = m.trees.map(\.depth), leaves = m.trees.map(\.leafCount)
            func stats(_ v: [Int]) -> Summary.Stats {
                Summary.Stats(min: v.min() ?? 0, mean: v.isEmpty ? 0 : Double(v.reduce(0, +)) / Double(v.count), max: v.max() ?? 0)
            }
            let s = Summary(kind: kind, formatVersion: version, header: m.header, trees: m.trees.count,
                            nodes: m.trees.reduce(0) { $0 + $1.nodeCount }, depth: stats(depths), leaves: stats(leaves))
            if json {
                let e = ModelJSON.encoder
                e.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try e.encode(s), as: UTF8.self))
                return
            }
            let h = m.header
            print("\(file): \(kind), format version \(version)")
            printSummary(model.summary())
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

/// `model inspect`'s lines: each label and a colon, padded to one column (12 characters at
/// least, wider when a label is longer), then the value.
func printSummary(_ lines: [(String, String)]) {
    let width = max(12, (lines.map(\.0.count).max() ?? 0) + 2)
    for (k, v) in lines { print((k + ":").padding(toLength: width, withPad: " ", startingAt: 0) + v) }
}
