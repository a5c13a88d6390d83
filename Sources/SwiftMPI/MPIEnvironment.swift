import CMPI

/// The MPI library's lifetime: initialisation, the world communicator, abort and finalize.
///
/// `MPI_Init_thread` is called with `MPI_THREAD_FUNNELED`: a rank may run its own work on
/// threads, while only the main thread calls MPI. Started without `mpirun`, MPI makes a
/// one-rank world (singleton start).
public enum MPIEnvironment {
    nonisolated(unsafe) private static var world_: MPICommunicator?
    nonisolated(unsafe) private static var providedLevel: Int32 = 0

    /// True between a successful ``initialize()`` and ``finalize()``.
    public static var isActive: Bool {
        var initialized: Int32 = 0, finalized: Int32 = 0
        MPI_Initialized(&initialized)
        MPI_Finalized(&finalized)
        return initialized != 0 && finalized == 0
    }

    /// Initialises MPI (once) and returns the world communicator.
    /// - Throws: ``CommunicatorError`` if MPI cannot start.
    @discardableResult
    public static func initialize() throws -> MPICommunicator {
        if let w = world_ { return w }
        var provided: Int32 = 0
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 {
            let rc = MPI_Init_thread(nil, nil, cmpi_thread_funneled(), &provided)
            if rc != cmpi_success() { throw CommunicatorError(operation: "MPI_Init_thread", code: rc, message: "MPI could not start") }
        } else {
            MPI_Query_thread(&provided)
        }
        providedLevel = provided
        // Errors come back as return codes, which SwiftMPI turns into Swift errors.
        MPI_Comm_set_errhandler(cmpi_comm_world(), cmpi_errors_return())
        let w = try MPICommunicator(cmpi_comm_world(), owned: false)
        world_ = w
        return w
    }

    /// The world communicator; initialises MPI if needed.
    public static var world: MPICommunicator {
        get throws { try initialize() }
    }

    /// Finalizes MPI. Call only when every rank has succeeded: after a failure on one rank,
    /// finalizing would wait for ranks that never arrive (use ``abort(code:)``).
    public static func finalize() {
        guard isActive else { return }
        world_ = nil
        MPI_Finalize()
    }

    /// Ends every rank of the job with `code` (`MPI_Abort` on the world). Never returns.
    public static func abort(code: Int32) -> Never {
        if isActive { MPI_Abort(cmpi_comm_world(), code) }
        exit(code)
    }

    /// The thread support level MPI provided, as its name.
    public static var threadLevel: String {
        switch providedLevel {
        case cmpi_thread_single(): return "single"
        case cmpi_thread_funneled(): return "funneled"
        case cmpi_thread_serialized(): return "serialized"
        case cmpi_thread_multiple(): return "multiple"
        default: return "unknown(\(providedLevel))"
        }
    }

    /// The MPI library's own version string (`MPI_Get_library_version`), first line.
    public static var libraryVersion: String {
        var buf = [CChar](repeating: 0, count: Int(cmpi_max_library_version_string()) + 1)
        var len: Int32 = 0
        MPI_Get_library_version(&buf, &len)
        let s = String(cString: buf)
        return s.split(whereSeparator: \.isNewline).first.map { String($0).trimmingCharacters() } ?? s
    }

    /// The MPI standard version the library implements, e.g. "3.1".
    public static var standardVersion: String {
        var v: Int32 = 0, sv: Int32 = 0
        MPI_Get_version(&v, &sv)
        return "\(v).\(sv)"
    }

    /// This rank's host name (`MPI_Get_processor_name`).
    public static var processorName: String {
        var buf = [CChar](repeating: 0, count: Int(cmpi_max_processor_name()) + 1)
        var len: Int32 = 0
        MPI_Get_processor_name(&buf, &len)
        return String(cString: buf)
    }
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "," { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "," { s.removeLast() }
        return String(s)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
