import Foundation
import SwiftMPI

/// One span of a rank's timeline: a workflow phase or one communication call.
///
/// Times are microseconds since the rank's start mark (taken right after a barrier, so the
/// ranks' clocks line up to within the barrier's skew).
public struct TraceEvent: Codable, Sendable, Equatable {
    /// What the span is: `compute` (a workflow phase), `communication` (a collective or a
    /// point-to-point call, or a phase a workflow counts as communication).
    public enum Category: String, Codable, Sendable { case compute, communication }

    public var name: String
    public var category: Category
    /// Start, microseconds since the rank's start mark.
    public var start: Double
    /// Duration in microseconds (never negative).
    public var duration: Double
    /// Payload bytes of a communication call, from this rank's view (see ``TracingCommunicator``);
    /// nil for phases.
    public var bytes: Int?
    /// Ranks of the communicator a call ran on (nil for phases).
    public var ranks: Int?
    /// True for a communication call (a row of its own under the phases).
    public var isCall: Bool

    public init(name: String, category: Category, start: Double, duration: Double, bytes: Int? = nil, ranks: Int? = nil, isCall: Bool = false) {
        self.name = name
        self.category = category
        self.start = start
        self.duration = max(0, duration)
        self.bytes = bytes
        self.ranks = ranks
        self.isCall = isCall
    }
}

/// Records one rank's phases and communication calls while a workflow runs with `--trace` or
/// `--report`. Thread-safe (a rank's worker threads may call collectives on sub-communicators).
///
/// Workflows never hold a recorder: they mark phases on their communicator
/// (``Communicator/traceMark(_:communication:)``), which does nothing unless the communicator
/// is a ``TracingCommunicator``, so tracing costs nothing when it is off.
public final class TraceRecorder: @unchecked Sendable {
    /// Events kept per rank; later ones are counted in ``droppedEvents`` instead.
    public static let eventLimit = 500_000

    private let lock = NSLock()
    private let origin: UInt64
    private var events: [TraceEvent] = []
    private var open: (name: String, start: Double, category: TraceEvent.Category)?
    private var dropped = 0
    private var figures: [ReportFigure] = []
    private var volume: CommunicationModel?

    /// Starts the clock now.
    public init() { origin = DispatchTime.now().uptimeNanoseconds }

    /// Microseconds since the start mark.
    public func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds &- origin) / 1000 }

    /// Adds an event (thread-safe).
    public func record(_ event: TraceEvent) {
        lock.lock()
        defer { lock.unlock() }
        if events.count < Self.eventLimit { events.append(event) } else { dropped += 1 }
    }

    /// Ends the open phase (if any) now and opens `name` (nil: opens none).
    public func mark(_ name: String?, category: TraceEvent.Category = .compute) {
        let t = now()
        lock.lock()
        let previous = open
        open = name.map { ($0, t, category) }
        lock.unlock()
        if let p = previous { record(TraceEvent(name: p.name, category: p.category, start: p.start, duration: t - p.start)) }
    }

    /// Adds a figure to the run report (the report uses rank 0's).
    public func attach(_ figure: ReportFigure) {
        lock.lock()
        figures.append(figure)
        lock.unlock()
    }

    /// Sets the algorithm's analytic communication minimum shown by the run report.
    public func setCommunicationModel(_ model: CommunicationModel) {
        lock.lock()
        volume = model
        lock.unlock()
    }

    /// Ends the open phase; if no phase was ever marked, records the whole run as one phase
    /// named `whole`. Returns what was recorded: the phases in time order, cut so none runs
    /// into the next, then the communication calls.
    public func finish(whole: String) -> RankTrace {
        mark(nil)
        let end = now()
        lock.lock()
        defer { lock.unlock() }
        if !events.contains(where: { !$0.isCall }) {
            events.insert(TraceEvent(name: whole, category: .compute, start: 0, duration: end), at: 0)
        }
        // Phases are flat: one ends before the next starts. A phase laid end to end from a
        // fit's own timings (PhaseTimer.add) can run past the next mark; it is cut there, so
        // trace viewers never see a phase overlap (and nest into) the next one.
        var phases = events.filter { !$0.isCall }.sorted { $0.start < $1.start }
        for i in phases.indices.dropLast() where phases[i].start + phases[i].duration > phases[i + 1].start {
            phases[i].duration = max(0, phases[i + 1].start - phases[i].start)
        }
        let calls = events.filter(\.isCall)
        return RankTrace(events: phases + calls, droppedEvents: dropped, duration: end, figures: figures, communicationModel: volume)
    }
}

/// What one rank recorded, gathered to rank 0 at the end of a traced run.
public struct RankTrace: Codable, Sendable {
    public var events: [TraceEvent]
    /// Events past ``TraceRecorder/eventLimit``, not kept.
    public var droppedEvents: Int
    /// Microseconds from the start mark to the end of the run on this rank.
    public var duration: Double
    public var figures: [ReportFigure]
    public var communicationModel: CommunicationModel?

