import CMPI

/// Throws a ``CommunicatorError`` carrying MPI's error string when `code` is not `MPI_SUCCESS`.
@inline(__always)
func check(_ code: Int32, _ operation: @autoclosure () -> String) throws {
    if code != cmpi_success() { throw mpiError(code, operation()) }
}

func mpiError(_ code: Int32, _ operation: String) -> CommunicatorError {
    var buf = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
    var len: Int32 = 0
    MPI_Error_string(code, &buf, &len)
    return CommunicatorError(operation: operation, code: code, message: String(cString: buf))
}

extension ScalarKind {
    var mpiType: MPI_Datatype {
        switch self {
        case .double: return cmpi_double()
        case .float: return cmpi_float()
        case .int32: return cmpi_int32()
        case .int64: return cmpi_int64()
        case .uint8: return cmpi_uint8()
        case .uint32: return cmpi_uint32()
        case .uint64: return cmpi_uint64()
        }
    }
}

extension ReductionOp {
    var mpiOp: MPI_Op {
        switch self {
        case .sum: return cmpi_op_sum()
        case .product: return cmpi_op_prod()
        case .min: return cmpi_op_min()
        case .max: return cmpi_op_max()
        }
    }
}

/// A ``Communicator`` backed by an MPI communicator.
///
/// Counts beyond `Int32.max` elements (MPI-3's `int` counts) are split into chunks of at
/// most ``chunkLimit`` elements: rooted and reducing collectives loop over chunks; the
/// variable-count collectives switch to chunked point-to-point transfers on a private
/// duplicate of the communicator when any count or displacement exceeds the limit.
public final class MPICommunicator: Communicator, @unchecked Sendable {
    /// Largest element count passed to one MPI call. Lower it only to test chunking.
    nonisolated(unsafe) public static var chunkLimit: Int = Int(Int32.max)

    let comm: MPI_Comm
    /// A duplicate used for SwiftMPI's own point-to-point traffic (chunked v-collectives),
    /// so it can never match a user's send/receive.
    let internalComm: MPI_Comm
    public let rank: Int
    public let size: Int
    private let owned: Bool

    init(_ comm: MPI_Comm, owned: Bool) throws {
        self.comm = comm
        self.owned = owned
        try check(MPI_Comm_set_errhandler(comm, cmpi_errors_return()), "MPI_Comm_set_errhandler")
        var r: Int32 = 0, s: Int32 = 0
        try check(MPI_Comm_rank(comm, &r), "MPI_Comm_rank")
        try check(MPI_Comm_size(comm, &s), "MPI_Comm_size")
        rank = Int(r)
        size = Int(s)
        var rc: Int32 = 0
        // Handles come back as return values: Open MPI's are pointers, MPICH's ints.
        internalComm = cmpi_comm_dup(comm, &rc)
        try check(rc, "MPI_Comm_dup")
    }

    deinit {
        guard MPIEnvironment.isActive else { return }
        _ = cmpi_comm_free(internalComm)
        if owned { _ = cmpi_comm_free(comm) }
    }

    public func barrier() throws { try check(MPI_Barrier(comm), "MPI_Barrier") }

    public func split(color: Int?, key: Int) throws -> (any Communicator)? {
        var rc: Int32 = 0
        let c: MPI_Comm = cmpi_comm_split(comm, color.map { Int32($0) } ?? cmpi_undefined(), Int32(key), &rc)
        try check(rc, "MPI_Comm_split")
        if c == cmpi_comm_null() { return nil }
        return try MPICommunicator(c, owned: true)
    }

    public func duplicate() throws -> any Communicator {
        var rc: Int32 = 0
        let c: MPI_Comm = cmpi_comm_dup(comm, &rc)
        try check(rc, "MPI_Comm_dup")
        return try MPICommunicator(c, owned: true)
    }

    // MARK: chunked rooted and reducing collectives

