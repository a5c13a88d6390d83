import Foundation
import MPILearn
import XCTest

final class ModelContainerTests: XCTestCase {
    func testCRC32MatchesTheStandardCheckValue() {
        // The CRC-32/ISO-HDLC check value of "123456789".
        XCTAssertEqual(CRC32.checksum(Data("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum(Data()), 0)
        // Lengths around the 8-byte stride agree with a byte-at-a-time reference.
        var rng = Philox(seed: 9)
        let bytes = (0 ..< 1000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        for n in [1, 7, 8, 9, 15, 16, 17, 999, 1000] {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes[0 ..< n] {
                c ^= UInt32(b)
                for _ in 0 ..< 8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            }
            XCTAssertEqual(CRC32.checksum(Data(bytes[0 ..< n])), c ^ 0xFFFF_FFFF, "n=\(n)")
        }
    }

    func testRoundTripAndRejections() throws {
        let c = ModelContainer(kind: "kmeans", header: Data("{\"k\":3}".utf8),
                               sections: [("centres", Data(flat: [1.0, 2.0, 3.0])), ("empty", Data())])
        let bytes = c.encoded()
        XCTAssertEqual(try ModelContainer.decode(bytes, path: "m", expectedKinds: ["kmeans"]), c)
        XCTAssertEqual(try ModelContainer.decode(bytes, path: "m").section("centres").flatArray(of: Double.self), [1, 2, 3])
        func message(_ data: Data, kinds: [String]? = nil) -> String {
            do {
                _ = try ModelContainer.decode(data, path: "m.model", expectedKinds: kinds)
                return "no error"
            } catch { return "\(error)" }
        }
        XCTAssertTrue(message(bytes, kinds: ["random-forest-classifier"]).contains("this is a 'kmeans' model"))
        XCTAssertTrue(message(bytes.prefix(bytes.count - 5)).contains("m.model"))
        var flipped = bytes
        flipped[20] ^= 0xFF
        XCTAssertTrue(message(flipped).contains("checksum"))
        var newer = bytes
        newer[8] = 99
        XCTAssertTrue(message(newer).contains("newer"))
        XCTAssertTrue(message(Data("not a model at all".utf8)).contains("not an MPILearn model file"))
    }
}
