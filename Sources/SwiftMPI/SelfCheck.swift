/// A self-check of every collective, run on any ``Communicator``.
///
/// `mpilearn check` runs it on the world to show that an MPI installation works; the test
/// suite runs it under `mpirun -np 1...4` and on in-process worlds. Every check compares
/// against values each rank can compute on its own, so a wrong result names the collective,
/// element type and rank.
public enum CollectiveSelfCheck {
    /// Runs all checks; returns the names of the checks that passed.
    /// - Throws: ``CommunicatorError`` describing the first mismatch (operation "selfcheck").
    @discardableResult
    public static func run(_ comm: any Communicator) throws -> [String] {
        var passed: [String] = []
        func record(_ name: String, _ body: () throws -> Void) throws {
            try body()
            passed.append(name)
        }
        try record("Double") { try checkType(comm, Double.self) }
        try record("Float") { try checkType(comm, Float.self) }
        try record("Int32") { try checkType(comm, Int32.self) }
        try record("Int64") { try checkType(comm, Int64.self) }
        try record("UInt8") { try checkType(comm, UInt8.self) }
        try record("UInt32") { try checkType(comm, UInt32.self) }
        try record("UInt64") { try checkType(comm, UInt64.self) }
        try record("split") { try checkSplit(comm) }
        try record("objects") { try checkObjects(comm) }
        try record("pointToPoint") { try checkPointToPoint(comm) }
        try record("sharedCounter") { try checkSharedCounter(comm) }
        try comm.barrier()
        return passed
    }

    static func fail(_ comm: any Communicator, _ what: String, _ got: Any, _ expected: Any) -> CommunicatorError {
        CommunicatorError(operation: "selfcheck", message: "\(what) on rank \(comm.rank)/\(comm.size): got \(got), expected \(expected)")
    }

    static func expectEqual<T: Equatable>(_ comm: any Communicator, _ what: String, _ got: T, _ expected: T) throws {
        if got != expected { throw fail(comm, what, got, expected) }
    }

    /// A small value distinct per (rank, index) that fits every type.
    static func value<T: MPIScalar>(_: T.Type, rank: Int, index: Int) -> T {
        T(exactly: (rank * 7 + index * 3) % 50 + 1)!
    }

