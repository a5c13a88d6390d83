import Foundation
import SwiftMPI

/// What a traced run was: shown at the top of the run report and stored in the trace file.
public struct RunParameters: Codable, Sendable, Equatable {
    /// The command line, program name first.
    public var commandLine: [String]
    public var ranks: Int
    /// Threads per rank (the command's `--threads`, 1 when it has none).
    public var threads: Int
    public var version: String
    /// When the run started, ISO 8601 in UTC.
    public var date: String

    public init(commandLine: [String], ranks: Int, threads: Int, version: String = MPILearnVersion.string, date: Date = Date()) {
        self.commandLine = commandLine
        self.ranks = ranks
        self.threads = threads
        self.version = version
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(identifier: "UTC")
        self.date = f.string(from: date)
    }

    /// The threads a command line asks for: the value of its last `--threads N`
    /// (or `--threads=N`), else 1.
    public static func threads(in arguments: [String]) -> Int {
        var n = 1
        for (i, a) in arguments.enumerated() {
            if a == "--threads", i + 1 < arguments.count, let v = Int(arguments[i + 1]) { n = v }
            if a.hasPrefix("--threads="), let v = Int(a.dropFirst("--threads=".count)) { n = v }
        }
        return n
    }
}

/// Runs a workflow with `--trace FILE.json` and `--report FILE.html`: the library half of the
/// CLI's observability options.
///
/// When neither output is asked for, `body` runs on `world` itself and nothing is recorded.
/// Otherwise every rank records into its own ``TraceRecorder`` through a
/// ``TracingCommunicator`` wrapped around `world`; when `body` returns, rank 0 gathers every
/// rank's events (through `world`, so the gather is not part of the trace) and writes the
/// files atomically (``AtomicFile``: links followed, FIFOs written straight through). A run
/// stopped on purpose on every rank (``CollectiveStop``: a walltime signal after its
/// checkpoint) writes both, then stops; a run that fails writes neither: the job ends as any
/// failed job does.
public enum Observation {
    /// Collective. Runs `body` and writes the trace and the report asked for.
    /// - Parameters:
    ///   - trace: Chrome trace-event JSON output (``ChromeTrace``), or nil.
    ///   - report: HTML run report output (``RunReport``), or nil.
    ///   - parameters: shown in the report and stored in the trace.
    ///   - name: the phase a rank's whole run becomes when the workflow marks none.
    /// - Throws: ``MPILearnError/cannotWrite`` (before `body` runs) when an output's folder is
    ///   missing or not writable, ``MPILearnError/invalidParameter`` when both outputs are the
    ///   same path; whatever `body` throws.
    public static func run(trace: String?, report: String?, parameters: RunParameters, name: String, comm world: any Communicator,
                           _ body: (any Communicator) throws -> Void) throws {
        guard trace != nil || report != nil else { return try body(world) }
        if let t = trace, let r = report, t == r {
            throw MPILearnError.invalidParameter(name: "--report", value: r, allowed: "a path other than --trace's")
        }
        if world.rank == 0 { for p in [trace, report].compactMap({ $0 }) { try OutputTarget.requireWritableFolder(of: p) } }
        try world.barrier()   // the ranks' start marks line up
        let recorder = TraceRecorder()
        do {
            try body(TracingCommunicator.wrap(world, recorder: recorder))
        } catch let stop as CollectiveStop {
            // Every rank stopped at the same point (a walltime signal, after its checkpoint):
            // the run so far is still worth its trace, and the gather cannot hang.
            try write(recorder.finish(whole: name), trace: trace, report: report, parameters: parameters, comm: world)
            throw stop
        }
        try write(recorder.finish(whole: name), trace: trace, report: report, parameters: parameters, comm: world)
    }

    /// Collective. Gathers every rank's recording to rank 0, which writes the outputs.
    static func write(_ mine: RankTrace, trace: String?, report: String?, parameters: RunParameters, comm world: any Communicator) throws {
        guard let all = try world.gatherObject(mine) else { return }
        if let t = trace { try AtomicFile.write(ChromeTrace.json(all, parameters: parameters), to: t) }
        if let r = report { try AtomicFile.write(RunReport(parameters: parameters, ranks: all).html(), to: r) }
    }
}

/// Chrome's trace-event format (what Perfetto's UI and `chrome://tracing` open).
///
/// One process per rank (`pid` = rank, named `rank R`), with two threads: `phases` (tid 0:
/// the workflow's phases, `cat` compute or communication) and `communication` (tid 1: every
/// communication call, `cat` communication, `args.bytes` its payload). Every span is a
/// complete event (`ph` "X") with `ts` and `dur` in microseconds.
public enum ChromeTrace {
    /// The JSON document for every rank's recording, in rank order.
    public static func json(_ ranks: [RankTrace], parameters: RunParameters) -> String {
        var out = "{\"traceEvents\":[\n"
        var first = true
        func add(_ s: String) {
            if !first { out += ",\n" }
            first = false
            out += s
        }
        for (r, trace) in ranks.enumerated() {
            add("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":\(r),\"tid\":0,\"args\":{\"name\":\"rank \(r)\"}}")
            add("{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":\(r),\"tid\":0,\"args\":{\"sort_index\":\(r)}}")
            add("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":\(r),\"tid\":0,\"args\":{\"name\":\"phases\"}}")
            add("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":\(r),\"tid\":1,\"args\":{\"name\":\"communication\"}}")
            for e in trace.events {
                var args = ""
                if let b = e.bytes { args += "\"bytes\":\(b)" }
                if let n = e.ranks { args += (args.isEmpty ? "" : ",") + "\"ranks\":\(n)" }
                add("{\"name\":\(string(e.name)),\"cat\":\"\(e.category.rawValue)\",\"ph\":\"X\",\"pid\":\(r),\"tid\":\(e.isCall ? 1 : 0),"
                    + "\"ts\":\(number(e.start)),\"dur\":\(number(e.duration)),\"args\":{\(args)}}")
            }
        }
        out += "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{"
        out += "\"command\":\(string(parameters.commandLine.joined(separator: " "))),\"ranks\":\(parameters.ranks),"
        out += "\"threads\":\(parameters.threads),\"version\":\(string(parameters.version)),\"date\":\(string(parameters.date)),"
        out += "\"dropped_events\":\(ranks.reduce(0) { $0 + $1.droppedEvents })}}\n"
        return out
    }

    /// Microseconds with three decimals (nanoseconds), never negative.
    static func number(_ v: Double) -> String { String(format: "%.3f", max(0, v.isFinite ? v : 0)) }

    /// A JSON string literal.
    static func string(_ s: String) -> String {
        var o = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": o += "\\\""
            case "\\": o += "\\\\"
            case "\n": o += "\\n"
            case "\r": o += "\\r"
            case "\t": o += "\\t"
            case _ where u.value < 0x20: o += String(format: "\\u%04x", u.value)
            default: o.unicodeScalars.append(u)
            }
        }
        return o + "\""
    }
}
