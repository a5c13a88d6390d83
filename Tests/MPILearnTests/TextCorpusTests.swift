import Foundation
@testable import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// Text input: documents split by byte ranges come out whole, once and in order at any rank
/// count; JSON Lines fields and labels; folders; decode errors and bad lines named.
final class TextCorpusTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("mpilearn-text-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
        return url.path
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return (error as? MPILearnError)?.description ?? "\(error)" }
    }

    /// Reads at 1-4 ranks and checks every rank count gives the same documents in order.
    func readAll(_ path: String, _ format: TextFormat, _ mode: TextDecodeError = .strict) throws -> ([String], [String]?) {
        var first: ([String], [String]?)? = nil
        for p in 1 ... 4 {
            let parts = try LocalWorld.run(size: p) { comm in try TextCorpus.read(path, format: format, decodeError: mode, comm: comm) }
            var start = 0
            for d in parts {
                XCTAssertEqual(d.globalRowStart, start, "p=\(p)")
                start += d.texts.count
                XCTAssertEqual(d.globalRowCount, parts.map(\.texts.count).reduce(0, +))
            }
            let texts = parts.flatMap(\.texts)
            let labels = parts[0].labels == nil ? nil : parts.flatMap { $0.labels! }
            if let first {
                XCTAssertEqual(texts, first.0, "p=\(p)")
                XCTAssertEqual(labels, first.1, "p=\(p)")
            } else {
                first = (texts, labels)
            }
        }
        return first!
    }

    func testLinesSplitByByteRangesComeOutWholeAndInOrder() throws {
        var text = ""
        var expected: [String] = []
        for i in 0 ..< 57 {
            let line = i % 9 == 0 ? "" : String(repeating: "wörd\(i) ", count: i % 5 + 1) + "東京"
            expected.append(line)
            text += line + (i % 4 == 0 ? "\r\n" : "\n")
        }
        text += "last line without a newline"
        expected.append("last line without a newline")
        let path = try write("docs.txt", Array(text.utf8))
        XCTAssertEqual(try readAll(path, .lines).0, expected)
        // Two files through a pattern: the first's lines, then the second's.
        _ = try write("b.txt", Array("one\ntwo\n".utf8))
        _ = try write("a.txt", Array("zero\n".utf8))
        XCTAssertEqual(try readAll(dir.appendingPathComponent("?.txt").path, .lines).0, ["zero", "one", "two"])
        XCTAssertTrue(message { _ = try TextCorpus.read(self.dir.appendingPathComponent("*.none").path, format: .lines, comm: LocalCommunicator.solo()) }
            .contains("no file matches"))
    }

    func testJSONLinesFieldsLabelsAndErrors() throws {
        var lines: [String] = []
        for i in 0 ..< 40 {
            lines.append(#"{"text": "document \#(i) é", "section": \#(i % 3 == 0 ? "\"libs\"" : "\(i % 2)"), "other": [1, 2]}"#)
            if i == 10 { lines.append("   ") }
        }
        let path = try write("c.jsonl", Array((lines.joined(separator: "\n") + "\n").utf8))
        let (texts, labels) = try readAll(path, .jsonLines(textField: "text", labelField: "section"))
        XCTAssertEqual(texts, (0 ..< 40).map { "document \($0) é" })
        XCTAssertEqual(labels, (0 ..< 40).map { $0 % 3 == 0 ? "libs" : "\($0 % 2)" })
        XCTAssertNil(try TextCorpus.read(path, format: .jsonLines(textField: "text", labelField: nil), comm: LocalCommunicator.solo()).labels)

        let bad = try write("bad.jsonl", Array("{\"text\": \"a\"}\n[1, 2]\n".utf8))
        XCTAssertTrue(message { _ = try TextCorpus.read(bad, format: .jsonLines(textField: "text", labelField: nil), comm: LocalCommunicator.solo()) }
            .contains("bad.jsonl:2"))
        let missing = try write("missing.jsonl", Array("{\"text\": \"a\"}\n{\"body\": \"b\"}\n".utf8))
        let m = message { _ = try TextCorpus.read(missing, format: .jsonLines(textField: "text", labelField: nil), comm: LocalCommunicator.solo()) }
        XCTAssertTrue(m.contains("missing.jsonl:2") && m.contains("no field \"text\"") && m.contains("body"), m)
        let noLabel = message { _ = try TextCorpus.read(missing, format: .jsonLines(textField: "text", labelField: "y"), comm: LocalCommunicator.solo()) }
        XCTAssertTrue(noLabel.contains("missing.jsonl:1") && noLabel.contains("\"y\""), noLabel)
    }

    func testInvalidUTF8StrictIgnoreReplace() throws {
        // "ok\n", then "ab" + 0xFF + "c" (byte offset 5) + 0xC3 (a truncated é) + "\n"
        let path = try write("u.txt", Array("ok\nab".utf8) + [0xFF] + Array("c".utf8) + [0xC3] + Array("\n".utf8))
        let strict = message { _ = try TextCorpus.read(path, format: .lines, comm: LocalCommunicator.solo()) }
        XCTAssertTrue(strict.contains("u.txt") && strict.contains("byte offset 5"), strict)
        XCTAssertEqual(try readAll(path, .lines, .ignore).0, ["ok", "abc"])
        XCTAssertEqual(try readAll(path, .lines, .replace).0, ["ok", "ab\u{FFFD}c\u{FFFD}"])
    }

    func testFolderOfFilesWithSubFolderLabels() throws {
        for (label, n) in [("acq", 3), ("earn", 2), ("zzz", 1)] {
            for i in 0 ..< n { _ = try write("corpus/\(label)/doc\(i).txt", Array("\(label) text \(i)\nsecond line".utf8)) }
        }
        let (texts, labels) = try readAll(dir.appendingPathComponent("corpus").path, .folder)
        XCTAssertEqual(labels, ["acq", "acq", "acq", "earn", "earn", "zzz"])
        XCTAssertEqual(texts.first, "acq text 0\nsecond line")
        _ = try write("corpus/loose.txt", Array("x".utf8))
        XCTAssertTrue(message { _ = try TextCorpus.read(self.dir.appendingPathComponent("corpus").path, format: .folder, comm: LocalCommunicator.solo()) }
            .contains("loose.txt"))
        _ = try write("flat/one.txt", Array("1".utf8))
        _ = try write("flat/two.txt", Array("2".utf8))
        let flat = try readAll(dir.appendingPathComponent("flat").path, .folder)
        XCTAssertEqual(flat.0, ["1", "2"])
        XCTAssertNil(flat.1)
    }
}
