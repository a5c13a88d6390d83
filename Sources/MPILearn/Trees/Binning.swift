import CKernels

/// Quantile bins of one rank's features, and the features binned to `UInt8` codes.
///
/// Each feature's non-missing values are cut into at most `maxBins` bins (`maxBins ≤ 255`):
/// a feature with few distinct values gets one bin per value, otherwise bins hold roughly
/// equal numbers of rows (cuts fall between distinct values, so a heavy value is never split).
/// Code `b` holds the values `v` with `edges[b-1] < v ≤ edges[b]`; missing values (NaN) get
/// the code `binCount`, one past the last bin. Edges are midpoints between neighbouring
/// distinct values (scikit-learn's thresholds), so "code ≤ b" and "value ≤ edges[b]" select
/// the same rows and a tree trained on codes predicts on raw values.
///
/// Features are binned once, before any tree is grown, into a row-major `UInt8` matrix
/// (one row's codes are contiguous, so a tree's builder copies each sampled row with one
/// short copy into its node-ordered working set; see ``TreeBuilder``).
public struct FeatureBins: Sendable {
    /// Per feature, the `binCount - 1` upper edges of all bins but the last, ascending.
    public var edges: [[Double]]

    /// The number of non-missing bins of feature `f` (its missing code).
    @inlinable public func binCount(_ f: Int) -> Int { edges[f].count + 1 }

    /// Learns the bins of the columns of `x` (row-major, rows × features).
    ///
    /// With more than `sampleLimit` rows, the edges come from every k-th row (a deterministic
    /// stride sample), which changes them little and keeps the sort cheap.
    public init(_ x: Matrix<Double>, maxBins: Int, sampleLimit: Int = 250_000) {
        precondition(maxBins >= 2 && maxBins <= 255, "FeatureBins: maxBins \(maxBins) not in 2...255")
        let n = x.rows, d = x.columns
        var scratch: [Double] = []
        edges = x.storage.withUnsafeBufferPointer { xs in
            (0 ..< d).map { f in Self.edges(xs.baseAddress.map { $0 + f }, rows: n, stride: d, maxBins: maxBins, sampleLimit: sampleLimit, scratch: &scratch) }
        }
    }

    /// Learns the bins of separate columns (a ``Dataset`` of columns): the same edges as from the
    /// row-major matrix of these columns.
    public init(columns: [[Double]], rows n: Int, maxBins: Int, sampleLimit: Int = 250_000) {
        precondition(maxBins >= 2 && maxBins <= 255, "FeatureBins: maxBins \(maxBins) not in 2...255")
        precondition(columns.allSatisfy { $0.count == n }, "FeatureBins: column lengths differ from \(n) rows")
        var scratch: [Double] = []
        edges = columns.map { c in
            c.withUnsafeBufferPointer { Self.edges($0.baseAddress, rows: n, stride: 1, maxBins: maxBins, sampleLimit: sampleLimit, scratch: &scratch) }
        }
    }

    /// The edges of one feature whose `n` values are at `x[i * stride]`: its non-missing
    /// values at every k-th row (k = ⌈n / sampleLimit⌉), sorted and cut. `scratch` is reused
    /// between features.
    static func edges(_ x: UnsafePointer<Double>?, rows n: Int, stride: Int, maxBins: Int, sampleLimit: Int,
                      scratch column: inout [Double]) -> [Double] {
        let step = max(1, (n + sampleLimit - 1) / max(1, sampleLimit))
        column.removeAll(keepingCapacity: true)
        guard let x else { return [] }   // no rows
        column.reserveCapacity(n / step + 1)
        var i = 0
        while i < n {
            let v = x[i * stride]
            if !v.isNaN { column.append(v) }
            i += step
        }
        radixSort(&column)
        return cuts(sorted: column, maxBins: maxBins)
    }

    /// Sorts non-missing values ascending with the C radix sort (several times faster than a
    /// comparison sort on the columns a forest bins; the same order).
    static func radixSort(_ v: inout [Double]) {
        guard v.count > 1 else { return }
        var scratch = [UInt64](repeating: 0, count: v.count)
        v.withUnsafeMutableBufferPointer { p in
            scratch.withUnsafeMutableBufferPointer { s in mpl_sort_f64(p.baseAddress!, p.count, s.baseAddress!) }
        }
    }

