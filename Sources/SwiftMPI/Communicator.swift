/// A group of ranks that run the same program and combine data through collectives.
///
/// This is the only interface MPILearn's learners, search and CLI see. ``MPICommunicator``
/// is the real implementation; ``LocalWorld`` runs N ranks as threads in one process, so a
/// collective bug is a fast unit test.
///
/// Every method documented as *collective* must be called by all ranks of the communicator,
/// in the same order, with matching arguments (the same `root`, the same element type).
/// The primitive requirements below work on raw bytes plus a ``ScalarKind``; learners use the
/// typed methods in the extensions (`Communicator+Collectives.swift`), which compute counts
/// and displacements themselves.
public protocol Communicator: AnyObject {
    /// This process's rank, `0 ..< size`.
    var rank: Int { get }
    /// Number of ranks in the communicator.
    var size: Int { get }

    /// Collective. Returns when every rank has entered.
    func barrier() throws
    /// Collective. Partitions the ranks by `color` (ranks passing `nil` get `nil` back);
    /// within a new group ranks are ordered by `key`, ties by old rank.
    func split(color: Int?, key: Int) throws -> (any Communicator)?
    /// Collective. A new communicator with the same ranks and a separate message space.
    func duplicate() throws -> any Communicator

    // MARK: primitives (element counts, not bytes)

    /// Collective. `buffer` on `root` is copied into `buffer` on every other rank.
    func broadcastRaw(_ buffer: UnsafeMutableRawPointer?, count: Int, kind: ScalarKind, root: Int) throws
    /// Collective. Element-wise reduction of `send` (or of `recv` itself when `send` is nil)
    /// over all ranks, result in `recv` on every rank.
    func allreduceRaw(send: UnsafeRawPointer?, recv: UnsafeMutableRawPointer?, count: Int, kind: ScalarKind, op: ReductionOp) throws
    /// Collective. Like ``allreduceRaw`` but only `root` receives; `recv` is ignored elsewhere.
    func reduceRaw(send: UnsafeRawPointer?, recv: UnsafeMutableRawPointer?, count: Int, kind: ScalarKind, op: ReductionOp, root: Int) throws
    /// Collective. Rank r's `counts[r]` elements land at `displacements[r]` of `recv` on `root`.
    /// `counts` and `displacements` must be given (and equal) on every rank.
    func gathervRaw(send: UnsafeRawPointer?, recv: UnsafeMutableRawPointer?, counts: [Int], displacements: [Int], kind: ScalarKind, root: Int) throws
    /// Collective. As ``gathervRaw`` with every rank receiving.
    func allgathervRaw(send: UnsafeRawPointer?, recv: UnsafeMutableRawPointer?, counts: [Int], displacements: [Int], kind: ScalarKind) throws
    /// Collective. `root` sends `counts[r]` elements from `displacements[r]` of `send` to rank r.
    func scattervRaw(send: UnsafeRawPointer?, counts: [Int], displacements: [Int], recv: UnsafeMutableRawPointer?, kind: ScalarKind, root: Int) throws
    /// Collective. Each rank sends `sendCounts[r]` elements from `sendDisplacements[r]` to
    /// rank r and receives `recvCounts[r]` elements from rank r at `recvDisplacements[r]`.
    func alltoallvRaw(send: UnsafeRawPointer?, sendCounts: [Int], sendDisplacements: [Int],
                      recv: UnsafeMutableRawPointer?, recvCounts: [Int], recvDisplacements: [Int], kind: ScalarKind) throws
    /// Point to point. Sends `count` elements to `destination` with `tag` (0 ... 32767).
    func sendRaw(_ buffer: UnsafeRawPointer?, count: Int, kind: ScalarKind, to destination: Int, tag: Int) throws
    /// Point to point. Blocks until a message from `source` (nil: any) with `tag` (nil: any)
    /// is available and returns its element count, sender and tag without receiving it.
    func probe(from source: Int?, tag: Int?, kind: ScalarKind) throws -> MessageInfo
    /// Point to point. Receives a message of at most `capacity` elements.
    func receiveRaw(_ buffer: UnsafeMutableRawPointer?, capacity: Int, kind: ScalarKind, from source: Int?, tag: Int?) throws -> MessageInfo

    // MARK: one-sided

    /// Collective. A counter every rank can fetch and increment atomically without the
    /// others taking part (see ``SharedCounter``), starting at `initial`.
    ///
    /// Every rank must pass the same `initial`. Every rank must later call
    /// ``SharedCounter/free()`` (also collective).
    /// - Throws: ``CommunicatorError`` if the ranks' `initial` values differ or MPI cannot
    ///   create the window.
    func makeSharedCounter(initial: Int) throws -> any SharedCounter
}

/// What a probe or receive found: element count, sender and tag.
public struct MessageInfo: Sendable, Equatable {
    public var count: Int
    public var source: Int
    public var tag: Int
    public init(count: Int, source: Int, tag: Int) {
        self.count = count
        self.source = source
        self.tag = tag
    }
}

/// Counts and displacements of a variable-count collective, in elements.
public struct Layout: Sendable, Equatable {
    /// Elements contributed by (or sent to) each rank.
    public var counts: [Int]
    /// Offset of each rank's block, the exclusive prefix sum of `counts`.
    public var displacements: [Int]
    /// Sum of `counts`.
    public var total: Int

    /// The contiguous layout of `counts`, blocks in rank order.
    public init(counts: [Int]) {
        self.counts = counts
        var d = [Int](repeating: 0, count: counts.count)
        var s = 0
        for (i, c) in counts.enumerated() {
            d[i] = s
            s += c
        }
        displacements = d
        total = s
    }

    /// The half-open element range of rank `r`'s block.
    public func range(of r: Int) -> Range<Int> { displacements[r] ..< displacements[r] + counts[r] }
}

extension Communicator {
    /// True on rank 0, the rank that prints and writes shared outputs.
    public var isRoot: Bool { rank == 0 }

    func checkRoot(_ root: Int, _ op: String) throws {
        guard root >= 0 && root < size else {
            throw CommunicatorError(operation: op, message: "root \(root) is not a rank of a \(size)-rank communicator")
        }
    }
}
