import Foundation
import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// Inputs that crashed a fuzz target (scripts/fuzz, docs/fuzzing.md), kept in Fuzz/corpus:
/// each must now give a clear thrown error. A corpus file starts with the target's option
/// bytes (see the comment at the top of Fuzz/fuzz-<target>/).
final class FuzzRegressionTests: XCTestCase {
    /// The bytes of a corpus file without its `optionBytes` leading option bytes.
    func corpus(_ target: String, _ name: String, optionBytes: Int = 1) throws -> [UInt8] {
        let url = MPIRun.packageRoot.appendingPathComponent("Fuzz/corpus/\(target)/\(name)")
        return Array(try Data(contentsOf: url).dropFirst(optionBytes))
    }

    /// A temporary file holding `bytes`, removed after the test.
    func file(_ bytes: [UInt8], _ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-regression-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// `bytes` with the container checksum (the last 4 bytes) made right, as fuzz-model does.
    func withChecksum(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes
        let crc = CRC32.checksum(b[0 ..< b.count - 4]).littleEndian
        withUnsafeBytes(of: crc) { for i in 0 ..< 4 { b[b.count - 4 + i] = $0[i] } }
        return b
    }

    /// The message of the MPILearnError that loading `path` as `model inspect` does throws.
    func loadError(_ path: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            let c = try ModelContainer.read(from: path)
            _ = try ModelRegistry.decode(c, path: path)
            XCTFail("loading \(path) did not throw", file: file, line: line)
            return ""
        } catch let e as MPILearnError {
            return e.description
        } catch {
            XCTFail("not an MPILearnError: \(error)", file: file, line: line)
            return ""
        }
    }

    /// fuzz-model: a section length (UInt64) too large for Int trapped in `Int(_:)`; a length
    /// near Int.max overflowed `offset + n`. Now the truncation error.
    func testModelSectionLengthTooLargeIsTruncation() throws {
        let path = try file(withChecksum(try corpus("model", "crash-svc-section-length")), "svc.model")
        let message = loadError(path)
        XCTAssertTrue(message.contains(path) && message.contains("model file is truncated"), message)

        // Both cases by hand: a length of 2^63 (not an Int) and of Int.max (overflows offset + n).
        for length in [UInt64(1) << 63, UInt64(Int.max)] {
            var d = Data(ModelContainer.magic)
            d.appendLE(UInt32(1))
            d.appendLE(UInt32(6)); d.append(Data("kmeans".utf8))
            d.appendLE(length)
            d.appendLE(CRC32.checksum(d))
            XCTAssertThrowsError(try ModelContainer.decode(d, path: "m.model")) { e in
                XCTAssertTrue("\(e)".contains("model file is truncated (needs \(length) bytes"), "\(e)")
            }
        }
    }

    /// fuzz-model: an SGD model whose shape section's product overflows Int64 trapped.
    func testSGDShapeOverflowIsADataError() throws {
        let path = try file(withChecksum(try corpus("model", "crash-sgd-shape-overflow")), "sgd.model")
        let message = loadError(path)
        XCTAssertTrue(message.contains(path) && message.contains("coefficients and"), message)
    }

    /// The same overflow in the linear models' and k-means' headers (n_targets × n_features,
    /// n_clusters × n_features), found by reading the decoders after the SGD crash.
    func testHeaderSizeOverflowIsADataError() throws {
        let fixtures = MPIRun.packageRoot.appendingPathComponent("Tests/Fixtures/conformance")
        let cases = [
            ("linear-regression", [("\"n_features\":5", "\"n_features\":4611686018427387904"), ("\"n_targets\":1", "\"n_targets\":4"),
                                   ("[null,null,null,null,null]", "[]"), ("[\"x0\",\"x1\",\"x2\",\"x3\",\"x4\"]", "[]")], "coefficients"),
            ("kmeans", [("\"n_clusters\":4", "\"n_clusters\":4611686018427387904")], "centre values"),
        ]
        for (kind, edits, expected) in cases {
            let c = try ModelContainer.read(from: fixtures.appendingPathComponent("\(kind).model").path)
            var header = String(decoding: c.header, as: UTF8.self)
            for (old, new) in edits {
                XCTAssertTrue(header.contains(old), "\(kind) header has no \(old)")
                header = header.replacingOccurrences(of: old, with: new)
            }
            let damaged = ModelContainer(kind: c.kind, header: Data(header.utf8), sections: c.sections)
            let path = try file(Array(damaged.encoded()), "\(kind).model")
            let message = loadError(path)
            XCTAssertTrue(message.contains(path) && message.contains(expected), "\(kind): \(message)")
        }
    }

    /// fuzz-npy: a .npz member whose zip header declares an uncompressed size of ~3.8 EB was
    /// reserved in full (an allocation failure that killed the process). Now the reservation
    /// is bounded by the file's size and the damaged archive gives a data error.
    func testNPZHugeDeclaredSizeIsADataError() throws {
        let path = try file(try corpus("npy", "crash-npz-declared-size"), "m.npz")
        XCTAssertThrowsError(try NPZ.readCSR(path)) { e in
            guard case MPILearnError.dataError(let location, let message) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(location.file, path)
            XCTAssertFalse(message.isEmpty)
        }
    }
}
