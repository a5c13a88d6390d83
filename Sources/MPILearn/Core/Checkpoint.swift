import CKernels
import Foundation
import SwiftMPI

/// Where and how often a long fit saves its state (`--checkpoint DIR --checkpoint-every N|Ns
/// --resume`).
public struct CheckpointOptions: Sendable, Equatable {
    /// How often to save: every `n` units of work (Lloyd iterations, trees per rank, search
    /// tasks, solver iterations), or every so many seconds by rank 0's clock.
    public enum Interval: Sendable, Equatable, CustomStringConvertible {
        case units(Int)
        case seconds(Double)

        /// Parses `10` (units), `90s`, `15m` or `2h`.
        public init(parsing text: String) throws {
            let t = text.trimmingCharacters(in: .whitespaces).lowercased()
            func bad() -> MPILearnError {
                .invalidParameter(name: "--checkpoint-every", value: text, allowed: "a positive count of units (e.g. 10) or a time: 90s, 15m, 2h")
            }
            let scale: Double? = t.hasSuffix("s") ? 1 : t.hasSuffix("m") ? 60 : t.hasSuffix("h") ? 3600 : nil
            if let scale {
                guard let v = Double(t.dropLast().trimmingCharacters(in: .whitespaces)), v.isFinite, v > 0 else { throw bad() }
                self = .seconds(v * scale)
            } else {
                guard let n = Int(t), n >= 1 else { throw bad() }
                self = .units(n)
            }
        }

        public var description: String {
            switch self {
            case let .units(n): return "\(n)"
            case let .seconds(s): return "\(s)s"
            }
        }
    }

    public var directory: String
    /// nil: only when a stop signal arrives.
    public var every: Interval?
    /// Continue from the directory's checkpoint (a directory without one starts from the beginning).
    public var resume: Bool

    public init(directory: String, every: Interval? = nil, resume: Bool = false) {
        self.directory = directory
        self.every = every
        self.resume = resume
    }
}

/// A rank's saved state: a JSON header (the learner's own Codable state) and named binary
/// sections, as in a model file.
public struct CheckpointState {
    /// Units of work done when it was saved.
    public var step: Int
    public var header: Data
    public var sections: [(name: String, bytes: Data)]
    /// The state holds only what is new since the previous save (a forest's new trees): the
    /// earlier files stay, and ``Checkpointer/restoreParts(rebalances:)`` gives every part.
    public var appends: Bool

    public init(step: Int, header: Data, sections: [(name: String, bytes: Data)] = [], appends: Bool = false) {
        self.step = step
        self.header = header
        self.sections = sections
        self.appends = appends
    }

    /// The section called `name` (throws naming the checkpoint file if it is missing).
    public func section(_ name: String, in path: String) throws -> Data {
        guard let s = sections.first(where: { $0.name == name }) else {
            throw MPILearnError.dataError(SourceLocation(file: path), "checkpoint has no '\(name)' section; it is damaged")
        }
        return s.bytes
    }
}

/// Checkpoints a long fit so it survives walltime limits and preemption.
///
/// **Files.** `DIR/manifest.json` and one file per rank, `DIR/g<generation>-rank<R>.ckpt`.
/// A rank file is a ``ModelContainer`` (versioned, CRC-32 over every byte) of kind
/// `checkpoint-<kind>`. Every file is written atomically (temporary file, then rename); the
/// manifest is written last, by rank 0, once every rank has written its file, and names
/// each file with its size and CRC-32. The manifest is the commit: a job killed while
/// writing leaves the previous checkpoint whole. Each rank then deletes its older files.
///
/// The rank files are encoded and written on a background thread; the manifest that commits
/// them comes at the next save, at a stop, or at ``finish()``, which a learner calls when its
/// fit is complete.
///
/// **Identity.** The manifest records what the run must match to resume: the learner's
/// parameters, the data's shape, and the rank count where the learner keeps per-rank state.
/// `--resume` with other values is refused naming the first that differs; a file whose size
/// or CRC differs from the manifest's is refused as damaged.
///
/// **Signals.** With a checkpoint directory, SIGTERM (Slurm at walltime, PBS) and SIGUSR1
/// (`sbatch --signal=B:USR1@120`) no longer end the process at once: the handler records
/// the signal, and ``boundary(done:state:)`` — called by the learner at the end of each unit
/// of work, on every rank — agrees on it in one small allreduce. Then every rank writes the
/// checkpoint and throws ``CollectiveStop`` (exit code 75), which ``Job/run(_:)`` turns into
/// a clean exit on every rank: no rank is left in a collective.
public final class Checkpointer: @unchecked Sendable {
    /// The checkpointer of the fit a workflow is running, for learners reached through the
    /// ``Estimator`` protocol (linear models); they use it only with the same communicator.
    @TaskLocal public static var active: Checkpointer?

