import Foundation

/// Runs N ranks as threads in one process, each with a ``LocalCommunicator``.
///
/// For unit tests: collective logic is exercised without `mpirun`, fast and debuggable.
/// If one rank throws, the world is marked aborted and every rank waiting in a collective
/// throws ``CommunicatorError/aborted`` instead of hanging.
public enum LocalWorld {
    /// Runs `body` on `size` threads, one per rank, and returns each rank's result in rank
    /// order.
    /// - Throws: the first error any rank threw (by rank order among the original errors).
    public static func run<R>(size: Int, _ body: @escaping (LocalCommunicator) throws -> R) throws -> [R] {
        precondition(size >= 1, "LocalWorld.run: size must be at least 1, got \(size)")
        let state = LocalJobState()
        let group = LocalGroup(size: size, state: state)
        let results = ResultBox<R>(size: size)
        let threads = (0 ..< size).map { r in
            Thread {
                let comm = LocalCommunicator(group: group, rank: r)
                do {
                    results.set(r, .success(try body(comm)))
                } catch {
                    results.set(r, .failure(error))
                    state.abort()
                }
                results.done.signal()
            }
        }
        for t in threads {
            t.stackSize = 8 << 20
            t.start()
        }
        for _ in 0 ..< size { results.done.wait() }
        let all = results.values
        if let firstReal = all.compactMap({ r -> Error? in
            if case .failure(let e) = r!, (e as? CommunicatorError) != .aborted { return e }
            return nil
        }).first { throw firstReal }
        return try all.map { try $0!.get() }
    }
}

private final class ResultBox<R>: @unchecked Sendable {
    let lock = NSLock()
    let done = DispatchSemaphore(value: 0)
    var values: [Result<R, Error>?]
    init(size: Int) { values = Array(repeating: nil, count: size) }
    func set(_ r: Int, _ v: Result<R, Error>) {
        lock.lock()
        values[r] = v
        lock.unlock()
    }
}

/// State shared by every group of one in-process world: the lock and the abort flag.
final class LocalJobState: @unchecked Sendable {
    let cond = NSCondition()
    var aborted = false
    func abort() {
        cond.lock()
        aborted = true
        cond.broadcast()
        cond.unlock()
    }
}

/// One communicator's shared state: exchange slots, barrier counter and mailboxes.
final class LocalGroup: @unchecked Sendable {
    let size: Int
    let state: LocalJobState
    var slots: [Any?]
    var arrived = 0
    var generation = 0
    var mailboxes: [[(source: Int, tag: Int, kind: ScalarKind, bytes: [UInt8])]]

    init(size: Int, state: LocalJobState) {
        self.size = size
        self.state = state
        slots = Array(repeating: nil, count: size)
        mailboxes = Array(repeating: [], count: size)
    }

    /// Waits until all ranks arrive; the caller holds `state.cond`.
    func barrierLocked() throws {
        if state.aborted { throw CommunicatorError.aborted }
        let gen = generation
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            state.cond.broadcast()
        } else {
            while gen == generation && !state.aborted { state.cond.wait() }
            if gen == generation { throw CommunicatorError.aborted }
        }
    }
}

/// A rank of a ``LocalWorld``: the in-process ``Communicator``.
public final class LocalCommunicator: Communicator, @unchecked Sendable {
    let group: LocalGroup
    public let rank: Int
    public var size: Int { group.size }

    init(group: LocalGroup, rank: Int) {
        self.group = group
        self.rank = rank
    }

    /// A one-rank communicator, for work one rank does alone (rank 0 reading a file it
    /// then broadcasts) with code written against ``Communicator``.
    public static func solo() -> LocalCommunicator {
        LocalCommunicator(group: LocalGroup(size: 1, state: LocalJobState()), rank: 0)
    }

    /// Deposits `value`, waits for every rank, runs `body` with all deposits, waits again
    /// (so no rank frees a buffer another still reads), then runs `after`.
    private func exchange<R>(_ value: Any?, _ body: ([Any?]) throws -> R) throws -> R {
        let cond = group.state.cond
        cond.lock()
        group.slots[rank] = value
        do { try group.barrierLocked() } catch { cond.unlock(); throw error }
        let all = group.slots
        cond.unlock()
        let result = try body(all)
        cond.lock()
        defer { cond.unlock() }
        try group.barrierLocked()
        return result
    }

    public func barrier() throws { try exchange(nil) { _ in () } }

