import SwiftMPI

/// Synthetic datasets with scikit-learn's parameters and meaning (`sklearn.datasets.make_*`).
///
/// Each rank generates only its rows. Row `i`'s values come from a ``Philox`` stream keyed by
/// `(randomState, i)`, and shared parameters (centres, covariance factors, coefficients) from
/// streams keyed by `randomState` alone, so the whole dataset is identical for any number of
/// ranks. Differences from scikit-learn: rows are not shuffled (row `i` of a balanced
/// dataset has class `i % nClasses`, so every shard sees every class), and features keep
/// their documented order (informative, redundant, repeated, noise).
public enum Generators {
    /// Stream domains, so the same seed gives independent numbers for each purpose.
    enum Domain: UInt64 {
        case blobCenters = 1, blobRows, classCentroids, classCovariance, classRedundant, classRepeated, classRows, classFlip
        case regressionCoef, regressionRows
    }

    // MARK: blobs

    /// Isotropic Gaussian blobs (`make_blobs`).
    ///
    /// - Parameters:
    ///   - nSamples: total rows over all ranks.
    ///   - nFeatures: columns.
    ///   - centers: number of blobs; their centres are uniform in `centerBox`.
    ///   - clusterStd: standard deviation of each blob.
    ///   - rows: the global rows to generate (a rank's block).
    /// - Returns: features, and the true blob of each row as the target.
    public static func makeBlobs<T: LinearAlgebraScalar>(
        _ type: T.Type = Double.self, nSamples: Int, nFeatures: Int = 2, centers: Int = 3, clusterStd: Double = 1.0,
        centerBox: ClosedRange<Double> = -10.0 ... 10.0, randomState: UInt64 = 0, rows: Range<Int>? = nil
    ) throws -> Dataset<T> {
        try require(nSamples >= 0, "n_samples", nSamples, "an integer >= 0")
        try require(nFeatures >= 1, "n_features", nFeatures, "an integer >= 1")
        try require(centers >= 1, "centers", centers, "an integer >= 1")
        try require(clusterStd >= 0 && clusterStd.isFinite, "cluster_std", clusterStd, "a finite number >= 0")
        let c = blobCenters(nFeatures: nFeatures, centers: centers, centerBox: centerBox, randomState: randomState)
        return try makeBlobs(T.self, nSamples: nSamples, centers: c, clusterStd: clusterStd, randomState: randomState, rows: rows)
    }

    /// Blobs around given centres (`make_blobs(centers=array)`).
    public static func makeBlobs<T: LinearAlgebraScalar>(
        _ type: T.Type = Double.self, nSamples: Int, centers: Matrix<Double>, clusterStd: Double = 1.0,
        randomState: UInt64 = 0, rows: Range<Int>? = nil
    ) throws -> Dataset<T> {
        // Generic code called from another module runs unspecialised (a witness call per
        // value, ~20x slower); dispatch to the concrete instantiations compiled here.
        if T.self == Double.self {
            return try blobs(Double.self, nSamples: nSamples, centers: centers, clusterStd: clusterStd, randomState: randomState, rows: rows) as! Dataset<T>
        }
        if T.self == Float.self {
            return try blobs(Float.self, nSamples: nSamples, centers: centers, clusterStd: clusterStd, randomState: randomState, rows: rows) as! Dataset<T>
        }
        return try blobs(T.self, nSamples: nSamples, centers: centers, clusterStd: clusterStd, randomState: randomState, rows: rows)
    }

    static func blobs<T: LinearAlgebraScalar>(
        _ type: T.Type, nSamples: Int, centers: Matrix<Double>, clusterStd: Double, randomState: UInt64, rows: Range<Int>?
    ) throws -> Dataset<T> {
        let rows = rows ?? 0 ..< nSamples
        try require(rows.lowerBound >= 0 && rows.upperBound <= nSamples, "rows", rows, "a range within 0..<\(nSamples)")
        let k = centers.rows, d = centers.columns
        var x = Matrix<T>(rows: rows.count, columns: d)
        var y = [Double](repeating: 0, count: rows.count)
        x.storage.withUnsafeMutableBufferPointer { out in
            centers.storage.withUnsafeBufferPointer { cs in
                for (local, i) in rows.enumerated() {
                    var rng = Philox(seed: randomState, domain: Domain.blobRows.rawValue, stream: UInt64(i))
                    let label = i % k
                    y[local] = Double(label)
                    for j in 0 ..< d { out[local * d + j] = T(cs[label * d + j] + clusterStd * rng.normal()) }
                }
            }
        }
        return Dataset(features: x, target: y, globalRowStart: rows.lowerBound, globalRowCount: nSamples)
    }

    /// The blob centres `makeBlobs` uses for these parameters (k × nFeatures).
    public static func blobCenters(nFeatures: Int, centers: Int, centerBox: ClosedRange<Double> = -10.0 ... 10.0, randomState: UInt64 = 0) -> Matrix<Double> {
        var rng = Philox(seed: randomState, domain: Domain.blobCenters.rawValue)
        var c = Matrix<Double>(rows: centers, columns: nFeatures)
        for i in c.storage.indices { c.storage[i] = centerBox.lowerBound + (centerBox.upperBound - centerBox.lowerBound) * rng.uniform() }
        return c
    }

