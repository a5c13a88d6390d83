import Foundation
import SwiftMPI

// Column statistics over every rank's rows, for the preprocessing steps' fits. Every function
// here is collective (call it on every rank, with the same number of columns) and returns the
// same answer on every rank. NaN is missing and ignored throughout; a column with no value
// on any rank gets count 0 and NaN (or nil) statistics, and the caller decides what that means.

/// Collective statistics of several columns at once, over every rank's rows.
///
/// Counts, minima, maxima, order statistics, quantiles and most frequent values are exact and
/// independent of the number of ranks (bit for bit). Means and variances are merged with
/// Chan's pairwise formula and agree across rank counts to rounding (a few units in the last
/// place), not bitwise.
public enum DistributedStatistics {
    // MARK: - moments

    /// Count, mean and sum of squared deviations of one column's non-missing values.
    public struct Moments: Sendable, Equatable {
        /// Values that are not NaN.
        public var count: Int
        /// Their mean (NaN when `count` is 0).
        public var mean: Double
        /// Σ (x − mean)² (NaN when `count` is 0).
        public var m2: Double

        public init(count: Int, mean: Double, m2: Double) {
            self.count = count
            self.mean = mean
            self.m2 = m2
        }

        /// The population variance `m2 / count` (ddof 0, as scikit-learn's `var_`).
        public var variance: Double { count > 0 ? m2 / Double(count) : .nan }

        /// The moments of the union of two disjoint sets of values (Chan, Golub & LeVeque
        /// 1979): `δ = mean_b − mean_a`, `mean = mean_a + δ·n_b/n`, `M2 = M2_a + M2_b + δ²·n_a·n_b/n`.
        public func merged(with b: Moments) -> Moments {
            if b.count == 0 { return self }
            if count == 0 { return b }
            let na = Double(count), nb = Double(b.count), n = na + nb
            let delta = b.mean - mean
            return Moments(count: count + b.count, mean: mean + delta * (nb / n), m2: m2 + b.m2 + delta * delta * (na * nb / n))
        }
    }

    /// Collective. The count, mean and M2 of each column's non-missing values over every rank.
    ///
    /// Each rank computes its own moments in two passes (the mean, then the deviations d from
    /// it, whose mean refines it, and M2 = Σd² − (Σd)²/n, as scikit-learn's
    /// `_incremental_mean_and_var` corrects it); one allgather brings every rank's (n, mean,
    /// M2), and every rank merges them in rank order with ``Moments/merged(with:)``, so all
    /// ranks hold the same bits. The result differs between rank counts by rounding only,
    /// since the merge tree differs: the means by a few ulps, the variances by about
    /// ε·|mean|/σ relative to the variance divided by √n (1e-15 for ordinary data; more for a
    /// column whose mean dwarfs its spread).
    /// - Parameters:
    ///   - columns: this rank's values of each column (every rank passes the same number).
    ///   - comm: the communicator.
    /// - Returns: one ``Moments`` per column.
    public static func moments(_ columns: [[Double]], comm: any Communicator) throws -> [Moments] {
        var local = [Double]()
        local.reserveCapacity(3 * columns.count)
        for column in columns {
            let m = localMoments(column)
            local += [Double(m.count), m.mean, m.m2]
        }
        let (all, layout) = try comm.allgatherv(local)
        var out = [Moments](repeating: Moments(count: 0, mean: .nan, m2: .nan), count: columns.count)
        for r in 0 ..< comm.size {
            let base = layout.displacements[r]
            precondition(layout.counts[r] == local.count, "DistributedStatistics.moments: rank \(r) passed \(layout.counts[r] / 3) columns, this rank \(columns.count)")
            for j in columns.indices {
                let m = Moments(count: Int(all[base + 3 * j]), mean: all[base + 3 * j + 1], m2: all[base + 3 * j + 2])
                out[j] = out[j].merged(with: m)
            }
        }
        return out
    }

    /// The moments of one rank's values of a column (two passes, NaN skipped).
    static func localMoments(_ column: [Double]) -> Moments {
        column.withUnsafeBufferPointer { x in
            var n = 0
            var sum = 0.0
            for v in x where !v.isNaN {
                n += 1
                sum += v
            }
            guard n > 0 else { return Moments(count: 0, mean: .nan, m2: .nan) }
            let mean = sum / Double(n)
            var s = 0.0, s2 = 0.0
            for v in x where !v.isNaN {
                let d = v - mean
                s += d
                s2 += d * d
            }
            // The deviations' own mean s/n refines the mean (the first pass loses digits when
            // |mean| ≫ σ); M2 about the refined mean is Σd² − (Σd)²/n.
            return Moments(count: n, mean: mean + s / Double(n), m2: max(0, s2 - s * s / Double(n)))
        }
    }

    // MARK: - counts and extrema