    /// Calls `body(offsetInElements, countInChunk)` for consecutive chunks covering `count`.
    @inline(__always)
    private func chunks(_ count: Int, _ body: (Int, Int32) throws -> Void) rethrows {
        let limit = Self.chunkLimit
        var offset = 0
        repeat {
            let n = min(limit, count - offset)
            try body(offset, Int32(n))
            offset += n
        } while offset < count
    }

    public func broadcastRaw(_ buffer: UnsafeMutableRawPointer?, count: Int, kind: ScalarKind, root: Int) throws {
        if count == 0 { return }
        if count <= Self.chunkLimit { // one call: the common case, kept free of the chunk loop
            return try check(MPI_Bcast(buffer, Int32(truncatingIfNeeded: count), kind.mpiType, Int32(truncatingIfNeeded: root), comm), "MPI_Bcast")
        }
        try chunks(count) { off, n in
            try check(MPI_Bcast(buffer! + off * kind.stride, n, kind.mpiType, Int32(root), comm), "MPI_Bcast")
        }
    }

    public func allreduceRaw(send: UnsafeRawPointer?, recv: UnsafeMutableRawPointer?, count: Int, kind: ScalarKind, op: ReductionOp) throws {
        if count == 0 { return }
        if count <= Self.chunkLimit { // one call: the common case, kept free of the chunk loop
            return try check(MPI_Allreduce(send ?? UnsafeRawPointer(cmpi_in_place()), recv, Int32(truncatingIfNeeded: count),
                                           kind.mpiType, op.mpiOp, comm), "MPI_Allreduce")
        }
        try chunks(count) { off, n in
            let s = send.map { UnsafeRawPointer($0 + off * kind.stride) } ?? UnsafeRawPointer(cmpi_in_place())
            try check(MPI_Allreduce(s, recv! + off * kind.stride, n, kind.mpiType, op.mpiOp, comm), "MPI_Allreduce")
        }
    }

    public func reduceRaw(send: UnsafeRawPointer?, recv: UnsafeMutableRawPointer?, count: Int, kind: ScalarKind, op: ReductionOp, root: Int) throws {
        if count == 0 { return }
        let isRoot = rank == root
        try chunks(count) { off, n in
            let s: UnsafeRawPointer?
            if let send { s = send + off * kind.stride } else { s = isRoot ? UnsafeRawPointer(cmpi_in_place()) : UnsafeRawPointer(recv) }
            let r = isRoot ? recv! + off * kind.stride : nil
            try check(MPI_Reduce(s, r, n, kind.mpiType, op.mpiOp, Int32(root), comm), "MPI_Reduce")
        }
    }

    // MARK: variable-count collectives

    private func fitsOneCall(_ counts: [Int], _ displacements: [Int]) -> Bool {
        let limit = Self.chunkLimit
        return !counts.contains { $0 > limit } && !zip(counts, displacements).contains { $0 + $1 > limit }
    }

    public func gathervRaw(send: UnsafeRawPointer?, recv: UnsafeMutableRawPointer?, counts: [Int], displacements: [Int], kind: ScalarKind, root: Int) throws {
        let st = kind.stride
        if fitsOneCall(counts, displacements) {
            let c = counts.map { Int32($0) }, d = displacements.map { Int32($0) }
            try check(MPI_Gatherv(send ?? UnsafeRawPointer(bitPattern: 1), c[rank], kind.mpiType, recv, c, d, kind.mpiType, Int32(root), comm), "MPI_Gatherv")
            return
        }
        if rank == root {
            if counts[rank] > 0 { (recv! + displacements[rank] * st).copyMemory(from: send!, byteCount: counts[rank] * st) }
            for r in 0 ..< size where r != root {
                try receiveChunked(recv.map { $0 + displacements[r] * st }, count: counts[r], kind: kind, from: r)
            }
        } else {
            try sendChunked(send, count: counts[rank], kind: kind, to: root)
        }
    }

