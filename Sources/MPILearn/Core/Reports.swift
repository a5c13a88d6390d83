import Foundation
import SwiftMPI

// Run reports shared by the workflows: peak memory per rank and per-phase timings.

/// The process's memory as Linux counts it.
public enum ProcessMemory {
    /// The peak resident set size so far, in MB (`getrusage`'s `ru_maxrss`; Linux reports KiB).
    public static func peakMB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}

/// Collective. Prints (rank 0) every rank's peak resident memory, absolute and above the
/// process baseline (its peak before the command read any data: Swift runtime, Open MPI,
/// OpenBLAS), and that excess as a multiple of the rank's raw feature bytes (rows × features
/// × 8). The line starts `peak memory per rank: <max MB>` (Benchmarks/forest/run parses it).
/// - Parameters:
///   - baseline: ``ProcessMemory/peakMB()`` at the start of the command.
///   - rawFeatureMB: this rank's training shard as Doubles, in MB.
public func reportPeakMemory(baseline: Double, rawFeatureMB raw: Double, comm: any Communicator) throws {
    guard let line = try peakMemoryText(baseline: baseline, rawFeatureMB: raw, comm: comm) else { return }
    print(line)
    fflush(stdout)
}

/// Collective. The line ``reportPeakMemory(baseline:rawFeatureMB:comm:)`` prints: on rank 0
/// the text, on the other ranks nil.
public func peakMemoryText(baseline: Double, rawFeatureMB raw: Double, comm: any Communicator) throws -> String? {
    let peak = ProcessMemory.peakMB()
    let all = try comm.allgatherv([peak, baseline, raw]).values   // per rank: peak, baseline, raw
    let peaks = stride(from: 0, to: all.count, by: 3).map { all[$0] }
    let bases = stride(from: 1, to: all.count, by: 3).map { all[$0] }
    let raws = stride(from: 2, to: all.count, by: 3).map { all[$0] }
    let above = zip(peaks, bases).map { $0 - $1 }
    let ratio = zip(above, raws).map { $1 > 0 ? $0 / $1 : 0 }
    guard comm.rank == 0 else { return nil }
    return String(format: "peak memory per rank: %.1f MB max (%@); %.1f MB above the process baseline of %.1f MB = %.1f× the shard's raw feature bytes (%.1f MB) (max over ranks)",
                  peaks.max() ?? 0, peaks.map { String(format: "%.1f", $0) }.joined(separator: ", ") as NSString,
                  above.max() ?? 0, bases.max() ?? 0, ratio.max() ?? 0, raws.max() ?? 0)
}

/// Per-phase wall times, reported as the maximum over ranks, split into compute and
/// communication.
///
/// Each phase also records the process's peak memory so far when it is logged (monotone, so
/// the phase where it jumps is where the peak was reached; phases added from a fit's own
/// timings all show the peak at the end of the fit).
///
/// Made with `PhaseTimer(trace: comm)`, a timer on a traced run (`--trace`, `--report`) also
/// records each phase in the run's trace: a marked phase at the times it ran; phases added
/// from a fit's own timings (``add(_:_:comm:)``) laid end to end from the previous mark.
public struct PhaseTimer {
    public var phases: [(name: String, seconds: Double, comm: Bool, peakMB: Double)] = []
    public var last = Date()
    /// The traced run's recorder (nil: not traced), and where its next phase starts.
    private let recorder: TraceRecorder?
    private var traceCursor: Double

    public init() {
        recorder = nil
        traceCursor = 0
    }

    /// A timer that also records its phases when `comm` is traced.
    public init(trace comm: any Communicator) {
        recorder = comm.traceRecorder
        traceCursor = recorder?.now() ?? 0
    }

    public mutating func mark(_ name: String, comm: Bool) {
        let now = Date()
        phases.append((name, now.timeIntervalSince(last), comm, ProcessMemory.peakMB()))
        last = now
        if let r = recorder {
            // Phases added from a fit's timings may have laid the cursor past now.
            let t = r.now(), start = min(traceCursor, t)
            r.record(TraceEvent(name: name, category: comm ? .communication : .compute, start: start, duration: t - start))
            traceCursor = t
        }
    }

