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
                    try ParallelFile.write(self.path("pipe-\(p)"), header: comm.rank == 0 ? header : [], bytes: $0, comm: comm, streamBlock: 64)
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
}