    static func checkType<T: MPIScalar>(_ comm: any Communicator, _ t: T.Type) throws {
        let p = comm.size, r = comm.rank, name = "\(T.self)"
        for n in [0, 1, 5, 1000] {
            // broadcast from every root
            for root in 0 ..< p {
                var buf = (0 ..< n).map { value(T.self, rank: r == root ? root : r + 100, index: $0) }
                try comm.broadcast(&buf, root: root)
                try expectEqual(comm, "broadcast<\(name)> n=\(n) root=\(root)", buf, (0 ..< n).map { value(T.self, rank: root, index: $0) })
            }
            // allreduce, all ops, in place and out of place
            let mine = (0 ..< n).map { value(T.self, rank: r, index: $0) }
            for op in ReductionOp.allCases {
                if op == .product && (p > 3 || T.self == UInt8.self) { continue } // keep products in range
                let expected = (0 ..< n).map { i in (1 ..< p).reduce(value(T.self, rank: 0, index: i)) { op.combine($0, value(T.self, rank: $1, index: i)) } }
                try expectEqual(comm, "allreduce<\(name)> \(op) n=\(n)", try comm.allreduce(mine, op: op), expected)
                var out = [T](repeating: .zero, count: n)
                try mine.withUnsafeBufferPointer { s in try out.withUnsafeMutableBufferPointer { try comm.allreduce(s, into: $0, op: op) } }
                try expectEqual(comm, "allreduce<\(name)> \(op) out-of-place n=\(n)", out, expected)
                let reduced = try comm.reduce(mine, op: op, root: p - 1)
                try expectEqual(comm, "reduce<\(name)> \(op) n=\(n)", reduced, r == p - 1 ? expected : nil)
            }
        }
        // gatherv / allgatherv with uneven counts, rank 0 (and the last rank) contributing zero
        let count = (r == 0 || r == p - 1) ? 0 : r * 3 + 1
        let block = (0 ..< count).map { value(T.self, rank: r, index: $0) }
        let expectedCounts = (0 ..< p).map { ($0 == 0 || $0 == p - 1) ? 0 : $0 * 3 + 1 }
        let expectedAll = (0 ..< p).flatMap { q in (0 ..< expectedCounts[q]).map { value(T.self, rank: q, index: $0) } }
        for root in 0 ..< p {
            let g = try comm.gatherv(block, root: root)
            try expectEqual(comm, "gatherv<\(name)> root=\(root)", g?.values, r == root ? expectedAll : nil)
            try expectEqual(comm, "gatherv<\(name)> counts root=\(root)", g?.layout.counts, r == root ? expectedCounts : nil)
        }
        let ag = try comm.allgatherv(block)
        try expectEqual(comm, "allgatherv<\(name)>", ag.values, expectedAll)
        try expectEqual(comm, "allgatherv<\(name)> counts", ag.layout.counts, expectedCounts)
        try expectEqual(comm, "allgather<\(name)>", try comm.allgather(value(T.self, rank: r, index: 0)), (0 ..< p).map { value(T.self, rank: $0, index: 0) })
        try expectEqual(comm, "gather<\(name)>", try comm.gather(value(T.self, rank: r, index: 1), root: 0), r == 0 ? (0 ..< p).map { value(T.self, rank: $0, index: 1) } : nil)
        // scatterv: root 0 hands rank q the block expectedCounts[q]
        let scattered = try comm.scatterv(r == 0 ? expectedAll : [], counts: r == 0 ? expectedCounts : [], root: 0)
        try expectEqual(comm, "scatterv<\(name)>", scattered, block)
        // alltoallv: rank r sends (r + q) % 3 elements to rank q, valued by (r, q)
        let sendCounts = (0 ..< p).map { (r + $0) % 3 }
        let outgoing = (0 ..< p).flatMap { q in (0 ..< sendCounts[q]).map { value(T.self, rank: r, index: q * 10 + $0) } }
        let a2a = try comm.alltoallv(outgoing, sendCounts: sendCounts)
        let expectedIn = (0 ..< p).flatMap { q in (0 ..< (q + r) % 3).map { value(T.self, rank: q, index: r * 10 + $0) } }
        try expectEqual(comm, "alltoallv<\(name)>", a2a.values, expectedIn)
        try expectEqual(comm, "alltoallv<\(name)> counts", a2a.layout.counts, (0 ..< p).map { ($0 + r) % 3 })
    }

    static func checkSplit(_ comm: any Communicator) throws {
        // Uneven groups: color = rank % 2 for all but the last rank, which opts out when p > 2.
        let p = comm.size, r = comm.rank
        let optOut = p > 2 && r == p - 1
        let color = optOut ? nil : r % 2
        let sub = try comm.split(color: color, key: -r) // reversed order inside each group
        if optOut {
            if sub != nil { throw fail(comm, "split opt-out", "a communicator", "nil") }
            return
        }
        guard let sub else { throw fail(comm, "split", "nil", "a communicator") }
        let members = (0 ..< p).filter { $0 % 2 == r % 2 && !(p > 2 && $0 == p - 1) }
        try expectEqual(comm, "split size", sub.size, members.count)
        try expectEqual(comm, "split rank (reversed by key)", sub.rank, members.reversed().firstIndex(of: r)!)
        try expectEqual(comm, "split allreduce", try sub.allreduce(Int64(r), op: .sum), Int64(members.reduce(0, +)))
        let dup = try sub.duplicate()
        try expectEqual(comm, "duplicate rank", dup.rank, sub.rank)
        try expectEqual(comm, "duplicate allgather", try dup.allgather(Int32(r)), members.reversed().map { Int32($0) })
    }

    struct Config: Codable, Equatable {
        var name: String
        var depths: [Int]
        var categories: [String: Int32]
    }

