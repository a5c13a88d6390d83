import ArgumentParser
import Foundation
import MPILearn
import SwiftMPI

/// `mpilearn convert`: CSV or HDF5 in, one NPY or HDF5 file out, both in parallel.
struct ConvertCommand: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Read CSV or HDF5 in parallel and write the columns as one 2-D .npy file or an HDF5 object.",
        discussion: """
        Input: a .csv file, folder or glob, or an HDF5 object (`in.h5:/group`: a 2-D dataset, \
        a 1-D dataset, a group of 1-D column datasets or a pandas fixed-format frame; without \
        `:/...`, the only object at the file's root). Each rank reads its block of rows.

        Output: a .npy file (2-D float64, or --float32; categorical columns become their \
        global codes, missing NaN, datetimes seconds since 1970), or an HDF5 object \
        (`out.h5:/data`, default object /data) written by all ranks through MPI-IO: \
        --hdf5-layout matrix (one 2-D float64 dataset with a `columns` attribute) or columns \
        (a group of 1-D datasets: float64, int64 for datetimes, strings for categorical \
        columns). Outputs appear atomically and hold the same values for any number of ranks.
        """)

    @Argument(help: "A .csv file, a folder of .csv files, a glob (quote it), or an HDF5 object FILE.h5[:/OBJECT].") var input: String
    @Option(help: "Output: a .npy file or an HDF5 object FILE.h5[:/OBJECT] (default object /data).") var output: String
    @Option(help: "How an HDF5 output stores the columns.") var hdf5Layout: HDF5Writer.Layout = .matrix
    @OptionGroup var csv: CSVFlags

    func validate() throws {
        let h5 = HDF5Source.isHDF5(output)
        if !output.hasSuffix(".npy") && !h5 {
            throw ValidationError("--output must end in .npy or name an HDF5 file (.h5, .hdf5: out.h5:/data), got \(output)")
        }
        if h5 && csv.float32 { throw ValidationError("--float32 applies to .npy outputs; HDF5 outputs are float64") }
    }

    func run(world: any Communicator) throws {
        let start = Date()
        let table = HDF5Source.isHDF5(input)
            ? try HDF5Reader.read(HDF5Source(parsing: input), comm: world)
            : try CSVReader.read(input, options: try csv.options(), comm: world)
        var written = output
        if HDF5Source.isHDF5(output) {
            let target = HDF5Source(parsing: output)
            let object = target.object ?? "/data"
            try HDF5Writer.write(table, to: target.file, object: object, layout: hdf5Layout, comm: world)
            written = "\(target.file):\(object)"
        } else if csv.float32 {
            try NPY.write(try table.matrix(Float.self, columns: table.columnNames), to: output, comm: world)
        } else {
            try NPY.write(try table.matrix(Double.self, columns: table.columnNames), to: output, comm: world)
        }
        say(world, "wrote \(written): \(table.globalRowCount) rows × \(table.columns.count) columns (\(table.columnNames.joined(separator: ","))) in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
    }
}
