import Foundation

/// Where an output path really leads, decided before anything is written: the rule every
/// writer of the library follows (``AtomicFile``, ``ParallelFile``).
///
/// - A symbolic link is followed, through every level, to the path it finally names; a
///   regular file there is replaced atomically *in that file's folder*, so the link stays a
///   link and now leads to the new content. A link to a name that does not exist yet creates
///   the file it names.
/// - A regular file (or a name not yet taken, in an existing folder) is replaced atomically:
///   a temporary file in the same folder, renamed over it. The replaced file's permission bits
///   are kept.
/// - A character or block device (`/dev/null`, `/dev/stdout`, a tape) or a FIFO is opened
///   for writing and written straight through: no temporary file, no rename (renaming over
///   `/dev/null` would replace the device with a regular file). Such outputs are not atomic:
///   a reader sees the bytes as they are written.
/// - A folder or a socket is an error.
public enum OutputTarget: Equatable, Sendable {
    /// Replace the regular file (or create the file) at `path` through a temporary file in its
    /// folder; `mode` holds the permission bits of the file replaced, if there was one.
    case file(path: String, mode: mode_t?)
    /// Open `path` (a FIFO or a device) for writing and write straight through.
    case stream(path: String)

    /// The path bytes go to, after following links.
    public var path: String {
        switch self {
        case let .file(path, _), let .stream(path): return path
        }
    }

    /// Links followed before giving up (Linux's own limit, `MAXSYMLINKS`, is 40).
    static let maximumLinks = 40

    /// Follows `path` through symbolic links and classifies what it ends at.
    /// - Throws: ``MPILearnError/cannotWrite`` naming `path` for a folder, a socket, a loop of
    ///   links, a missing folder, or a path the system cannot examine.
    public static func resolve(_ path: String) throws -> OutputTarget {
        func fail(_ reason: String) -> MPILearnError { .cannotWrite(path: path, reason: reason) }
        var current = path
        // The path a reason is about, when links led away from `path`.
        func at() -> String { current == path ? "" : "\(current): " }
        for _ in 0 ... maximumLinks {
            var st = stat()
            if lstat(current, &st) != 0 {
                guard errno == ENOENT else { throw fail(at() + String(cString: strerror(errno))) }
                // Not there yet: a new file, in a folder that must exist.
                let dir = (current as NSString).deletingLastPathComponent
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: dir.isEmpty ? "." : dir, isDirectory: &isDir), isDir.boolValue else {
                    throw fail("folder \(dir.isEmpty ? "." : dir) does not exist")
                }
                return .file(path: current, mode: nil)
            }
            switch st.st_mode & S_IFMT {
            case S_IFLNK:
                guard let target = readLink(current) else { throw fail("cannot read the link \(current): \(String(cString: strerror(errno)))") }
                current = target.hasPrefix("/") ? target : ((current as NSString).deletingLastPathComponent as NSString).appendingPathComponent(target)
            case S_IFREG:
                return .file(path: current, mode: st.st_mode & 0o7777)
            case S_IFDIR:
                throw fail(current == path ? "is a folder" : "the link leads to the folder \(current)")
            case S_IFCHR, S_IFBLK, S_IFIFO:
                return .stream(path: current)
            case S_IFSOCK:
                throw fail("\(current == path ? "it" : current) is a socket; write to a file, a FIFO or a device")
            default:
                throw fail(at() + "neither a file, a FIFO nor a device")
            }
        }
        throw fail("more than \(maximumLinks) levels of symbolic links (a loop?)")
    }

    /// The target of the link at `path`, as stored (absolute or relative to the link's folder).
    /// Checks, before any work, that the folder of `path` exists and is writable.
    /// - Throws: ``MPILearnError/cannotWrite`` naming the path and its folder.
    public static func requireWritableFolder(of path: String) throws {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue, FileManager.default.isWritableFile(atPath: dir) else {
            throw MPILearnError.cannotWrite(path: path, reason: "folder \(dir) does not exist or is not writable")
        }
    }

    private static func readLink(_ path: String) -> String? {
        var size = 256
        while true {
            var buf = [CChar](repeating: 0, count: size)
            let n = readlink(path, &buf, size)
            if n < 0 { return nil }
            if n < size { return String(decoding: buf[0 ..< n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
            size *= 4
        }
    }

    /// Opens a FIFO or a device for writing (blocks until a FIFO has a reader).
    /// - Throws: ``MPILearnError/cannotWrite`` with the system's reason.
    static func openStream(_ path: String, reportedAs name: String) throws -> Int32 {
        while true {
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            if fd >= 0 { return fd }
            if errno == EINTR { continue }
            throw MPILearnError.cannotWrite(path: name, reason: "\(name == path ? "" : "\(path): ")\(String(cString: strerror(errno)))")
        }
    }

    /// Writes all of `bytes` at the descriptor's position, retrying short writes.
    /// - Throws: ``MPILearnError/cannotWrite`` naming `name`.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, name: String) throws {
        var done = 0
        while done < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw MPILearnError.cannotWrite(path: name, reason: String(cString: strerror(errno)))
            }
            done += n
        }
    }
}