    /// Collective. The number of non-missing values of each column over every rank (exact).
    public static func counts(_ columns: [[Double]], comm: any Communicator) throws -> [Int] {
        let local = columns.map { c in Int64(c.withUnsafeBufferPointer { x in x.reduce(0) { $0 + ($1.isNaN ? 0 : 1) } }) }
        return try comm.allreduce(local, op: .sum).map(Int.init)
    }

    /// A column's count of non-missing values, minimum and maximum.
    public struct Extrema: Sendable, Equatable {
        public var count: Int
        /// The smallest value (NaN when `count` is 0).
        public var min: Double
        /// The largest value (NaN when `count` is 0).
        public var max: Double
    }

    /// Collective. Each column's count, minimum and maximum over every rank (exact: three
    /// allreduces of one value per column).
    public static func extrema(_ columns: [[Double]], comm: any Communicator) throws -> [Extrema] {
        var lo = [Double](repeating: .infinity, count: columns.count)
        var hi = [Double](repeating: -.infinity, count: columns.count)
        var n = [Int64](repeating: 0, count: columns.count)
        for (j, c) in columns.enumerated() {
            c.withUnsafeBufferPointer { x in
                for v in x where !v.isNaN {
                    n[j] += 1
                    if v < lo[j] { lo[j] = v }
                    if v > hi[j] { hi[j] = v }
                }
            }
        }
        try comm.allreduce(&n, op: .sum)
        try comm.allreduce(&lo, op: .min)
        try comm.allreduce(&hi, op: .max)
        return columns.indices.map { j in
            n[j] == 0 ? Extrema(count: 0, min: .nan, max: .nan) : Extrema(count: Int(n[j]), min: lo[j], max: hi[j])
        }
    }

    // MARK: - order statistics

    /// The order-preserving key of a double: `a < b` ⇔ `key(a) < key(b)` for non-NaN values
    /// (−0 is taken as +0). Negative values have every bit flipped, others the sign bit set.
    @inline(__always)
    static func key(_ x: Double) -> UInt64 {
        let b = (x == 0 ? 0.0 : x).bitPattern
        return b & (1 << 63) != 0 ? ~b : b | (1 << 63)
    }

    /// The double whose ``key(_:)`` is `k`.
    @inline(__always)
    static func value(ofKey k: UInt64) -> Double {
        Double(bitPattern: k & (1 << 63) != 0 ? k & ~(1 << 63) : ~k)
    }

    /// Collective. Exact order statistics of each column over every rank, by a distributed
    /// radix select.
    ///
    /// Values map to order-preserving 64-bit keys (``key(_:)``). Eight rounds each fix one byte
    /// of every wanted key, most significant first: every rank counts its candidate keys (those
    /// matching the prefix fixed so far) into 256 buckets by the next byte, one allreduce sums
    /// the histograms of every column and every distinct prefix, and each wanted rank steps
    /// into the bucket holding it. Only the candidates are scanned again, so the local work is
    /// about one pass over the data plus the shrinking candidate sets; the communication is
    /// eight allreduces of 256 counts per (column, distinct prefix). The answer is a value of
    /// the data, the same bits at any rank count.
    /// - Parameters:
    ///   - columns: this rank's values of each column; NaN is skipped.
    ///   - ranks: for each column, the 0-based ranks wanted among its non-missing values over
    ///     every rank (each below that count, see ``counts(_:comm:)``); the same on every rank.
    ///   - comm: the communicator.
    /// - Returns: for each column, the values at `ranks` in ascending order of value.
    public static func orderStatistics(_ columns: [[Double]], ranks: [[Int]], comm: any Communicator) throws -> [[Double]] {
        precondition(columns.count == ranks.count, "orderStatistics: \(columns.count) columns but \(ranks.count) rank lists")
        struct Target { var slot: Int; var rank: Int }
        struct Group { var column: Int; var prefix: UInt64; var keys: [UInt64]; var targets: [Target] }
        var groups: [Group] = []
        for j in columns.indices where !ranks[j].isEmpty {
            let keys = columns[j].withUnsafeBufferPointer { x -> [UInt64] in
                var k = [UInt64]()
                k.reserveCapacity(x.count)
                for v in x where !v.isNaN { k.append(key(v)) }
                return k
            }
            groups.append(Group(column: j, prefix: 0, keys: keys, targets: ranks[j].enumerated().map { Target(slot: $0.offset, rank: $0.element) }))
        }
        var results = ranks.map { [Double](repeating: .nan, count: $0.count) }
        for round in 0 ..< 8 where !groups.isEmpty {
            let shift = UInt64(56 - 8 * round)
            var hist = [Int64](repeating: 0, count: groups.count * 256)
            hist.withUnsafeMutableBufferPointer { h in
                for (g, group) in groups.enumerated() {
                    group.keys.withUnsafeBufferPointer { k in
                        let base = g * 256
                        for key in k { h[base + Int(truncatingIfNeeded: (key >> shift) & 0xFF)] += 1 }
                    }
                }
            }
            try comm.allreduce(&hist, op: .sum)
            var next: [Group] = []
            for (g, group) in groups.enumerated() {
                // Each wanted rank's bucket, and its rank within the bucket.
                var buckets: [(bucket: Int, targets: [Target])] = []
                for t in group.targets {
                    var below: Int64 = 0, b = 0
                    while b < 255, below + hist[g * 256 + b] <= Int64(t.rank) {
                        below += hist[g * 256 + b]
                        b += 1
                    }
                    precondition(Int64(t.rank) - below < hist[g * 256 + b], "orderStatistics: rank \(t.rank) of column \(group.column) is not below its count of values")
                    let inner = Target(slot: t.slot, rank: t.rank - Int(below))
                    if let i = buckets.firstIndex(where: { $0.bucket == b }) { buckets[i].targets.append(inner) } else { buckets.append((b, [inner])) }
                }
                for (b, targets) in buckets {
                    let prefix = (group.prefix << 8) | UInt64(b)
                    if round == 7 {
                        for t in targets { results[group.column][t.slot] = value(ofKey: prefix) }
                        continue
                    }
                    let keys = group.keys.withUnsafeBufferPointer { k -> [UInt64] in
                        var out = [UInt64]()
                        let want = UInt64(b)
                        for key in k where (key >> shift) & 0xFF == want { out.append(key) }
                        return out
                    }
                    next.append(Group(column: group.column, prefix: prefix, keys: keys, targets: targets))
                }
            }
            groups = next
        }
        return results
    }