    /// Bins with given edges (for tests).
    public init(edges: [[Double]]) { self.edges = edges }

    /// Upper bin edges for sorted non-missing values: one bin per distinct value when there
    /// are at most `maxBins` of them, else greedy cuts at multiples of `count / maxBins`.
    static func cuts(sorted v: [Double], maxBins: Int) -> [Double] {
        guard !v.isEmpty else { return [] }
        var distinct: [Double] = [], counts: [Int] = []
        for x in v {
            if let last = distinct.last, last == x { counts[counts.count - 1] += 1 } else {
                distinct.append(x)
                counts.append(1)
            }
        }
        func midpoint(_ a: Double, _ b: Double) -> Double {
            let m = a / 2 + b / 2
            return m >= b || m < a ? a : m   // a and b adjacent doubles: cut at a
        }
        var out: [Double] = []
        if distinct.count <= maxBins {
            for k in 0 ..< distinct.count - 1 { out.append(midpoint(distinct[k], distinct[k + 1])) }
            return out
        }
        let step = Double(v.count) / Double(maxBins)
        var cum = 0
        for k in 0 ..< distinct.count - 1 {
            cum += counts[k]
            if Double(cum) >= step * Double(out.count + 1) && out.count < maxBins - 1 {
                out.append(midpoint(distinct[k], distinct[k + 1]))
            }
        }
        return out
    }

    /// The code of `value` for feature `f`: the first bin whose edge is ≥ value, or the
    /// missing code for NaN.
    @inlinable
    public func code(_ value: Double, feature f: Int) -> UInt8 {
        let e = edges[f]
        if value.isNaN { return UInt8(e.count + 1) }
        var lo = 0, hi = e.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if value <= e[mid] { hi = mid } else { lo = mid + 1 }
        }
        return UInt8(lo)
    }

    /// The features of `x` as row-major codes: feature `f` of row `i` at `i * features + f`,
    /// followed by `padding` zero bytes (prediction's gathers read a few bytes past the end).
    ///
    /// Branch-free binary searches (`mpl_bin_column_f64`, CKernels), a block of rows at a time so
    /// the block's values stay in cache while each feature's edges are searched.
    public func bin(_ x: Matrix<Double>, padding: Int = 0) -> [UInt8] {
        let n = x.rows, d = x.columns, block = 512
        precondition(edges.count >= d && edges.allSatisfy { $0.count <= 254 }, "FeatureBins: more than 254 edges")
        var out = [UInt8](repeating: 0, count: n * d + padding)
        out.withUnsafeMutableBufferPointer { o in
            x.storage.withUnsafeBufferPointer { xs in
                var r0 = 0
                while r0 < n {
                    let m = min(block, n - r0)
                    for f in 0 ..< d {
                        edges[f].withUnsafeBufferPointer { e in
                            mpl_bin_column_f64(xs.baseAddress! + r0 * d + f, m, d, e.baseAddress, e.count,
                                               o.baseAddress! + r0 * d + f, d)
                        }
                    }
                    r0 += m
                }
            }
        }
        return out
    }

    /// Separate columns (a ``Dataset`` of columns) as row-major codes, followed by `padding` zero
    /// bytes: the same codes as ``bin(_:padding:)`` of their row-major matrix. Each column is
    /// read once, front to back.
    public func bin(columns: [[Double]], rows n: Int, padding: Int = 0) -> [UInt8] {
        let d = columns.count
        precondition(edges.count >= d && edges.allSatisfy { $0.count <= 254 }, "FeatureBins: more than 254 edges")
        precondition(columns.allSatisfy { $0.count == n }, "FeatureBins: column lengths differ from \(n) rows")
        var out = [UInt8](repeating: 0, count: n * d + padding)
        guard n > 0 else { return out }
        out.withUnsafeMutableBufferPointer { o in
            for (f, c) in columns.enumerated() {
                c.withUnsafeBufferPointer { xs in
                    edges[f].withUnsafeBufferPointer { e in
                        mpl_bin_column_f64(xs.baseAddress!, n, 1, e.baseAddress, e.count, o.baseAddress! + f, d)
                    }
                }
            }
        }
        return out
    }
}

