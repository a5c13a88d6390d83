import Foundation

/// Runs an SPMD program so that a failure on any rank ends the whole job, fast.
///
/// A Swift error thrown by `body` on any rank prints `rank R/N: error: <message>` on that
/// rank's stderr and calls `MPI_Abort`, which ends every rank, including ranks blocked in a
/// collective. The exit code comes from the error (``JobError/exitCode``; ``JobExitCode/failure``
/// for other errors). On success every rank finalizes MPI and exits 0. This mirrors
/// LightGBM's `main`: never finalize after a one-rank failure, since that waits for ranks
/// that never arrive.
public enum Job {
    /// Initialises MPI, runs `body` with the world communicator, and ends the process.
    public static func run(_ body: (MPICommunicator) throws -> Void) -> Never {
        let world: MPICommunicator
        do {
            world = try MPIEnvironment.initialize()
        } catch {
            fail(rank: 0, size: 1, error)
        }
        do {
            try body(world)
        } catch let stop as CollectiveStop {
            // Every rank threw it at the same point, after a collective: nobody waits.
            flushOutput()
            if world.rank == 0 { writeStandardError(stop.message + "\n") }
            MPIEnvironment.finalize()
            exit(stop.exitCode.rawValue)
        } catch {
            fail(rank: world.rank, size: world.size, error)
        }
        flushOutput()
        MPIEnvironment.finalize()
        exit(0)
    }

    /// Prints the rank-tagged error message and aborts the whole job with the error's code.
    public static func fail(rank: Int, size: Int, _ error: any Error) -> Never {
        flushOutput()
        let code = (error as? JobError)?.exitCode ?? .failure
        writeStandardError("rank \(rank)/\(size): error: \(describe(error))\n")
        // Give the launcher's output forwarding a moment to pass the message on before the
        // abort tears the job down (Open MPI can drop a rank's last lines otherwise).
        usleep(100_000)
        MPIEnvironment.abort(code: code.rawValue)
    }

    /// The message a user sees for `error`.
    public static func describe(_ error: any Error) -> String {
        if let e = error as? JobError { return e.description }
        if let e = error as? LocalizedError, let d = e.errorDescription { return d }
        return String(describing: error)
    }

    /// Writes `text` to stderr unbuffered, in one `write` so lines from ranks do not interleave.
    public static func writeStandardError(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    static func flushOutput() {
        fflush(stdout)
    }
}
