import Foundation
@testable import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// `--trace`: the recording communicator forwards every call and records it with its bytes,
/// tracing off leaves the communicator untouched, and under real `mpirun -np 3` every
/// workflow's trace file is Chrome trace-event JSON with one track per rank.
final class TraceTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try MPIRun.temporaryDirectory("trace")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// The file's `traceEvents`, parsed with JSONSerialization.
    func events(_ name: String) throws -> [[String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(name)))
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try XCTUnwrap(root["traceEvents"] as? [[String: Any]])
    }

    /// Checks the Chrome trace-event shape: one named process per rank, complete events with
    /// non-negative times, communication calls carrying their bytes. Returns the X events.
    @discardableResult
    func checkTrace(_ name: String, ranks: Int, phases: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        let all = try events(name)
        let names = all.filter { $0["name"] as? String == "process_name" }
            .compactMap { e -> String? in (e["args"] as? [String: Any])?["name"] as? String }
        XCTAssertEqual(Set(names), Set((0 ..< ranks).map { "rank \($0)" }), file: file, line: line)
        let spans = all.filter { $0["ph"] as? String == "X" }
        XCTAssertEqual(Set(spans.compactMap { $0["pid"] as? Int }), Set(0 ..< ranks), "one track per rank", file: file, line: line)
        for e in spans {
            let ts = try XCTUnwrap(e["ts"] as? Double), dur = try XCTUnwrap(e["dur"] as? Double)
            XCTAssertGreaterThanOrEqual(ts, 0, file: file, line: line)
            XCTAssertGreaterThanOrEqual(dur, 0, file: file, line: line)
            XCTAssertTrue(["compute", "communication"].contains(e["cat"] as? String ?? ""), "\(e)", file: file, line: line)
        }
        let calls = spans.filter { $0["tid"] as? Int == 1 }
        XCTAssertFalse(calls.isEmpty, file: file, line: line)
        for c in calls {
            XCTAssertEqual(c["cat"] as? String, "communication", file: file, line: line)
            XCTAssertNotNil((c["args"] as? [String: Any])?["bytes"] as? Int, "\(c)", file: file, line: line)
        }
        let collectives = calls.filter { ["allreduce", "broadcast", "gatherv", "allgatherv"].contains($0["name"] as? String ?? "") }
        XCTAssertTrue(collectives.contains { ((($0["args"] as? [String: Any])?["bytes"] as? Int) ?? 0) > 0 }, file: file, line: line)
        for r in 0 ..< ranks {
            let mine = Set(spans.filter { $0["pid"] as? Int == r && $0["tid"] as? Int == 0 }.compactMap { $0["name"] as? String })
            for p in phases { XCTAssertTrue(mine.contains(p), "rank \(r) has no phase \(p): \(mine)", file: file, line: line) }
            // Flat phases: each ends before the next starts, so viewers never nest them.
            let spansOfRank = spans.filter { $0["pid"] as? Int == r && $0["tid"] as? Int == 0 }
                .map { (($0["ts"] as? Double) ?? 0, ($0["dur"] as? Double) ?? 0) }.sorted { $0.0 < $1.0 }
            for (a, b) in zip(spansOfRank, spansOfRank.dropFirst()) {
                XCTAssertLessThanOrEqual(a.0 + a.1, b.0 + 0.002, "rank \(r): phases overlap", file: file, line: line)
            }
        }
        return spans
    }

    // MARK: the recording communicator (ranks as threads)

    func testTracingCommunicatorForwardsAndRecordsBytes() throws {
        let results = try LocalWorld.run(size: 3) { world -> (sum: [Double], gathered: [Int32]?, counter: Int, events: [TraceEvent]) in
            let recorder = TraceRecorder()
            let comm = TracingCommunicator.wrap(world, recorder: recorder)
            XCTAssertTrue(comm.traceRecorder === recorder)
            XCTAssertNil(world.traceRecorder)
            let sum = try comm.allreduce([Double](repeating: Double(world.rank + 1), count: 10), op: .sum)
            let gathered = try comm.gatherv([Int32](repeating: Int32(world.rank), count: world.rank + 1), root: 0)?.values
            let sub = try XCTUnwrap(try comm.split(color: 0, key: world.rank))
            try sub.barrier()
            let counter = try comm.makeSharedCounter(initial: 0)
            let ticket = try counter.fetchAndAdd(1)
            try counter.free()
            return (sum, gathered, ticket, recorder.finish(whole: "test").events)
        }
        for (rank, r) in results.enumerated() {
            XCTAssertEqual(r.sum, [Double](repeating: 6, count: 10))
            XCTAssertEqual(r.gathered, rank == 0 ? [0, 1, 1, 2, 2, 2] : nil)
            let calls = r.events.filter(\.isCall)
            let allreduce = try XCTUnwrap(calls.first { $0.name == "allreduce" && $0.bytes == 80 }, "\(calls)")
            XCTAssertEqual(allreduce.ranks, 3)
            // gatherv: the counts' allgather first, then this rank's block (the root: all 6 values).
            let gathers = calls.filter { $0.name == "gatherv" }
            XCTAssertEqual(gathers.map(\.bytes), [rank == 0 ? 24 : (rank + 1) * 4])
            XCTAssertTrue(calls.contains { $0.name == "barrier" && $0.ranks == 3 }, "split communicator's barrier recorded")
            XCTAssertTrue(calls.contains { $0.name == "fetch_and_add" && $0.bytes == 8 })
            XCTAssertTrue(r.events.contains { !$0.isCall && $0.name == "test" }, "an unmarked run is one phase")
            for e in r.events { XCTAssertGreaterThanOrEqual(e.duration, 0) }
        }
        XCTAssertEqual(Set(results.map(\.counter)), [0, 1, 2])
    }

    func testPhaseMarksAndPhaseTimerRecordOnlyWhenTraced() throws {
        let solo = LocalCommunicator.solo()
        solo.traceMark("ignored")        // no recorder: nothing happens
        var untraced = PhaseTimer(trace: solo)
        untraced.mark("load", comm: false)
        XCTAssertEqual(untraced.phases.count, 1)

        let recorder = TraceRecorder()
        let comm = TracingCommunicator.wrap(solo, recorder: recorder)
        comm.traceMark("load")
        comm.traceMark("fit")
        var timer = PhaseTimer(trace: comm)
        timer.add("bin", 0.5, comm: false)
        timer.mark("vote", comm: true)
        comm.traceAttach({ [.bars(title: "t", labels: ["a"], values: [1])] },
                             model: { CommunicationModel(formula: "f", minimumBytesPerRank: 8) })
        let trace = recorder.finish(whole: "whole")
        let phases = trace.events.filter { !$0.isCall }
        XCTAssertEqual(Set(phases.map(\.name)), ["load", "fit", "bin", "vote"])
        // "bin" was laid from the last mark with its measured 0.5 s, past "vote"'s start: cut there.
        let bin = try XCTUnwrap(phases.first { $0.name == "bin" }), vote = try XCTUnwrap(phases.first { $0.name == "vote" })
        XCTAssertLessThan(bin.duration, 500_000)
        XCTAssertEqual(bin.start + bin.duration, vote.start, accuracy: 1e-6)
        for (a, b) in zip(phases, phases.dropFirst()) { XCTAssertLessThanOrEqual(a.start + a.duration, b.start + 1e-6, "\(a.name) overlaps \(b.name)") }
        XCTAssertEqual(phases.first { $0.name == "vote" }?.category, .communication)
        XCTAssertEqual(trace.figures.count, 1)
        XCTAssertEqual(trace.communicationModel?.minimumBytesPerRank, 8)
    }

    func testObservationWithoutOutputsRunsOnTheWorldItself() throws {
        let solo = LocalCommunicator.solo()
        var seen: (any Communicator)?
        try Observation.run(trace: nil, report: nil, parameters: RunParameters(commandLine: ["x"], ranks: 1, threads: 1), name: "x", comm: solo) { seen = $0 }
        XCTAssertTrue(seen === solo)
        XCTAssertThrowsError(try Observation.run(trace: path("a"), report: path("a"), parameters: RunParameters(commandLine: ["x"], ranks: 1, threads: 1),
                                                 name: "x", comm: solo) { _ in XCTFail("must not run") }) { error in
            XCTAssertTrue("\(error)".contains("--report"), "\(error)")
        }
        XCTAssertThrowsError(try Observation.run(trace: path("missing/t.json"), report: nil, parameters: RunParameters(commandLine: ["x"], ranks: 1, threads: 1),
                                                 name: "x", comm: solo) { _ in XCTFail("must not run") })
        XCTAssertEqual(RunParameters.threads(in: ["mpilearn", "kmeans", "fit", "--threads", "4"]), 4)
        XCTAssertEqual(RunParameters.threads(in: ["mpilearn", "--threads=3"]), 3)
        XCTAssertEqual(RunParameters.threads(in: ["mpilearn"]), 1)
    }

    func testACollectiveStopStillWritesTheTraceAndTheReport() throws {
        // A walltime signal stops every rank at the same point (after its checkpoint): the
        // run so far is written, then the stop goes on to Job.run (exit 75).
        let params = RunParameters(commandLine: ["mpilearn", "kmeans", "fit"], ranks: 3, threads: 1)
        let outcomes = try LocalWorld.run(size: 3) { world -> String in
            do {
                try Observation.run(trace: self.path("stop.json"), report: self.path("stop.html"), parameters: params, name: "fit", comm: world) { comm in
                    comm.traceMark("fit")
                    _ = try comm.allreduce([1.0], op: .sum)
                    throw CollectiveStop(message: "stopped by SIGUSR1")
                }
                return "finished"
            } catch let stop as CollectiveStop {
                return stop.message
            }
        }
        XCTAssertEqual(outcomes, [String](repeating: "stopped by SIGUSR1", count: 3))
        try checkTrace("stop.json", ranks: 3, phases: ["fit"])
        XCTAssertTrue(try String(contentsOfFile: path("stop.html"), encoding: .utf8).contains("data-rank=\"2\""))
    }

    func testChromeTraceOfThreadRanksParsesWithOneTrackPerRank() throws {
        let traces = try LocalWorld.run(size: 3) { world -> RankTrace in
            let recorder = TraceRecorder()
            let comm = TracingCommunicator.wrap(world, recorder: recorder)
            comm.traceMark("fit \"quoted\" \\ name\n")
            _ = try comm.allreduce([1.0, 2.0], op: .sum)
            return recorder.finish(whole: "w")
        }
        let json = ChromeTrace.json(traces, parameters: RunParameters(commandLine: ["mpilearn", "a\"b"], ranks: 3, threads: 1))
        try json.write(toFile: path("t.json"), atomically: true, encoding: .utf8)
        try checkTrace("t.json", ranks: 3, phases: ["fit \"quoted\" \\ name\n"])
    }

    // MARK: real mpirun

    func testKMeansFitTraceUnderMpirun() throws {
        let out = try MPIRun.mpirun(np: 3, "mpilearn", ["kmeans", "fit", "--blobs", "3000,4,3", "--k", "3", "--trace", path("km.json")], timeout: 120)
        XCTAssertEqual(out.status, 0, "\(out)")
        let spans = try checkTrace("km.json", ranks: 3, phases: ["load", "fit", "write"])
        // Every Lloyd iteration's allreduce: sums, counts, inertia, changed and skipped rows,
        // k·(d+1)+3 float64 = 3·5+3 = 18 values, 144 bytes, on every rank.
        for r in 0 ..< 3 {
            let lloyd = spans.filter { $0["pid"] as? Int == r && $0["name"] as? String == "allreduce" && (($0["args"] as? [String: Any])?["bytes"] as? Int) == 144 }
            XCTAssertFalse(lloyd.isEmpty, "rank \(r)")
        }
    }

    func testForestRunAndSearchTracesUnderMpirun() throws {
        let forest = try MPIRun.mpirun(np: 3, "mpilearn", ["forest", "run", "--train", "classification:400,5", "--test", "classification:100,5",
                                                          "--n-estimators", "4", "--trace", path("forest.json")], timeout: 120)
        XCTAssertEqual(forest.status, 0, "\(forest)")
        try checkTrace("forest.json", ranks: 3, phases: ["load", "fit", "predict", "vote"])

        let search = try MPIRun.mpirun(np: 3, "mpilearn", ["search", "grid", "--estimator", "random-forest-classifier", "--train", "classification:300,4",
                                                          "--param", "n_estimators=2,3", "--param", "max_depth=2,3,none", "--cv", "3",
                                                          "--trace", path("search.json")], timeout: 180)
        XCTAssertEqual(search.status, 0, "\(search)")
        try checkTrace("search.json", ranks: 3, phases: ["load", "search", "write"])
    }

    func testWalltimeSignalUnderMpirunWritesTheTraceOfTheRunSoFar() throws {
        // SIGUSR1 to mpirun after the first checkpoint: every rank stops with code 75, and
        // the trace and the report of the iterations run so far are written on the way out.
        let ck = dir.appendingPathComponent("ck")
        let job = try BackgroundJob.mpirun(np: 3, "mpilearn", ["kmeans", "fit", "--blobs", "12000,6,30", "--cluster-std", "6", "--k", "40", "--init", "random",
                                                              "--tol", "0", "--max-iter", "40", "--checkpoint", ck.path, "--checkpoint-every", "3",
                                                              "--trace", path("stop.json"), "--report", path("stop.html")])
        XCTAssertTrue(job.waitUntil(timeout: 90) { FileManager.default.fileExists(atPath: ck.appendingPathComponent("manifest.json").path) },
                      "no checkpoint was written\n\(job.stdout)\n\(job.stderr)")
        job.signalLauncher(SIGUSR1)
        let out = job.wait(timeout: 60)
        XCTAssertEqual(out.status, 75, "\(out)")
        try checkTrace("stop.json", ranks: 3, phases: ["load", "fit"])
        XCTAssertTrue(try String(contentsOfFile: path("stop.html"), encoding: .utf8).contains("data-rank=\"2\""))
    }

    func testTraceThroughSymlinkAndParallelHDF5StillWorks() throws {
        // The wrapped communicator still lends MPI's handle: convert writes HDF5 in parallel.
        var csv = "a,b\n"
        for i in 0 ..< 60 { csv += "\(i),\(Double(i) / 2)\n" }
        try csv.write(toFile: path("in.csv"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: path("link.json"), withDestinationPath: path("real.json"))
        let out = try MPIRun.mpirun(np: 3, "mpilearn", ["convert", path("in.csv"), "--output", path("out.h5"), "--trace", path("link.json")], timeout: 120)
        XCTAssertEqual(out.status, 0, "\(out)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("out.h5")))
        let dest = try FileManager.default.destinationOfSymbolicLink(atPath: path("link.json"))
        XCTAssertEqual(dest, path("real.json"), "the link stays a link")
        let spans = try checkTrace("real.json", ranks: 3, phases: ["convert"])
        // Parallel HDF5 (MPI-IO through the wrapped communicator's handle), not the fallback
        // that gathers every rank's rows to rank 0.
        XCTAssertFalse(spans.contains { $0["pid"] as? Int == 1 && $0["name"] as? String == "gatherv" }, "\(spans)")

        let bad = try MPIRun.mpirun(np: 2, "mpilearn", ["kmeans", "fit", "--blobs", "100,2,2", "--k", "2", "--trace", path("nowhere/t.json")], timeout: 60)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("nowhere"), "\(bad)")
    }
}
