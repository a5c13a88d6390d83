import Foundation
import SwiftMPI

/// One output file written by all ranks at once, atomically.
///
/// Rank 0 resolves the target (``OutputTarget``: a symbolic link is followed to the file it
/// names, which is replaced in its own folder, so the link stays a link), creates a temporary
/// file next to it, writes `header` and sizes the file; after a barrier every rank `pwrite`s
/// its bytes at its offset (the exclusive prefix sum of the byte counts, so blocks land in rank
/// order) and syncs; after a second barrier rank 0 renames the temporary file over the target.
/// A reader never sees a half-written file; if any rank fails the job aborts and the target is
/// untouched (a `.tmp` file may remain).
///
/// A FIFO or a device (`/dev/null`, `/dev/stdout`, a named pipe read by `gzip`) cannot be
/// written at offsets nor renamed over, and another node may not even have it: rank 0 alone
/// opens it and writes the header and every rank's bytes in rank order, straight through,
/// while the other ranks send it their bytes in blocks of ``streamBlockBytes``. The output is
/// the same bytes as a file would hold, but it is not atomic (a reader sees the bytes as they
/// come) and it goes at the speed of one writer. A folder or a socket is an error.
public enum ParallelFile {
    /// Bytes per message when ranks send their part to rank 0 for a FIFO or device target.
    public static let streamBlockBytes = 16 << 20

    /// What rank 0 decided, broadcast to all: a temporary file to fill at offsets and rename
    /// over `target`, or a stream rank 0 writes alone.
    private struct Plan: Codable {
        var stream: Bool
        var target: String
        var temporary: String
    }

    /// Tag of the blocks sent to rank 0 for a stream target.
    private static let streamTag = 7101

    /// Collective. Writes `header` (taken from rank 0) followed by every rank's `bytes` in
    /// rank order to `path`.
    /// - Throws: ``MPILearnError/cannotWrite`` naming the path and the system's reason (on
    ///   rank 0 for a folder, a socket, or a folder that does not exist).
    public static func write(_ path: String, header: [UInt8], bytes: UnsafeRawBufferPointer, comm: any Communicator) throws {
        try write(path, header: header, bytes: bytes, comm: comm, streamBlock: streamBlockBytes)
    }

    /// As the public `write`, with the block size of a stream target as a parameter (tests
    /// use small blocks to cover a rank's part spanning several messages).
    static func write(_ path: String, header: [UInt8], bytes: UnsafeRawBufferPointer, comm: any Communicator, streamBlock: Int) throws {
        let counts = try comm.allgatherCounts(bytes.count)
        let headerCount = try comm.broadcast(Int64(header.count), root: 0)
        let offset = Int(headerCount) + counts[0 ..< comm.rank].reduce(0, +)
        let total = Int(headerCount) + counts.reduce(0, +)
        var decided: Plan? = nil
        if comm.rank == 0 {
            switch try OutputTarget.resolve(path) {
            case let .stream(target):
                decided = Plan(stream: true, target: target, temporary: "")
            case let .file(target, mode):
                decided = Plan(stream: false, target: target, temporary: try createTemporary(next: target, mode: mode, header: header, total: total, path: path))
            }
        }
        let plan = try comm.broadcastObject(decided, root: 0)
        if plan.stream {
            try writeThrough(plan.target, path: path, header: header, bytes: bytes, counts: counts, block: max(1, streamBlock), comm: comm)
            return
        }
        let tmpPath = plan.temporary
        if bytes.count > 0 {
            let fd = open(tmpPath, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw MPILearnError.cannotWrite(path: path, reason: "\(tmpPath): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            try pwriteAll(fd, bytes, at: offset, path: path)
            if fsync(fd) != 0 { throw MPILearnError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        }
        try comm.barrier()
        if comm.rank == 0 {
            let fd = open(tmpPath, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { fsync(fd); close(fd) }
            if rename(tmpPath, plan.target) != 0 {
                let reason = String(cString: strerror(errno))
                unlink(tmpPath)
                throw MPILearnError.cannotWrite(path: path, reason: reason)
            }
        }
        try comm.barrier()
    }

    /// Rank 0: a new temporary file next to `target` holding `header`, sized to `total` bytes,
    /// with the permission bits of the file it will replace (`mode`) or 0644.
    private static func createTemporary(next target: String, mode: mode_t?, header: [UInt8], total: Int, path: String) throws -> String {
        let url = URL(fileURLWithPath: target)
        let name = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
        let fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw MPILearnError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        do {
            if let mode, fchmod(fd, mode) != 0 { throw MPILearnError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
            try header.withUnsafeBytes { try pwriteAll(fd, $0, at: 0, path: path) }
            if ftruncate(fd, off_t(total)) != 0 { throw MPILearnError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        } catch {
            unlink(name)
            throw error
        }
        return name
    }

    /// Collective. Rank 0 opens the FIFO or device `target` and writes the header, its bytes,
    /// then every other rank's bytes as they arrive, in rank order.
    private static func writeThrough(_ target: String, path: String, header: [UInt8], bytes: UnsafeRawBufferPointer,
                                     counts: [Int], block: Int, comm: any Communicator) throws {
        if comm.rank == 0 {
            let fd = try OutputTarget.openStream(target, reportedAs: path)
            defer { close(fd) }
            try header.withUnsafeBytes { try OutputTarget.writeAll(fd, $0, name: path) }
            try OutputTarget.writeAll(fd, bytes, name: path)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: min(block, counts.dropFirst().max() ?? 0), alignment: 16)
            defer { buffer.deallocate() }
            for r in 1 ..< comm.size {
                var received = 0
                while received < counts[r] {
                    let want = min(block, counts[r] - received)
                    let info = try comm.receiveRaw(buffer.baseAddress, capacity: want, kind: .uint8, from: r, tag: streamTag)
                    guard info.count == want else {
                        throw MPILearnError.cannotWrite(path: path, reason: "rank \(r) sent \(info.count) bytes where \(want) were expected")
                    }
                    try OutputTarget.writeAll(fd, UnsafeRawBufferPointer(rebasing: buffer[0 ..< want]), name: path)
                    received += want
                }
            }
        } else {
            var sent = 0
            while sent < bytes.count {
                let n = min(block, bytes.count - sent)
                try comm.sendRaw(bytes.baseAddress! + sent, count: n, kind: .uint8, to: 0, tag: streamTag)
                sent += n
            }
        }
        try comm.barrier()
    }

    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw MPILearnError.cannotWrite(path: path, reason: String(cString: strerror(errno)))
            }
            done += n
        }
    }
}
