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

    func testSectionsAreSlicesOfTheFileAndCutIntoValuesWhereverTheyStart() throws {
        let c = ModelContainer(kind: "kmeans", header: Data("{}".utf8),
                               sections: [("ints", Data(flat: [Int32(7), -1, 42, 5])), ("doubles", Data(flat: [0.5, -2.0, .infinity]))])
        // Decoded from a slice that does not start at index 0 (a file's bytes after a prefix).
        let padded = Data([1, 2, 3]) + c.encoded()
        let d = try ModelContainer.decode(padded[3...], path: "m")
        XCTAssertEqual(d, c)
        let ints = try d.section("ints"), doubles = try d.section("doubles")
        XCTAssertNotEqual(ints.startIndex, 0, "sections are slices of the file's bytes, not copies")
        XCTAssertEqual(ints.values(Int32.self, from: 1, count: 2), [-1, 42])
        XCTAssertEqual(ints.values(Int32.self, from: 3, count: 1), [5])
        XCTAssertEqual(ints.values(Int32.self, from: 4, count: 0), [])
        XCTAssertEqual(doubles.values(Double.self, from: 0, count: 3), [0.5, -2.0, .infinity])
        XCTAssertNoThrow(try ints.requireValues(Int32.self, count: 4, path: "m", what: "section 'ints'"))
        XCTAssertThrowsError(try ints.requireValues(Int32.self, count: 5, path: "m", what: "section 'ints'")) { e in
            XCTAssertTrue("\(e)".contains("section 'ints' has 16 bytes, not the 5 Int32 values"), "\(e)")
        }
        // The same container decoded in place from an array of the file's bytes.
        let bytes = [UInt8](c.encoded())
        XCTAssertEqual(try ModelContainer.decode(bytes: bytes, path: "m") { try $0.section("doubles").values(Double.self, from: 1, count: 2) }, [-2.0, .infinity])
        XCTAssertThrowsError(try ModelContainer.decode(bytes: [], path: "m.model") { _ in }) { e in
            XCTAssertTrue("\(e)".contains("not an MPILearn model file"), "\(e)")
        }
    }
}
