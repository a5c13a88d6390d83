import SwiftMPI

/// Clustering agreement measures over labels spread across ranks.
public enum ClusteringMetrics {
    /// The adjusted Rand index of two labelings of the same rows (Hubert and Arabie 1985;
    /// scikit-learn's `adjusted_rand_score`). Collective: each rank passes its rows' labels;
    /// the contingency table is summed with one allreduce.
    ///
    /// 1 for identical partitions (up to renaming), about 0 for independent ones.
    /// - Throws: ``MPILearnError/mismatch`` when the two label arrays differ in length or a
    ///   label is negative.
    public static func adjustedRandIndex(_ a: [Int32], _ b: [Int32], comm: any Communicator) throws -> Double {
        guard a.count == b.count else { throw MPILearnError.mismatch("adjusted Rand index: \(a.count) labels against \(b.count)") }
        guard !a.contains(where: { $0 < 0 }), !b.contains(where: { $0 < 0 }) else {
            throw MPILearnError.mismatch("adjusted Rand index: labels must be >= 0")
        }
        let na = Int(try comm.allreduce(Int64(a.max() ?? 0), op: .max)) + 1
        let nb = Int(try comm.allreduce(Int64(b.max() ?? 0), op: .max)) + 1
        var table = [Double](repeating: 0, count: na * nb)
        for i in a.indices { table[Int(a[i]) * nb + Int(b[i])] += 1 }
        try comm.allreduce(&table, op: .sum)
        func comb2(_ x: Double) -> Double { x * (x - 1) / 2 }
        var rows = [Double](repeating: 0, count: na), cols = [Double](repeating: 0, count: nb)
        var sumCells = 0.0, n = 0.0
        for i in 0 ..< na {
            for j in 0 ..< nb {
                let v = table[i * nb + j]
                rows[i] += v
                cols[j] += v
                sumCells += comb2(v)
                n += v
            }
        }
        let sumRows = rows.reduce(0) { $0 + comb2($1) }, sumCols = cols.reduce(0) { $0 + comb2($1) }
        let expected = n < 2 ? 0 : sumRows * sumCols / comb2(n)
        let maximum = (sumRows + sumCols) / 2
        if maximum == expected { return 1 }
        return (sumCells - expected) / (maximum - expected)
    }
}