    public mutating func add(_ name: String, _ seconds: Double, comm: Bool) {
        phases.append((name, seconds, comm, ProcessMemory.peakMB()))
        if let r = recorder {
            r.record(TraceEvent(name: name, category: comm ? .communication : .compute, start: traceCursor, duration: seconds * 1e6))
            traceCursor += max(0, seconds * 1e6)
        }
    }

    public mutating func skip() {
        last = Date()
        if let r = recorder { traceCursor = r.now() }
    }

    /// Collective. Prints (rank 0) each phase's maximum over ranks.
    public func report(_ world: any Communicator) throws {
        if let text = try text(world) { print(text) }
    }

    /// Collective. The table ``report(_:)`` prints (one line per phase, then the total; no
    /// final newline): on rank 0 the text, on the other ranks nil.
    public func text(_ world: any Communicator) throws -> String? {
        let maxes = try world.allreduce(phases.map(\.seconds), op: .max)
        let peaks = try world.allreduce(phases.map(\.peakMB), op: .max)
        guard world.rank == 0 else { return nil }
        let total = maxes.reduce(0, +)
        let comm = zip(phases, maxes).filter { $0.0.comm }.reduce(0) { $0 + $1.1 }
        var lines = ["phase                     seconds   share   kind     peak MB so far (max over ranks)"]
        for (i, p) in phases.enumerated() {
            let s = maxes[i]
            lines.append(p.name.padding(toLength: 24, withPad: " ", startingAt: 0)
                + String(format: "%9.3f  %5.1f%%   %@ %8.1f", s, total > 0 ? 100 * s / total : 0, (p.comm ? "comm   " : "compute") as NSString, peaks[i]))
        }
        lines.append("total".padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "%9.3f   compute %.1f%%, communication %.1f%%", total,
                                                                                          total > 0 ? 100 * (total - comm) / total : 0, total > 0 ? 100 * comm / total : 0))
        return lines.joined(separator: "\n")
    }
}

/// How this process was launched, read from the environment before MPI starts.
public enum LaunchEnvironment {
    /// The rank the launcher (mpirun, srun, a PMI/PMIx launcher) gave this process, or nil
    /// without a launcher.
    public static var rank: Int? {
        let env = ProcessInfo.processInfo.environment
        for key in ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"] {
            if let v = env[key], let r = Int(v) { return r }
        }
        return nil
    }
}

/// Prints a fit's progress on rank 0: one line per 10% in a batch log, a rewritten line on a
/// terminal (`fit: 30/100 trees on rank 0 (30%), 1.2 s`).
///
/// Under a launcher the rank's stdout is often a pseudo-terminal even when mpirun writes to a
/// file (Open MPI forwards rank output through ptys), so `isatty` cannot tell a batch log from
/// a terminal there: launched ranks always print whole lines.
///
/// ```swift
/// let progress = FitProgressPrinter(comm: world).callback()   // nil on ranks other than 0
/// ```
public final class FitProgressPrinter: @unchecked Sendable {
    let comm: any Communicator
    let start = Date()
    let rewritesLine: Bool
    var lastDecile = -1
    let lock = NSLock()

    /// - Parameters:
    ///   - rewritesLine: rewrite one line in place (a terminal); default: stdout is a terminal
    ///     and the process was not started by a launcher.
    public init(comm: any Communicator, rewritesLine: Bool = isatty(1) != 0 && LaunchEnvironment.rank == nil) {
        self.comm = comm
        self.rewritesLine = rewritesLine
    }

    /// The callback to pass as a fit's `progress` on rank 0; nil on the other ranks.
    public func callback() -> ForestProgress? {
        guard comm.rank == 0 else { return nil }
        return { [self] done, total in
            lock.lock(); defer { lock.unlock() }
            let decile = done * 10 / max(1, total)
            let line = String(format: "fit: %d/%d trees on rank 0 (%d%%), %.1f s", done, total, done * 100 / max(1, total), Date().timeIntervalSince(start))
            if rewritesLine {
                print("\r" + line, terminator: done == total ? "\n" : "")
                fflush(stdout)
            } else if decile > lastDecile {
                lastDecile = decile
                print(line)
                fflush(stdout)
            }
        }
    }
}