    public func allgathervRaw(send: UnsafeRawPointer?, recv: UnsafeMutableRawPointer?, counts: [Int], displacements: [Int], kind: ScalarKind) throws {
        let st = kind.stride
        if fitsOneCall(counts, displacements) {
            let c = counts.map { Int32($0) }, d = displacements.map { Int32($0) }
            try check(MPI_Allgatherv(send ?? UnsafeRawPointer(bitPattern: 1), c[rank], kind.mpiType, recv, c, d, kind.mpiType, comm), "MPI_Allgatherv")
            return
        }
        // Each rank's block is broadcast from that rank (chunked).
        if counts[rank] > 0 { (recv! + displacements[rank] * st).copyMemory(from: send!, byteCount: counts[rank] * st) }
        for r in 0 ..< size {
            try broadcastRaw(recv.map { $0 + displacements[r] * st }, count: counts[r], kind: kind, root: r)
        }
    }

    public func scattervRaw(send: UnsafeRawPointer?, counts: [Int], displacements: [Int], recv: UnsafeMutableRawPointer?, kind: ScalarKind, root: Int) throws {
        let st = kind.stride
        if fitsOneCall(counts, displacements) {
            let c = counts.map { Int32($0) }, d = displacements.map { Int32($0) }
            try check(MPI_Scatterv(send, c, d, kind.mpiType, recv ?? UnsafeMutableRawPointer(bitPattern: 1), c[rank], kind.mpiType, Int32(root), comm), "MPI_Scatterv")
            return
        }
        if rank == root {
            for r in 0 ..< size where r != root {
                try sendChunked(send.map { $0 + displacements[r] * st }, count: counts[r], kind: kind, to: r)
            }
            if counts[rank] > 0 { recv!.copyMemory(from: send! + displacements[rank] * st, byteCount: counts[rank] * st) }
        } else {
            try receiveChunked(recv, count: counts[rank], kind: kind, from: root)
        }
    }

    public func alltoallvRaw(send: UnsafeRawPointer?, sendCounts: [Int], sendDisplacements: [Int],
                             recv: UnsafeMutableRawPointer?, recvCounts: [Int], recvDisplacements: [Int], kind: ScalarKind) throws {
        let st = kind.stride
        // The decision must be the same on every rank; each rank only knows its own counts,
        // so agree on it with one small allreduce.
        var needsChunks: Int32 = (fitsOneCall(sendCounts, sendDisplacements) && fitsOneCall(recvCounts, recvDisplacements)) ? 0 : 1
        try check(MPI_Allreduce(cmpi_in_place(), &needsChunks, 1, cmpi_int32(), cmpi_op_max(), comm), "MPI_Allreduce")
        if needsChunks == 0 {
            let sc = sendCounts.map { Int32($0) }, sd = sendDisplacements.map { Int32($0) }
            let rc = recvCounts.map { Int32($0) }, rd = recvDisplacements.map { Int32($0) }
            try check(MPI_Alltoallv(send ?? UnsafeRawPointer(bitPattern: 1), sc, sd, kind.mpiType,
                                    recv ?? UnsafeMutableRawPointer(bitPattern: 1), rc, rd, kind.mpiType, comm), "MPI_Alltoallv")
            return
        }
        // Pairwise exchange: at step s, send to rank+s and receive from rank-s, in chunks.
        // Every ordered pair exchanges max(1, ⌈count / limit⌉) messages, a number sender and
        // receiver compute alike; while both directions have chunks left one MPI_Sendrecv
        // moves one of each, then the longer direction finishes alone.
        let limit = Self.chunkLimit
        func messages(_ count: Int) -> Int { max(1, (count + limit - 1) / limit) }
        for step in 0 ..< size {
            let to = (rank + step) % size, from = (rank - step + size) % size
            let nSend = messages(sendCounts[to]), nRecv = messages(recvCounts[from])
            for i in 0 ..< max(nSend, nRecv) {
                let sOff = i * limit, rOff = i * limit
                let sn = max(0, min(limit, sendCounts[to] - sOff)), rn = max(0, min(limit, recvCounts[from] - rOff))
                let sp = send.map { $0 + (sendDisplacements[to] + sOff) * st } ?? UnsafeRawPointer(bitPattern: 1)
                let rp = recv.map { $0 + (recvDisplacements[from] + rOff) * st } ?? UnsafeMutableRawPointer(bitPattern: 1)
                if i < nSend && i < nRecv {
                    try check(MPI_Sendrecv(sp, Int32(sn), kind.mpiType, Int32(to), 1,
                                           rp, Int32(rn), kind.mpiType, Int32(from), 1, internalComm, cmpi_status_ignore()), "MPI_Sendrecv")
                } else if i < nSend {
                    try check(MPI_Send(sp, Int32(sn), kind.mpiType, Int32(to), 1, internalComm), "MPI_Send")
                } else {
                    try check(MPI_Recv(rp, Int32(rn), kind.mpiType, Int32(from), 1, internalComm, cmpi_status_ignore()), "MPI_Recv")
                }
            }
        }
    }