    // MARK: classification

    /// A classification problem (`make_classification`): clusters of normally distributed
    /// points around vertices of a hypercube in the informative subspace, with redundant
    /// (linear combinations), repeated and noise features, and a fraction `flipY` of labels
    /// replaced at random.
    public static func makeClassification<T: LinearAlgebraScalar>(
        _ type: T.Type = Double.self, nSamples: Int = 100, nFeatures: Int = 20, nInformative: Int = 2, nRedundant: Int = 2,
        nRepeated: Int = 0, nClasses: Int = 2, nClustersPerClass: Int = 2, weights: [Double]? = nil, flipY: Double = 0.01,
        classSep: Double = 1.0, randomState: UInt64 = 0, rows: Range<Int>? = nil
    ) throws -> Dataset<T> {
        if T.self == Double.self {
            return try classification(Double.self, nSamples, nFeatures, nInformative, nRedundant, nRepeated, nClasses, nClustersPerClass,
                                      weights, flipY, classSep, randomState, rows) as! Dataset<T>
        }
        if T.self == Float.self {
            return try classification(Float.self, nSamples, nFeatures, nInformative, nRedundant, nRepeated, nClasses, nClustersPerClass,
                                      weights, flipY, classSep, randomState, rows) as! Dataset<T>
        }
        return try classification(T.self, nSamples, nFeatures, nInformative, nRedundant, nRepeated, nClasses, nClustersPerClass,
                                  weights, flipY, classSep, randomState, rows)
    }

    static func classification<T: LinearAlgebraScalar>(
        _ type: T.Type, _ nSamples: Int, _ nFeatures: Int, _ nInformative: Int, _ nRedundant: Int, _ nRepeated: Int, _ nClasses: Int,
        _ nClustersPerClass: Int, _ weights: [Double]?, _ flipY: Double, _ classSep: Double, _ randomState: UInt64, _ rows: Range<Int>?
    ) throws -> Dataset<T> {
        try require(nSamples >= 0, "n_samples", nSamples, "an integer >= 0")
        try require(nInformative >= 1, "n_informative", nInformative, "an integer >= 1")
        try require(nRedundant >= 0 && nRepeated >= 0, "n_redundant/n_repeated", "\(nRedundant)/\(nRepeated)", "integers >= 0")
        try require(nInformative + nRedundant + nRepeated <= nFeatures, "n_features", nFeatures,
                    "at least n_informative + n_redundant + n_repeated = \(nInformative + nRedundant + nRepeated)")
        try require(nClasses >= 1, "n_classes", nClasses, "an integer >= 1")
        try require(nClustersPerClass >= 1, "n_clusters_per_class", nClustersPerClass, "an integer >= 1")
        let nClusters = nClasses * nClustersPerClass
        try require(nInformative >= 63 || nClusters <= (1 << nInformative), "n_classes * n_clusters_per_class", nClusters,
                    "at most 2**n_informative = \(nInformative < 63 ? 1 << nInformative : Int.max)")
        try require((0 ... 1).contains(flipY), "flip_y", flipY, "a number in [0, 1]")
        if let w = weights {
            try require(w.count == nClasses || w.count == nClasses - 1, "weights", w, "\(nClasses) (or \(nClasses - 1)) class proportions")
            try require(w.allSatisfy { $0 >= 0 && $0.isFinite }, "weights", w, "non-negative proportions")
        }
        let rows = rows ?? 0 ..< nSamples
        let nInf = nInformative

        // Shared parameters, from the seed alone: hypercube vertices as centroids ...
        var crng = Philox(seed: randomState, domain: Domain.classCentroids.rawValue)
        var vertices: [UInt64] = []
        var seen = Set<UInt64>()
        while vertices.count < nClusters {
            let v = nInf >= 64 ? crng.next() : crng.next() & ((1 << UInt64(nInf)) - 1)
            if seen.insert(v).inserted { vertices.append(v) }
        }
        var centroids = [Double](repeating: 0, count: nClusters * nInf)
        for c in 0 ..< nClusters {
            for j in 0 ..< nInf {
                let bit = j < 64 ? (vertices[c] >> UInt64(j)) & 1 : UInt64(crng.below(2))
                centroids[c * nInf + j] = bit == 1 ? classSep : -classSep
            }
        }
        // ... a random linear map per cluster (covariance factor), uniform in [-1, 1) ...
        var arng = Philox(seed: randomState, domain: Domain.classCovariance.rawValue)
        let covariance = (0 ..< nClusters * nInf * nInf).map { _ in 2 * arng.uniform() - 1 }
        // ... the redundant combinations and the repeated columns.
        var brng = Philox(seed: randomState, domain: Domain.classRedundant.rawValue)
        let redundant = (0 ..< nInf * nRedundant).map { _ in 2 * brng.uniform() - 1 }
        var rrng = Philox(seed: randomState, domain: Domain.classRepeated.rawValue)
        let repeated = (0 ..< nRepeated).map { _ in rrng.below(nInf + nRedundant) }
        var cumulative: [Double]? = nil
        if var w = weights {
            if w.count == nClasses - 1 { w.append(max(0, 1 - w.reduce(0, +))) }
            let s = w.reduce(0, +)
            cumulative = w.indices.map { w[0 ... $0].reduce(0, +) / s }
        }

        var x = Matrix<T>(rows: rows.count, columns: nFeatures)
        var y = [Double](repeating: 0, count: rows.count)
        var z = [Double](repeating: 0, count: nInf), row = [Double](repeating: 0, count: nFeatures)
        for (local, i) in rows.enumerated() {
            var rng = Philox(seed: randomState, domain: Domain.classRows.rawValue, stream: UInt64(i))
            var label: Int
            if let cumulative {
                let u = rng.uniform()
                label = cumulative.firstIndex { u < $0 } ?? nClasses - 1
            } else {
                label = i % nClasses
            }
            let cluster = label + nClasses * ((i / nClasses) % nClustersPerClass)
            for j in 0 ..< nInf { z[j] = rng.normal() }
            for j in 0 ..< nInf {
                var s = centroids[cluster * nInf + j]
                for q in 0 ..< nInf { s += z[q] * covariance[(cluster * nInf + q) * nInf + j] }
                row[j] = s
            }
            for r in 0 ..< nRedundant {
                var s = 0.0
                for q in 0 ..< nInf { s += row[q] * redundant[q * nRedundant + r] }
                row[nInf + r] = s
            }
            for r in 0 ..< nRepeated { row[nInf + nRedundant + r] = row[repeated[r]] }
            for j in (nInf + nRedundant + nRepeated) ..< nFeatures { row[j] = rng.normal() }
            var frng = Philox(seed: randomState, domain: Domain.classFlip.rawValue, stream: UInt64(i))
            if flipY > 0 && frng.uniform() < flipY { label = frng.below(nClasses) }
            y[local] = Double(label)
            for j in 0 ..< nFeatures { x[local, j] = T(row[j]) }
        }
        return Dataset(features: x, target: y, globalRowStart: rows.lowerBound, globalRowCount: nSamples)
    }

