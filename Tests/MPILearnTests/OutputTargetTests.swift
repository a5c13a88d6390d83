import Foundation
@testable import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// Writers onto what is not a plain file (``OutputTarget``): ``AtomicFile`` and the parallel
/// ``ParallelFile`` keep a symbolic link a link (the file it names gets the new content),
/// write FIFOs and devices straight through (the FIFO stays a FIFO, `/dev/null` stays a
/// device: the tests run as root in CI, where a rename over `/dev/null` succeeds), and refuse
/// folders and sockets.
final class OutputTargetTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try MPIRun.temporaryDirectory("outputs") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func fileType(_ path: String) -> mode_t? {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & S_IFMT : nil
    }

    func contents(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Every name in the test folder and its subfolders (to see that no temporary file is left).
    func allNames() -> [String] {
        (FileManager.default.enumerator(atPath: dir.path)?.allObjects as? [String] ?? []).sorted()
    }

    /// Reads a FIFO on another thread until `expected` bytes came or 20 s passed, without ever
    /// blocking (so a writer that fails to write the FIFO fails the test instead of hanging it).
    final class FIFOReader: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var bytes: [UInt8] = []

        init(_ path: String, expected: Int) throws {
            let fd = open(path, O_RDONLY | O_NONBLOCK)
            guard fd >= 0 else { throw MPILearnError.cannotRead(path: path, reason: String(cString: strerror(errno))) }
            Thread {
                defer { close(fd); self.done.signal() }
                let deadline = Date().addingTimeInterval(20)
                var buf = [UInt8](repeating: 0, count: 1 << 16)
                while self.bytes.count < expected && Date() < deadline {
                    let n = read(fd, &buf, buf.count)
                    if n > 0 { self.bytes += buf[0 ..< n] } else { usleep(1000) }
                }
            }.start()
        }

        func wait() -> [UInt8] {
            done.wait()
            return bytes
        }
    }

    func testSymbolicLinksStayLinksAndTheirTargetGetsTheContent() throws {
        try FileManager.default.createDirectory(atPath: path("sub"), withIntermediateDirectories: true)
        try "old".write(toFile: path("sub/real.txt"), atomically: false, encoding: .utf8)
        chmod(path("sub/real.txt"), 0o600)
        // Two levels, both relative: link2 -> link1 -> sub/real.txt.
        XCTAssertEqual(symlink("sub/real.txt", path("link1")), 0)
        XCTAssertEqual(symlink("link1", path("link2")), 0)
        try AtomicFile.write("new", to: path("link2"))
        XCTAssertEqual(fileType(path("link2")), S_IFLNK)
        XCTAssertEqual(fileType(path("link1")), S_IFLNK)
        XCTAssertEqual(fileType(path("sub/real.txt")), S_IFREG)
        XCTAssertEqual(contents(path("sub/real.txt")), "new")
        var st = stat()
        XCTAssertEqual(stat(path("sub/real.txt"), &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600, "the replaced file's permissions are kept")
        XCTAssertEqual(allNames(), ["link1", "link2", "sub", "sub/real.txt"], "no temporary file left")

        // An absolute link to a name not taken yet creates the file it names.
        XCTAssertEqual(symlink(path("sub/later.txt"), path("dangling")), 0)
        try AtomicFile.write("created", to: path("dangling"))
        XCTAssertEqual(fileType(path("dangling")), S_IFLNK)
        XCTAssertEqual(contents(path("sub/later.txt")), "created")

        // The model writer goes through AtomicFile.
        let model = ModelContainer(kind: "kmeans", header: Data("{}".utf8), sections: [("c", Data([1, 2, 3]))])
        XCTAssertEqual(symlink("sub/model.bin", path("model")), 0)
        try model.write(to: path("model"))
        XCTAssertEqual(fileType(path("model")), S_IFLNK)
        XCTAssertEqual(try ModelContainer.read(from: path("sub/model.bin")), model)

        // A loop of links is an error, not a hang.
        XCTAssertEqual(symlink("loopB", path("loopA")), 0)
        XCTAssertEqual(symlink("loopA", path("loopB")), 0)
        XCTAssertThrowsError(try AtomicFile.write("x", to: path("loopA"))) { e in
            XCTAssertTrue("\(e)".contains("levels of symbolic links"), "\(e)")
        }
    }

    func testFIFOIsWrittenStraightThroughAndStaysAFIFO() throws {
        XCTAssertEqual(mkfifo(path("pipe"), 0o644), 0)
        let text = String(repeating: "0123456789abcdef", count: 20_000)   // more than a pipe's buffer
        let reader = try FIFOReader(path("pipe"), expected: text.utf8.count)
        try AtomicFile.write(text, to: path("pipe"))
        XCTAssertEqual(String(decoding: reader.wait(), as: UTF8.self), text)
        XCTAssertEqual(fileType(path("pipe")), S_IFIFO)
        XCTAssertEqual(allNames(), ["pipe"], "no temporary file left")
        // Through a link too.
        XCTAssertEqual(symlink("pipe", path("pipe-link")), 0)
        let again = try FIFOReader(path("pipe"), expected: 5)
        try AtomicFile.write("hello", to: path("pipe-link"))
        XCTAssertEqual(again.wait(), Array("hello".utf8))
        XCTAssertEqual(fileType(path("pipe-link")), S_IFLNK)
        XCTAssertEqual(fileType(path("pipe")), S_IFIFO)
    }

    func testDevNullStaysACharacterDevice() throws {
        try AtomicFile.write("discarded", to: "/dev/null")
        XCTAssertEqual(fileType("/dev/null"), S_IFCHR)
        _ = try LocalWorld.run(size: 3) { comm in
            try Array("rank \(comm.rank)\n".utf8).withUnsafeBytes {
                try ParallelFile.write("/dev/null", header: Array("header\n".utf8), bytes: $0, comm: comm)
            }
        }
        XCTAssertEqual(fileType("/dev/null"), S_IFCHR)
        // Streamed text (the predictions writer) too; parts onto a device are refused before
        // anything is written, so no /dev/null.part-* file appears in /dev.
        _ = try LocalWorld.run(size: 3) { comm in
            try ParallelFile.write("/dev/null", comm: comm) { emit in try emit("rank \(comm.rank)\n") }
        }
        XCTAssertEqual(fileType("/dev/null"), S_IFCHR)
        XCTAssertThrowsError(try LocalWorld.run(size: 3) { comm in
            try ParallelFile.write("/dev/null", layout: .parts, comm: comm) { emit in try emit("rank \(comm.rank)\n") }
        }) { e in
            XCTAssertEqual("\(e)", "/dev/null: cannot write: it is a FIFO or a device, which takes one stream, not one file per rank "
                + "(the parts layout); write it as a single file")
        }
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: "/dev"))?.filter { $0.hasPrefix("null.part-") }, [])
        let fd = open("/dev/null", O_RDONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        var byte: UInt8 = 0
        XCTAssertEqual(read(fd, &byte, 1), 0, "/dev/null still reads as empty")
        close(fd)
    }

    func testFoldersAndSocketsAreErrors() throws {
        try FileManager.default.createDirectory(atPath: path("folder"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try AtomicFile.write("x", to: path("folder"))) { e in
            XCTAssertTrue("\(e)".hasSuffix("folder: cannot write: is a folder"), "\(e)")
        }
        XCTAssertEqual(symlink("folder", path("folder-link")), 0)
        XCTAssertThrowsError(try AtomicFile.write("x", to: path("folder-link"))) { e in
            XCTAssertTrue("\(e)".contains("the link leads to the folder"), "\(e)")
        }
        XCTAssertThrowsError(try AtomicFile.write("x", to: path("no-such-folder/out.txt"))) { e in
            XCTAssertTrue("\(e)".contains("no-such-folder does not exist"), "\(e)")
        }
        for p in [1, 3] {
            XCTAssertThrowsError(try LocalWorld.run(size: p) { comm in
                try [UInt8(1)].withUnsafeBytes { try ParallelFile.write(self.path("folder"), header: [], bytes: $0, comm: comm) }
            }) { e in
                XCTAssertTrue("\(e)".contains("is a folder"), "p=\(p): \(e)")
            }
        }
        XCTAssertEqual(allNames(), ["folder", "folder-link"])

        // A listening Unix socket.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let name = Array(path("sock").utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { buf in
            precondition(name.count < buf.count)
            buf.copyBytes(from: name)
            buf[name.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        XCTAssertEqual(bound, 0, String(cString: strerror(errno)))
        XCTAssertThrowsError(try AtomicFile.write("x", to: path("sock"))) { e in
            XCTAssertTrue("\(e)".contains("is a socket"), "\(e)")
        }
        XCTAssertEqual(fileType(path("sock")), S_IFSOCK)
    }

    /// The parallel writer (CSV, NPY, labels) follows the same rule at 1 and 3 ranks: through a
    /// link to the named file, and into a FIFO by rank 0 in rank order, with parts that span
    /// several messages.
    func testParallelWriterFollowsLinksAndStreamsIntoFIFOs() throws {
        func part(_ rank: Int) -> [UInt8] { Array(String(repeating: "r\(rank);", count: 50 + 37 * rank).utf8) }
        let header = Array("header\n".utf8)
        for p in [1, 3] {
            let expected = header + (0 ..< p).flatMap(part)
            try "old".write(toFile: path("real-\(p).txt"), atomically: false, encoding: .utf8)
            XCTAssertEqual(symlink("real-\(p).txt", path("link-\(p)")), 0)
            _ = try LocalWorld.run(size: p) { comm in
                try part(comm.rank).withUnsafeBytes { try ParallelFile.write(self.path("link-\(p)"), header: header, bytes: $0, comm: comm) }
            }
            XCTAssertEqual(fileType(path("link-\(p)")), S_IFLNK, "p=\(p)")
            XCTAssertEqual(FileManager.default.contents(atPath: path("real-\(p).txt")).map { [UInt8]($0) }, expected, "p=\(p)")

            XCTAssertEqual(mkfifo(path("pipe-\(p)"), 0o644), 0)
            let reader = try FIFOReader(path("pipe-\(p)"), expected: expected.count)
            _ = try LocalWorld.run(size: p) { comm in
                try part(comm.rank).withUnsafeBytes {
                    try ParallelFile.write(self.path("pipe-\(p)"), header: comm.rank == 0 ? header : [], bytes: $0, layout: .single, comm: comm, streamBlock: 64)
                }
            }
            XCTAssertEqual(reader.wait(), expected, "p=\(p)")
            XCTAssertEqual(fileType(path("pipe-\(p)")), S_IFIFO, "p=\(p)")
        }
        // CSVWriter goes through ParallelFile.
        let d = try Generators.makeBlobs(Double.self, nSamples: 6, nFeatures: 2, centers: 2, randomState: 1, rows: 0 ..< 6)
        XCTAssertEqual(symlink("blobs.csv", path("blobs-link.csv")), 0)
        try CSVWriter.write(d, to: path("blobs-link.csv"), comm: LocalCommunicator.solo())
        XCTAssertEqual(fileType(path("blobs-link.csv")), S_IFLNK)
        XCTAssertEqual(contents(path("blobs.csv"))?.split(separator: "\n").count, 7)
        XCTAssertEqual(allNames().filter { $0.contains("tmp") }, [], "no temporary file left")
    }

    /// The text every rank streams in the tests below: a header on rank 0, then a few lines
    /// of different lengths per rank.
    static func part(_ rank: Int) -> [String] {
        (rank == 0 ? ["header\n"] : []) + (0 ..< 3 + rank).map { c in String(repeating: "r\(rank)c\(c);", count: 20 + 13 * c) + "\n" }
    }

    func permissions(_ path: String) -> mode_t? {
        var st = stat()
        return stat(path, &st) == 0 ? st.st_mode & 0o777 : nil
    }

    /// Streamed text (predictions), both layouts, at 1 and 3 ranks, onto a regular file, a
    /// symbolic link and a FIFO: a link stays a link and the file it names (or the parts next
    /// to it) gets the text; a FIFO gets it straight through, in rank order, and parts onto a
    /// FIFO are refused with nothing written; no temporary file is left.
    func testStreamedTextInBothLayoutsOntoFilesLinksAndFIFOs() throws {
        try FileManager.default.createDirectory(atPath: path("sub"), withIntermediateDirectories: true)
        func stream(_ target: String, _ layout: ParallelFile.Layout, size p: Int, block: Int = ParallelFile.streamBlockBytes) throws {
            _ = try LocalWorld.run(size: p) { comm in
                try ParallelFile.write(target, layout: layout, comm: comm, streamBlock: block) { emit in
                    for line in Self.part(comm.rank) { try emit(line) }
                }
            }
        }
        for p in [1, 3] {
            let expected = (0 ..< p).map { Self.part($0).joined() }.joined()

            // single: a regular file is replaced, keeping its permission bits.
            try "old".write(toFile: path("file-\(p).csv"), atomically: false, encoding: .utf8)
            chmod(path("file-\(p).csv"), 0o640)
            try stream(path("file-\(p).csv"), .single, size: p)
            XCTAssertEqual(contents(path("file-\(p).csv")), expected, "p=\(p)")
            XCTAssertEqual(permissions(path("file-\(p).csv")), 0o640, "p=\(p)")

            // single: through a link to the file it names.
            try "old".write(toFile: path("sub/real-\(p).csv"), atomically: false, encoding: .utf8)
            XCTAssertEqual(symlink("sub/real-\(p).csv", path("link-\(p)")), 0)
            try stream(path("link-\(p)"), .single, size: p)
            XCTAssertEqual(fileType(path("link-\(p)")), S_IFLNK, "p=\(p)")
            XCTAssertEqual(contents(path("sub/real-\(p).csv")), expected, "p=\(p)")

            // single: into a FIFO by rank 0, with the other ranks' text in several messages.
            XCTAssertEqual(mkfifo(path("pipe-\(p)"), 0o644), 0)
            let reader = try FIFOReader(path("pipe-\(p)"), expected: expected.utf8.count)
            try stream(path("pipe-\(p)"), .single, size: p, block: 16)
            XCTAssertEqual(String(decoding: reader.wait(), as: UTF8.self), expected, "p=\(p)")
            XCTAssertEqual(fileType(path("pipe-\(p)")), S_IFIFO, "p=\(p)")

            // parts: one file per rank next to the output, which is not created.
            try stream(path("parts-\(p).csv"), .parts, size: p)
            for r in 0 ..< p {
                XCTAssertEqual(contents(ParallelFile.partName(path("parts-\(p).csv"), rank: r, size: p)), Self.part(r).joined(), "p=\(p) r=\(r)")
            }
            XCTAssertNil(fileType(path("parts-\(p).csv")), "p=\(p)")

            // parts: through a link, next to the file it names; the link and that file stay.
            try "old".write(toFile: path("sub/target-\(p).csv"), atomically: false, encoding: .utf8)
            XCTAssertEqual(symlink("sub/target-\(p).csv", path("plink-\(p)")), 0)
            try stream(path("plink-\(p)"), .parts, size: p)
            for r in 0 ..< p {
                XCTAssertEqual(contents(ParallelFile.partName(path("sub/target-\(p).csv"), rank: r, size: p)), Self.part(r).joined(), "p=\(p) r=\(r)")
                XCTAssertNil(fileType(ParallelFile.partName(path("plink-\(p)"), rank: r, size: p)), "p=\(p) r=\(r)")
            }
            XCTAssertEqual(fileType(path("plink-\(p)")), S_IFLNK, "p=\(p)")
            XCTAssertEqual(contents(path("sub/target-\(p).csv")), "old", "p=\(p)")

            // parts: a FIFO, even through a link, is refused before anything is written.
            XCTAssertEqual(symlink("pipe-\(p)", path("pipe-link-\(p)")), 0)
            for name in ["pipe-\(p)", "pipe-link-\(p)"] {
                XCTAssertThrowsError(try stream(path(name), .parts, size: p)) { e in
                    XCTAssertTrue("\(e)".contains("is a FIFO or a device, which takes one stream, not one file per rank"), "p=\(p): \(e)")
                }
            }
            XCTAssertEqual(fileType(path("pipe-\(p)")), S_IFIFO, "p=\(p)")

            // The buffer variant takes the parts layout too: rank 0's part starts with the header.
            _ = try LocalWorld.run(size: p) { comm in
                try Array(Self.part(comm.rank).dropFirst(comm.rank == 0 ? 1 : 0).joined().utf8).withUnsafeBytes {
                    try ParallelFile.write(self.path("bytes-\(p).csv"), header: Array("header\n".utf8), bytes: $0, layout: .parts, comm: comm)
                }
            }
            XCTAssertEqual((0 ..< p).compactMap { contents(ParallelFile.partName(path("bytes-\(p).csv"), rank: $0, size: p)) }.joined(), expected, "p=\(p)")
        }
        XCTAssertEqual(allNames().filter { $0.contains("tmp") || $0.contains("pipe-1.part") || $0.contains("pipe-3.part") }, [],
                       "no temporary file left, no part next to a FIFO")
    }

    /// A rank whose text fails midway ends the write on every rank: the error is the rank's
    /// own, the output is untouched and no temporary or part file is left, in either layout.
    func testAFailingRankLeavesTheOutputUntouchedAndNoTemporaryFile() throws {
        try "old".write(toFile: path("keep.csv"), atomically: false, encoding: .utf8)
        for layout in ParallelFile.Layout.allCases {
            for p in [1, 3] {
                XCTAssertThrowsError(try LocalWorld.run(size: p) { comm in
                    try ParallelFile.write(self.path("keep.csv"), layout: layout, comm: comm) { emit in
                        try emit(String(repeating: "rank \(comm.rank)\n", count: 1000))
                        if comm.rank == p - 1 { throw MPILearnError.numerical("rank \(comm.rank) failed") }
                    }
                }) { e in
                    XCTAssertEqual(e as? MPILearnError, .numerical("rank \(p - 1) failed"), "\(layout) p=\(p)")
                }
            }
        }
        XCTAssertEqual(contents(path("keep.csv")), "old")
        XCTAssertEqual(allNames(), ["keep.csv"])
    }
}
