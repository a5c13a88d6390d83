// mpilearn-selftest: test-only scenarios launched by the test suite under real mpirun.
//
//   mpilearn-selftest collectives [CHUNK_LIMIT]   every collective, optionally chunked
//   mpilearn-selftest throw RANK                  RANK throws while the others wait in allreduce
//   mpilearn-selftest kill RANK                   RANK sends itself SIGKILL while the others wait
//   mpilearn-selftest exit RANK                   RANK exits(3) without MPI_Finalize or abort
//   mpilearn-selftest bigcount N CHUNK_LIMIT      broadcast/allreduce/allgatherv/alltoallv of N bytes in chunks
//   mpilearn-selftest mpierror                    every rank calls MPI_Bcast with an invalid root (MPI's error string)
//   mpilearn-selftest counter N BATCH             ranks draw tasks 0..<N from a shared counter, BATCH at a time
//   mpilearn-selftest sparse-linear DIR           Ridge and LinearRegression on DIR/x.npz (CSR) and DIR/y.json, each rank its rows
import Foundation
#if canImport(MPILearn)
import MPILearn   // sparse-linear only: scripts/check-mpich builds this file against SwiftMPI alone
#endif
import SwiftMPI

let args = Array(CommandLine.arguments.dropFirst())
let scenario = args.first ?? "collectives"
let target = args.count > 1 ? Int(args[1]) ?? 0 : 0

struct Injected: JobError {
    var rank: Int
    var exitCode: JobExitCode { .dataError }
    var description: String { "injected failure on rank \(rank)" }
}

