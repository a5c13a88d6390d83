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
        print("")
        print("rank  host                      pid      cores  blas-threads")
        for (r, i) in all.enumerated() {
            print(String(format: "%4d  %-24@  %-7d  %5d  %12d", r, i.host as NSString, i.pid, i.cores, i.blasThreads))
        }
    }
}

struct CheckCommand: SPMDCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check every collective (all element types, uneven counts, split, objects, point to point) across the job's ranks.")

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
