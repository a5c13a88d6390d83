import Foundation
import SwiftMPI

/// One output written by all ranks at once: every rank's bytes in rank order, as one file
/// (``Layout/single``) or as one file per rank (``Layout/parts``).
///
/// A rank's bytes come from a buffer (`write(_:header:bytes:layout:comm:)`: CSV, NPY, labels)
/// or are streamed as text (`write(_:layout:comm:body:)`: predictions, chunk by chunk). Streamed
/// text goes to a scratch file that is unlinked as soon as it is created, so memory stays
/// bounded and no scratch file outlives the process.
///
/// Rank 0 resolves the path first (``OutputTarget``) and tells the other ranks what it found:
///
/// - A regular file, or a name not yet taken. A symbolic link is followed to the file it
///   names, which is replaced in its own folder, so the link stays a link. Rank 0 creates a
///   temporary file next to the target, sized to the total; every rank `pwrite`s its bytes at
///   its offset (the exclusive prefix sum of the byte counts, so blocks land in rank order)
///   and syncs; after a barrier rank 0 renames the temporary file over the target. A reader
///   never sees a half-written file.
/// - A FIFO or a device (`/dev/null`, `/dev/stdout`, a named pipe read by `gzip`). It cannot
///   be written at offsets nor renamed over, and another node may not even have it: rank 0
///   alone opens it and writes every rank's bytes in rank order, straight through, while the
///   other ranks send it theirs in blocks of ``streamBlockBytes``. The bytes are the same as a
///   file would hold, but not atomic (a reader sees them as they come) and at the speed of one
///   writer.
/// - A folder or a socket is an error.
///
/// With ``Layout/parts`` rank r writes ``partName(_:rank:size:)`` of the target (after
/// following links, so the parts sit next to the file a link names) through its own temporary
/// file, renamed over the part once every rank has written. A FIFO or a device target is an
/// error: it takes one stream, and its folder (`/dev`) is no place for files.
///
/// Temporary files have unique names (`.NAME.tmp-PID-RANDOM`, created exclusively) and are
/// removed when the write fails in this process; a job ended by `MPI_Abort` may leave one.
public enum ParallelFile {
    /// How the ranks' bytes are laid out.
    public enum Layout: String, Codable, Sendable, CaseIterable {
        /// One file: every rank's bytes in rank order.
        case single
        /// One file per rank, `TARGET.part-RRRRR-of-PPPPP`; concatenated in rank order, the
        /// parts are the single file.
        case parts
    }

    /// Bytes per message when ranks send their part to rank 0 for a FIFO or device target.
    public static let streamBlockBytes = 16 << 20

    /// Bytes buffered before streamed text is written, and read per block when a rank copies
    /// its scratch file.
    static let copyBlockBytes = 4 << 20

    /// The file rank `rank` of `size` writes for `path` in the ``Layout/parts`` layout:
    /// `PATH.part-RRRRR-of-PPPPP`.
    public static func partName(_ path: String, rank: Int, size: Int) -> String {
        path + String(format: ".part-%05d-of-%05d", rank, size)
    }

    /// Collective. Writes `header` (taken from rank 0) followed by every rank's `bytes` in
    /// rank order to `path`; with ``Layout/parts`` rank 0's part starts with the header.
    /// - Throws: ``MPILearnError/cannotWrite`` naming the path and the system's reason (on
    ///   rank 0 for a folder, a socket, a folder that does not exist, or parts onto a FIFO or
    ///   a device).
    public static func write(_ path: String, header: [UInt8] = [], bytes: UnsafeRawBufferPointer, layout: Layout = .single,
                             comm: any Communicator) throws {
        try write(path, header: header, bytes: bytes, layout: layout, comm: comm, streamBlock: streamBlockBytes)
    }

