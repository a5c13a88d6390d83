/// An integer that every rank of a communicator can atomically fetch and increment, with no
/// rank acting as a master: the basis for handing out tasks dynamically.
///
/// Made by ``Communicator/makeSharedCounter(initial:)``. A rank draws the next task with
/// `fetchAndAdd(1)` (or a batch of `k` with `fetchAndAdd(k)`) and stops once the value it gets
/// is past the last task; every value is handed out exactly once, whichever rank asks first:
///
/// ```swift
/// let next = try comm.makeSharedCounter(initial: 0)      // collective
/// while true {
///     let t = try next.fetchAndAdd(1)                     // point to point
///     if t >= tasks.count { break }
///     results.append((t, try run(tasks[t])))
/// }
/// try next.free()                                          // collective
/// ```
///
/// On MPI the counter is one `int64` in an RMA window on rank 0, updated with
/// `MPI_Fetch_and_op`; no rank has to serve requests. Whether an update needs rank 0 to be
/// inside an MPI call depends on the MPI library's one-sided transport: Open MPI's shared
/// memory one (`osc sm`, its default within a node) does not; where one does (MPICH 4.0 and
/// Open MPI's `osc ucx` were seen to), rank 0's own calls drive the updates, so tasks rank 0
/// runs should be short. The values handed out are correct either way.
///
/// - Important: call ``free()`` on every rank when done. Freeing is collective, so it cannot
///   happen in `deinit`: a counter dropped without `free()` keeps its MPI window until
///   `MPI_Finalize`.
public protocol SharedCounter: AnyObject {
    /// Point to point, atomic. Adds `increment` (which may be zero or negative) to the
    /// counter and returns the value it had before.
    ///
    /// Concurrent calls from different ranks are serialised: each sees the sum of the
    /// increments applied before it, so with increment 1 every rank gets distinct values.
    /// - Throws: ``CommunicatorError`` if the counter was freed or MPI reports an error.
    func fetchAndAdd(_ increment: Int) throws -> Int

    /// Collective. Releases the counter on every rank; afterwards ``fetchAndAdd(_:)`` throws.
    /// Calling it again does nothing.
    /// - Throws: ``CommunicatorError`` if MPI reports an error.
    func free() throws
}

extension Communicator {
    /// Checks that every rank passed the same `initial` value to a counter factory (one
    /// small allreduce), so a mismatch is an error on every rank, not a silent wrong start.
    func checkSameInitial(_ initial: Int) throws {
        let v = Int64(initial)
        let extremes = try allreduce([v, ~v], op: .max) // max and ~min, without overflow at Int64.min
        let (high, low) = (extremes[0], ~extremes[1])
        guard high == low else {
            throw CommunicatorError(operation: "makeSharedCounter",
                                    message: "ranks passed different initial values (from \(low) to \(high)); every rank must pass the same")
        }
    }
}
