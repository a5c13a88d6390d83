import Foundation

/// Launches real MPI jobs from the test suite and captures what they print.
///
/// Every launch runs under `timeout`, so a job that hangs fails its test instead of hanging
/// the suite. Open MPI needs `--oversubscribe` for more ranks than cores and, as root, the
/// `OMPI_ALLOW_RUN_AS_ROOT*` variables; both are set here.
public enum MPIRun {
    public struct Outcome: CustomStringConvertible {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var seconds: Double
        /// The time limit the job ran under.
        public var limit: Double
        /// True when the time limit ended the job (mpirun itself exits 137 for a rank killed
        /// by SIGKILL, so the status alone cannot tell).
        public var timedOut: Bool { status == 124 || seconds >= limit - 0.5 }
        public var description: String { "exit \(status) after \(String(format: "%.1f", seconds)) s\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }
    }

    /// The folder holding the built executables (`.build/debug` or the CMake build's bin).
    public static var productsDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["MPILEARN_BIN_DIR"] { return URL(fileURLWithPath: dir) }
        // swift test runs `<products>/<Package>PackageTests.xctest`.
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.pathComponents.count > 1 {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("mpilearn").path) { return url }
        }
        for candidate in [".build/debug", ".build/release"] {
            let u = URL(fileURLWithPath: candidate, relativeTo: packageRoot)
            if FileManager.default.fileExists(atPath: u.appendingPathComponent("mpilearn").path) { return u }
        }
        return URL(fileURLWithPath: ".build/debug", relativeTo: packageRoot)
    }

    /// The repository root (for fixtures and scripts).
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Path of a built executable, e.g. `mpilearn` or `mpilearn-selftest`.
    public static func executable(_ name: String) -> String { productsDirectory.appendingPathComponent(name).path }

    static let isOpenMPI: Bool = {
        guard let out = try? run(["mpirun", "--version"], timeout: 20) else { return true }
        return out.stdout.contains("Open MPI") || out.stderr.contains("Open MPI")
    }()

    /// The launch command for `np` ranks, before the executable.
    public static func launcher(np: Int) -> [String] {
        var cmd = ["mpirun", "-np", String(np)]
        if isOpenMPI { cmd += ["--oversubscribe", "--bind-to", "none"] }
        return cmd
    }

    /// Runs `executable args` on `np` ranks with `mpirun`, killed after `timeout` seconds.
    public static func mpirun(np: Int, _ executable: String = "mpilearn", _ args: [String], timeout: Double = 120,
                              environment: [String: String] = [:], currentDirectory: URL? = nil) throws -> Outcome {
        var cmd = launcher(np: np)
        cmd += [executable.contains("/") ? executable : self.executable(executable)] + args
        return try run(cmd, timeout: timeout, environment: environment, currentDirectory: currentDirectory)
    }

    /// Runs a command without a launcher (a singleton MPI start for our executables).
    public static func run(_ command: [String], timeout: Double = 120, environment: [String: String] = [:],
                           currentDirectory: URL? = nil) throws -> Outcome {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("mpirun-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let outURL = tmp.appendingPathComponent("out"), errURL = tmp.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        p.arguments = ["--kill-after=5", String(Int(timeout.rounded(.up)))] + command
        p.environment = jobEnvironment(environment)
        if let currentDirectory { p.currentDirectoryURL = currentDirectory }
        p.standardOutput = try FileHandle(forWritingTo: outURL)
        p.standardError = try FileHandle(forWritingTo: errURL)
        p.standardInput = FileHandle.nullDevice
        let start = Date()
        try p.run()
        p.waitUntilExit()
        let seconds = Date().timeIntervalSince(start)
        return Outcome(status: p.terminationStatus,
                       stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "",
                       seconds: seconds, limit: timeout)
    }

    /// This process's environment for a job: root and oversubscription allowed (Open MPI),
    /// one BLAS thread unless set, then `extra`.
    static func jobEnvironment(_ extra: [String: String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
        env["OPENBLAS_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] ?? "1"
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// A fresh temporary directory for a test's files.
    public static func temporaryDirectory(_ name: String = "mpilearn-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