    /// Collective. Runs `body` on every rank with an `emit` function that appends text to
    /// the rank's part, then writes every rank's text in rank order to `path` (see the type's
    /// discussion). `body` may call collectives: every rank runs it at the same point.
    ///
    /// ```swift
    /// try ParallelFile.write("predictions.csv", comm: comm) { emit in
    ///     if comm.rank == 0 { try emit("prediction\n") }
    ///     for chunk in chunks { try emit(lines(chunk)) }
    /// }
    /// ```
    /// - Throws: what `body` throws (the output is left untouched), or
    ///   ``MPILearnError/cannotWrite`` as the buffer variant.
    public static func write(_ path: String, layout: Layout = .single, comm: any Communicator,
                             body: (_ emit: (String) throws -> Void) throws -> Void) throws {
        try write(path, layout: layout, comm: comm, streamBlock: streamBlockBytes, body: body)
    }

    /// As the public buffer `write`, with the block size of a stream target as a parameter
    /// (tests use small blocks to cover a rank's part spanning several messages).
    static func write(_ path: String, header: [UInt8], bytes: UnsafeRawBufferPointer, layout: Layout,
                      comm: any Communicator, streamBlock: Int) throws {
        let plan = try self.plan(path, layout: layout, comm: comm)
        let head = comm.rank == 0 ? header : []
        if plan.stream {
            let fd = try comm.rank == 0 ? OutputTarget.openStream(plan.target, reportedAs: path) : -1
            defer { if fd >= 0 { close(fd) } }
            if fd >= 0 { try head.withUnsafeBytes { try OutputTarget.writeAll(fd, $0, name: path) } }
            try relay(fd, part: .memory(bytes), path: path, block: max(1, streamBlock), comm: comm)
        } else if layout == .parts {
            try writePart(plan, path: path, comm: comm) { fd in
                try head.withUnsafeBytes { try OutputTarget.writeAll(fd, $0, name: path) }
                try OutputTarget.writeAll(fd, bytes, name: path)
            }
        } else {
            try fill(plan, path: path, header: head, part: .memory(bytes), comm: comm)
        }
    }

    /// As the public streamed `write`, with the block size of a stream target as a parameter.
    static func write(_ path: String, layout: Layout, comm: any Communicator, streamBlock: Int,
                      body: (_ emit: (String) throws -> Void) throws -> Void) throws {
        let plan = try self.plan(path, layout: layout, comm: comm)
        let block = max(1, streamBlock)
        if plan.stream && comm.rank == 0 {
            // Rank 0 writes its own text straight through, then relays the others'.
            let fd = try OutputTarget.openStream(plan.target, reportedAs: path)
            defer { close(fd) }
            let sink = TextSink(fd, name: path)
            try body(sink.append)
            try sink.flush()
            try relay(fd, part: .memory(UnsafeRawBufferPointer(start: nil, count: 0)), path: path, block: block, comm: comm)
        } else if plan.stream {
            let fd = try scratchFile(in: FileManager.default.temporaryDirectory.path, for: plan.target, path: path)
            defer { close(fd) }
            let sink = TextSink(fd, name: path)
            try body(sink.append)
            try sink.flush()
            try relay(-1, part: .file(fd, count: sink.count), path: path, block: block, comm: comm)
        } else if layout == .parts {
            try writePart(plan, path: path, comm: comm) { fd in
                let sink = TextSink(fd, name: path)
                try body(sink.append)
                try sink.flush()
            }
        } else {
            let fd = try scratchFile(in: (plan.target as NSString).deletingLastPathComponent, for: plan.target, path: path)
            defer { close(fd) }
            let sink = TextSink(fd, name: path)
            try body(sink.append)
            try sink.flush()
            try fill(plan, path: path, header: [], part: .file(fd, count: sink.count), comm: comm)
        }
    }

