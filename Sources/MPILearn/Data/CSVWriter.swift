import Foundation
import SwiftMPI

/// Writes a dataset spread over ranks as one CSV file, in parallel and atomically.
public enum CSVWriter {
    /// Collective. Writes every rank's rows of `dataset` (features, then the target if any),
    /// in rank order, to `path`, with a header of the feature names and `targetName`.
    ///
    /// Numbers are written in the shortest form that reads back to the same value, so the file
    /// is the same bytes for any number of ranks. Each rank formats its rows in memory and
    /// writes them at its offset (``ParallelFile``).
    /// - Parameters:
    ///   - integerTarget: write the target as integers (class labels).
    public static func write<T: LinearAlgebraScalar>(_ dataset: Dataset<T>, to path: String, targetName: String = "y",
                                                     integerTarget: Bool = false, comm: any Communicator) throws {
        var header = dataset.featureNames.joined(separator: ",")
        if dataset.target != nil { header += "," + targetName }
        header += "\n"
        var bytes: [UInt8] = []
        let d = dataset.featureCount
        bytes.reserveCapacity(dataset.rowCount * (d + 1) * 20)
        dataset.matrix.storage.withUnsafeBufferPointer { x in
            for i in 0 ..< dataset.rowCount {
                for j in 0 ..< d {
                    if j > 0 { bytes.append(UInt8(ascii: ",")) }
                    bytes.append(contentsOf: "\(x[i * d + j])".utf8)
                }
                if let y = dataset.target {
                    bytes.append(UInt8(ascii: ","))
                    bytes.append(contentsOf: (integerTarget ? "\(Int(y[i]))" : "\(y[i])").utf8)
                }
                bytes.append(10)
            }
        }
        try bytes.withUnsafeBytes { try ParallelFile.write(path, header: comm.rank == 0 ? Array(header.utf8) : [], bytes: $0, comm: comm) }
    }
}
