import SwiftMPI
import XCTest

/// The shared counter on in-process worlds: values handed out exactly once under contention,
/// increments other than 1, independent counters, and misuse that must be an error.
/// (MultiRankTests runs the MPI window version under mpirun.)
final class SharedCounterTests: XCTestCase {
    func testFourRanksDrawEveryValueExactlyOnce() throws {
        let perRank = 1000
        let drawn = try LocalWorld.run(size: 4) { comm -> [Int] in
            let counter = try comm.makeSharedCounter(initial: 0)
            let mine = try (0 ..< perRank).map { _ in try counter.fetchAndAdd(1) }
            try comm.barrier()
            let final = try counter.fetchAndAdd(0)
            try counter.free()
            XCTAssertEqual(final, 4 * perRank, "rank \(comm.rank)")
            return mine
        }
        for (rank, values) in drawn.enumerated() {
            XCTAssertEqual(values, values.sorted(), "rank \(rank): one rank's draws must increase")
        }
        XCTAssertEqual(drawn.flatMap { $0 }.sorted(), Array(0 ..< 4 * perRank))
    }

    func testBatchesOfOtherSizesTileTheRangeThenNegativeIncrementsCountDown() throws {
        // Rank r draws batches of r + 1 (0 on rank 3 reads without changing): the batches
        // [v, v + k) are disjoint and tile initial ..< initial + total.
        let initial = 10, rounds = 200
        let sizes = [1, 2, 5, 0]
        let results = try LocalWorld.run(size: 4) { comm -> (batches: [Range<Int>], final: Int) in
            let counter = try comm.makeSharedCounter(initial: initial)
            let k = sizes[comm.rank]
            let batches = try (0 ..< rounds).map { _ -> Range<Int> in
                let v = try counter.fetchAndAdd(k)
                return v ..< v + k
            }
            try comm.barrier()
            _ = try counter.fetchAndAdd(-(comm.rank + 1) * 3)
            try comm.barrier()
            let final = try counter.fetchAndAdd(0)
            try counter.free()
            return (batches, final)
        }
        let total = rounds * sizes.reduce(0, +)
        let covered = results.flatMap { $0.batches.flatMap { Array($0) } }.sorted()
        XCTAssertEqual(covered, Array(initial ..< initial + total))
        XCTAssertEqual(results.map(\.final), Array(repeating: initial + total - 3 * (1 + 2 + 3 + 4), count: 4))
    }

    func testCountersAreIndependentAndWorkOnSubcommunicators() throws {
        // Two groups (even and odd world ranks) each draw from their own counter while a
        // world-wide counter is live too.
        let drawn = try LocalWorld.run(size: 4) { comm -> (group: [Int], world: Int) in
            let everyone = try comm.makeSharedCounter(initial: 100)
            let sub = try comm.split(color: comm.rank % 2, key: comm.rank)!
            let mine = try sub.makeSharedCounter(initial: 0)
            let group = try (0 ..< 50).map { _ in try mine.fetchAndAdd(1) }
            let w = try everyone.fetchAndAdd(1)
            try mine.free()
            try everyone.free()
            return (group, w)
        }
        XCTAssertEqual((drawn[0].group + drawn[2].group).sorted(), Array(0 ..< 100))
        XCTAssertEqual((drawn[1].group + drawn[3].group).sorted(), Array(0 ..< 100))
        XCTAssertEqual(drawn.map(\.world).sorted(), [100, 101, 102, 103])
    }

    func testOneRankCounter() throws {
        let solo = LocalCommunicator.solo()
        let c = try solo.makeSharedCounter(initial: -3)
        XCTAssertEqual(try c.fetchAndAdd(2), -3)
        XCTAssertEqual(try c.fetchAndAdd(-10), -1)
        XCTAssertEqual(try c.fetchAndAdd(0), -11)
        try c.free()
    }

    func testDifferentInitialValuesAreAnErrorOnEveryRank() throws {
        let messages = try LocalWorld.run(size: 3) { comm -> String in
            do {
                _ = try comm.makeSharedCounter(initial: comm.rank == 1 ? 5 : 0)
                return "no error"
            } catch let e as CommunicatorError {
                return e.description
            }
        }
        for m in messages {
            XCTAssertEqual(m, "makeSharedCounter: ranks passed different initial values (from 0 to 5); every rank must pass the same")
        }
    }

    func testFetchAfterFreeThrowsAndFreeTwiceDoesNothing() throws {
        _ = try LocalWorld.run(size: 2) { comm in
            let c = try comm.makeSharedCounter(initial: 0)
            _ = try c.fetchAndAdd(1)
            try c.free()
            try c.free()
            XCTAssertThrowsError(try c.fetchAndAdd(1)) { error in
                XCTAssertEqual((error as? CommunicatorError)?.operation, "fetchAndAdd", "\(error)")
            }
        }
    }
}