    /// Payload bytes of this rank's communication calls.
    public var communicationBytes: Int { events.reduce(0) { $0 + ($1.bytes ?? 0) } }
    /// Communication calls recorded.
    public var communicationCalls: Int { events.filter(\.isCall).count }
}

/// The least communication an algorithm needs, to set the measured volume against.
public struct CommunicationModel: Codable, Sendable, Equatable {
    /// The formula, as shown on the report (plain text).
    public var formula: String
    /// Payload bytes per rank the algorithm cannot do without.
    public var minimumBytesPerRank: Double
    /// What the minimum leaves out, or how it was counted.
    public var note: String

    public init(formula: String, minimumBytesPerRank: Double, note: String = "") {
        self.formula = formula
        self.minimumBytesPerRank = minimumBytesPerRank
        self.note = note
    }
}

extension Communicator {
    /// The recorder of a traced run, or nil (the usual case: tracing off).
    public var traceRecorder: TraceRecorder? { (self as? TracingCommunicator)?.recorder }

    /// Ends this rank's current trace phase and starts `name` (nil: none); does nothing
    /// unless the run is traced (`--trace`, `--report`). Not collective.
    public func traceMark(_ name: String?, communication: Bool = false) {
        traceRecorder?.mark(name, category: communication ? .communication : .compute)
    }

    /// Adds figures to the run report when the run is traced; `make` is not called otherwise.
    public func traceAttach(_ make: () throws -> [ReportFigure], model: (() -> CommunicationModel?)? = nil) rethrows {
        guard let r = traceRecorder else { return }
        for f in try make() { r.attach(f) }
        if let m = model?() { r.setCommunicationModel(m) }
    }
}

// MARK: - the recording communicator

/// A ``Communicator`` that forwards every call to another one and records each
/// communication call (name, duration, payload bytes) in a ``TraceRecorder``.
///
/// Payload bytes are the data the call hands this rank or takes from it, counted once:
/// broadcast, reduce and allreduce the buffer; gatherv and scatterv this rank's block (the
/// root: every block); allgatherv every block (the result, this rank's own included);
/// alltoallv what the rank sends plus what it receives; send and receive the message. A
/// one-sided counter update counts 8 bytes.
///
/// Made by ``TracingCommunicator/wrap(_:recorder:)``, which keeps ``MPIHandleProvider``
/// (parallel HDF5) working: a wrapped MPI communicator still lends its handle.
public class TracingCommunicator: Communicator {
    public let base: any Communicator
    public let recorder: TraceRecorder

    fileprivate init(base: any Communicator, recorder: TraceRecorder) {
        self.base = base
        self.recorder = recorder
    }

    /// `base` wrapped; the result conforms to ``MPIHandleProvider`` when `base` does.
    public static func wrap(_ base: any Communicator, recorder: TraceRecorder) -> TracingCommunicator {
        if let mpi = base as? any MPIHandleProvider { return TracingHandleCommunicator(handle: mpi, recorder: recorder) }
        return TracingCommunicator(base: base, recorder: recorder)
    }

    public var rank: Int { base.rank }
    public var size: Int { base.size }

    @inline(__always)
    private func timed<R>(_ name: String, bytes: Int, _ body: () throws -> R) rethrows -> R {
        let t0 = recorder.now()
        let r = try body()
        recorder.record(TraceEvent(name: name, category: .communication, start: t0, duration: recorder.now() - t0,
                                   bytes: bytes, ranks: base.size, isCall: true))
        return r
    }

    public func barrier() throws { try timed("barrier", bytes: 0) { try base.barrier() } }

    public func split(color: Int?, key: Int) throws -> (any Communicator)? {
        try timed("split", bytes: 0) { try base.split(color: color, key: key) }.map { Self.wrap($0, recorder: recorder) }
    }

    public func duplicate() throws -> any Communicator {
        Self.wrap(try timed("duplicate", bytes: 0) { try base.duplicate() }, recorder: recorder)
    }

    public func broadcastRaw(_ buffer: UnsafeMutableRawPointer?, count: Int, kind: ScalarKind, root: Int) throws {
        try timed("broadcast", bytes: count * kind.stride) { try base.broadcastRaw(buffer, count: count, kind: kind, root: root) }
    }

    public func allreduceRaw(send: UnsafeRawPointer?, recv: UnsafeMutableRawPointer?, count: Int, kind: ScalarKind, op: ReductionOp) throws {
        try timed("allreduce", bytes: count * kind.stride) { try base.allreduceRaw(send: send, recv: recv, count: count, kind: kind, op: op) }
    }

    public func reduceRaw(send: UnsafeRawPointer?, recv: UnsafeMutableRawPointer?, count: Int, kind: ScalarKind, op: ReductionOp, root: Int) throws {
        try timed("reduce", bytes: count * kind.stride) { try base.reduceRaw(send: send, recv: recv, count: count, kind: kind, op: op, root: root) }
    }

