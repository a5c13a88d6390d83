import ArgumentParser
import MPILearn

/// `--checkpoint DIR --checkpoint-every N|Ns --resume`, shared by the long fits.
struct CheckpointArguments: ParsableArguments {
    @Option(help: ArgumentHelp("Save the fit's state in this directory (on a file system every rank sees), and stop cleanly on SIGTERM/SIGUSR1 with exit code 75 after saving.", valueName: "DIR"))
    var checkpoint: String?
    @Option(help: ArgumentHelp("Also save every N units of work (iterations, trees per rank, tasks), or every 90s/15m/2h by rank 0's clock.", valueName: "N|TIME"))
    var checkpointEvery: String?
    @Flag(help: "Continue from the checkpoint in --checkpoint DIR (a directory without one starts from the beginning, so a requeued job can use the same command).")
    var resume = false

    func validate() throws {
        if checkpoint == nil && (checkpointEvery != nil || resume) {
            throw ValidationError("--checkpoint-every and --resume need --checkpoint DIR")
        }
        if let e = checkpointEvery {
            do { _ = try CheckpointOptions.Interval(parsing: e) } catch { throw ValidationError("\(error)") }
        }
    }

    /// The library's options (nil without --checkpoint).
    func options() throws -> CheckpointOptions? {
        guard let checkpoint else { return nil }
        return CheckpointOptions(directory: checkpoint, every: try checkpointEvery.map { try CheckpointOptions.Interval(parsing: $0) }, resume: resume)
    }
}
