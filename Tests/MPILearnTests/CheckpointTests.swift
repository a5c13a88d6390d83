import Foundation
import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// Checkpoint and resume (`--checkpoint DIR --checkpoint-every N --resume`) and the walltime
/// signal path, with real `mpirun` jobs interrupted by signals sent from the test.
final class CheckpointTests: XCTestCase {
    /// Model files are reproducible byte for byte: the forest's date and k-means' iteration
    /// times come from SOURCE_DATE_EPOCH instead of the clock.
    let env = ["SOURCE_DATE_EPOCH": "1700000000"]

    func kmeansArgs(_ model: String) -> [String] {
        ["kmeans", "fit", "--blobs", "12000,6,30", "--cluster-std", "6", "--k", "40", "--init", "random", "--tol", "0",
         "--max-iter", "40", "--output-model", model]
    }

    func forestArgs(_ model: String, mode: String) -> [String] {
        ["forest", "fit", "--train", "classification:12000,8", "--target", "y", "--n-estimators", "36", "--mode", mode, "--model", model]
    }

    func bytes(_ url: URL) -> Data? { FileManager.default.contents(atPath: url.path) }

    /// Starts `args` with a checkpoint every `every` units, waits for the first checkpoint,
    /// sends `signal` (to mpirun, or to every rank as Slurm does), and checks the job ends on
    /// every rank within 10 s with exit code 75 and the message; returns the step it saved.
    @discardableResult
    func interrupt(np: Int, _ args: [String], checkpoint dir: URL, every: Int, signal: Int32, toRanks: Bool = false,
                   file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let job = try BackgroundJob.mpirun(np: np, "mpilearn", args + ["--checkpoint", dir.path, "--checkpoint-every", String(every)], environment: env)
        let manifest = dir.appendingPathComponent("manifest.json")
        // The first save's files (written in the background; the manifest follows at the next save).
        XCTAssertTrue(job.waitUntil(timeout: 90) {
            ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).contains { $0.hasSuffix("-rank0.ckpt") }
        }, "no checkpoint was written\n\(job.stdout)\n\(job.stderr)", file: file, line: line)
        let sent = Date()
        if toRanks { job.signalRanks(signal) } else { job.signalLauncher(signal) }
        let out = job.wait(timeout: 60)
        let took = Date().timeIntervalSince(sent)
        XCTAssertEqual(out.status, 75, "\(out)", file: file, line: line)
        XCTAssertLessThan(took, 10, "the job took \(took) s to stop after the signal", file: file, line: line)
        let name = signal == SIGTERM ? "SIGTERM" : "SIGUSR1"
        XCTAssertTrue(out.stderr.contains("stopped by \(name) after "), out.stderr, file: file, line: line)
        XCTAssertTrue(out.stderr.contains("run the same command with --resume"), out.stderr, file: file, line: line)
        // The checkpoint is whole: a manifest naming one file per rank, each present.
        let m = try JSONSerialization.jsonObject(with: Data(contentsOf: manifest)) as! [String: Any]
        let files = m["files"] as! [[String: Any]]
        XCTAssertEqual(files.count, np, file: file, line: line)
        for f in files { XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent(f["name"] as! String).path), file: file, line: line) }
        return m["step"] as! Int
    }

    func resume(np: Int, _ args: [String], checkpoint dir: URL, every: Int, file: StaticString = #filePath, line: UInt = #line) throws -> MPIRun.Outcome {
        let out = try MPIRun.mpirun(np: np, "mpilearn", args + ["--checkpoint", dir.path, "--checkpoint-every", String(every), "--resume"], timeout: 180, environment: env)
        XCTAssertEqual(out.status, 0, "\(out)", file: file, line: line)
        XCTAssertTrue(out.stdout.contains("resumed after "), out.stdout, file: file, line: line)
        return out
    }

    // MARK: k-means

    func testKMeansResumedAfterSignalEqualsUninterruptedAtOneAndThreeRanks() throws {
        let dir = try MPIRun.temporaryDirectory("ckpt-kmeans")
        defer { try? FileManager.default.removeItem(at: dir) }
        for np in [1, 3] {
            let full = dir.appendingPathComponent("full-\(np).model"), part = dir.appendingPathComponent("part-\(np).model")
            let whole = try MPIRun.mpirun(np: np, "mpilearn", kmeansArgs(full.path), timeout: 180, environment: env)
            XCTAssertEqual(whole.status, 0, "\(whole)")
            let ck = dir.appendingPathComponent("ck-\(np)")
            let step = try interrupt(np: np, kmeansArgs(part.path), checkpoint: ck, every: 3, signal: SIGUSR1)
            XCTAssertGreaterThanOrEqual(step, 3)
            XCTAssertFalse(FileManager.default.fileExists(atPath: part.path), "an interrupted fit wrote its model")
            let out = try resume(np: np, kmeansArgs(part.path), checkpoint: ck, every: 3)
            XCTAssertTrue(out.stdout.contains("resumed after \(step) iterations"), out.stdout)
            XCTAssertNotNil(bytes(full))
            XCTAssertEqual(bytes(full), bytes(part), "k-means at \(np) rank(s): the resumed model differs from the uninterrupted one")
        }
    }

    func testKMeansSIGTERMToEveryRankStopsWithCode75() throws {
        // Slurm at walltime (and PBS) send SIGTERM to every task, not to a launcher.
        let dir = try MPIRun.temporaryDirectory("ckpt-term")
        defer { try? FileManager.default.removeItem(at: dir) }
        let full = dir.appendingPathComponent("full.model"), part = dir.appendingPathComponent("part.model")
        XCTAssertEqual(try MPIRun.mpirun(np: 3, "mpilearn", kmeansArgs(full.path), timeout: 180, environment: env).status, 0)
        let ck = dir.appendingPathComponent("ck")
        try interrupt(np: 3, kmeansArgs(part.path), checkpoint: ck, every: 3, signal: SIGTERM, toRanks: true)
        _ = try resume(np: 3, kmeansArgs(part.path), checkpoint: ck, every: 3)
        XCTAssertEqual(bytes(full), bytes(part))
    }

    // MARK: forest

    func testForestResumedAfterSignalEqualsUninterrupted() throws {
        let dir = try MPIRun.temporaryDirectory("ckpt-forest")
        defer { try? FileManager.default.removeItem(at: dir) }
        // Local mode at 1 and 3 ranks; global mode interrupted at 3 ranks and resumed at 1
        // and at 2 (its trees do not depend on the rank count).
        for (mode, np, resumeNP) in [("local", 1, 1), ("local", 3, 3), ("global", 3, 1), ("global", 3, 2)] {
            let full = dir.appendingPathComponent("full-\(mode)-\(np).model"), part = dir.appendingPathComponent("part-\(mode)-\(np)-\(resumeNP).model")
            if !FileManager.default.fileExists(atPath: full.path) {
                let whole = try MPIRun.mpirun(np: np, "mpilearn", forestArgs(full.path, mode: mode), timeout: 180, environment: env)
                XCTAssertEqual(whole.status, 0, "\(whole)")
            }
            let ck = dir.appendingPathComponent("ck-\(mode)-\(np)-\(resumeNP)")
            try interrupt(np: np, forestArgs(part.path, mode: mode), checkpoint: ck, every: 2, signal: SIGUSR1)
            _ = try resume(np: resumeNP, forestArgs(part.path, mode: mode), checkpoint: ck, every: 2)
            XCTAssertNotNil(bytes(full))
            XCTAssertEqual(bytes(full), bytes(part), "forest \(mode), \(np) → \(resumeNP) rank(s): the resumed model differs")
        }
    }

    // MARK: refusals

    func testDamagedOrMismatchedCheckpointIsRefused() throws {
        let dir = try MPIRun.temporaryDirectory("ckpt-refuse")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("m.model").path
        let ck = dir.appendingPathComponent("ck")
        let args = ["forest", "fit", "--train", "classification:3000,5", "--target", "y", "--n-estimators", "8", "--model", model]
        // A complete run leaves its last checkpoint (every 2 trees per rank).
        let first = try MPIRun.mpirun(np: 2, "mpilearn", args + ["--checkpoint", ck.path, "--checkpoint-every", "2"], environment: env)
        XCTAssertEqual(first.status, 0, "\(first)")
        XCTAssertTrue(first.stdout.contains("checkpoint(s) written to"), first.stdout)
        // Each save appended the trees grown since the one before: rank 1's state is in two
        // files, and resuming reads both (the fit is already complete: same model).
        let m0 = try JSONSerialization.jsonObject(with: Data(contentsOf: ck.appendingPathComponent("manifest.json"))) as! [String: Any]
        XCTAssertEqual(((m0["earlier"] as! [[Any]])[1]).count, 1, "\(m0)")
        let firstModel = bytes(URL(fileURLWithPath: model))
        let again = try MPIRun.mpirun(np: 2, "mpilearn", args + ["--checkpoint", ck.path, "--checkpoint-every", "2", "--resume"], environment: env)
        XCTAssertEqual(again.status, 0, "\(again)")
        XCTAssertTrue(again.stdout.contains("resumed after 4 trees per rank"), again.stdout)
        XCTAssertEqual(bytes(URL(fileURLWithPath: model)), firstModel)

        // Other parameters: refused, naming what differs.
        var out = try MPIRun.mpirun(np: 2, "mpilearn", args + ["--max-depth", "3", "--checkpoint", ck.path, "--resume"], environment: env)
        XCTAssertNotEqual(out.status, 0)
        XCTAssertTrue(out.stderr.contains("rank 0/2: error: ") && out.stderr.contains("written by a run with parameters"), out.stderr)
        // Another rank count, where each rank grew its own trees on its own rows: refused.
        out = try MPIRun.mpirun(np: 3, "mpilearn", args + ["--checkpoint", ck.path, "--resume"], environment: env)
        XCTAssertNotEqual(out.status, 0)
        XCTAssertTrue(out.stderr.contains("written by 2 rank(s), and this job has 3"), out.stderr)
        // Another kind of fit in the same directory.
        out = try MPIRun.mpirun(np: 2, "mpilearn", ["kmeans", "fit", "--blobs", "1000,3,3", "--k", "3", "--checkpoint", ck.path, "--resume"], environment: env)
        XCTAssertNotEqual(out.status, 0)
        XCTAssertTrue(out.stderr.contains("checkpoint is of a forest fit, not kmeans"), out.stderr)

        // One flipped byte in rank 1's file: refused as damaged (CRC), on every rank, quickly.
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: ck.appendingPathComponent("manifest.json"))) as! [String: Any]
        let name = ((manifest["files"] as! [[String: Any]])[1])["name"] as! String
        let file = ck.appendingPathComponent(name)
        var data = try Data(contentsOf: file)
        data[data.count / 2] ^= 0x40
        try data.write(to: file)
        out = try MPIRun.mpirun(np: 2, "mpilearn", args + ["--checkpoint", ck.path, "--resume"], timeout: 60, environment: env)
        XCTAssertEqual(out.status, 65, "\(out)")
        XCTAssertFalse(out.timedOut)
        XCTAssertTrue(out.stderr.contains("rank 1/2: error: ") && out.stderr.contains("checkpoint file is damaged (CRC-32"), out.stderr)
        // A truncated file.
        try data.prefix(data.count - 10).write(to: file)
        out = try MPIRun.mpirun(np: 2, "mpilearn", args + ["--checkpoint", ck.path, "--resume"], timeout: 60, environment: env)
        XCTAssertEqual(out.status, 65, "\(out)")
        XCTAssertTrue(out.stderr.contains("and the manifest says"), out.stderr)
        // A manifest that is not one.
        try Data("{not json".utf8).write(to: ck.appendingPathComponent("manifest.json"))
        out = try MPIRun.mpirun(np: 2, "mpilearn", args + ["--checkpoint", ck.path, "--resume"], timeout: 60, environment: env)
        XCTAssertEqual(out.status, 65, "\(out)")
        XCTAssertTrue(out.stderr.contains("checkpoint manifest is damaged"), out.stderr)

        // --resume on a directory without a checkpoint starts from the beginning (a requeued
        // job's first run uses the same command line).
        let empty = dir.appendingPathComponent("empty")
        out = try MPIRun.mpirun(np: 2, "mpilearn", args + ["--checkpoint", empty.path, "--resume"], environment: env)
        XCTAssertEqual(out.status, 0, "\(out)")
        XCTAssertTrue(out.stdout.contains("no checkpoint to resume, started from the beginning"), out.stdout)

        // Command-line mistakes.
        out = try MPIRun.mpirun(np: 1, "mpilearn", args + ["--resume"], environment: env)
        XCTAssertEqual(out.status, 64)
        XCTAssertTrue(out.stderr.contains("--checkpoint-every and --resume need --checkpoint DIR"), out.stderr)
        out = try MPIRun.mpirun(np: 1, "mpilearn", args + ["--checkpoint", ck.path, "--checkpoint-every", "0"], environment: env)
        XCTAssertEqual(out.status, 64)
        XCTAssertTrue(out.stderr.contains("--checkpoint-every"), out.stderr)
    }

    // MARK: search

    func testSearchResumedAfterSignalHasTheSameResults() throws {
        let dir = try MPIRun.temporaryDirectory("ckpt-search")
        defer { try? FileManager.default.removeItem(at: dir) }
        func args(_ tag: String) -> [String] {
            ["search", "grid", "--estimator", "random-forest-classifier", "--train", "classification:5000,8", "--target", "y",
             "--param", "max_depth=2,4,6,8,10", "--param", "n_estimators=30,60", "--cv", "4",
             "--results", dir.appendingPathComponent("\(tag).csv").path, "--output-model", dir.appendingPathComponent("\(tag).model").path]
        }
        let whole = try MPIRun.mpirun(np: 3, "mpilearn", args("full"), timeout: 180, environment: env)
        XCTAssertEqual(whole.status, 0, "\(whole)")
        let ck = dir.appendingPathComponent("ck")
        try interrupt(np: 3, args("part"), checkpoint: ck, every: 3, signal: SIGUSR1)
        // The scores do not depend on the rank count: resume on 2 ranks.
        _ = try resume(np: 2, args("part"), checkpoint: ck, every: 3)
        func rows(_ tag: String) throws -> [[String]] {
            let text = try String(contentsOf: dir.appendingPathComponent("\(tag).csv"), encoding: .utf8)
            let lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            let keep = lines[0].indices.filter { !lines[0][$0].contains("time") }
            return lines.map { l in keep.map { l[$0] } }
        }
        XCTAssertEqual(try rows("full"), try rows("part"), "cv_results (without times) differ after resuming")
    }

    // MARK: linear models

    func testLinearModelsResumedAfterSignalEqualUninterrupted() throws {
        let dir = try MPIRun.temporaryDirectory("ckpt-linear")
        defer { try? FileManager.default.removeItem(at: dir) }
        // L-BFGS iterations (each rank holds a block of the coefficients) and SGD epochs,
        // averaged over the ranks and chained from rank to rank.
        let cases: [(String, [String])] = [
            ("logistic", ["--estimator", "logistic-regression", "--max-iter", "300", "--C", "1000", "--train", "classification:20000,30"]),
            ("sgd-averaged", ["--estimator", "sgd-classifier", "--max-iter", "40", "--n-iter-no-change", "40", "--train", "classification:30000,20"]),
            ("sgd-chained", ["--estimator", "sgd-regressor", "--max-iter", "40", "--n-iter-no-change", "40", "--training", "chained",
                             "--train", "regression:30000,20"]),
        ]
        for (tag, spec) in cases {
            func args(_ model: URL) -> [String] { ["linear", "fit"] + spec + ["--target", "y", "--model", model.path] }
            let full = dir.appendingPathComponent("\(tag)-full.model"), part = dir.appendingPathComponent("\(tag)-part.model")
            let whole = try MPIRun.mpirun(np: 3, "mpilearn", args(full), timeout: 180, environment: env)
            XCTAssertEqual(whole.status, 0, "\(whole)")
            let ck = dir.appendingPathComponent("ck-\(tag)")
            try interrupt(np: 3, args(part), checkpoint: ck, every: 1, signal: SIGUSR1)
            _ = try resume(np: 3, args(part), checkpoint: ck, every: 1)
            XCTAssertNotNil(bytes(full))
            XCTAssertEqual(bytes(full), bytes(part), "\(tag): the resumed model differs from the uninterrupted one")
        }
        // A learner that solves in one pass has nothing to checkpoint: refused by name.
        let out = try MPIRun.mpirun(np: 1, "mpilearn", ["linear", "fit", "--estimator", "ridge", "--train", "regression:100,3", "--target", "y",
                                                        "--model", dir.appendingPathComponent("r.model").path, "--checkpoint", dir.appendingPathComponent("r").path])
        XCTAssertEqual(out.status, 64, "\(out)")
        XCTAssertTrue(out.stderr.contains("ridge solves in one pass"), out.stderr)
    }

    // MARK: unit

    func testSaveRestoreOnInProcessRanksKeepsOneGenerationAndChecksIdentity() throws {
        let dir = try MPIRun.temporaryDirectory("ckpt-unit")
        defer { try? FileManager.default.removeItem(at: dir) }
        let options = CheckpointOptions(directory: dir.path, every: .units(2), resume: true)
        let identity = [("parameters", "{\"k\":3}"), ("data", "x: 10 rows")]
        // Saves at units 2 and 4 (not 1, 3): each rank's state names its rank and step.
        let restored = try LocalWorld.run(size: 3) { comm -> [UInt8] in
            let c = try Checkpointer(options, kind: "unit", unit: "steps", identity: identity, comm: comm)
            XCTAssertNil(try c.restore(), "an empty directory has no checkpoint")
            for step in 1 ... 5 {
                try c.boundary(done: step) {
                    CheckpointState(step: step, header: Data("{}".utf8), sections: [("v", Data([UInt8(comm.rank), UInt8(step)]))])
                }
            }
            XCTAssertEqual(c.written, 2)
            // The second save is written in the background and named in the manifest at finish().
            XCTAssertEqual(c.committedStep, 2)
            try c.finish()
            XCTAssertEqual(c.committedStep, 4)
            let again = try Checkpointer(options, kind: "unit", unit: "steps", identity: identity, comm: comm)
            let state = try XCTUnwrap(try again.restore())
            XCTAssertEqual(state.step, 4)
            XCTAssertEqual(again.resumedFrom, 4)
            return Array(try state.section("v", in: "test"))
        }
        XCTAssertEqual(restored, [[0, 4], [1, 4], [2, 4]])
        // One generation on disk: the manifest and one file per rank.
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        XCTAssertEqual(names, ["g000002-rank0.ckpt", "g000002-rank1.ckpt", "g000002-rank2.ckpt", "manifest.json"])
        // Other identity: refused by rank 0 with the differing value named.
        XCTAssertThrowsError(try LocalWorld.run(size: 3) { comm in
            _ = try Checkpointer(options, kind: "unit", unit: "steps", identity: [("parameters", "{\"k\":4}"), ("data", "x: 10 rows")], comm: comm).restore()
        }) { error in
            XCTAssertTrue("\(error)".contains("with parameters {\"k\":3}, and this run has {\"k\":4}"), "\(error)")
        }
    }

    func testIntervalParsing() throws {
        XCTAssertEqual(try CheckpointOptions.Interval(parsing: "10"), .units(10))
        XCTAssertEqual(try CheckpointOptions.Interval(parsing: "90s"), .seconds(90))
        XCTAssertEqual(try CheckpointOptions.Interval(parsing: "15m"), .seconds(900))
        XCTAssertEqual(try CheckpointOptions.Interval(parsing: "2h"), .seconds(7200))
        for bad in ["0", "-3", "s", "1.5", "ten", "0s", "nans"] {
            XCTAssertThrowsError(try CheckpointOptions.Interval(parsing: bad), bad)
        }
    }
}
