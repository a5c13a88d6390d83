import MPILearn
import XCTest

final class RandomTests: XCTestCase {
    /// Known-answer vectors from the Random123 distribution (kat_vectors, philox4x32_10).
    func testPhiloxKnownAnswers() {
        let zero = Philox.block(counter: (0, 0, 0, 0), key: (0, 0))
        XCTAssertEqual([zero.0, zero.1, zero.2, zero.3], [0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8])
        let ones = Philox.block(counter: (0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF), key: (0xFFFF_FFFF, 0xFFFF_FFFF))
        XCTAssertEqual([ones.0, ones.1, ones.2, ones.3], [0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD])
        let pi = Philox.block(counter: (0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344), key: (0xA409_3822, 0x299F_31D0))
        XCTAssertEqual([pi.0, pi.1, pi.2, pi.3], [0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1])
    }

    func testStreamsAreReproducibleAndDistinct() {
        var a = Philox(seed: 42, domain: 1, stream: 7), b = Philox(seed: 42, domain: 1, stream: 7)
        var c = Philox(seed: 42, domain: 1, stream: 8), d = Philox(seed: 42, domain: 2, stream: 7)
        let xa = (0 ..< 10).map { _ in a.next() }
        XCTAssertEqual(xa, (0 ..< 10).map { _ in b.next() })
        XCTAssertNotEqual(xa, (0 ..< 10).map { _ in c.next() })
        XCTAssertNotEqual(xa, (0 ..< 10).map { _ in d.next() })
    }

    func testUniformAndNormalMoments() {
        var rng = Philox(seed: 3)
        let n = 200_000
        let u = (0 ..< n).map { _ in rng.uniform() }
        XCTAssertTrue(u.allSatisfy { $0 >= 0 && $0 < 1 })
        XCTAssertEqual(u.reduce(0, +) / Double(n), 0.5, accuracy: 0.005)
        let z = (0 ..< n).map { _ in rng.normal() }
        let mean = z.reduce(0, +) / Double(n)
        let variance = z.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
        XCTAssertEqual(mean, 0, accuracy: 0.01)
        XCTAssertEqual(variance, 1, accuracy: 0.02)
    }

    func testPartitionBlocksCoverExactly() {
        for count in [0, 1, 5, 17, 1000] {
            for parts in 1 ... 7 {
                let blocks = (0 ..< parts).map { Partition.block(count: count, parts: parts, index: $0) }
                XCTAssertEqual(blocks.flatMap { Array($0) }, Array(0 ..< count))
                XCTAssertLessThanOrEqual(blocks.map(\.count).max()! - blocks.map(\.count).min()!, 1)
            }
        }
        XCTAssertEqual(Partition.proportional(total: 10, weights: [1, 1, 1]), [4, 3, 3])
        XCTAssertEqual(Partition.proportional(total: 7, weights: [0, 5, 5]), [0, 4, 3])
        XCTAssertEqual(Partition.proportional(total: 100, weights: [0, 0]), [0, 0])
    }
}