    private func sendChunked(_ buf: UnsafeRawPointer?, count: Int, kind: ScalarKind, to dest: Int) throws {
        if count == 0 { return }
        try chunks(count) { off, n in
            try check(MPI_Send(buf! + off * kind.stride, n, kind.mpiType, Int32(dest), 2, internalComm), "MPI_Send")
        }
    }

    private func receiveChunked(_ buf: UnsafeMutableRawPointer?, count: Int, kind: ScalarKind, from src: Int) throws {
        if count == 0 { return }
        try chunks(count) { off, n in
            try check(MPI_Recv(buf! + off * kind.stride, n, kind.mpiType, Int32(src), 2, internalComm, cmpi_status_ignore()), "MPI_Recv")
        }
    }

    // MARK: point to point

    public func sendRaw(_ buffer: UnsafeRawPointer?, count: Int, kind: ScalarKind, to destination: Int, tag: Int) throws {
        guard count <= Self.chunkLimit else {
            throw CommunicatorError(operation: "send", message: "\(count) elements exceed one message's limit of \(Self.chunkLimit); send in parts")
        }
        try check(MPI_Send(buffer ?? UnsafeRawPointer(bitPattern: 1), Int32(count), kind.mpiType, Int32(destination), Int32(tag), comm), "MPI_Send")
    }

    public func probe(from source: Int?, tag: Int?, kind: ScalarKind) throws -> MessageInfo {
        var status = MPI_Status()
        try check(MPI_Probe(source.map { Int32($0) } ?? cmpi_any_source(), tag.map { Int32($0) } ?? cmpi_any_tag(), comm, &status), "MPI_Probe")
        var n: Int32 = 0
        try check(MPI_Get_count(&status, kind.mpiType, &n), "MPI_Get_count")
        return MessageInfo(count: Int(n), source: Int(cmpi_status_source(&status)), tag: Int(cmpi_status_tag(&status)))
    }

    public func receiveRaw(_ buffer: UnsafeMutableRawPointer?, capacity: Int, kind: ScalarKind, from source: Int?, tag: Int?) throws -> MessageInfo {
        var status = MPI_Status()
        try check(MPI_Recv(buffer ?? UnsafeMutableRawPointer(bitPattern: 1), Int32(min(capacity, Self.chunkLimit)), kind.mpiType,
                           source.map { Int32($0) } ?? cmpi_any_source(), tag.map { Int32($0) } ?? cmpi_any_tag(), comm, &status), "MPI_Recv")
        var n: Int32 = 0
        try check(MPI_Get_count(&status, kind.mpiType, &n), "MPI_Get_count")
        return MessageInfo(count: Int(n), source: Int(cmpi_status_source(&status)), tag: Int(cmpi_status_tag(&status)))
    }
}
