import ArgumentParser
import Foundation
import MPILearn
import SwiftMPI

struct InfoCommand: SPMDCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print the job's ranks, hosts, MPI library, thread level and BLAS (gathered from all ranks, printed by rank 0).")

    struct RankInfo: Codable {
        var host: String
        var pid: Int32
        var blasThreads: Int
        var cores: Int
    }

    func run(world: any Communicator) throws {
        let mine = RankInfo(host: MPIEnvironment.processorName, pid: getpid(),
                            blasThreads: BLASInfo.threads, cores: ProcessInfo.processInfo.activeProcessorCount)
        guard let all = try world.gatherObject(mine, root: 0) else { return }
        let hosts = Dictionary(grouping: all.indices, by: { all[$0].host })
        print("MPILearn \(MPILearnVersion.string)")
        print("ranks:        \(world.size) on \(hosts.count) host(s)")
        print("MPI:          \(MPIEnvironment.libraryVersion) (standard \(MPIEnvironment.standardVersion))")
        print("thread level: \(MPIEnvironment.threadLevel)")
        print("BLAS/LAPACK:  \(BLASInfo.vendor) [\(BLASInfo.coreName)] + LAPACKE")
        let threads = Set(all.map(\.blasThreads))
        print("BLAS threads: " + (threads.count == 1 ? "\(threads.first!) per rank" : "differ between ranks (see below)")
              + " (OPENBLAS_NUM_THREADS; ranks × threads should not exceed the cores)")
        print("")
        let rows = all.enumerated().map { r, i in ["\(r)", i.host, "\(i.pid)", "\(i.cores)", "\(i.blasThreads)"] }
        print(InfoCommand.table(header: ["rank", "host", "pid", "cores", "blas-threads"], rows: rows, leftAligned: [1]))
    }

    /// Formats `rows` as aligned columns (two spaces apart), numbers right-aligned and the
    /// columns in `leftAligned` left-aligned. Widths count characters, so a host name with
    /// non-ASCII letters still lines up (`String(format:)`'s `%-24@` does not pad on Linux).
    static func table(header: [String], rows: [[String]], leftAligned: Set<Int>) -> String {
        let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max()! }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return leftAligned.contains(c) ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}

struct CheckCommand: SPMDCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check every collective (all element types, uneven counts, split, objects, point to point, a one-sided shared counter) across the job's ranks.")

    @Option(help: "Lower the per-call element limit to exercise chunked transfers (default: Int32.max).")
    var chunkLimit: Int?

    func validate() throws {
        if let c = chunkLimit, c < 1 { throw ValidationError("--chunk-limit must be at least 1, got \(c)") }
    }

    func run(world: any Communicator) throws {
        if let c = chunkLimit { MPICommunicator.chunkLimit = c }
        let start = Date()
        let passed = try CollectiveSelfCheck.run(world)
        say(world, "collectives OK on \(world.size) rank(s): \(passed.joined(separator: ", ")) (\(String(format: "%.2f", Date().timeIntervalSince(start))) s)")
    }
}
