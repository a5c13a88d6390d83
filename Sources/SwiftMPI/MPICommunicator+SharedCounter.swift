import CMPI

extension MPICommunicator {
    /// Collective. A ``SharedCounter`` held in an MPI window on rank 0 (see
    /// ``Communicator/makeSharedCounter(initial:)``).
    public func makeSharedCounter(initial: Int) throws -> any SharedCounter {
        try MPISharedCounter(communicator: self, initial: initial)
    }
}

/// A ``SharedCounter`` over MPI one-sided communication.
///
/// The window (`MPI_Win_allocate`) holds one `int64` on rank 0 and nothing elsewhere. Every
/// rank opens one passive-target epoch on all ranks (`MPI_Win_lock_all` with
/// `MPI_MODE_NOCHECK`: no rank ever takes an exclusive lock) when the counter is made, and
/// closes it in ``free()``. Each ``fetchAndAdd(_:)`` is `MPI_Fetch_and_op` with `MPI_SUM` on
/// rank 0's value, completed by `MPI_Win_flush`; MPI makes accumulate operations on the same
/// location atomic, so concurrent calls are serialised.
final class MPISharedCounter: SharedCounter, @unchecked Sendable {
    /// Kept alive for as long as the window, which was made over its communicator.
    private let communicator: MPICommunicator
    private let win: MPI_Win
    private var isFreed = false

    /// Collective over `communicator`.
    init(communicator: MPICommunicator, initial: Int) throws {
        try communicator.checkSameInitial(initial)
        self.communicator = communicator
        let owner = communicator.rank == 0
        var base: UnsafeMutableRawPointer?
        var rc: Int32 = 0
        let w: MPI_Win = cmpi_win_allocate(owner ? MemoryLayout<Int64>.size : 0, Int32(MemoryLayout<Int64>.size),
                                           communicator.comm, &base, &rc)
        try check(rc, "MPI_Win_allocate")
        win = w
        // A window's errors go to its own handler, MPI_ERRORS_ARE_FATAL by default.
        try check(MPI_Win_set_errhandler(w, cmpi_errors_return()), "MPI_Win_set_errhandler")
        if owner { base!.storeBytes(of: Int64(initial), as: Int64.self) }
        try check(MPI_Win_lock_all(cmpi_mode_nocheck(), w), "MPI_Win_lock_all")
        // Rank 0's store reaches the window's public copy (MPI's separate memory model), and
        // no rank updates the counter before it is there.
        if owner { try check(MPI_Win_sync(w), "MPI_Win_sync") }
        try communicator.barrier()
    }

    // No deinit: MPI_Win_free is collective, and a deinit runs on one rank at an arbitrary
    // time. A counter dropped without free() keeps its window until MPI_Finalize.

    func fetchAndAdd(_ increment: Int) throws -> Int {
        guard !isFreed else {
            throw CommunicatorError(operation: "fetchAndAdd", message: "the shared counter was freed on rank \(communicator.rank)")
        }
        var add = Int64(increment), old: Int64 = 0
        try check(MPI_Fetch_and_op(&add, &old, cmpi_int64(), 0, 0, cmpi_op_sum(), win), "MPI_Fetch_and_op")
        try check(MPI_Win_flush(0, win), "MPI_Win_flush")
        return Int(old)
    }

    func free() throws {
        if isFreed { return }
        isFreed = true
        guard MPIEnvironment.isActive else {
            throw CommunicatorError(operation: "MPI_Win_free", message: "MPI is not active (finalized?); free shared counters before finalizing")
        }
        try check(MPI_Win_unlock_all(win), "MPI_Win_unlock_all")
        // Returns on no rank before every rank has called it, so rank 0's memory outlives
        // every other rank's last update.
        try check(cmpi_win_free(win), "MPI_Win_free")
    }
}
