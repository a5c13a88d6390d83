import Foundation

/// Writes outputs so a reader never sees a half-written file: the bytes go to a temporary
/// file in the same folder, are flushed, and the temporary file is renamed over the target.
///
/// The target is resolved first (``OutputTarget``): a symbolic link is followed to the file
/// it names, which is replaced in its own folder (the link stays a link); a FIFO or a device
/// such as `/dev/null` is written straight through, without a temporary file or a rename;
/// a folder or a socket is an error.
public enum AtomicFile {
    /// Writes `data` to `path`: atomically for a file, straight through for a FIFO or device.
    /// - Throws: ``MPILearnError/cannotWrite`` naming the path and the system's reason.
    public static func write(_ data: Data, to path: String) throws {
        switch try OutputTarget.resolve(path) {
        case let .stream(target):
            let fd = try OutputTarget.openStream(target, reportedAs: path)
            defer { close(fd) }
            try data.withUnsafeBytes { try OutputTarget.writeAll(fd, $0, name: path) }
        case let .file(target, mode):
            try replace(target, with: data, mode: mode, reportedAs: path)
        }
    }

    /// Writes `text` as UTF-8 to `path` (see the `Data` variant).
    public static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }

    /// Writes `data` to a new temporary file next to `target`, syncs it and renames it over
    /// `target`; `mode`, if given, becomes the new file's permission bits.
    static func replace(_ target: String, with data: Data, mode: mode_t?, reportedAs name: String) throws {
        let url = URL(fileURLWithPath: target)
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
        func failure() -> MPILearnError { .cannotWrite(path: name, reason: String(cString: strerror(errno))) }
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw failure() }
        do {
            defer { close(fd) }
            if let mode, fchmod(fd, mode) != 0 { throw failure() }
            try data.withUnsafeBytes { try OutputTarget.writeAll(fd, $0, name: name) }
            if fsync(fd) != 0 { throw failure() }
            if rename(tmp, target) != 0 { throw failure() }
        } catch {
            unlink(tmp)
            throw error
        }
    }
}