    /// Collective. Quantiles of each column's non-missing values over every rank, exact, with
    /// NumPy's default linear interpolation (`np.nanquantile(x, q)`, `method="linear"`): at
    /// position `h = (n − 1)·q` between the order statistics `a = x₍⌊h⌋₎` and `b = x₍⌊h⌋+1₎`, with
    /// `t = h − ⌊h⌋`, the quantile is `a + (b − a)·t` for `t < 0.5` and `b − (b − a)·(1 − t)`
    /// otherwise (NumPy's `_lerp`, bit for bit).
    /// - Parameters:
    ///   - columns: this rank's values of each column; NaN is skipped.
    ///   - q: the quantiles wanted, each in [0, 1] (a percentile `p` is `p / 100`).
    ///   - comm: the communicator.
    /// - Returns: for each column, one value per `q` (NaN for a column with no value).
    public static func quantiles(_ columns: [[Double]], q: [Double], comm: any Communicator) throws -> [[Double]] {
        precondition(q.allSatisfy { $0 >= 0 && $0 <= 1 }, "quantiles: q must be in [0, 1], got \(q)")
        let n = try counts(columns, comm: comm)
        var wanted: [[Int]] = []
        for j in columns.indices {
            guard n[j] > 0 else { wanted.append([]); continue }
            var set = Set<Int>()
            for p in q {
                let lo = Int((Double(n[j] - 1) * p).rounded(.down))
                set.insert(lo)
                set.insert(min(lo + 1, n[j] - 1))
            }
            wanted.append(set.sorted())
        }
        let stats = try orderStatistics(columns, ranks: wanted, comm: comm)
        return columns.indices.map { j in
            guard n[j] > 0 else { return [Double](repeating: .nan, count: q.count) }
            return q.map { p in
                let h = Double(n[j] - 1) * p
                let lo = h.rounded(.down)
                let a = stats[j][wanted[j].firstIndex(of: Int(lo))!]
                let b = stats[j][wanted[j].firstIndex(of: min(Int(lo) + 1, n[j] - 1))!]
                return lerp(a, b, h - lo)
            }
        }
    }

    /// NumPy's `_lerp(a, b, t)`.
    @inline(__always)
    static func lerp(_ a: Double, _ b: Double, _ t: Double) -> Double {
        let d = b - a
        return t >= 0.5 ? b - d * (1 - t) : a + d * t
    }

    /// Collective. The median of each column's non-missing values over every rank, exact, as
    /// `np.nanmedian` and `np.ma.median`: the middle order statistic, or for an even count the
    /// mean `(a + b) / 2` of the two middle ones. NaN for a column with no value.
    public static func medians(_ columns: [[Double]], comm: any Communicator) throws -> [Double] {
        let n = try counts(columns, comm: comm)
        let wanted = n.map { $0 == 0 ? [] : Array(Set([($0 - 1) / 2, $0 / 2])).sorted() }
        let stats = try orderStatistics(columns, ranks: wanted, comm: comm)
        return columns.indices.map { j in
            switch stats[j].count {
            case 0: return .nan
            case 1: return stats[j][0]
            default:
                let (a, b) = (stats[j][0], stats[j][1])
                let m = (a + b) / 2
                return m.isFinite || !a.isFinite || !b.isFinite ? m : a / 2 + b / 2
            }
        }
    }

