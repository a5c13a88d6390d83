import Foundation
import SwiftMPI
import XCTest

/// Holds a result computed on another thread.
private final class ResultBox<R>: @unchecked Sendable { var result: Result<R, Error>? }

/// The in-process world: every collective at 1 to 4 ranks, abort propagation, and the small
/// value types (Layout) the typed collectives rely on.
final class LocalWorldTests: XCTestCase {
    static let allChecks = ["Double", "Float", "Int32", "Int64", "UInt8", "UInt32", "UInt64", "split", "objects", "pointToPoint", "sharedCounter"]

    func testSelfCheckPassesAtOneToFourRanks() throws {
        for size in 1 ... 4 {
            let passed = try LocalWorld.run(size: size) { comm in try CollectiveSelfCheck.run(comm) }
            XCTAssertEqual(passed.count, size)
            for (rank, names) in passed.enumerated() {
                XCTAssertEqual(names, Self.allChecks, "size \(size) rank \(rank)")
            }
        }
    }

    func testSoloCommunicatorIsAOneRankWorld() throws {
        let solo = LocalCommunicator.solo()
        XCTAssertEqual(solo.rank, 0)
        XCTAssertEqual(solo.size, 1)
        XCTAssertEqual(try CollectiveSelfCheck.run(solo), Self.allChecks)
    }

    struct Injected: Error, Equatable { var rank: Int }

    /// Runs `body` on a background thread; fails (instead of hanging) if it takes over `seconds`.
    func withDeadline<R>(_ seconds: Double, _ body: @escaping () throws -> R) throws -> R {
        let box = ResultBox<R>(), done = DispatchSemaphore(value: 0)
        let t = Thread {
            box.result = Result { try body() }
            done.signal()
        }
        t.stackSize = 8 << 20
        t.start()
        guard done.wait(timeout: .now() + seconds) == .success else {
            XCTFail("did not finish within \(seconds) s: a rank is hanging")
            throw CommunicatorError.aborted
        }
        return try box.result!.get()
    }

    func testOneRankThrowingEndsRanksWaitingInCollectives() throws {
        // Rank 1 throws while rank 0 waits in an allreduce, rank 2 in a barrier and rank 3 in
        // a receive that will never be matched: run must rethrow rank 1's error, not hang.
        XCTAssertThrowsError(try withDeadline(10) {
            try LocalWorld.run(size: 4) { comm -> Int in
                switch comm.rank {
                case 1:
                    Thread.sleep(forTimeInterval: 0.1)
                    throw Injected(rank: 1)
                case 2:
                    try comm.barrier()
                case 3:
                    _ = try comm.receive(Double.self, from: 0, tag: 5)
                default:
                    var x = [Double](repeating: 1, count: 8)
                    try comm.allreduce(&x, op: .sum)
                }
                return comm.rank
            }
        }) { error in
            XCTAssertEqual(error as? Injected, Injected(rank: 1), "run must report the original error, got \(error)")
        }
    }

    func testAbortReachesSubcommunicators() throws {
        // Ranks 0 and 1 wait in a collective on their split group; rank 2 (other group) throws.
        XCTAssertThrowsError(try withDeadline(10) {
            try LocalWorld.run(size: 3) { comm -> Void in
                let sub = try comm.split(color: comm.rank == 2 ? 1 : 0, key: comm.rank)!
                if comm.rank == 2 { throw Injected(rank: 2) }
                _ = try sub.allreduce(Int64(1), op: .sum)  // both members arrive: completes
                try comm.barrier()                          // rank 2 never arrives
            }
        }) { error in
            XCTAssertEqual(error as? Injected, Injected(rank: 2))
        }
    }

    func testSuccessfulRunReturnsResultsInRankOrder() throws {
        let sums = try LocalWorld.run(size: 3) { comm in try comm.allreduce(Int32(comm.rank + 1), op: .sum) }
        XCTAssertEqual(sums, [6, 6, 6])
        let ranks = try LocalWorld.run(size: 4) { $0.rank }
        XCTAssertEqual(ranks, [0, 1, 2, 3])
    }

    func testLayoutArithmetic() {
        let l = Layout(counts: [3, 0, 2, 5])
        XCTAssertEqual(l.displacements, [0, 3, 3, 5])
        XCTAssertEqual(l.total, 10)
        XCTAssertEqual(l.range(of: 0), 0 ..< 3)
        XCTAssertEqual(l.range(of: 1), 3 ..< 3)
        XCTAssertTrue(l.range(of: 1).isEmpty)
        XCTAssertEqual(l.range(of: 3), 5 ..< 10)
        let empty = Layout(counts: [])
        XCTAssertEqual(empty.displacements, [])
        XCTAssertEqual(empty.total, 0)
        let zeros = Layout(counts: [0, 0])
        XCTAssertEqual(zeros.displacements, [0, 0])
        XCTAssertEqual(zeros.total, 0)
        // Blocks tile 0 ..< total without gaps.
        XCTAssertEqual((0 ..< 4).flatMap { Array(l.range(of: $0)) }, Array(0 ..< 10))
    }

    struct Split: Codable, Equatable { var feature: Int; var threshold: Double; var missingLeft: Bool }
    struct Node: Codable, Equatable { var split: Split?; var children: [Node]; var value: [Float] }
    enum Mode: String, Codable { case serial, dataParallel }
    struct ModelConfig: Codable, Equatable {
        var name: String
        var mode: Mode
        var root: Node
        var categories: [String: [String]]
        var seed: UInt64
        var limit: Int?
    }

    func testCodableBroadcastOfNestedStruct() throws {
        let leaf = Node(split: nil, children: [], value: [0.25, -1])
        let cfg = ModelConfig(
            name: "forest ✓", mode: .dataParallel,
            root: Node(split: Split(feature: 3, threshold: -0.5, missingLeft: true), children: [leaf, leaf], value: []),
            categories: ["carrier": ["AA", "UA"], "origin": []], seed: .max, limit: nil)
        for size in 1 ... 3 {
            let root = size - 1
            let got = try LocalWorld.run(size: size) { comm in
                try comm.broadcastObject(comm.rank == root ? cfg : nil, root: root)
            }
            XCTAssertEqual(got, Array(repeating: cfg, count: size), "size \(size)")
        }
        // Every rank's own nested value, gathered in rank order.
        let gathered = try LocalWorld.run(size: 3) { comm in
            try comm.allgatherObject(Node(split: nil, children: [], value: [Float(comm.rank)]))
        }
        for g in gathered { XCTAssertEqual(g.map(\.value), [[0], [1], [2]]) }
    }

    func testBroadcastObjectWithoutValueOnRootThrows() {
        XCTAssertThrowsError(try LocalWorld.run(size: 2) { comm -> Int in
            try comm.broadcastObject(Optional<Int>.none, root: 0)
        }) { error in
            let e = error as? CommunicatorError
            XCTAssertEqual(e?.operation, "broadcastObject")
            XCTAssertTrue(e?.message.contains("root 0 passed no value") ?? false, "\(error)")
        }
    }

    func testBadRootIsAnErrorNotATrap() {
        XCTAssertThrowsError(try LocalWorld.run(size: 2) { comm -> [Double] in
            var x = [1.0]
            try comm.broadcast(&x, root: 0)
            try x.withUnsafeMutableBufferPointer { try comm.broadcast($0, root: 5) }
            return x
        }) { error in
            XCTAssertEqual((error as? CommunicatorError)?.message, "root 5 is not a rank of a 2-rank communicator")
        }
    }
}