    static func checkObjects(_ comm: any Communicator) throws {
        let p = comm.size, r = comm.rank
        let root = p - 1
        let cfg = Config(name: "forest-\(root)", depths: [3, 1, 4], categories: ["UA": 0, "AA": 1, "ünï": 2])
        try expectEqual(comm, "broadcastObject", try comm.broadcastObject(r == root ? cfg : nil, root: root), cfg)
        let mine = Config(name: "r\(r)", depths: Array(repeating: r, count: r), categories: [:])
        let expected = (0 ..< p).map { Config(name: "r\($0)", depths: Array(repeating: $0, count: $0), categories: [:]) }
        try expectEqual(comm, "gatherObject", try comm.gatherObject(mine, root: 0), r == 0 ? expected : nil)
        try expectEqual(comm, "allgatherObject", try comm.allgatherObject(mine), expected)
    }

    static func checkPointToPoint(_ comm: any Communicator) throws {
        // A ring: each rank sends to the next, receives from the previous, with two tags.
        let p = comm.size, r = comm.rank
        guard p > 1 else { return }
        let next = (r + 1) % p, prev = (r - 1 + p) % p
        if r % 2 == 0 {
            try comm.send([Double(r), 0.5], to: next, tag: 7)
            try comm.send([Int64]([]), to: next, tag: 8)
        }
        let got = try comm.receive(Double.self, from: prev, tag: 7)
        let empty = try comm.receive(Int64.self, from: prev, tag: 8)
        if r % 2 != 0 {
            try comm.send([Double(r), 0.5], to: next, tag: 7)
            try comm.send([Int64]([]), to: next, tag: 8)
        }
        try expectEqual(comm, "receive values", got.values, [Double(prev), 0.5])
        try expectEqual(comm, "receive envelope", got.info, MessageInfo(count: 2, source: prev, tag: 7))
        try expectEqual(comm, "receive empty", empty.values.count, 0)
    }

    /// Draws every task index `0 ..< tasks` from a shared counter until it runs out and checks
    /// that each index went to exactly one rank; then checks a second counter, live at the
    /// same time, with a non-zero start and increments other than 1.
    static func checkSharedCounter(_ comm: any Communicator, tasks: Int = 500) throws {
        let p = comm.size, r = comm.rank
        let next = try comm.makeSharedCounter(initial: 0)
        let other = try comm.makeSharedCounter(initial: -7)
        var drawn: [Int64] = []
        while true {
            let t = try next.fetchAndAdd(1)
            if t >= tasks { break }
            drawn.append(Int64(t))
        }
        // Rank r adds r + 1 three times: the values before each add are distinct, and in range.
        let before = try (0 ..< 3).map { _ in Int64(try other.fetchAndAdd(r + 1)) }
        let all = try comm.allgatherv(drawn)
        var seen = [Int](repeating: 0, count: tasks)
        for t in all.values { seen[Int(t)] += 1 }
        if let bad = seen.indices.first(where: { seen[$0] != 1 }) {
            throw fail(comm, "sharedCounter task \(bad) drawn", "\(seen[bad]) times (draws per rank \(all.layout.counts))", "once")
        }
        let total = 3 * p * (p + 1) / 2
        let starts = try comm.allgatherv(before).values
        try expectEqual(comm, "sharedCounter fetchAndAdd(r + 1) results distinct", Set(starts).count, starts.count)
        if let out = starts.first(where: { $0 < -7 || $0 >= -7 + Int64(total) }) {
            throw fail(comm, "sharedCounter fetchAndAdd(r + 1) result", out, "a value in -7 ..< \(-7 + total)")
        }
        try comm.barrier() // every update is complete (each was flushed before its call returned)
        // Every rank's last draw went past the end: p more than the tasks.
        try expectEqual(comm, "sharedCounter final value", try next.fetchAndAdd(0), tasks + p)
        try expectEqual(comm, "sharedCounter final value (initial -7)", try other.fetchAndAdd(0), -7 + total)
        try next.free()
        try other.free()
        try next.free() // a second free does nothing
        do {
            _ = try next.fetchAndAdd(1)
            throw fail(comm, "sharedCounter fetchAndAdd after free", "a value", "an error")
        } catch let e as CommunicatorError where e.operation == "fetchAndAdd" {}
    }
}
