import Foundation
import SwiftMPI

/// Writes one output from every rank's part: each rank streams its text into a private
/// temporary file; then either every rank copies its part into one shared file at its
/// offset (`single`, renamed into place by rank 0 when all are done) or renames its part
/// to `OUTPUT.part-RRRRR-of-PPPPP` (`parts`; concatenating the parts in rank order gives
/// the single file).
public enum PartitionedOutput {
    public static func partName(_ output: String, rank: Int, size: Int) -> String {
        String(format: "%@.part-%05d-of-%05d", output, rank, size)
    }

    /// Collective. Writes `output` from every rank's text (see the type's discussion).
    public static func write(_ output: String, mode: String, comm: any Communicator, body: (_ emit: (String) throws -> Void) throws -> Void) throws {
        let url = URL(fileURLWithPath: output)
        let dir = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw MPILearnError.cannotWrite(path: output, reason: "folder \(dir) does not exist")
        }
        let tmp = "\(dir)/.\(url.lastPathComponent).rank\(comm.rank)-\(getpid()).tmp"
        guard FileManager.default.createFile(atPath: tmp, contents: nil), let fh = FileHandle(forWritingAtPath: tmp) else {
            throw MPILearnError.cannotWrite(path: tmp, reason: String(cString: strerror(errno)))
        }
        var written = 0
        do {
            try body { text in
                let d = Data(text.utf8)
                try fh.write(contentsOf: d)
                written += d.count
            }
            try fh.synchronize()
            try fh.close()
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw MPILearnError.cannotWrite(path: output, reason: "\(error)")
        }
        if mode == "parts" {
            let final = partName(output, rank: comm.rank, size: comm.size)
            guard rename(tmp, final) == 0 else { throw MPILearnError.cannotWrite(path: final, reason: String(cString: strerror(errno))) }
            try comm.barrier()
            return
        }
        let sizes = try comm.allgatherCounts(written)
        let offset = sizes[..<comm.rank].reduce(0, +), total = sizes.reduce(0, +)
        var sharedTmp = ""
        if comm.rank == 0 {
            sharedTmp = "\(dir)/.\(url.lastPathComponent).tmp-\(getpid())"
            let fd = open(sharedTmp, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
            guard fd >= 0, ftruncate(fd, off_t(total)) == 0 else { throw MPILearnError.cannotWrite(path: sharedTmp, reason: String(cString: strerror(errno))) }
            close(fd)
        }
        sharedTmp = try comm.broadcastObject(comm.rank == 0 ? sharedTmp : nil)
        let fd = open(sharedTmp, O_WRONLY)
        guard fd >= 0 else { throw MPILearnError.cannotWrite(path: sharedTmp, reason: String(cString: strerror(errno))) }
        guard let src = FileHandle(forReadingAtPath: tmp) else { throw MPILearnError.cannotWrite(path: tmp, reason: "cannot reopen part") }
        var at = offset
        while true {
            let block = src.readData(ofLength: 4 << 20)
            if block.isEmpty { break }
            let n = block.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(at)) }
            guard n == block.count else { throw MPILearnError.cannotWrite(path: output, reason: String(cString: strerror(errno))) }
            at += n
        }
        fsync(fd)
        close(fd)
        try? src.close()
        try? FileManager.default.removeItem(atPath: tmp)
        try comm.barrier()
        if comm.rank == 0 {
            guard rename(sharedTmp, output) == 0 else { throw MPILearnError.cannotWrite(path: output, reason: String(cString: strerror(errno))) }
        }
        try comm.barrier()
    }
}

/// Classification metrics printed by `score` and `run`.
