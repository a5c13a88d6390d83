// mpilearn-bench-collectives: SwiftMPI's allreduce (sum, Double) and broadcast against the same
// MPI calls made directly from C, in the same process, then the shared counter's fetchAndAdd
// latency (Swift only). Run by Benchmarks/collectives/run.
//
// Usage: mpirun -np 2 mpilearn-bench-collectives [--c-library PATH] [MAX_BYTES]
//
// With --c-library (the C peer ../c/bench_collectives.c built with -DBENCH_LIBRARY -shared),
// every repetition times the C call and the SwiftMPI call back to back, alternating which goes
// first, so both see the same load on the machine; without it only SwiftMPI is timed. Output,
// on rank 0, one line per (implementation, operation, size):
//     <c|swift> <operation> <bytes> <repetitions> <median seconds> <minimum seconds> [<median Swift/C>]
// Each time is the slowest rank's for that repetition; sizes, repetitions and warm-up follow
// the C program's schedule.
//
// A separate executable rather than a hidden `mpilearn bench` subcommand: like the C peer it
// links only the MPI layer (SwiftMPI), it keeps benchmark code out of the user CLI, and it
// calls the collectives through `any Communicator`, the way learners do. The C functions are
// reached through dlopen, so nothing here imports MPI's C API.
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

/// About 1 GiB moved per size, 60 ... 10000 repetitions (the C peer's formula).
func repetitions(_ bytes: Int) -> Int { min(10_000, max(60, (1 << 30) / bytes)) }

/// 8 B, 32 B, ... 512 KiB (×4), then 1 MiB, 2 MiB, ... up to `maxBytes` (×2).
func sizes(upTo maxBytes: Int) -> [Int] {
    var out: [Int] = [], b = 8
    while b <= maxBytes {
        out.append(b)
        b = b < 512 << 10 ? b * 4 : b * 2
    }
    return out
}

/// The C peer's entry points, loaded from its shared library.
struct CPeer {
    typealias Allreduce = @convention(c) (UnsafePointer<Double>?, UnsafeMutablePointer<Double>?, Int32) -> Int32
    typealias Broadcast = @convention(c) (UnsafeMutablePointer<Double>?, Int32) -> Int32
    let allreduce: Allreduce
    let broadcast: Broadcast

    init(path: String) throws {
        guard let handle = dlopen(path, RTLD_NOW) else {
            throw CommunicatorError(operation: "bench", message: "cannot load the C peer \(path): \(String(cString: dlerror()))")
        }
        guard let a = dlsym(handle, "bench_c_allreduce"), let b = dlsym(handle, "bench_c_broadcast") else {
            throw CommunicatorError(operation: "bench", message: "\(path) lacks bench_c_allreduce/bench_c_broadcast")
        }
        allreduce = unsafeBitCast(a, to: Allreduce.self)
        broadcast = unsafeBitCast(b, to: Broadcast.self)
    }
}

var args = Array(CommandLine.arguments.dropFirst())
var cLibrary: String?
if let i = args.firstIndex(of: "--c-library"), i + 1 < args.count {
    cLibrary = args[i + 1]
    args.removeSubrange(i ... i + 1)
}
let maxBytes = args.first.flatMap { Int($0) } ?? 64 << 20

Job.run { world in
    let comm: any Communicator = world
    let peer = try cLibrary.map { try CPeer(path: $0) }
    let nMax = maxBytes / 8
    let send = UnsafeMutableBufferPointer<Double>.allocate(capacity: nMax)
    let recv = UnsafeMutableBufferPointer<Double>.allocate(capacity: nMax)
    defer { send.deallocate(); recv.deallocate() }
    for i in 0 ..< nMax {
        send[i] = Double(i % 1000 + comm.rank)
        recv[i] = 0
    }
    var swiftTimes = [Double](repeating: 0, count: 10_000), cTimes = swiftTimes

    /// Times one SwiftMPI call.
    func timeSwift(_ op: String, _ s: UnsafeBufferPointer<Double>, _ r: UnsafeMutableBufferPointer<Double>) throws -> Double {
        try comm.barrier()
        let t0 = now()
        if op == "allreduce" { try comm.allreduce(s, into: r, op: .sum) } else { try comm.broadcast(r, root: 0) }
        return now() - t0
    }
    /// Times the same call made directly from C.
    func timeC(_ peer: CPeer, _ op: String, _ s: UnsafeBufferPointer<Double>, _ r: UnsafeMutableBufferPointer<Double>) throws -> Double {
        try comm.barrier()
        let t0 = now()
        let rc = op == "allreduce" ? peer.allreduce(s.baseAddress, r.baseAddress, Int32(s.count)) : peer.broadcast(r.baseAddress, Int32(r.count))
        let t = now() - t0
        if rc != 0 { throw CommunicatorError(operation: "bench", message: "C \(op) failed with MPI error \(rc)") }
        return t
    }
    /// Prints median and fastest of the slowest rank's times; for Swift with a C peer also the
    /// median of the paired ratios Swift/C (the two calls of one repetition saw the same load).
    func report(_ op: String, _ bytes: Int, swift: [Double], c: [Double]?) throws {
        let s = try comm.reduce(swift, op: .max, root: 0)
        let cs = try c.flatMap { try comm.reduce($0, op: .max, root: 0) }
        guard let s else { return }
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        var paired = ""
        if let cs {
            print("c \(op) \(bytes) \(cs.count) \(median(cs)) \(cs.min()!)")
            paired = " \(median(zip(s, cs).map { $0 / $1 }))"
        }
        print("swift \(op) \(bytes) \(s.count) \(median(s)) \(s.min()!)\(paired)")
        fflush(stdout)
    }

    for op in ["allreduce", "broadcast"] {
        for bytes in sizes(upTo: maxBytes) {
            let n = bytes / 8, reps = repetitions(bytes), warm = max(3, reps / 10)
            let s = UnsafeBufferPointer(rebasing: send[0 ..< n]), r = UnsafeMutableBufferPointer(rebasing: recv[0 ..< n])
            for i in -warm ..< reps {
                var ts = 0.0, tc = 0.0
                if let peer {
                    if i & 1 == 0 {
                        tc = try timeC(peer, op, s, r)
                        ts = try timeSwift(op, s, r)
                    } else {
                        ts = try timeSwift(op, s, r)
                        tc = try timeC(peer, op, s, r)
                    }
                } else {
                    ts = try timeSwift(op, s, r)
                }
                if i >= 0 {
                    swiftTimes[i] = ts
                    cTimes[i] = tc
                }
            }
            try report(op, bytes, swift: Array(swiftTimes[0 ..< reps]), c: peer == nil ? nil : Array(cTimes[0 ..< reps]))
        }
    }

    // The shared counter's latency under contention: every rank calls fetchAndAdd(1) back to
    // back, as ranks drawing short tasks would (one int64, so "8 bytes"; no C peer).
    let counter = try comm.makeSharedCounter(initial: 0)
    let reps = 10_000
    for i in -reps / 10 ..< reps {
        let t0 = now()
        _ = try counter.fetchAndAdd(1)
        if i >= 0 { swiftTimes[i] = now() - t0 }
    }
    try counter.free()
    try report("fetchAndAdd", 8, swift: Array(swiftTimes[0 ..< reps]), c: nil)
}