    /// Collective. Runs `body` on every rank with an `emit` function that appends bytes to
    /// the rank's part (kept in an unlinked scratch file, so memory stays bounded), then writes
    /// `header(total)` — made on rank 0 once every rank's byte count is known — followed by
    /// every rank's bytes in rank order to `path` (see the type's discussion: links followed,
    /// FIFOs and devices written straight through, parts on request). For a format whose
    /// header holds the row count (NPY), which is only known when every rank is done.
    /// `body` may call collectives.
    public static func write(_ path: String, layout: Layout = .single, comm: any Communicator,
                             header: (_ totalBodyBytes: Int) -> [UInt8],
                             bytes body: (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let plan = try self.plan(path, layout: layout, comm: comm)
        let folder = plan.stream ? FileManager.default.temporaryDirectory.path : (plan.target as NSString).deletingLastPathComponent
        let fd = try scratchFile(in: folder, for: plan.target, path: path)
        defer { close(fd) }
        let sink = TextSink(fd, name: path)
        try body(sink.append)
        try sink.flush()
        let total = Int(try comm.allreduce(Int64(sink.count), op: .sum))
        let head = comm.rank == 0 ? header(total) : []
        if plan.stream {
            let out = try comm.rank == 0 ? OutputTarget.openStream(plan.target, reportedAs: path) : -1
            defer { if out >= 0 { close(out) } }
            if out >= 0 { try head.withUnsafeBytes { try OutputTarget.writeAll(out, $0, name: path) } }
            try relay(out, part: .file(fd, count: sink.count), path: path, block: streamBlockBytes, comm: comm)
        } else if layout == .parts {
            try writePart(plan, path: path, comm: comm) { out in
                try head.withUnsafeBytes { try OutputTarget.writeAll(out, $0, name: path) }
                try Part.file(fd, count: sink.count).forEachBlock(copyBlockBytes, path: path) { try OutputTarget.writeAll(out, $0, name: path) }
            }
        } else {
            try fill(plan, path: path, header: head, part: .file(fd, count: sink.count), comm: comm)
        }
    }

    // MARK: - Plan

    /// What rank 0 found at the path, broadcast to all.
    private struct Plan: Codable {
        /// The path bytes go to, after following links.
        var target: String
        /// A FIFO or a device, written straight through by rank 0.
        var stream: Bool
        /// The permission bits of the regular file replaced, if there was one.
        var mode: UInt32?
    }

    /// Collective. Rank 0 resolves `path` (``OutputTarget``) and broadcasts the plan.
    private static func plan(_ path: String, layout: Layout, comm: any Communicator) throws -> Plan {
        var decided: Plan? = nil
        if comm.rank == 0 {
            switch try OutputTarget.resolve(path) {
            case let .stream(target):
                guard layout == .single else {
                    throw MPILearnError.cannotWrite(path: path, reason: "\(target == path ? "it" : target) is a FIFO or a device, which takes one "
                        + "stream, not one file per rank (the parts layout); write it as a single file")
                }
                decided = Plan(target: target, stream: true, mode: nil)
            case let .file(target, mode):
                decided = Plan(target: target, stream: false, mode: mode.map { UInt32($0) })
            }
        }
        return try comm.broadcastObject(decided, root: 0)
    }

    // MARK: - One regular file

    /// Collective. Rank 0 creates a temporary file next to `plan.target` sized to the total;
    /// every rank writes its header and part at its offset and syncs; rank 0 renames the
    /// temporary file over the target (or removes it on an error).
    private static func fill(_ plan: Plan, path: String, header: [UInt8], part: Part, comm: any Communicator) throws {
        let counts = try comm.allgatherCounts(header.count + part.count)
        let offset = counts[..<comm.rank].reduce(0, +), total = counts.reduce(0, +)
        var created: String? = nil
        if comm.rank == 0 {
            let (fd, name) = try createUnique(next: plan.target, path: path)
            defer { close(fd) }
            do {
                if let mode = plan.mode, fchmod(fd, mode_t(mode)) != 0 { throw systemError(path) }
                if ftruncate(fd, off_t(total)) != 0 { throw systemError(path) }
            } catch {
                unlink(name)
                throw error
            }
            created = name
        }
        let temporary = try comm.broadcastObject(created, root: 0)
        do {
            if counts[comm.rank] > 0 {
                let fd = open(temporary, O_WRONLY | O_CLOEXEC)
                guard fd >= 0 else { throw systemError(path, "\(temporary): ") }
                defer { close(fd) }
                try header.withUnsafeBytes { try pwriteAll(fd, $0, at: offset, path: path) }
                var at = offset + header.count
                try part.forEachBlock(copyBlockBytes, path: path) { bytes in
                    try pwriteAll(fd, bytes, at: at, path: path)
                    at += bytes.count
                }
                if fsync(fd) != 0 { throw systemError(path) }
            }
            try comm.barrier()
            if comm.rank == 0 {
                let fd = open(temporary, O_RDONLY | O_CLOEXEC)
                if fd >= 0 { fsync(fd); close(fd) }
                if rename(temporary, plan.target) != 0 { throw systemError(path) }
            }
        } catch {
            if comm.rank == 0 { unlink(temporary) }
            throw error
        }
        try comm.barrier()
    }

    // MARK: - One file per rank

    /// Collective. This rank resolves its part (a link is followed; a FIFO or a device is an
    /// error), has `fill` write it into a temporary file next to it, and after a barrier
    /// renames that file over the part.
    private static func writePart(_ plan: Plan, path: String, comm: any Communicator, fill: (_ fd: Int32) throws -> Void) throws {
        let name = partName(plan.target, rank: comm.rank, size: comm.size)
        let target: String, mode: mode_t?
        switch try OutputTarget.resolve(name) {
        case let .file(t, m): (target, mode) = (t, m)
        case let .stream(t):
            throw MPILearnError.cannotWrite(path: name, reason: "\(t == name ? "it" : t) is a FIFO or a device; a part must be a file")
        }
        let (fd, temporary) = try createUnique(next: target, path: name)
        do {
            defer { close(fd) }
            if let mode, fchmod(fd, mode) != 0 { throw systemError(name) }
            try fill(fd)
            if fsync(fd) != 0 { throw systemError(name) }
        } catch {
            unlink(temporary)
            throw error
        }
        do {
            try comm.barrier()
            if rename(temporary, target) != 0 { throw systemError(name) }
        } catch {
            unlink(temporary)
            throw error
        }
        try comm.barrier()
    }

    // MARK: - A FIFO or a device

    /// Tag of the blocks sent to rank 0 for a stream target.
    private static let streamTag = 7101

    /// Collective. Rank 0 writes its `part` to the stream `fd`, then every other rank's part
    /// as it arrives, in rank order; the other ranks send theirs in blocks of `block` bytes.
    private static func relay(_ fd: Int32, part: Part, path: String, block: Int, comm: any Communicator) throws {
        let counts = try comm.allgatherCounts(part.count)
        if comm.rank == 0 {
            try part.forEachBlock(block, path: path) { try OutputTarget.writeAll(fd, $0, name: path) }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, min(block, counts.dropFirst().max() ?? 0)), alignment: 16)
            defer { buffer.deallocate() }
            for r in 1 ..< comm.size {
                var received = 0
                while received < counts[r] {
                    let want = min(buffer.count, counts[r] - received)
                    let info = try comm.receiveRaw(buffer.baseAddress, capacity: want, kind: .uint8, from: r, tag: streamTag)
                    guard info.count > 0 else {
                        throw MPILearnError.cannotWrite(path: path, reason: "rank \(r) sent an empty block after \(received) of \(counts[r]) bytes")
                    }
                    try OutputTarget.writeAll(fd, UnsafeRawBufferPointer(rebasing: buffer[0 ..< info.count]), name: path)
                    received += info.count
                }
            }
        } else {
            try part.forEachBlock(block, path: path) { try comm.sendRaw($0.baseAddress, count: $0.count, kind: .uint8, to: 0, tag: streamTag) }
        }
        try comm.barrier()
    }

    // MARK: - Parts, scratch files and system calls

    /// One rank's bytes: the caller's buffer, or the scratch file its text was streamed into.
    private enum Part {
        case memory(UnsafeRawBufferPointer)
        case file(Int32, count: Int)

        var count: Int {
            switch self {
            case let .memory(bytes): return bytes.count
            case let .file(_, count): return count
            }
        }

        /// Calls `body` with the bytes in order, in blocks of `block` bytes (the last may be
        /// shorter).
        func forEachBlock(_ block: Int, path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
            switch self {
            case let .memory(bytes):
                var done = 0
                while done < bytes.count {
                    let n = min(block, bytes.count - done)
                    try body(UnsafeRawBufferPointer(rebasing: bytes[done ..< done + n]))
                    done += n
                }
            case let .file(fd, count):
                guard count > 0 else { return }
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: min(block, count), alignment: 16)
                defer { buffer.deallocate() }
                var done = 0
                while done < count {
                    let want = min(buffer.count, count - done)
                    var filled = 0
                    while filled < want {
                        let n = pread(fd, buffer.baseAddress! + filled, want - filled, off_t(done + filled))
                        if n < 0 {
                            if errno == EINTR { continue }
                            throw ParallelFile.systemError(path, "reading this rank's part back: ")
                        }
                        guard n > 0 else {
                            throw MPILearnError.cannotWrite(path: path, reason: "this rank's part ended after \(done + filled) of \(count) bytes")
                        }
                        filled += n
                    }
                    try body(UnsafeRawBufferPointer(rebasing: buffer[0 ..< want]))
                    done += want
                }
            }
        }
    }

    /// Buffers streamed text and writes it to a descriptor in large blocks.
    private final class TextSink {
        let fd: Int32
        let name: String
        private var written = 0
        private var buffer: [UInt8] = []

        init(_ fd: Int32, name: String) {
            self.fd = fd
            self.name = name
            buffer.reserveCapacity(ParallelFile.copyBlockBytes)
        }

        /// Bytes appended so far.
        var count: Int { written + buffer.count }

        func append(_ bytes: UnsafeRawBufferPointer) throws {
            if buffer.count + bytes.count > ParallelFile.copyBlockBytes { try flush() }
            if bytes.count >= ParallelFile.copyBlockBytes {
                try OutputTarget.writeAll(fd, bytes, name: name)
                written += bytes.count
            } else {
                buffer.append(contentsOf: bytes)
            }
        }

        func append(_ text: String) throws {
            let n = text.utf8.count
            if buffer.count + n > ParallelFile.copyBlockBytes { try flush() }
            if n >= ParallelFile.copyBlockBytes {
                var text = text
                try text.withUTF8 { try OutputTarget.writeAll(fd, UnsafeRawBufferPointer($0), name: name) }
                written += n
            } else {
                buffer.append(contentsOf: text.utf8)
            }
        }

        func flush() throws {
            try buffer.withUnsafeBytes { try OutputTarget.writeAll(fd, $0, name: name) }
            written += buffer.count
            buffer.removeAll(keepingCapacity: true)
        }
    }

    /// Creates a new file named `.NAME.tmp-PID-RANDOM` in the folder of `target` (NAME its
    /// last component), exclusively, mode 0644.
    /// - Returns: the open descriptor (read and write) and the file's path.
    static func createUnique(next target: String, path: String) throws -> (fd: Int32, path: String) {
        let folder = (target as NSString).deletingLastPathComponent
        let base = (target as NSString).lastPathComponent
        while true {
            let suffix = String(UInt64.random(in: 0 ... .max), radix: 36)
            let name = (folder.isEmpty ? "" : folder + "/") + ".\(base).tmp-\(getpid())-\(suffix)"
            let fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd >= 0 { return (fd, name) }
            if errno == EEXIST || errno == EINTR { continue }
            throw systemError(path, "cannot create a temporary file in \(folder.isEmpty ? "." : folder): ")
        }
    }

    /// A scratch file in `folder` for this rank's text, unlinked at once: only the returned
    /// descriptor reaches it, and the system frees it when the descriptor is closed, even if
    /// the process is killed.
    private static func scratchFile(in folder: String, for target: String, path: String) throws -> Int32 {
        let (fd, name) = try createUnique(next: (folder as NSString).appendingPathComponent((target as NSString).lastPathComponent), path: path)
        unlink(name)
        return fd
    }

    /// ``MPILearnError/cannotWrite`` naming `path`, with `context` and the reason in `errno`.
    static func systemError(_ path: String, _ context: String = "") -> MPILearnError {
        .cannotWrite(path: path, reason: context + String(cString: strerror(errno)))
    }

    /// Writes all of `bytes` at `offset`, retrying short and interrupted writes.
    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw systemError(path)
            }
            done += n
        }
    }
}