    /// The ``active`` checkpointer when it checkpoints a fit on `comm` (a nested fit on
    /// another communicator, such as a search's task, does not checkpoint).
    public static func active(for comm: any Communicator) -> Checkpointer? {
        guard let c = active, c.comm === comm else { return nil }
        return c
    }

    public let options: CheckpointOptions
    /// The learner's name: `kmeans`, `forest`, `search`, `linear`.
    public let kind: String
    /// What must match to resume, in order (name, value).
    public let identity: [(String, String)]
    /// The units of work in messages, plural: "iterations", "trees", "trees per rank", "tasks".
    public let unit: String
    /// The units of the whole fit, when known (messages only).
    public var totalUnits: Int?
    public let comm: any Communicator
    private var generation = 0
    /// An appending save now adds to the files on disk (false: the next save must hold the
    /// whole state, e.g. a fresh run, or a resume on another rank count).
    public var continuesChain: Bool { lastFiles.count == comm.size || pending != nil }
    /// The last manifest's files (every rank's), continued by an appending save.
    private var lastFiles: [Manifest.File] = []
    private var lastEarlier: [[Manifest.File]] = []
    private var lastSaved: Int
    private var lastSaveTime: Double
    /// Seconds spent writing checkpoints on this rank.
    public private(set) var writeSeconds = 0.0
    /// Checkpoints written.
    public private(set) var written = 0

    public static let formatName = "mpilearn-checkpoint"
    public static let formatVersion = 1
    static let manifestName = "manifest.json"

    /// Collective. Creates the directory (rank 0) and installs the stop-signal handlers.
    /// - Parameter identity: what a resumed run must match, e.g. `("parameters", json)`,
    ///   `("rows", "100000")`, `("ranks", "3")`.
    public init(_ options: CheckpointOptions, kind: String, unit: String, identity: [(String, String)], comm: any Communicator) throws {
        self.options = options
        self.kind = kind
        self.unit = unit
        self.identity = identity
        self.comm = comm
        lastSaved = 0
        lastSaveTime = monotonicSeconds()
        if case let .units(n)? = options.every, n < 1 {
            throw MPILearnError.invalidParameter(name: "--checkpoint-every", value: "\(n)", allowed: "at least 1")
        }
        var problem = ""
        if comm.rank == 0 {
            do {
                try FileManager.default.createDirectory(atPath: options.directory, withIntermediateDirectories: true)
            } catch {
                problem = "cannot create the checkpoint directory \(options.directory): \(error.localizedDescription)"
            }
        }
        problem = try comm.broadcastObject(comm.rank == 0 ? problem : nil, root: 0)
        if !problem.isEmpty { throw MPILearnError.cannotWrite(path: options.directory, reason: problem) }
        Self.installSignalHandlers()
    }

    /// The fit is over (nothing polls the signal any more): SIGTERM and SIGUSR1 end the
    /// process again, as without a checkpoint.
    deinit {
        pending?.done.wait()
        mpl_stop_uninstall()
    }

    /// Makes SIGTERM and SIGUSR1 request a checkpoint-and-stop instead of ending the process.
    public static func installSignalHandlers() {
        _ = mpl_stop_install()
    }

