import ArgumentParser
import Foundation
import MPILearn
import SwiftMPI

/// `mpilearn convert`: CSV in, one NPY file out, both in parallel.
struct ConvertCommand: SPMDCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Read CSV in parallel and write the selected columns as one 2-D float64 (or --float32) .npy file.",
        discussion: """
        Categorical columns become their global codes (missing: NaN), datetimes seconds since \
        1970. The output is written by all ranks at their offsets and appears atomically; it is \
        the same bytes for any number of ranks.
        """)

    @Argument(help: "A .csv file, a folder of .csv files, or a glob (quote it).") var input: String
    @Option(help: "Output .npy file.") var output: String
    @OptionGroup var csv: CSVFlags

    func validate() throws {
        if !output.hasSuffix(".npy") { throw ValidationError("--output must end in .npy, got \(output)") }
    }

    func run(world: any Communicator) throws {
        let start = Date()
        let table = try CSVReader.read(input, options: try csv.options(), comm: world)
        if csv.float32 {
            try NPY.write(try table.matrix(Float.self, columns: table.columnNames), to: output, comm: world)
        } else {
            try NPY.write(try table.matrix(Double.self, columns: table.columnNames), to: output, comm: world)
        }
        say(world, "wrote \(output): \(table.globalRowCount) rows × \(table.columns.count) columns (\(table.columnNames.joined(separator: ","))) in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
    }
}
