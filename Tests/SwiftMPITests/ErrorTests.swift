import Foundation
import SwiftMPI
import TestSupport
import XCTest

/// How errors become messages and exit codes: CommunicatorError, Job.describe, and a real MPI
/// error (an invalid root) coming back as a Swift error with MPI's own error string.
final class ErrorTests: XCTestCase {
    func testCommunicatorErrorDescription() {
        let fromMPI = CommunicatorError(operation: "MPI_Allreduce", code: 8, message: "MPI_ERR_ROOT: invalid root")
        XCTAssertEqual(fromMPI.description, "MPI_Allreduce: MPI_ERR_ROOT: invalid root (MPI error 8)")
        XCTAssertEqual(fromMPI.exitCode, .software)
        XCTAssertEqual(fromMPI.exitCode.rawValue, 70)
        let ours = CommunicatorError(operation: "scatterv", message: "counts [1] do not split 2 elements over 1 ranks")
        XCTAssertEqual(ours.description, "scatterv: counts [1] do not split 2 elements over 1 ranks")
        XCTAssertEqual(CommunicatorError.aborted.description, "collective: another rank aborted the job")
    }

    func testJobDescribesEveryKindOfError() {
        struct Plain: Error {}
        struct Localized: LocalizedError { var errorDescription: String? { "disk on fire" } }
        XCTAssertEqual(Job.describe(CommunicatorError(operation: "x", message: "y")), "x: y")
        XCTAssertEqual(Job.describe(Localized()), "disk on fire")
        XCTAssertEqual(Job.describe(Plain()), "Plain()")
    }

    func testExitCodesAreTheDocumentedSysexitsValues() {
        XCTAssertEqual(JobExitCode.ok.rawValue, 0)
        XCTAssertEqual(JobExitCode.failure.rawValue, 1)
        XCTAssertEqual(JobExitCode.usage.rawValue, 64)
        XCTAssertEqual(JobExitCode.dataError.rawValue, 65)
        XCTAssertEqual(JobExitCode.noInput.rawValue, 66)
        XCTAssertEqual(JobExitCode.software.rawValue, 70)
        XCTAssertEqual(JobExitCode.ioError.rawValue, 74)
    }

    /// MPI_Bcast with a root outside the communicator: the error handler returns the error,
    /// SwiftMPI turns it into a CommunicatorError with MPI's string, and Job ends the job with 70.
    func testRealMPIErrorBecomesASwiftErrorWithMPIsMessage() throws {
        let out = try MPIRun.mpirun(np: 2, "mpilearn-selftest", ["mpierror"], timeout: 30)
        XCTAssertFalse(out.timedOut, "job hung: \(out)")
        XCTAssertEqual(out.status, 70, "\(out)")
        XCTAssertTrue(out.stderr.contains("error: MPI_Bcast: "), "\(out)")
        XCTAssertTrue(out.stderr.contains("(MPI error "), "\(out)")
        XCTAssertTrue(out.stderr.lowercased().contains("root"), "MPI's own message names the bad root: \(out)")
    }
}
