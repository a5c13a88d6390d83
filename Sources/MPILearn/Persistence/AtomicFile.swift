import Foundation

/// Writes outputs so a reader never sees a half-written file: the bytes go to a temporary
/// file in the same folder, are flushed, and the temporary file is renamed over the target.
public enum AtomicFile {
    /// Writes `data` to `path` atomically.
    /// - Throws: ``MPILearnError/cannotWrite`` naming the path and the system's reason.
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent()
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw MPILearnError.cannotWrite(path: path, reason: "folder \(dir.path) does not exist")
        }
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        do {
            try data.write(to: tmp, options: [])
            let fd = open(tmp.path, O_RDONLY)
            if fd >= 0 { fsync(fd); close(fd) }
            if rename(tmp.path, url.path) != 0 {
                throw MPILearnError.cannotWrite(path: path, reason: String(cString: strerror(errno)))
            }
        } catch let e as MPILearnError {
            try? FileManager.default.removeItem(at: tmp)
            throw e
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw MPILearnError.cannotWrite(path: path, reason: (error as NSError).localizedDescription)
        }
    }

    /// Writes `text` as UTF-8 to `path` atomically.
    public static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }
}