extension FeatureBins {
    /// Learns the bins of the rows `rows` of `x` (in that order) without copying them: the
    /// same edges as from the matrix of those rows.
    public init(_ x: Matrix<Double>, rows: [Int], maxBins: Int, sampleLimit: Int = 250_000) {
        precondition(maxBins >= 2 && maxBins <= 255, "FeatureBins: maxBins \(maxBins) not in 2...255")
        let n = rows.count, d = x.columns
        let step = max(1, (n + sampleLimit - 1) / max(1, sampleLimit))
        var column: [Double] = []
        column.reserveCapacity(n / step + 1)
        edges = x.storage.withUnsafeBufferPointer { xs in
            (0 ..< d).map { f in
                column.removeAll(keepingCapacity: true)
                var i = 0
                while i < n {
                    let v = xs[rows[i] * d + f]
                    if !v.isNaN { column.append(v) }
                    i += step
                }
                Self.radixSort(&column)
                return Self.cuts(sorted: column, maxBins: maxBins)
            }
        }
    }

    /// The rows `rows` of `x` as row-major codes (the codes of the matrix of those rows),
    /// followed by `padding` zero bytes. Rows are gathered a block at a time.
    public func bin(_ x: Matrix<Double>, rows: [Int], padding: Int = 0) -> [UInt8] {
        let n = rows.count, d = x.columns, block = 512
        precondition(edges.count >= d && edges.allSatisfy { $0.count <= 254 }, "FeatureBins: more than 254 edges")
        var out = [UInt8](repeating: 0, count: n * d + padding)
        var buffer = [Double](repeating: 0, count: block * d)
        out.withUnsafeMutableBufferPointer { o in
            x.storage.withUnsafeBufferPointer { xs in
                buffer.withUnsafeMutableBufferPointer { b in
                    var r0 = 0
                    while r0 < n {
                        let m = min(block, n - r0)
                        for r in 0 ..< m {
                            let src = rows[r0 + r] * d
                            for f in 0 ..< d { b[r * d + f] = xs[src + f] }
                        }
                        for f in 0 ..< d {
                            edges[f].withUnsafeBufferPointer { e in
                                mpl_bin_column_f64(b.baseAddress! + f, m, d, e.baseAddress, e.count, o.baseAddress! + r0 * d + f, d)
                            }
                        }
                        r0 += m
                    }
                }
            }
        }
        return out
    }
}

extension FeatureBins {
    /// Learns the bins of rows `rows` (every row when nil) of `data`, whatever its layout:
    /// the same edges as from the row-major matrix of those rows.
    public init(_ data: Dataset<Double>, rows: [Int]?, maxBins: Int, sampleLimit: Int = 250_000) {
        switch data.features {
        case .dense(let x):
            if let rows { self.init(x, rows: rows, maxBins: maxBins, sampleLimit: sampleLimit) } else { self.init(x, maxBins: maxBins, sampleLimit: sampleLimit) }
        case .columns(let columns, let n):
            if let rows {
                self.init(features: columns.count, rows: rows.count, maxBins: maxBins, sampleLimit: sampleLimit) { f, i in columns[f][rows[i]] }
            } else {
                self.init(columns: columns, rows: n, maxBins: maxBins, sampleLimit: sampleLimit)
            }
        case .coded(let columns, let n):
            self.init(features: columns.count, rows: rows?.count ?? n, maxBins: maxBins, sampleLimit: sampleLimit) { f, i in
                columns[f][rows?[i] ?? i]
            }
        case .sparse(let m):
            // Forests refuse sparse data before binning; binning it anyway reads it dense.
            let x = m.toDense()
            if let rows { self.init(x, rows: rows, maxBins: maxBins, sampleLimit: sampleLimit) } else { self.init(x, maxBins: maxBins, sampleLimit: sampleLimit) }
        }
    }