    /// The signal recorded on this rank (0: none).
    public static var pendingSignal: Int32 { mpl_stop_signal() }

    static func signalName(_ s: Int32) -> String {
        switch s {
        case SIGTERM: return "SIGTERM"
        case SIGUSR1: return "SIGUSR1"
        default: return "signal \(s)"
        }
    }

    var manifestPath: String { (options.directory as NSString).appendingPathComponent(Self.manifestName) }

    func fileName(generation g: Int, rank r: Int) -> String { String(format: "g%06d-rank%d.ckpt", g, r) }

    // MARK: manifest

    struct Manifest: Codable {
        struct File: Codable, Equatable {
            var rank: Int; var name: String; var bytes: Int; var crc32: UInt32
            /// The save that wrote it (earlier parts of an appending learner's state keep theirs).
            var generation: Int; var step: Int
        }
        var format: String
        var version: Int
        var kind: String
        var identity: [[String]]
        var ranks: Int
        var step: Int
        var generation: Int
        /// Each rank's newest file.
        var files: [File]
        /// Each rank's earlier parts, oldest first (empty unless the learner appends).
        var earlier: [[File]]
        var written: String
        var mpilearnVersion: String

        enum CodingKeys: String, CodingKey {
            case format, version, kind, identity, ranks, step, generation, files, earlier, written, mpilearnVersion = "mpilearn_version"
        }
    }

    /// Rank files' JSON header around the learner's own.
    struct FileHeader: Codable {
        var kind: String
        var rank: Int
        var ranks: Int
        var step: Int
        var generation: Int
        var state: Data
    }

    // MARK: resume

    /// Collective. With `--resume`, the checkpoint in the directory: this rank's state, checked
    /// against the manifest (size, CRC-32, kind, identity, rank count). nil without `--resume`
    /// or when the directory holds no checkpoint yet (the fit starts from the beginning).
    /// - Parameter rebalances: the learner can resume on another number of ranks (then the
    ///   manifest's rank count is not checked, and only rank 0's file is read, by every rank).
    /// - Throws: ``MPILearnError/dataError`` naming the file for a damaged checkpoint, and
    ///   ``MPILearnError/mismatch`` for one written by a run with other parameters.
    public func restore(rebalances: Bool = false) throws -> CheckpointState? {
        guard let parts = try restoreParts(rebalances: rebalances) else { return nil }
        guard parts.count == 1 else {
            throw MPILearnError.dataError(SourceLocation(file: manifestPath), "checkpoint has \(parts.count) parts for a \(kind) fit that writes one; it is damaged")
        }
        return parts[0]
    }

    /// Collective. As ``restore(rebalances:)``, for a learner whose saves append
    /// (``CheckpointState/appends``): every part of this rank's state, oldest first.
    public func restoreParts(rebalances: Bool = false) throws -> [CheckpointState]? {
        guard options.resume else { return nil }
        // Rank 0 reads and checks the manifest and tells the others what it found. On a
        // problem rank 0 throws its error (ending the job with its message) and the others
        // wait for that in a barrier, so the message is printed once.
        struct Found: Codable { var manifest: Manifest?; var failed: Bool }
        var found = Found(manifest: nil, failed: false)
        var problem: (any Error)?
        if comm.rank == 0 {
            do { found.manifest = try readManifest() } catch { problem = error; found.failed = true }
        }
        found = try comm.broadcastObject(comm.rank == 0 ? found : nil, root: 0)
        func refuse(_ error: any Error) throws -> Never {
            if comm.rank != 0 { try comm.barrier() }
            throw error
        }
        if found.failed { try refuse(problem ?? MPILearnError.mismatch("rank 0 refused the checkpoint in \(options.directory)")) }
        guard let manifest = found.manifest else { generation = 0; return nil }
        if !rebalances && manifest.ranks != comm.size {
            try refuse(MPILearnError.mismatch("\(manifestPath): the checkpoint was written by \(manifest.ranks) rank(s), and this job has \(comm.size): "
                                              + "\(kind) keeps each rank's own state, so resume it on \(manifest.ranks) rank(s) (or delete \(options.directory) to start again)"))
        }
        let owner = rebalances ? 0 : comm.rank
        let parts = try (manifest.earlier[owner] + [manifest.files[owner]]).map { try readRankFile($0, manifest: manifest) }
        // Appending saves continue this rank's chain (rank 0 keeps every rank's, for the manifest).
        if manifest.ranks == comm.size {
            lastFiles = manifest.files
            lastEarlier = manifest.earlier
        }
        generation = manifest.generation
        resumedFrom = manifest.step
        lastSaved = manifest.step
        lastSaveTime = monotonicSeconds()
        return parts
    }