    // MARK: regression

    /// A linear regression problem (`make_regression`): standard normal features, the first
    /// `nInformative` with coefficients uniform in [0, 100), plus `bias` and Gaussian `noise`.
    /// - Returns: the dataset and the true coefficients.
    public static func makeRegression<T: LinearAlgebraScalar>(
        _ type: T.Type = Double.self, nSamples: Int = 100, nFeatures: Int = 100, nInformative: Int = 10,
        bias: Double = 0, noise: Double = 0, randomState: UInt64 = 0, rows: Range<Int>? = nil
    ) throws -> (data: Dataset<T>, coefficients: [Double]) {
        if T.self == Double.self {
            let r = try regression(Double.self, nSamples, nFeatures, nInformative, bias, noise, randomState, rows)
            return (r.data as! Dataset<T>, r.coefficients)
        }
        if T.self == Float.self {
            let r = try regression(Float.self, nSamples, nFeatures, nInformative, bias, noise, randomState, rows)
            return (r.data as! Dataset<T>, r.coefficients)
        }
        return try regression(T.self, nSamples, nFeatures, nInformative, bias, noise, randomState, rows)
    }

    static func regression<T: LinearAlgebraScalar>(
        _ type: T.Type, _ nSamples: Int, _ nFeatures: Int, _ nInformative: Int, _ bias: Double, _ noise: Double,
        _ randomState: UInt64, _ rows: Range<Int>?
    ) throws -> (data: Dataset<T>, coefficients: [Double]) {
        try require(nSamples >= 0, "n_samples", nSamples, "an integer >= 0")
        try require(nFeatures >= 1, "n_features", nFeatures, "an integer >= 1")
        try require(nInformative >= 0 && nInformative <= nFeatures, "n_informative", nInformative, "an integer in 0...\(nFeatures)")
        try require(noise >= 0 && noise.isFinite, "noise", noise, "a finite number >= 0")
        let rows = rows ?? 0 ..< nSamples
        var crng = Philox(seed: randomState, domain: Domain.regressionCoef.rawValue)
        let coef = (0 ..< nFeatures).map { $0 < nInformative ? 100 * crng.uniform() : 0 }
        var x = Matrix<T>(rows: rows.count, columns: nFeatures)
        var y = [Double](repeating: 0, count: rows.count)
        for (local, i) in rows.enumerated() {
            var rng = Philox(seed: randomState, domain: Domain.regressionRows.rawValue, stream: UInt64(i))
            var s = bias
            for j in 0 ..< nFeatures {
                let v = rng.normal()
                x[local, j] = T(v)
                s += v * coef[j]
            }
            y[local] = s + (noise > 0 ? noise * rng.normal() : 0)
        }
        return (Dataset(features: x, target: y, globalRowStart: rows.lowerBound, globalRowCount: nSamples), coef)
    }
}
