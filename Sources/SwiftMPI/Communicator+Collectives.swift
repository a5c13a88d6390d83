// Typed collectives over buffers the caller owns (fast path, near C speed) and over arrays.
// Every function here is collective unless it says "point to point".

extension Communicator {
    // MARK: broadcast

    /// Collective. The buffer on `root` is copied into `buffer` on every rank; every rank
    /// passes a buffer of the same count.
    public func broadcast<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int = 0) throws {
        try checkRoot(root, "broadcast")
        try broadcastRaw(buffer.baseAddress, count: buffer.count, kind: T.scalarKind, root: root)
    }

    /// Collective. `root`'s array replaces `array` on every rank (other ranks' counts need
    /// not match: the count is broadcast first).
    public func broadcast<T: MPIScalar>(_ array: inout [T], root: Int = 0) throws {
        var n = Int64(array.count)
        try withUnsafeMutablePointer(to: &n) { try broadcastRaw($0, count: 1, kind: .int64, root: root) }
        if rank != root { array = [T](repeating: .zero, count: Int(n)) }
        try array.withUnsafeMutableBufferPointer { try broadcast($0, root: root) }
    }

    /// Collective. Returns `root`'s `value` on every rank.
    public func broadcast<T: MPIScalar>(_ value: T, root: Int = 0) throws -> T {
        var v = value
        try withUnsafeMutablePointer(to: &v) { try broadcastRaw($0, count: 1, kind: T.scalarKind, root: root) }
        return v
    }

    // MARK: allreduce / reduce

    /// Collective. Element-wise reduction of `send` over all ranks into `recv` (same count).
    public func allreduce<T: MPIScalar>(_ send: UnsafeBufferPointer<T>, into recv: UnsafeMutableBufferPointer<T>, op: ReductionOp) throws {
        precondition(send.count == recv.count, "allreduce: send count \(send.count) != receive count \(recv.count)")
        try allreduceRaw(send: send.baseAddress, recv: recv.baseAddress, count: recv.count, kind: T.scalarKind, op: op)
    }

    /// Collective. In-place element-wise reduction: `buffer` holds the result on every rank.
    public func allreduce<T: MPIScalar>(inPlace buffer: UnsafeMutableBufferPointer<T>, op: ReductionOp) throws {
        try allreduceRaw(send: nil, recv: buffer.baseAddress, count: buffer.count, kind: T.scalarKind, op: op)
    }

    /// Collective. In-place element-wise reduction of an array (every rank passes the same count).
    public func allreduce<T: MPIScalar>(_ array: inout [T], op: ReductionOp) throws {
        try array.withUnsafeMutableBufferPointer { try allreduce(inPlace: $0, op: op) }
    }

    /// Collective. Returns the element-wise reduction of `values` over all ranks.
    public func allreduce<T: MPIScalar>(_ values: [T], op: ReductionOp) throws -> [T] {
        var out = values
        try allreduce(&out, op: op)
        return out
    }

    /// Collective. Returns the reduction of one value over all ranks.
    public func allreduce<T: MPIScalar>(_ value: T, op: ReductionOp) throws -> T {
        var v = value
        try withUnsafeMutablePointer(to: &v) { try allreduceRaw(send: nil, recv: $0, count: 1, kind: T.scalarKind, op: op) }
        return v
    }

    /// Collective. Element-wise reduction of `values` to `root`: `root` gets the result,
    /// the other ranks get `nil`.
    public func reduce<T: MPIScalar>(_ values: [T], op: ReductionOp, root: Int = 0) throws -> [T]? {
        try checkRoot(root, "reduce")
        var out = [T](repeating: .zero, count: rank == root ? values.count : 0)
        try values.withUnsafeBufferPointer { s in
            try out.withUnsafeMutableBufferPointer { r in
                try reduceRaw(send: s.baseAddress, recv: r.baseAddress, count: s.count, kind: T.scalarKind, op: op, root: root)
            }
        }
        return rank == root ? out : nil
    }

    // MARK: gather

    /// Collective. Every rank's element count, on every rank.
    public func allgatherCounts(_ count: Int) throws -> [Int] {
        var mine = Int64(count)
        var all = [Int64](repeating: 0, count: size)
        try all.withUnsafeMutableBufferPointer { a in
            try allgathervRaw(send: &mine, recv: a.baseAddress, counts: [Int](repeating: 1, count: size),
                              displacements: Array(0 ..< size), kind: .int64)
        }
        return all.map { Int($0) }
    }

    /// Collective. Gathers each rank's `values` (counts may differ, zero included) to `root`
    /// in rank order. `root` gets the concatenation and the layout; the others get `nil`.
    public func gatherv<T: MPIScalar>(_ values: [T], root: Int = 0) throws -> (values: [T], layout: Layout)? {
        try checkRoot(root, "gatherv")
        let layout = Layout(counts: try allgatherCounts(values.count))
        var out = [T](repeating: .zero, count: rank == root ? layout.total : 0)
        try values.withUnsafeBufferPointer { s in
            try out.withUnsafeMutableBufferPointer { r in
                try gathervRaw(send: s.baseAddress, recv: r.baseAddress, counts: layout.counts,
                               displacements: layout.displacements, kind: T.scalarKind, root: root)
            }
        }
        return rank == root ? (out, layout) : nil
    }

    /// Collective. Gathers one value from each rank to `root` (rank order); `nil` elsewhere.
    public func gather<T: MPIScalar>(_ value: T, root: Int = 0) throws -> [T]? {
        try gatherv([value], root: root)?.values
    }

    /// Collective. Every rank gets the concatenation of all ranks' `values` (counts may
    /// differ) and the layout that says which block came from which rank.
    public func allgatherv<T: MPIScalar>(_ values: [T]) throws -> (values: [T], layout: Layout) {
        let layout = Layout(counts: try allgatherCounts(values.count))
        var out = [T](repeating: .zero, count: layout.total)
        try values.withUnsafeBufferPointer { s in
            try out.withUnsafeMutableBufferPointer { r in
                try allgathervRaw(send: s.baseAddress, recv: r.baseAddress, counts: layout.counts,
                                  displacements: layout.displacements, kind: T.scalarKind)
            }
        }
        return (out, layout)
    }

    /// Collective. One value from each rank, on every rank, in rank order.
    public func allgather<T: MPIScalar>(_ value: T) throws -> [T] {
        var v = value
        var out = [T](repeating: .zero, count: size)
        try out.withUnsafeMutableBufferPointer { r in
            try allgathervRaw(send: &v, recv: r.baseAddress, counts: [Int](repeating: 1, count: size),
                              displacements: Array(0 ..< size), kind: T.scalarKind)
        }
        return out
    }

    // MARK: scatter / all-to-all

    /// Collective. `root` splits `values` into consecutive blocks of `counts` (one per rank)
    /// and rank r receives block r. `values` and `counts` are read on `root` only.
    public func scatterv<T: MPIScalar>(_ values: [T], counts: [Int], root: Int = 0) throws -> [T] {
        try checkRoot(root, "scatterv")
        var c = counts.map { Int64($0) }
        if rank == root && (counts.count != size || counts.reduce(0, +) != values.count || counts.contains { $0 < 0 }) {
            throw CommunicatorError(operation: "scatterv", message: "counts \(counts) do not split \(values.count) elements over \(size) ranks")
        }
        try broadcast(&c, root: root)
        let layout = Layout(counts: c.map { Int($0) })
        var out = [T](repeating: .zero, count: layout.counts[rank])
        try values.withUnsafeBufferPointer { s in
            try out.withUnsafeMutableBufferPointer { r in
                try scattervRaw(send: s.baseAddress, counts: layout.counts, displacements: layout.displacements,
                                recv: r.baseAddress, kind: T.scalarKind, root: root)
            }
        }
        return out
    }

    /// Collective. Each rank sends block r of `values` (sizes `sendCounts`) to rank r and
    /// returns what it received, blocks in source-rank order, with their layout.
    public func alltoallv<T: MPIScalar>(_ values: [T], sendCounts: [Int]) throws -> (values: [T], layout: Layout) {
        guard sendCounts.count == size, sendCounts.reduce(0, +) == values.count, !sendCounts.contains(where: { $0 < 0 }) else {
            throw CommunicatorError(operation: "alltoallv", message: "send counts \(sendCounts) do not split \(values.count) elements over \(size) ranks")
        }
        let sendLayout = Layout(counts: sendCounts)
        // Exchange counts: one Int64 to and from every rank.
        let ones = [Int](repeating: 1, count: size), idx = Array(0 ..< size)
        var sc = sendCounts.map { Int64($0) }, rc = [Int64](repeating: 0, count: size)
        try sc.withUnsafeMutableBufferPointer { s in
            try rc.withUnsafeMutableBufferPointer { r in
                try alltoallvRaw(send: s.baseAddress, sendCounts: ones, sendDisplacements: idx,
                                 recv: r.baseAddress, recvCounts: ones, recvDisplacements: idx, kind: .int64)
            }
        }
        let recvLayout = Layout(counts: rc.map { Int($0) })
        var out = [T](repeating: .zero, count: recvLayout.total)
        try values.withUnsafeBufferPointer { s in
            try out.withUnsafeMutableBufferPointer { r in
                try alltoallvRaw(send: s.baseAddress, sendCounts: sendLayout.counts, sendDisplacements: sendLayout.displacements,
                                 recv: r.baseAddress, recvCounts: recvLayout.counts, recvDisplacements: recvLayout.displacements,
                                 kind: T.scalarKind)
            }
        }
        return (out, recvLayout)
    }

    // MARK: point to point

    /// Point to point. Sends `values` to `destination` with `tag`.
    public func send<T: MPIScalar>(_ values: [T], to destination: Int, tag: Int = 0) throws {
        try values.withUnsafeBufferPointer {
            try sendRaw($0.baseAddress, count: $0.count, kind: T.scalarKind, to: destination, tag: tag)
        }
    }

    /// Point to point. Receives one message (any length) from `source` (nil: any rank) with
    /// `tag` (nil: any tag) and returns it with its envelope.
    public func receive<T: MPIScalar>(_ type: T.Type = T.self, from source: Int? = nil, tag: Int? = nil) throws -> (values: [T], info: MessageInfo) {
        let probed = try probe(from: source, tag: tag, kind: T.scalarKind)
        var out = [T](repeating: .zero, count: probed.count)
        let info = try out.withUnsafeMutableBufferPointer {
            try receiveRaw($0.baseAddress, capacity: probed.count, kind: T.scalarKind, from: probed.source, tag: probed.tag)
        }
        return (out, info)
    }
}