    /// The manifest, checked against this run; nil when there is none.
    func readManifest() throws -> Manifest? {
        let path = manifestPath
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { throw MPILearnError.cannotRead(path: path, reason: "cannot read it") }
        let m: Manifest
        do { m = try JSONDecoder().decode(Manifest.self, from: data) } catch {
            throw MPILearnError.dataError(SourceLocation(file: path), "checkpoint manifest is damaged (not the JSON MPILearn writes): \(error.localizedDescription); delete \(options.directory) to start again")
        }
        guard m.format == Self.formatName else {
            throw MPILearnError.dataError(SourceLocation(file: path), "not an MPILearn checkpoint manifest (format '\(m.format)')")
        }
        guard m.version <= Self.formatVersion else {
            throw MPILearnError.dataError(SourceLocation(file: path), "checkpoint format version \(m.version) is newer than this mpilearn reads (\(Self.formatVersion))")
        }
        guard m.kind == kind else {
            throw MPILearnError.mismatch("\(path): the checkpoint is of a \(m.kind) fit, not \(kind): use another --checkpoint directory")
        }
        guard m.files.count == m.ranks, m.earlier.count == m.ranks, m.ranks >= 1,
              m.files.enumerated().allSatisfy({ $0.offset == $0.element.rank && m.earlier[$0.offset].allSatisfy { $0.rank == $0.rank } }) else {
            throw MPILearnError.dataError(SourceLocation(file: path), "checkpoint manifest lists \(m.files.count) files for \(m.ranks) ranks; it is damaged")
        }
        let theirs = Dictionary(m.identity.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil }, uniquingKeysWith: { a, _ in a })
        for (name, value) in identity {
            let old = theirs[name] ?? "(not recorded)"
            if old != value {
                throw MPILearnError.mismatch("\(path): the checkpoint was written by a run with \(name) \(old), and this run has \(value): "
                                             + "resume with the same \(name), or use another --checkpoint directory")
            }
        }
        return m
    }

    func readRankFile(_ file: Manifest.File, manifest: Manifest) throws -> CheckpointState {
        let path = (options.directory as NSString).appendingPathComponent(file.name)
        func damaged(_ why: String) -> MPILearnError {
            .dataError(SourceLocation(file: path), "checkpoint file is damaged (\(why)); it cannot be resumed: delete \(options.directory) to start again")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw damaged("it is missing or unreadable") }
        guard data.count == file.bytes else { throw damaged("\(data.count) bytes, and the manifest says \(file.bytes)") }
        let crc = Self.crc(data)
        guard crc == file.crc32 else { throw damaged(String(format: "CRC-32 %08x, and the manifest says %08x", crc, file.crc32)) }
        let c: ModelContainer
        do { c = try ModelContainer.decode(data, path: path, expectedKinds: ["checkpoint-\(kind)"]) } catch { throw damaged(Job.describe(error)) }
        let h: FileHeader
        do { h = try JSONDecoder().decode(FileHeader.self, from: c.header) } catch { throw damaged("its header is not valid") }
        guard h.kind == kind, h.rank == file.rank, h.ranks == manifest.ranks, h.step == file.step, h.generation == file.generation else {
            throw damaged("it belongs to another checkpoint (rank \(h.rank), step \(h.step), generation \(h.generation))")
        }
        return CheckpointState(step: h.step, header: h.state, sections: c.sections)
    }

    // MARK: saving

    /// Collective, called by every rank at the end of each unit of work with the units done
    /// so far (the same count on every rank). Saves when the interval is due or a stop signal
    /// arrived on any rank (calling `state` only then), and after a signal throws
    /// ``CollectiveStop`` on every rank.
    public func boundary(done: Int, state: () throws -> CheckpointState) throws {
        var due = false
        switch options.every {
        case let .units(n)?: due = done - lastSaved >= n
        case let .seconds(s)?: due = comm.rank == 0 && monotonicSeconds() - lastSaveTime >= s
        case nil: break
        }
        let signal = Self.pendingSignal
        var flags: [Int32] = [signal, due ? 1 : 0]
        try comm.allreduce(&flags, op: .max)
        guard flags[0] != 0 || flags[1] != 0 else { return }
        if done > lastSaved || generation == 0 { try save(try state()) }
        if flags[0] != 0 {
            try finish()
            let of = totalUnits.map { " of \($0)" } ?? ""
            throw CollectiveStop(message: "stopped by \(Self.signalName(flags[0])) after \(done)\(of) \(unit): checkpoint written to \(options.directory); "
                                 + "run the same command with --resume to continue (exit code 75)")
        }
    }

    /// A rank file being written in the background, committed (named in the manifest) later.
    /// Its result is set by the writer thread before `done` is left, and read after waiting.
    final class PendingWrite: @unchecked Sendable {
        let generation: Int, step: Int, appends: Bool
        let done = DispatchGroup()
        var result: Result<(bytes: Int, crc: UInt32), any Error> = .failure(CancellationError())
        init(generation: Int, step: Int, appends: Bool) { (self.generation, self.step, self.appends) = (generation, step, appends) }
    }
    private var pending: PendingWrite?
    private let writer = DispatchQueue(label: "mpilearn.checkpoint.writer")

    /// Collective. Saves every rank's state: the rank file is encoded and written on a
    /// background thread while the fit goes on, and committed — the manifest written by rank
    /// 0, older files deleted — at the next save, at a stop, or at ``finish()``. Until then
    /// the previous checkpoint stays the one a resume reads.
    public func save(_ state: CheckpointState) throws {
        let t0 = monotonicSeconds()
        try commit()
        let g = generation + 1
        let path = (options.directory as NSString).appendingPathComponent(fileName(generation: g, rank: comm.rank))
        let header = FileHeader(kind: kind, rank: comm.rank, ranks: comm.size, step: state.step, generation: g, state: state.header)
        let headerBytes = try JSONEncoder().encode(header)
        let kind = "checkpoint-\(self.kind)", sections = state.sections
        let job = PendingWrite(generation: g, step: state.step, appends: state.appends)
        job.done.enter()
        pending = job
        writer.async {
            job.result = Result { () -> (bytes: Int, crc: UInt32) in
                let bytes = ModelContainer(kind: kind, header: headerBytes, sections: sections).encoded()
                try AtomicFile.write(bytes, to: path)
                // The container's trailer is the CRC-32 of every byte before it.
                return (bytes.count, bytes.suffix(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            }
            job.done.leave()
        }
        generation = g
        lastSaved = state.step
        lastSaveTime = monotonicSeconds()
        written += 1
        writeSeconds += monotonicSeconds() - t0
    }

    /// Collective. Commits the save in progress, if any: waits for this rank's file, then rank
    /// 0 writes the manifest naming every rank's file, and each rank deletes the files it no
    /// longer names. A learner calls it once its fit is complete.
    public func finish() throws {
        let t0 = monotonicSeconds()
        try commit()
        writeSeconds += monotonicSeconds() - t0
    }

    private func commit() throws {
        guard let job = pending else { return }
        job.done.wait()
        let result = job.result
        pending = nil
        // A rank that could not write says so; the others learn it in the allgather.
        var mine: [Int64] = [-1, 0]
        var failure: (any Error)?
        switch result {
        case let .success(r): mine = [Int64(r.bytes), Int64(r.crc)]
        case let .failure(e): failure = e
        }
        let all = try comm.allgatherv(mine).values
        if let failure { throw failure }
        if let bad = (0 ..< comm.size).first(where: { all[2 * $0] < 0 }) {
            try comm.barrier()   // rank `bad` ends the job with its error
            throw MPILearnError.cannotWrite(path: options.directory, reason: "rank \(bad) could not write its checkpoint file")
        }
        let g = job.generation
        let files = (0 ..< comm.size).map {
            Manifest.File(rank: $0, name: fileName(generation: g, rank: $0), bytes: Int(all[2 * $0]), crc32: UInt32(all[2 * $0 + 1]),
                          generation: g, step: job.step)
        }
        // An appending save keeps every earlier part; another starts a new chain.
        let earlier: [[Manifest.File]] = job.appends && lastFiles.count == comm.size
            ? (0 ..< comm.size).map { lastEarlier[$0] + [lastFiles[$0]] }
            : Array(repeating: [], count: comm.size)
        if comm.rank == 0 {
            let m = Manifest(format: Self.formatName, version: Self.formatVersion, kind: kind, identity: identity.map { [$0.0, $0.1] },
                             ranks: comm.size, step: job.step, generation: g, files: files, earlier: earlier,
                             written: ISO8601DateFormatter().string(from: Date()), mpilearnVersion: MPILearnVersion.string)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(m), to: manifestPath)
        }
        // The manifest names the new files before anyone deletes an old one.
        try comm.barrier()
        removeFiles(except: Set((earlier[comm.rank] + [files[comm.rank]]).map(\.name)))
        lastFiles = files
        lastEarlier = earlier
        committedStep = job.step
    }

    /// The step of the last committed checkpoint (the one a resume reads).
    public private(set) var committedStep: Int?

    /// A rank file's CRC-32: of every byte before the container's own trailing CRC (a CRC
    /// over the whole file, trailer included, is the same constant for every intact file).
    static func crc(_ bytes: Data) -> UInt32 { CRC32.checksum(bytes.prefix(max(0, bytes.count - 4))) }

    /// Deletes this rank's checkpoint files that the manifest no longer names (left by
    /// earlier saves or runs).
    func removeFiles(except keep: Set<String>) {
        let suffix = "-rank\(comm.rank).ckpt"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: options.directory) else { return }
        for n in names where n.hasPrefix("g") && n.hasSuffix(suffix) && !keep.contains(n) {
            try? FileManager.default.removeItem(atPath: (options.directory as NSString).appendingPathComponent(n))
        }
    }

    /// The step a resumed fit continued from (nil: it started from the beginning).
    public private(set) var resumedFrom: Int?

    /// One line for the run's log, before the fit: where and how often.
    public var plan: String {
        let when: String
        switch options.every {
        case let .units(n)?: when = "every \(n) \(unit) and on SIGTERM/SIGUSR1"
        case let .seconds(s)?: when = String(format: "every %g s and on SIGTERM/SIGUSR1", s)
        case nil: when = "on SIGTERM/SIGUSR1"
        }
        return "checkpoint: \(options.directory), \(when)" + (options.resume ? "; resuming from it if it holds one" : "")
    }

    /// One line for the run's log, after the fit: where it resumed, what was written and what it cost.
    public var summary: String {
        let from = resumedFrom.map { "resumed after \($0) \(unit); " } ?? (options.resume ? "no checkpoint to resume, started from the beginning; " : "")
        return from + String(format: "%d checkpoint(s) written to %@ (%.3f s on this rank)", written, options.directory as NSString, writeSeconds)
    }
}

/// Codable helpers for learners' checkpoint headers.
enum CheckpointJSON {
    static func encode<T: Encodable>(_ v: T) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        // Doubles are written so they read back bit for bit (finite values).
        return try e.encode(v)
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data, path: String) throws -> T {
        do { return try JSONDecoder().decode(type, from: data) } catch {
            throw MPILearnError.dataError(SourceLocation(file: path), "checkpoint state is not valid: \(error.localizedDescription)")
        }
    }
}