    // MARK: - most frequent values

    /// Collective. The most frequent non-missing value of each numeric column over every
    /// rank, the smallest among ties (scikit-learn's `SimpleImputer(strategy="most_frequent")`,
    /// `scipy.stats.mode`); nil for a column with no value.
    ///
    /// Each rank sorts its values and counts the runs; the (value, count) pairs of every rank
    /// are allgathered and merged, so the communication grows with the number of distinct
    /// values per rank (fine for the discrete columns this strategy is meant for).
    public static func mostFrequent(_ columns: [[Double]], comm: any Communicator) throws -> [Double?] {
        var lengths = [Int64](), values = [Double](), counts = [Int64]()
        for column in columns {
            var sorted = column.filter { !$0.isNaN }.map { $0 == 0 ? 0.0 : $0 }
            sorted.sort()
            let before = values.count
            sorted.withUnsafeBufferPointer { x in
                var i = 0
                while i < x.count {
                    var k = i + 1
                    while k < x.count, x[k] == x[i] { k += 1 }
                    values.append(x[i])
                    counts.append(Int64(k - i))
                    i = k
                }
            }
            lengths.append(Int64(values.count - before))
        }
        let allLengths = try comm.allgatherv(lengths)
        let allValues = try comm.allgatherv(values).values
        let allCounts = try comm.allgatherv(counts).values
        var pairs = [[(value: Double, count: Int64)]](repeating: [], count: columns.count)
        var offset = 0
        for r in 0 ..< comm.size {
            for j in columns.indices {
                let len = Int(allLengths.values[allLengths.layout.displacements[r] + j])
                for i in offset ..< offset + len { pairs[j].append((allValues[i], allCounts[i])) }
                offset += len
            }
        }
        return pairs.map { p in
            let s = p.sorted { $0.value < $1.value }
            var best: (value: Double, count: Int64)?
            var i = 0
            while i < s.count {
                var total: Int64 = 0, k = i
                while k < s.count, s[k].value == s[i].value {
                    total += s[k].count
                    k += 1
                }
                if best == nil || total > best!.count { best = (s[i].value, total) }
                i = k
            }
            return best?.value
        }
    }

    /// One rank's count of each category string of a column.
    struct CategoryCounts: Codable {
        var values: [String]
        var counts: [Int]
    }

    /// Collective. The most frequent category of each categorical column over every rank, by
    /// string (each rank's codes index its own dictionary, so counts are merged by value);
    /// the smallest string by UTF-8 bytes among ties (scikit-learn's `min` of the tied
    /// values); nil for a column with no value.
    /// - Parameter columns: this rank's columns, each `.categorical`.
    public static func mostFrequentCategory(_ columns: [ColumnValues], comm: any Communicator) throws -> [String?] {
        let local: [CategoryCounts] = columns.map { column in
            guard case .categorical(let codes, let dictionary) = column else {
                preconditionFailure("mostFrequentCategory: a column is \(column.columnType.rawValue), not categorical")
            }
            var n = [Int](repeating: 0, count: dictionary.count)
            codes.withUnsafeBufferPointer { c in for code in c where code >= 0 { n[Int(code)] += 1 } }
            let present = n.indices.filter { n[$0] > 0 }
            return CategoryCounts(values: present.map { dictionary.values[$0] }, counts: present.map { n[$0] })
        }
        let all = try comm.allgatherObject(local)
        return columns.indices.map { j in
            var total: [String: Int] = [:]
            for rank in all {
                for (v, c) in zip(rank[j].values, rank[j].counts) { total[v, default: 0] += c }
            }
            return total.min { a, b in
                a.value != b.value ? a.value > b.value : a.key.utf8.lexicographicallyPrecedes(b.key.utf8)
            }?.key
        }
    }

    // MARK: - the normal distribution

    /// The standard normal quantile function Φ⁻¹(p) (`scipy.stats.norm.ppf`): Acklam's
    /// rational approximation refined by one Halley step on `erfc`, accurate to about 1e-15.
    public static func normalQuantile(_ p: Double) -> Double {
        if p <= 0 { return p == 0 ? -.infinity : .nan }
        if p >= 1 { return p == 1 ? .infinity : .nan }
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        var x: Double
        if p < low {
            let q = (-2 * log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p <= 1 - low {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        } else {
            let q = (-2 * log1p(-p)).squareRoot()
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        for _ in 0 ..< 2 {
            let e = 0.5 * erfc(-x / 2.0.squareRoot()) - p
            let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
            x -= u / (1 + x * u / 2)
        }
        return x
    }
}
