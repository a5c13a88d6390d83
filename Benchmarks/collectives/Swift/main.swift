// mpilearn-bench-collectives: SwiftMPI's allreduce (sum, Double) and broadcast, timed with
// the same schedule as the C peer (../c/bench_collectives.c) so the difference is the Swift
// layer alone. Run both with Benchmarks/collectives/run.
//
// Usage: mpirun -np 2 mpilearn-bench-collectives [MAX_BYTES]
// Output, on rank 0, one line per (operation, size):
//     swift <operation> <bytes> <repetitions> <median seconds> <minimum seconds>
//
// A separate executable rather than a hidden `mpilearn bench` subcommand: like the C peer it
// links only the MPI layer (SwiftMPI), it keeps benchmark code out of the user CLI, and it
// calls the collectives through `any Communicator`, the way learners do.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SwiftMPI

/// Monotonic wall clock in seconds (the C peer reads the same clock).
@inline(__always)
func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + 1e-9 * Double(t.tv_nsec)
}

/// About 1 GiB moved per size, 30 ... 10000 repetitions (the C peer's formula).
func repetitions(_ bytes: Int) -> Int { min(10_000, max(30, (1 << 30) / bytes)) }

/// 8 B, 32 B, ... 512 KiB (×4), then 1 MiB, 2 MiB, ... up to `maxBytes` (×2).
func sizes(upTo maxBytes: Int) -> [Int] {
    var out: [Int] = [], b = 8
    while b <= maxBytes {
        out.append(b)
        b = b < 512 << 10 ? b * 4 : b * 2
    }
    return out
}

Job.run { world in
    let comm: any Communicator = world
    let maxBytes = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? (64 << 20) : 64 << 20
    let nMax = maxBytes / 8
    let send = UnsafeMutableBufferPointer<Double>.allocate(capacity: nMax)
    let recv = UnsafeMutableBufferPointer<Double>.allocate(capacity: nMax)
    defer { send.deallocate(); recv.deallocate() }
    for i in 0 ..< nMax {
        send[i] = Double(i % 1000 + comm.rank)
        recv[i] = 0
    }
    var times = [Double](repeating: 0, count: 10_000)

    for op in ["allreduce", "broadcast"] {
        for bytes in sizes(upTo: maxBytes) {
            let n = bytes / 8, reps = repetitions(bytes), warm = max(3, reps / 10)
            let s = UnsafeBufferPointer(rebasing: send[0 ..< n]), r = UnsafeMutableBufferPointer(rebasing: recv[0 ..< n])
            for i in -warm ..< reps {
                try comm.barrier()
                let t0 = now()
                if op == "allreduce" {
                    try comm.allreduce(s, into: r, op: .sum)
                } else {
                    try comm.broadcast(r, root: 0)
                }
                let t1 = now()
                if i >= 0 { times[i] = t1 - t0 }
            }
            if var slowest = try comm.reduce(Array(times[0 ..< reps]), op: .max, root: 0) {
                slowest.sort()
                print("swift \(op) \(bytes) \(reps) \(slowest[reps / 2]) \(slowest[0])")
                fflush(stdout)
            }
        }
    }
}
