import Foundation
import SwiftMPI

/// One output file written by all ranks at once, atomically.
///
/// Rank 0 creates a temporary file next to the target, writes `header` and sizes the file;
/// after a barrier every rank `pwrite`s its bytes at its offset (the exclusive prefix sum of
/// the byte counts, so blocks land in rank order) and syncs; after a second barrier rank 0
/// renames the temporary file over the target. A reader never sees a half-written file; if
/// any rank fails the job aborts and the target is untouched (a `.tmp` file may remain).
public enum ParallelFile {
    /// Collective. Writes `header` (taken from rank 0) followed by every rank's `bytes` in
    /// rank order to `path`.
    /// - Throws: ``MPILearnError/cannotWrite`` naming the path and the system's reason.
    public static func write(_ path: String, header: [UInt8], bytes: UnsafeRawBufferPointer, comm: any Communicator) throws {
        let counts = try comm.allgatherCounts(bytes.count)
        let headerCount = try comm.broadcast(Int64(header.count), root: 0)
        let offset = Int(headerCount) + counts[0 ..< comm.rank].reduce(0, +)
        let total = Int(headerCount) + counts.reduce(0, +)
        var tmp: String? = nil
        if comm.rank == 0 {
            let url = URL(fileURLWithPath: path)
            let dir = url.deletingLastPathComponent().path
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                throw MPILearnError.cannotWrite(path: path, reason: "folder \(dir) does not exist")
            }
            let name = (dir as NSString).appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))")
            let fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw MPILearnError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
            defer { close(fd) }
            do {
                try header.withUnsafeBytes { try pwriteAll(fd, $0, at: 0, path: path) }
                if ftruncate(fd, off_t(total)) != 0 { throw MPILearnError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
            } catch {
                unlink(name)
                throw error
            }
            tmp = name
        }
        let tmpPath = try comm.broadcastObject(tmp, root: 0)
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
            if rename(tmpPath, path) != 0 {
                let reason = String(cString: strerror(errno))
                unlink(tmpPath)
                throw MPILearnError.cannotWrite(path: path, reason: reason)
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
