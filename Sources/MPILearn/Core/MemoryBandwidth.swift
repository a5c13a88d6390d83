import CKernels
import Foundation
import SwiftMPI

/// The memory bandwidth a rank gets when it streams through a buffer larger than the caches:
/// the yardstick a memory-bound kernel is measured against (the linear-models benchmark
/// prints each L-BFGS evaluation's time against one read of the shard's stored entries).
public enum MemoryBandwidth {
    /// Collective. Every rank reads a `megabytes` buffer `repeats` times at the same moment
    /// (after a barrier, so ranks sharing a node share its bandwidth as they do in a fit) and
    /// keeps its fastest read; returns the slowest rank's rate, in bytes per second.
    public static func measureRead(megabytes: Int = 128, repeats: Int = 3, comm: any Communicator) throws -> Double {
        let count = megabytes << 17   // doubles
        let buffer = [Double](repeating: 1, count: count)   // written once: every page is mapped
        try comm.barrier()
        var best = Double.infinity, sink = 0.0
        buffer.withUnsafeBufferPointer { p in
            for _ in 0 ..< repeats {
                let start = DispatchTime.now().uptimeNanoseconds
                sink += mpl_vec_sum(count, p.baseAddress)
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
        }
        // The sum is used, so the reads cannot be dropped.
        let rate = sink.isFinite ? Double(count * 8) / max(best, 1e-9) : 0
        return try comm.allreduce(rate, op: .min)
    }
}