    /// Learns the bins of `d` features of `n` rows whose value (feature f, row i) is
    /// `value(f, i)`: every k-th row as in ``init(_:maxBins:sampleLimit:)``, sorted and cut.
    init(features d: Int, rows n: Int, maxBins: Int, sampleLimit: Int, value: (Int, Int) -> Double) {
        precondition(maxBins >= 2 && maxBins <= 255, "FeatureBins: maxBins \(maxBins) not in 2...255")
        let step = max(1, (n + sampleLimit - 1) / max(1, sampleLimit))
        var column: [Double] = []
        column.reserveCapacity(n / step + 1)
        edges = (0 ..< d).map { f in
            column.removeAll(keepingCapacity: true)
            var i = 0
            while i < n {
                let v = value(f, i)
                if !v.isNaN { column.append(v) }
                i += step
            }
            Self.radixSort(&column)
            return Self.cuts(sorted: column, maxBins: maxBins)
        }
    }

    /// Rows `rows` (every row when nil) of `data` as row-major codes followed by `padding`
    /// zero bytes, whatever its layout: the codes of the row-major matrix of those rows. A
    /// coded column is binned through its dictionary: each distinct value is binned once, then
    /// every row is a table lookup.
    public func bin(_ data: Dataset<Double>, rows: [Int]?, padding: Int = 0) -> [UInt8] {
        switch data.features {
        case .dense(let x):
            return rows.map { bin(x, rows: $0, padding: padding) } ?? bin(x, padding: padding)
        case .sparse(let m):
            let x = m.toDense()
            return rows.map { bin(x, rows: $0, padding: padding) } ?? bin(x, padding: padding)
        case .columns(let columns, let n):
            guard let rows else { return bin(columns: columns, rows: n, padding: padding) }
            return bin(features: columns.count, rows: rows.count, padding: padding) { f, out, stride in
                let c = columns[f]
                var values = rows.map { c[$0] }
                values.withUnsafeMutableBufferPointer { v in
                    edges[f].withUnsafeBufferPointer { e in mpl_bin_column_f64(v.baseAddress!, rows.count, 1, e.baseAddress, e.count, out, stride) }
                }
            }
        case .coded(let columns, let n):
            let m = rows?.count ?? n
            return bin(features: columns.count, rows: m, padding: padding) { f, out, stride in
                let c = columns[f]
                // The code of each distinct value, then of a missing one, by the same kernel.
                var table = [UInt8](repeating: 0, count: c.values.count + 1)
                let dictionary = c.values + [.nan]
                dictionary.withUnsafeBufferPointer { v in
                    edges[f].withUnsafeBufferPointer { e in
                        table.withUnsafeMutableBufferPointer { t in mpl_bin_column_f64(v.baseAddress!, v.count, 1, e.baseAddress, e.count, t.baseAddress!, 1) }
                    }
                }
                switch c.storage {
                case .byte(let codes):
                    for i in 0 ..< m { out[i * stride] = table[Int(codes[rows?[i] ?? i])] }
                case .short(let codes):
                    for i in 0 ..< m { out[i * stride] = table[Int(codes[rows?[i] ?? i])] }
                case .values(let values):
                    let picked = rows.map { r in r.map { values[$0] } } ?? values
                    picked.withUnsafeBufferPointer { v in
                        edges[f].withUnsafeBufferPointer { e in mpl_bin_column_f64(v.baseAddress!, m, 1, e.baseAddress, e.count, out, stride) }
                    }
                }
            }
        }
    }

    /// `d` features of `n` rows as row-major codes plus `padding` zero bytes, each feature
    /// written by `column(f, out + f, d)` (its `n` codes `d` bytes apart).
    func bin(features d: Int, rows n: Int, padding: Int, column: (Int, UnsafeMutablePointer<UInt8>, Int) -> Void) -> [UInt8] {
        precondition(edges.count >= d && edges.allSatisfy { $0.count <= 254 }, "FeatureBins: more than 254 edges")
        var out = [UInt8](repeating: 0, count: n * d + padding)
        guard n > 0 else { return out }
        out.withUnsafeMutableBufferPointer { o in
            for f in 0 ..< d { column(f, o.baseAddress! + f, d) }
        }
        return out
    }
}
