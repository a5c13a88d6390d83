import ArgumentParser
import Foundation
import MPILearn
import SwiftMPI

/// `mpilearn`: one subcommand per workflow.
@main
struct MPILearnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mpilearn",
        abstract: "scikit-learn-style machine learning on MPI: one SPMD program, launched by mpirun or srun.",
        discussion: """
        Launch any subcommand with `mpirun -np N mpilearn ...` (or `srun`); without a launcher it \
        runs as a one-rank job. An error on any rank prints `rank R/N: error: ...` and ends the \
        whole job with a non-zero exit code (see README: exit codes).
        """,
        version: MPILearnVersion.string,
        subcommands: [InfoCommand.self, CheckCommand.self, GenerateCommand.self, DescribeCommand.self, ConvertCommand.self,
                      ForestCommand.self, ModelCommand.self, KMeansCommand.self, LinearCommand.self, SVMCommand.self, TextCommand.self, SearchCommand.self,
                      PipelineCommand.self, PredictCommand.self])

    /// Parses on every rank (no MPI needed), then runs the command. Parse errors are the same
    /// on every rank, so only launch rank 0 prints them; every rank exits with the same code.
    static func main() {
        // Large arrays are unmapped when freed, so one phase's freed pages do not stay
        // resident beside the next one's (see MemoryTuning).
        MemoryTuning.pinMmapThreshold()
        do {
            var command = try parseAsRoot()
            if let spmd = command as? SPMDCommand {
                Job.run { world in
                    // A bad MPILEARN_KERNELS ends the job on every rank, whatever the command.
                    try Kernels.validateEnvironment(ProcessInfo.processInfo.environment)
                    try spmd.observability.run(spmd, world: world)
                }
            }
            try command.run()
        } catch {
            if (LaunchEnvironment.rank ?? 0) == 0 { exit(withError: error) }
            // The others exit a moment later: Open MPI announces the first rank to exit
            // non-zero at once, and from a silent rank that notice lands inside rank 0's message.
            usleep(300_000)
            Foundation.exit(exitCode(for: error).rawValue)
        }
    }
}

/// A subcommand that runs as an SPMD job: `run(world:)` is called on every rank inside
/// ``Job/run(_:)``, so an error on any rank ends the whole job.
protocol SPMDCommand: ParsableCommand {
    func run(world: any Communicator) throws
    /// `--trace` and `--report`: a workflow command declares
    /// `@OptionGroup(title: "Trace and report") var observability: ObservabilityOptions`; the others run untraced.
    var observability: ObservabilityOptions { get }
}

extension SPMDCommand {
    func run() throws {
        Job.run { world in try observability.run(self, world: world) }
    }

    var observability: ObservabilityOptions { try! ObservabilityOptions.parse([]) }
}

/// Output printed by rank 0 only, flushed per line so batch logs show progress.
func say(_ comm: any Communicator, _ text: String) {
    guard comm.rank == 0 else { return }
    print(text)
    fflush(stdout)
}

/// Prints a line of a library workflow's `log` (the workflows call it on rank 0 only), flushed.
func printLine(_ line: String) {
    print(line)
    fflush(stdout)
}
