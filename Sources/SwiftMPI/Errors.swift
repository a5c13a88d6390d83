/// Process exit codes used by MPILearn jobs (BSD `sysexits.h` values, familiar to HPC
/// schedulers and shell scripts). A failing job ends with one of these on every rank.
public enum JobExitCode: Int32, Sendable {
    /// Success.
    case ok = 0
    /// An error that fits no other class.
    case failure = 1
    /// Bad command line: unknown flag, bad value, out-of-range parameter (EX_USAGE).
    case usage = 64
    /// Bad input data: malformed CSV/NPY, NaN where forbidden, wrong columns (EX_DATAERR).
    case dataError = 65
    /// An input file does not exist or cannot be read (EX_NOINPUT).
    case noInput = 66
    /// An internal error or a failure reported by MPI (EX_SOFTWARE).
    case software = 70
    /// An output could not be written (EX_IOERR).
    case ioError = 74
    /// Stopped on purpose by a walltime or preemption signal after writing a checkpoint; run
    /// the same command with `--resume` to continue (EX_TEMPFAIL).
    case temporaryFailure = 75
}

/// An error that knows the exit code its job should end with.
public protocol JobError: Error, CustomStringConvertible {
    var exitCode: JobExitCode { get }
}

/// A stop every rank agreed on in a collective (a walltime signal, after the checkpoint was
/// written). ``Job/run(_:)`` ends such a job cleanly: rank 0 prints `message`, every rank
/// finalizes MPI and exits with `exitCode`, and no rank aborts the others.
public struct CollectiveStop: JobError, Equatable {
    public var message: String
    public var exitCode: JobExitCode

    public init(message: String, exitCode: JobExitCode = .temporaryFailure) {
        self.message = message
        self.exitCode = exitCode
    }

    public var description: String { message }
}

/// An error reported by the MPI library or by a communicator.
public struct CommunicatorError: JobError, Equatable {
    /// What failed, e.g. `MPI_Allreduce`.
    public var operation: String
    /// The MPI error code (0 where the error is not from MPI).
    public var code: Int32
    /// MPI's error string, or SwiftMPI's explanation.
    public var message: String

    public init(operation: String, code: Int32 = 0, message: String) {
        self.operation = operation
        self.code = code
        self.message = message
    }

    public var exitCode: JobExitCode { .software }
    public var description: String { "\(operation): \(message)" + (code != 0 ? " (MPI error \(code))" : "") }

    /// Another rank of an in-process world failed, so this collective cannot complete.
    public static let aborted = CommunicatorError(operation: "collective", message: "another rank aborted the job")
}