Job.run { world in
    switch scenario {
    case "collectives":
        if args.count > 1, let limit = Int(args[1]) { MPICommunicator.chunkLimit = limit }
        let passed = try CollectiveSelfCheck.run(world)
        if world.rank == 0 { print("selftest collectives passed: \(passed.joined(separator: ","))") }
    case "throw", "kill", "exit":
        if world.rank == target {
            Thread.sleep(forTimeInterval: 0.3) // let the others block in the allreduce first
            switch scenario {
            case "throw": throw Injected(rank: world.rank)
            case "kill": kill(getpid(), SIGKILL)
            default: exit(3)
            }
        }
        var x = [Double](repeating: 1, count: 4)
        try world.allreduce(&x, op: .sum) // never completes: the job must end anyway
        print("rank \(world.rank): allreduce returned, which it must not")
    case "bigcount":
        let n = args.count > 1 ? Int(args[1])! : 1 << 20
        MPICommunicator.chunkLimit = args.count > 2 ? Int(args[2])! : 1000
        var buf = [UInt8](repeating: 0, count: n)
        if world.rank == 0 { for i in 0 ..< n { buf[i] = UInt8(truncatingIfNeeded: i &* 31) } }
        try world.broadcast(&buf, root: 0)
        for i in 0 ..< n where buf[i] != UInt8(truncatingIfNeeded: i &* 31) {
            throw CommunicatorError(operation: "bigcount", message: "broadcast byte \(i) wrong on rank \(world.rank)")
        }
        var ones = [Int32](repeating: 1, count: n)
        try world.allreduce(&ones, op: .sum)
        if ones.contains(where: { $0 != Int32(world.size) }) {
            throw CommunicatorError(operation: "bigcount", message: "allreduce wrong on rank \(world.rank)")
        }
        let mine = [UInt8](repeating: UInt8(world.rank + 1), count: n / 2 + world.rank)
        let all = try world.allgatherv(mine)
        for r in 0 ..< world.size where all.values[all.layout.range(of: r)].contains(where: { $0 != UInt8(r + 1) }) || all.layout.counts[r] != n / 2 + r {
            throw CommunicatorError(operation: "bigcount", message: "allgatherv block \(r) wrong on rank \(world.rank)")
        }
        let g = try world.gatherv(mine, root: world.size - 1)
        if world.rank == world.size - 1, g!.values != all.values {
            throw CommunicatorError(operation: "bigcount", message: "gatherv differs from allgatherv")
        }
        let sendCounts = (0 ..< world.size).map { n / 4 + $0 }
        let out = (0 ..< world.size).flatMap { q in [UInt8](repeating: UInt8(world.rank * 16 + q), count: sendCounts[q]) }
        let got = try world.alltoallv(out, sendCounts: sendCounts)
        for q in 0 ..< world.size where got.layout.counts[q] != n / 4 + world.rank || got.values[got.layout.range(of: q)].contains(where: { $0 != UInt8(q * 16 + world.rank) }) {
            throw CommunicatorError(operation: "bigcount", message: "alltoallv block from \(q) wrong on rank \(world.rank)")
        }
        // Uneven alltoallv: pairs need different numbers of chunks in the two directions.
        let limit = MPICommunicator.chunkLimit, r = world.rank
        let uneven = (0 ..< world.size).map { q in ((r * 3 + q * 5) % 7) * limit + q + 1 }
        let payload = (0 ..< world.size).flatMap { q in (0 ..< uneven[q]).map { UInt32(r * 1_000_000 + q * 1000 + $0 % 1000) } }
        let back = try world.alltoallv(payload, sendCounts: uneven)
        for q in 0 ..< world.size {
            let expected = (0 ..< ((q * 3 + r * 5) % 7) * limit + r + 1).map { UInt32(q * 1_000_000 + r * 1000 + $0 % 1000) }
            if Array(back.values[back.layout.range(of: q)]) != expected {
                throw CommunicatorError(operation: "bigcount", message: "uneven alltoallv block from \(q) wrong on rank \(r)")
            }
        }
        let sc = try world.scatterv(world.rank == 0 ? all.values : [], counts: all.layout.counts, root: 0)
        if sc != mine { throw CommunicatorError(operation: "bigcount", message: "scatterv wrong on rank \(world.rank)") }
        if world.rank == 0 { print("selftest bigcount passed: \(n) elements, chunk limit \(MPICommunicator.chunkLimit)") }
    case "counter":
        // Dynamic scheduling: every rank draws batches of task indices from one shared counter
        // until none are left, doing a little work per task so the ranks' draws interleave.
        // Every task must have been run exactly once, by some rank.
        let n = args.count > 1 ? Int(args[1])! : 2000
        let batch = args.count > 2 ? Int(args[2])! : 1
        let next = try world.makeSharedCounter(initial: 0)
        var mine = [Int32](repeating: 0, count: n)
        var draws = 0
        while true {
            let first = try next.fetchAndAdd(batch)
            draws += 1
            if first >= n { break }
            for t in first ..< min(first + batch, n) {
                mine[t] += 1
                usleep(20)
            }
        }
        try next.free()
        let ran = mine.reduce(0) { $0 + Int($1) }
        try world.allreduce(&mine, op: .sum)
        if let bad = mine.indices.first(where: { mine[$0] != 1 }) {
            throw CommunicatorError(operation: "counter", message: "task \(bad) ran \(mine[bad]) times, on rank \(world.rank)'s count")
        }
        let perRank = try world.gather(Int64(ran), root: 0)
        let drawsPerRank = try world.gather(Int64(draws), root: 0)
        if world.rank == 0 {
            print("selftest counter passed: \(n) tasks in batches of \(batch); tasks per rank \(perRank!), draws per rank \(drawsPerRank!)")
        }
    #if canImport(MPILearn)
    case "sparse-linear":
        // Sparse least squares over real MPI: each rank reads its block of rows of a scipy .npz
        // matrix and of the targets, fits Ridge (auto, and sparse_cg) and LinearRegression, and
        // rank 0 prints the coefficients (with the intercept last) and iterations as JSON.
        struct Fit: Codable { var coef: [Double]; var nIter: Int? }
        let dir = args.count > 1 ? args[1] : "."
        var data = try NPZ.readSparse(dir + "/x.npz", comm: world)
        let y = try JSONDecoder().decode([Double].self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/y.json")))
        data.target = Array(y[data.globalRowStart ..< data.globalRowStart + data.rowCount])
        let ridge = try Ridge(alpha: 1).fit(data, comm: world)
        let cg = try Ridge(alpha: 1, tol: 1e-10, solver: "sparse_cg").fit(data, comm: world)
        let ols = try LinearRegression().fit(data, comm: world)
        let fits = ["ridge": Fit(coef: ridge.coef + [ridge.intercept], nIter: ridge.nIter),
                    "ridge-sparse_cg": Fit(coef: cg.coef + [cg.intercept], nIter: cg.nIter),
                    "linear-regression": Fit(coef: ols.coef + [ols.intercept], nIter: ols.nIter)]
        if world.rank == 0 {
            let e = JSONEncoder()
            e.outputFormatting = .sortedKeys
            print("selftest sparse-linear: " + String(decoding: try e.encode(fits), as: UTF8.self))
        }
    #endif
    case "mpierror":
        // The raw primitive skips SwiftMPI's own root check, so MPI itself reports the error.
        var x = [Double](repeating: 0, count: 4)
        try x.withUnsafeMutableBytes { try world.broadcastRaw($0.baseAddress, count: 4, kind: .double, root: world.size + 7) }
        print("rank \(world.rank): MPI_Bcast with an invalid root returned success, which it must not")
    default:
        throw CommunicatorError(operation: "selftest", message: "unknown scenario '\(scenario)'")
    }
}
