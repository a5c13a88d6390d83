import CKernels
import Foundation
import SwiftMPI

/// How long one read of a rank's data takes: the yardstick a memory-bound pass is measured
/// against (`text run` prints each L-BFGS evaluation's time against one read of the shard's
/// stored entries).
public enum MemoryBandwidth {
    /// Collective. Every rank reads its `buffers` once per repeat, all ranks at the same
    /// moment (after a barrier, so ranks sharing a node share its bandwidth as they do in a
    /// fit), and keeps its fastest read. Nothing is allocated: the buffers are the data
    /// itself, so the time is that of the very bytes a pass reads.
    /// - Returns: the slowest rank's time in seconds and its rate in bytes per second.
    public static func timeRead(_ buffers: [UnsafeRawBufferPointer], repeats: Int = 3,
                                comm: any Communicator) throws -> (seconds: Double, bytesPerSecond: Double) {
        let bytes = buffers.reduce(0) { $0 + $1.count }
        try comm.barrier()
        var best = Double.infinity
        for _ in 0 ..< max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            // A call into C the compiler cannot see through: the reads cannot be dropped.
            for b in buffers where b.count > 0 { _ = mpl_read_bytes(b.baseAddress, b.count) }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let seconds = try comm.allreduce(best, op: .max)
        let rate = try comm.allreduce(Double(bytes) / max(best, 1e-9), op: .min)
        return (seconds, rate)
    }
}
