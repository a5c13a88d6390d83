import Foundation
import TestSupport
import XCTest

/// The built `mpilearn` binary and jobs/local.sh on bad input: a clear message, a non-zero
/// exit, and under mpirun the message printed once (by rank 0), not once per rank.
final class CLITests: XCTestCase {
    func occurrences(of needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    func testHelpExitsZero() throws {
        let top = try MPIRun.run([MPIRun.executable("mpilearn"), "--help"], timeout: 30)
        XCTAssertEqual(top.status, 0, "\(top)")
        XCTAssertTrue(top.stdout.contains("USAGE: mpilearn"), "\(top)")
        XCTAssertTrue(top.stdout.contains("info") && top.stdout.contains("check"), "subcommands listed: \(top)")
        let info = try MPIRun.run([MPIRun.executable("mpilearn"), "info", "--help"], timeout: 30)
        XCTAssertEqual(info.status, 0, "\(info)")
        XCTAssertTrue(info.stdout.contains("USAGE: mpilearn info"), "\(info)")
    }

    func testUnknownSubcommandFailsWithMessageOncePerJob() throws {
        let solo = try MPIRun.run([MPIRun.executable("mpilearn"), "frobnicate"], timeout: 30)
        XCTAssertEqual(solo.status, 64, "\(solo)")
        XCTAssertTrue(solo.stderr.contains("frobnicate"), "\(solo)")
        let job = try MPIRun.mpirun(np: 2, "mpilearn", ["frobnicate"], timeout: 30)
        XCTAssertFalse(job.timedOut, "\(job)")
        XCTAssertNotEqual(job.status, 0, "\(job)")
        XCTAssertEqual(occurrences(of: "Error: ", in: job.stderr), 1, "printed once, by rank 0: \(job)")
        XCTAssertEqual(occurrences(of: "'frobnicate'", in: job.stderr), 1, "\(job)")
    }

    func testUnknownFlagFailsWithMessageOncePerJob() throws {
        let job = try MPIRun.mpirun(np: 2, "mpilearn", ["info", "--no-such-flag"], timeout: 30)
        XCTAssertFalse(job.timedOut, "\(job)")
        XCTAssertNotEqual(job.status, 0, "\(job)")
        XCTAssertEqual(occurrences(of: "Unknown option '--no-such-flag'", in: job.stderr), 1, "\(job)")
        XCTAssertFalse(job.stdout.contains("ranks:"), "info must not run: \(job)")
    }

    func testChunkLimitZeroIsRejected() throws {
        let solo = try MPIRun.run([MPIRun.executable("mpilearn"), "check", "--chunk-limit", "0"], timeout: 30)
        XCTAssertEqual(solo.status, 64, "\(solo)")
        XCTAssertTrue(solo.stderr.contains("--chunk-limit must be at least 1, got 0"), "\(solo)")
        let job = try MPIRun.mpirun(np: 2, "mpilearn", ["check", "--chunk-limit", "0"], timeout: 30)
        XCTAssertFalse(job.timedOut, "\(job)")
        XCTAssertNotEqual(job.status, 0, "\(job)")
        XCTAssertEqual(occurrences(of: "--chunk-limit must be at least 1, got 0", in: job.stderr), 1, "\(job)")
        XCTAssertFalse(job.stdout.contains("collectives OK"), "\(job)")
    }

    func testInfoPrintsOneAlignedTableFromRankZero() throws {
        let out = try MPIRun.mpirun(np: 3, "mpilearn", ["info"], timeout: 60)
        XCTAssertEqual(out.status, 0, "\(out)")
        XCTAssertEqual(occurrences(of: "MPILearn ", in: out.stdout), 1, "printed once: \(out)")
        XCTAssertTrue(out.stdout.contains("BLAS threads: 1 per rank"), "\(out)")
        let lines = out.stdout.split(separator: "\n").map(String.init)
        guard let h = lines.firstIndex(where: { $0.hasPrefix("rank  host") }) else { return XCTFail("no table: \(out)") }
        let table = Array(lines[h ... h + 3])
        XCTAssertEqual(table.count, 4)
        // Right-aligned last column: every row ends where the header ends, and the host column
        // starts at the same place in every row.
        XCTAssertEqual(Set(table.map(\.count)).count, 1, "rows differ in width:\n\(table.joined(separator: "\n"))")
        for (r, row) in table.dropFirst().enumerated() {
            XCTAssertTrue(row.hasPrefix(String(repeating: " ", count: 4 - "\(r)".count) + "\(r)  "), row)
            XCTAssertTrue(row.hasSuffix(" 1"), "blas-threads column: \(row)")
        }
    }

    // MARK: jobs/local.sh

    func localJob(_ args: [String]) throws -> MPIRun.Outcome {
        let script = MPIRun.packageRoot.appendingPathComponent("jobs/local.sh").path
        return try MPIRun.run(["bash", script] + args, timeout: 60, environment: ["MPILEARN_BIN": MPIRun.executable("mpilearn")])
    }

    func testLocalLauncherRejectsBadRankCounts() throws {
        let negative = try localJob(["-n", "-2", "info"])
        XCTAssertEqual(negative.status, 64, "\(negative)")
        XCTAssertTrue(negative.stderr.contains("jobs/local.sh: error: rank count must be positive, got -n -2"), "\(negative)")
        let word = try localJob(["-n", "abc", "info"])
        XCTAssertEqual(word.status, 64, "\(word)")
        XCTAssertTrue(word.stderr.contains("rank count must be a positive whole number, got -n 'abc'"), "\(word)")
        let zero = try localJob(["-n", "0", "info"])
        XCTAssertEqual(zero.status, 64, "\(zero)")
        XCTAssertTrue(zero.stderr.contains("at least 1"), "\(zero)")
        let missing = try localJob(["-n", "2"])
        XCTAssertEqual(missing.status, 64, "\(missing)")
        XCTAssertTrue(missing.stderr.contains("no mpilearn subcommand given"), "\(missing)")
        for bad in [negative, word, zero, missing] { XCTAssertEqual(bad.stdout, "", "nothing runs: \(bad)") }
    }

    func testLocalLauncherRunsInfoOnTwoRanks() throws {
        let out = try localJob(["-n", "2", "info"])
        XCTAssertEqual(out.status, 0, "\(out)")
        XCTAssertTrue(out.stdout.contains("ranks:        2 on 1 host(s)"), "\(out)")
        XCTAssertEqual(occurrences(of: "MPILearn ", in: out.stdout), 1, "printed by rank 0 only: \(out)")
    }
}
