import ArgumentParser
import Foundation
import MPILearn
import SwiftMPI

/// `--trace FILE.json` and `--report FILE.html`, shared by every workflow command
/// (`@OptionGroup(title: "Trace and report") var observability: ObservabilityOptions`). The work is the library's
/// ``Observation``; without either option the command runs untouched.
struct ObservabilityOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Write a Chrome trace-event file of every rank's phases and communication calls (bytes per call); open it in ui.perfetto.dev or chrome://tracing.",
                               valueName: "FILE.json"))
    var trace: String?
    @Option(help: ArgumentHelp("Write a self-contained HTML run report: parameters, per-rank timeline, communication against the analytic minimum, the workflow's figures.",
                               valueName: "FILE.html"))
    var report: String?

    func validate() throws {
        if let trace, trace == report { throw ValidationError("--trace and --report name the same file '\(trace)'; give two paths") }
    }

    /// Collective. Runs `command` on every rank, traced when an output is asked for.
    func run(_ command: any SPMDCommand, world: any Communicator) throws {
        let args = CommandLine.arguments
        let name = type(of: command).configuration.commandName ?? "run"
        let parameters = RunParameters(commandLine: [URL(fileURLWithPath: args.first ?? "mpilearn").lastPathComponent] + args.dropFirst(),
                                       ranks: world.size, threads: RunParameters.threads(in: args))
        try Observation.run(trace: trace, report: report, parameters: parameters, name: name, comm: world) { comm in
            try command.run(world: comm)
        }
    }
}
