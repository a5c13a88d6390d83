import Foundation

/// An `mpirun` job started in the background, so a test can signal it while it runs (a
/// walltime or preemption signal) and then collect its outcome.
///
/// Not run under `timeout(1)`: timeout dies of a SIGUSR1 sent to it instead of passing it
/// on. ``wait(timeout:)`` kills the job itself (SIGKILL to mpirun and its ranks) when the
/// limit passes.
public final class BackgroundJob {
    public let process: Process
    let directory: URL
    let outURL: URL, errURL: URL
    public let start = Date()

    init(_ command: [String], environment: [String: String], currentDirectory: URL?) throws {
        directory = try MPIRun.temporaryDirectory("bgjob")
        outURL = directory.appendingPathComponent("out")
        errURL = directory.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.environment = MPIRun.jobEnvironment(environment)
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning { killAll(SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts `executable args` on `np` ranks, as ``MPIRun/mpirun(np:_:_:timeout:environment:currentDirectory:)`` would.
    public static func mpirun(np: Int, _ executable: String = "mpilearn", _ args: [String], environment: [String: String] = [:],
                              currentDirectory: URL? = nil) throws -> BackgroundJob {
        var cmd = MPIRun.launcher(np: np)
        cmd += [executable.contains("/") ? executable : MPIRun.executable(executable)] + args
        return try BackgroundJob(cmd, environment: environment, currentDirectory: currentDirectory)
    }

    public var stdout: String { (try? String(contentsOf: outURL, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOf: errURL, encoding: .utf8)) ?? "" }

    /// Waits until `condition` holds (polled every 20 ms) or the job ends; false after `timeout` s.
    public func waitUntil(timeout: Double = 60, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if condition() { return true }
            if !process.isRunning { return condition() }
            usleep(20_000)
        }
        return false
    }

    /// The process ids of the ranks (the launcher's children).
    public var rankPIDs: [Int32] {
        guard let out = try? MPIRun.run(["pgrep", "-P", String(process.processIdentifier)], timeout: 10) else { return [] }
        return out.stdout.split(separator: "\n").compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// Sends `signal` to the launcher (mpirun passes SIGUSR1 on to every rank).
    public func signalLauncher(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Sends `signal` to every rank directly (what Slurm does at walltime: SIGTERM to each task).
    public func signalRanks(_ signal: Int32) {
        for pid in rankPIDs { kill(pid, signal) }
    }

    func killAll(_ signal: Int32) {
        for pid in rankPIDs { kill(pid, signal) }
        kill(process.processIdentifier, signal)
    }

    /// Waits for the job to end (killing it after `timeout` s) and returns what it printed.
    public func wait(timeout: Double = 120) -> MPIRun.Outcome {
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { usleep(20_000) }
        if process.isRunning {
            killAll(SIGKILL)
            process.waitUntilExit()
        }
        return MPIRun.Outcome(status: process.terminationStatus, stdout: stdout, stderr: stderr,
                              seconds: Date().timeIntervalSince(start), limit: timeout)
    }
}