    public func split(color: Int?, key: Int) throws -> (any Communicator)? {
        struct Entry { var color: Int?; var key: Int }
        let entries = try exchange(Entry(color: color, key: key)) { $0.map { $0 as! Entry } }
        guard let color else {
            _ = try exchange(nil) { _ in () }
            return nil
        }
        let members = entries.indices.filter { entries[$0].color == color }
            .sorted { (entries[$0].key, $0) < (entries[$1].key, $1) }
        let creator = members.min()!
        let newGroup: LocalGroup? = rank == creator ? LocalGroup(size: members.count, state: group.state) : nil
        let shared = try exchange(newGroup as Any?) { $0[creator] as! LocalGroup }
        return LocalCommunicator(group: shared, rank: members.firstIndex(of: rank)!)
    }

    public func duplicate() throws -> any Communicator { try split(color: 0, key: rank)! }

    public func broadcastRaw(_ buffer: UnsafeMutableRawPointer?, count: Int, kind: ScalarKind, root: Int) throws {
        try exchange(buffer.map { UnsafeRawPointer($0) }) { all in
            if rank != root, count > 0 { buffer!.copyMemory(from: all[root] as! UnsafeRawPointer, byteCount: count * kind.stride) }
        }
    }

    private func reduceAll(_ all: [Any?], count: Int, kind: ScalarKind, op: ReductionOp) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count * kind.stride)
        func typed<T: MPIScalar>(_: T.Type) {
            out.withUnsafeMutableBytes { o in
                let dst = o.bindMemory(to: T.self)
                let first = (all[0] as! UnsafeRawPointer).assumingMemoryBound(to: T.self)
                for i in 0 ..< count { dst[i] = first[i] }
                for r in 1 ..< all.count {
                    let src = (all[r] as! UnsafeRawPointer).assumingMemoryBound(to: T.self)
                    for i in 0 ..< count { dst[i] = op.combine(dst[i], src[i]) }
                }
            }
        }
        withScalarType(kind) { typed($0) }
        return out
    }

    public func allreduceRaw(send: UnsafeRawPointer?, recv: UnsafeMutableRawPointer?, count: Int, kind: ScalarKind, op: ReductionOp) throws {
        if count == 0 { return try barrier() }
        let mine = send ?? UnsafeRawPointer(recv!)
        let result = try exchange(mine) { reduceAll($0, count: count, kind: kind, op: op) }
        result.withUnsafeBytes { recv!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    public func reduceRaw(send: UnsafeRawPointer?, recv: UnsafeMutableRawPointer?, count: Int, kind: ScalarKind, op: ReductionOp, root: Int) throws {
        if count == 0 { return try barrier() }
        let mine = send ?? UnsafeRawPointer(recv!)
        let result = try exchange(mine) { rank == root ? reduceAll($0, count: count, kind: kind, op: op) : [] }
        if rank == root { result.withUnsafeBytes { recv!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
    }

    public func gathervRaw(send: UnsafeRawPointer?, recv: UnsafeMutableRawPointer?, counts: [Int], displacements: [Int], kind: ScalarKind, root: Int) throws {
        try exchange(send) { all in
            guard rank == root else { return }
            for r in 0 ..< size where counts[r] > 0 {
                (recv! + displacements[r] * kind.stride).copyMemory(from: all[r] as! UnsafeRawPointer, byteCount: counts[r] * kind.stride)
            }
        }
    }

    public func allgathervRaw(send: UnsafeRawPointer?, recv: UnsafeMutableRawPointer?, counts: [Int], displacements: [Int], kind: ScalarKind) throws {
        try exchange(send) { all in
            for r in 0 ..< size where counts[r] > 0 {
                (recv! + displacements[r] * kind.stride).copyMemory(from: all[r] as! UnsafeRawPointer, byteCount: counts[r] * kind.stride)
            }
        }
    }

    public func scattervRaw(send: UnsafeRawPointer?, counts: [Int], displacements: [Int], recv: UnsafeMutableRawPointer?, kind: ScalarKind, root: Int) throws {
        try exchange(send) { all in
            if counts[rank] > 0 {
                recv!.copyMemory(from: (all[root] as! UnsafeRawPointer) + displacements[rank] * kind.stride, byteCount: counts[rank] * kind.stride)
            }
        }
    }

    public func alltoallvRaw(send: UnsafeRawPointer?, sendCounts: [Int], sendDisplacements: [Int],
                             recv: UnsafeMutableRawPointer?, recvCounts: [Int], recvDisplacements: [Int], kind: ScalarKind) throws {
        struct Outbox { var base: UnsafeRawPointer?; var counts: [Int]; var displacements: [Int] }
        try exchange(Outbox(base: send, counts: sendCounts, displacements: sendDisplacements)) { all in
            for r in 0 ..< size {
                let box = all[r] as! Outbox
                let n = box.counts[rank]
                guard n == recvCounts[r] else {
                    throw CommunicatorError(operation: "alltoallv", message: "rank \(r) sends \(n) elements but rank \(rank) expects \(recvCounts[r])")
                }
                if n > 0 {
                    (recv! + recvDisplacements[r] * kind.stride).copyMemory(from: box.base! + box.displacements[rank] * kind.stride, byteCount: n * kind.stride)
                }
            }
        }
    }

    public func sendRaw(_ buffer: UnsafeRawPointer?, count: Int, kind: ScalarKind, to destination: Int, tag: Int) throws {
        let bytes = count == 0 ? [] : [UInt8](UnsafeRawBufferPointer(start: buffer, count: count * kind.stride))
        let cond = group.state.cond
        cond.lock()
        group.mailboxes[destination].append((rank, tag, kind, bytes))
        cond.broadcast()
        cond.unlock()
    }

    /// Waits for a matching message; with `remove`, takes it out of the mailbox.
    private func match(from source: Int?, tag: Int?, remove: Bool) throws -> (source: Int, tag: Int, kind: ScalarKind, bytes: [UInt8]) {
        let cond = group.state.cond
        cond.lock()
        defer { cond.unlock() }
        while true {
            if let i = group.mailboxes[rank].firstIndex(where: { (source == nil || $0.source == source) && (tag == nil || $0.tag == tag) }) {
                let m = group.mailboxes[rank][i]
                if remove { group.mailboxes[rank].remove(at: i) }
                return m
            }
            if group.state.aborted { throw CommunicatorError.aborted }
            cond.wait()
        }
    }

    public func probe(from source: Int?, tag: Int?, kind: ScalarKind) throws -> MessageInfo {
        let m = try match(from: source, tag: tag, remove: false)
        return MessageInfo(count: m.bytes.count / kind.stride, source: m.source, tag: m.tag)
    }

    public func receiveRaw(_ buffer: UnsafeMutableRawPointer?, capacity: Int, kind: ScalarKind, from source: Int?, tag: Int?) throws -> MessageInfo {
        let m = try match(from: source, tag: tag, remove: true)
        let n = m.bytes.count / kind.stride
        guard n <= capacity else {
            throw CommunicatorError(operation: "receive", message: "message of \(n) elements from rank \(m.source) exceeds the buffer of \(capacity)")
        }
        if n > 0 { m.bytes.withUnsafeBytes { buffer!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        return MessageInfo(count: n, source: m.source, tag: m.tag)
    }

    /// Collective. A ``SharedCounter`` whose value lives in one lock-protected cell that rank 0
    /// makes and hands to every rank (see ``Communicator/makeSharedCounter(initial:)``).
    public func makeSharedCounter(initial: Int) throws -> any SharedCounter {
        try checkSameInitial(initial)
        let cell = try exchange(rank == 0 ? LocalCounterCell(initial) : nil) { $0[0] as! LocalCounterCell }
        return LocalSharedCounter(cell: cell, communicator: self)
    }
}

/// The value behind a ``LocalSharedCounter``, one per counter, shared by all ranks' threads.
final class LocalCounterCell: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int
    init(_ value: Int) { self.value = value }

    func fetchAndAdd(_ increment: Int) -> Int {
        lock.lock()
        defer { lock.unlock() }
        let old = value
        value &+= increment // wraps, as MPI's int64 sum does in practice
        return old
    }
}

/// One rank's handle on a counter of a ``LocalWorld``: every rank's handle updates the same
/// ``LocalCounterCell``; freeing is per handle, and collective like `MPI_Win_free`.
final class LocalSharedCounter: SharedCounter, @unchecked Sendable {
    let cell: LocalCounterCell
    private let communicator: LocalCommunicator
    private var isFreed = false

    init(cell: LocalCounterCell, communicator: LocalCommunicator) {
        self.cell = cell
        self.communicator = communicator
    }

    func fetchAndAdd(_ increment: Int) throws -> Int {
        guard !isFreed else {
            throw CommunicatorError(operation: "fetchAndAdd", message: "the shared counter was freed on rank \(communicator.rank)")
        }
        return cell.fetchAndAdd(increment)
    }

    func free() throws {
        if isFreed { return }
        isFreed = true
        try communicator.barrier() // no rank leaves before all have freed, as with MPI_Win_free
    }
}
