import Foundation
import MPILearn
import SwiftMPI

// Input and output files of `mpilearn kmeans`, through the data layer's parallel readers and
// writers: every rank reads only its block of rows and writes its rows at its offset.

/// Loads this rank's block of rows of a `.npy` file (every column) or a `.csv` file (every
/// numeric column; categorical and datetime columns are left out and named on rank 0).
/// `categorical` names CSV columns to read as categories (so left out) whatever they hold: a
/// column of numbers with some text cells is otherwise a data error.
///
/// Collective. Rows are contiguous blocks in file order, so `globalRowStart` is the row's
/// index in the file.
/// - Throws: ``MPILearnError/cannotRead`` for a missing file, ``MPILearnError/dataError`` with
///   the location for malformed content or a file without numeric columns. (Missing and
///   non-finite values are reported by `KMeans.fit` with their row and column, during the
///   pass it makes over the data anyway.)
func loadKMeansData<T: LinearAlgebraScalar & MPIScalar>(_ type: T.Type, path: String, categorical: [String] = [],
                                                        comm: any Communicator) throws -> Dataset<T> {
    let lower = path.lowercased()
    let data: Dataset<T>
    if lower.hasSuffix(".npy") {
        data = try NPY.read(path, as: T.self, comm: comm)
    } else if lower.hasSuffix(".csv") {
        var options = CSVOptions(float32: T.self == Float.self)
        for name in categorical { options.types[name] = .categorical }
        let table = try CSVReader.read(path, options: options, comm: comm)
        let numeric = table.columns.filter {
            switch $0.values { case .float64, .float32: return true; default: return false }
        }.map(\.name)
        guard !numeric.isEmpty else {
            throw MPILearnError.dataError(SourceLocation(file: path), "no numeric columns to cluster (columns: \(listPreview(table.columnNames)))")
        }
        let skipped = table.columnNames.filter { !numeric.contains($0) }
        if comm.isRoot && !skipped.isEmpty { print("kmeans: clustering \(numeric.count) numeric column(s); leaving out \(listPreview(skipped))") }
        data = try table.dataset(T.self, features: numeric)
    } else {
        throw MPILearnError.invalidParameter(name: "--data", value: path, allowed: "a .npy or .csv file")
    }
    return data
}

/// Collective. Writes every rank's labels, in global row order, to one file in parallel:
/// `.npy` gives an int32 array of shape (N,), any other extension a text file with the
/// header `label` and one label per line. The folder must be shared by all ranks.
func writeLabelsParallel(_ labels: [Int32], path: String, comm: any Communicator) throws {
    if path.lowercased().hasSuffix(".npy") {
        try NPY.write(labels, columns: nil, to: path, comm: comm)
        return
    }
    var text = ""
    text.reserveCapacity(labels.count * 3)
    for l in labels { text += "\(l)\n" }
    let bytes = Array(text.utf8)
    try bytes.withUnsafeBytes { try ParallelFile.write(path, header: Array("label\n".utf8), bytes: $0, comm: comm) }
}