    public func gathervRaw(send: UnsafeRawPointer?, recv: UnsafeMutableRawPointer?, counts: [Int], displacements: [Int], kind: ScalarKind, root: Int) throws {
        let mine = rank < counts.count ? counts[rank] : 0
        let bytes = (rank == root ? counts.reduce(0, +) : mine) * kind.stride
        try timed("gatherv", bytes: bytes) {
            try base.gathervRaw(send: send, recv: recv, counts: counts, displacements: displacements, kind: kind, root: root)
        }
    }

    public func allgathervRaw(send: UnsafeRawPointer?, recv: UnsafeMutableRawPointer?, counts: [Int], displacements: [Int], kind: ScalarKind) throws {
        try timed("allgatherv", bytes: counts.reduce(0, +) * kind.stride) {
            try base.allgathervRaw(send: send, recv: recv, counts: counts, displacements: displacements, kind: kind)
        }
    }

    public func scattervRaw(send: UnsafeRawPointer?, counts: [Int], displacements: [Int], recv: UnsafeMutableRawPointer?, kind: ScalarKind, root: Int) throws {
        let mine = rank < counts.count ? counts[rank] : 0
        let bytes = (rank == root ? counts.reduce(0, +) : mine) * kind.stride
        try timed("scatterv", bytes: bytes) {
            try base.scattervRaw(send: send, counts: counts, displacements: displacements, recv: recv, kind: kind, root: root)
        }
    }

    public func alltoallvRaw(send: UnsafeRawPointer?, sendCounts: [Int], sendDisplacements: [Int],
                             recv: UnsafeMutableRawPointer?, recvCounts: [Int], recvDisplacements: [Int], kind: ScalarKind) throws {
        try timed("alltoallv", bytes: (sendCounts.reduce(0, +) + recvCounts.reduce(0, +)) * kind.stride) {
            try base.alltoallvRaw(send: send, sendCounts: sendCounts, sendDisplacements: sendDisplacements,
                                  recv: recv, recvCounts: recvCounts, recvDisplacements: recvDisplacements, kind: kind)
        }
    }

    public func sendRaw(_ buffer: UnsafeRawPointer?, count: Int, kind: ScalarKind, to destination: Int, tag: Int) throws {
        try timed("send", bytes: count * kind.stride) { try base.sendRaw(buffer, count: count, kind: kind, to: destination, tag: tag) }
    }

    public func probe(from source: Int?, tag: Int?, kind: ScalarKind) throws -> MessageInfo {
        try timed("probe", bytes: 0) { try base.probe(from: source, tag: tag, kind: kind) }
    }

    public func receiveRaw(_ buffer: UnsafeMutableRawPointer?, capacity: Int, kind: ScalarKind, from source: Int?, tag: Int?) throws -> MessageInfo {
        let t0 = recorder.now()
        let info = try base.receiveRaw(buffer, capacity: capacity, kind: kind, from: source, tag: tag)
        recorder.record(TraceEvent(name: "receive", category: .communication, start: t0, duration: recorder.now() - t0,
                                   bytes: info.count * kind.stride, ranks: base.size, isCall: true))
        return info
    }

    public func makeSharedCounter(initial: Int) throws -> any SharedCounter {
        TracingCounter(base: try timed("make_shared_counter", bytes: 8) { try base.makeSharedCounter(initial: initial) }, comm: self)
    }
}

/// A wrapped communicator that lends its base's MPI handle (parallel HDF5's MPI-IO).
final class TracingHandleCommunicator: TracingCommunicator, MPIHandleProvider {
    private let handle: any MPIHandleProvider

    init(handle: any MPIHandleProvider, recorder: TraceRecorder) {
        self.handle = handle
        super.init(base: handle, recorder: recorder)
    }

    func withUnsafeMPICommunicator<R>(_ body: (UnsafeRawPointer) throws -> R) rethrows -> R {
        try handle.withUnsafeMPICommunicator(body)
    }
}

/// A shared counter whose updates are recorded (8 bytes each).
private final class TracingCounter: SharedCounter {
    let base: any SharedCounter
    let comm: TracingCommunicator
    init(base: any SharedCounter, comm: TracingCommunicator) {
        self.base = base
        self.comm = comm
    }

    func fetchAndAdd(_ increment: Int) throws -> Int {
        let r = comm.recorder, t0 = r.now()
        let v = try base.fetchAndAdd(increment)
        r.record(TraceEvent(name: "fetch_and_add", category: .communication, start: t0, duration: r.now() - t0, bytes: 8, ranks: comm.size, isCall: true))
        return v
    }

    func free() throws {
        let r = comm.recorder, t0 = r.now()
        try base.free()
        r.record(TraceEvent(name: "free_shared_counter", category: .communication, start: t0, duration: r.now() - t0, bytes: 0, ranks: comm.size, isCall: true))
    }
}
