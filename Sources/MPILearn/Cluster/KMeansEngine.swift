import Foundation
import SwiftMPI

/// Random stream domains of k-means, so one seed gives independent numbers per step.
enum KMeansDomain: UInt64 {
    case firstCentre = 0x4B4D_0001, sampleRound, top, randomInit, plusPlus, recluster, runSeed
}

/// The per-rank state of one k-means fit: a view of this rank's rows, per-row labels and
/// squared distances, the workspace sizes, and the time spent in collectives.
///
/// Every pass over the data goes through the kernels here. A pass splits the local rows
/// into `threads` contiguous chunks; each chunk walks its rows in blocks of at most
/// ``blockRows(for:)`` rows, computes −2·X_block·Cᵀ with one GEMM into a private workspace
/// of blockRows × m elements (the only buffer whose size depends on the data), and reads the
/// rows again while they are still in cache. The data itself is never copied.
final class KMeansEngine<T: LinearAlgebraScalar & MPIScalar & SIMDScalar> {
    /// This rank's rows, n × d row-major (nil when the shard is empty).
    let x: UnsafePointer<T>?
    let n: Int
    let d: Int
    let globalStart: Int
    let globalCount: Int
    let comm: any Communicator
    let threads: Int
    /// Label (nearest centre or candidate) of each local row; −1 before the first pass.
    let labels: UnsafeMutablePointer<Int32>
    /// Squared distance of each local row to its labelled centre.
    let mind2: UnsafeMutablePointer<Double>
    /// ‖x‖² of each local row, computed once (``computeNorms()`` or the variance pass).
    let rowNorms: UnsafeMutablePointer<Double>
    /// Seconds inside collectives.
    var communicationSeconds = 0.0

    /// Bytes of the distance workspace of one thread: 256 KiB keeps a block's rows and its
    /// distances in a 1-2 MiB L2 cache.
    static var workspaceBytes: Int { 256 << 10 }

    init(x: UnsafePointer<T>?, rows n: Int, features d: Int, globalStart: Int, globalCount: Int, comm: any Communicator, threads: Int) {
        self.x = x
        self.n = n
        self.d = d
        self.globalStart = globalStart
        self.globalCount = globalCount
        self.comm = comm
        self.threads = max(1, min(threads, max(1, n)))
        labels = .allocate(capacity: max(n, 1))
        labels.initialize(repeating: -1, count: max(n, 1))
        mind2 = .allocate(capacity: max(n, 1))
        mind2.initialize(repeating: .infinity, count: max(n, 1))
        rowNorms = .allocate(capacity: max(n, 1))
        rowNorms.initialize(repeating: 0, count: max(n, 1))
    }

    deinit {
        labels.deallocate()
        mind2.deallocate()
        rowNorms.deallocate()
    }

    /// Fills ``rowNorms`` (one pass; the variance pass does it as a side effect).
    func computeNorms() {
        guard let x, n > 0 else { return }
        let norms = rowNorms
        forEachChunk { _, rows in for r in rows { norms[r] = rowNorm(x + r * d) } }
    }

    /// Rows per distance block against `m` centres: the workspace stays within
    /// ``workspaceBytes`` (at least 16 rows, at most 4096).
    func blockRows(for m: Int) -> Int {
        max(16, min(4096, Self.workspaceBytes / max(1, m * MemoryLayout<T>.stride)))
    }

    // MARK: collectives (timed)

    /// Collective. In-place sum over ranks, timed as communication.
    func allreduceSum(_ values: inout [Double]) throws {
        let t0 = monotonicSeconds()
        try comm.allreduce(&values, op: .sum)
        communicationSeconds += monotonicSeconds() - t0
    }

    /// Collective. Every rank's `values`, concatenated in rank order, timed as communication.
    func allgather(_ values: [Double]) throws -> [Double] {
        let t0 = monotonicSeconds()
        defer { communicationSeconds += monotonicSeconds() - t0 }
        return try comm.allgatherv(values).values
    }

    // MARK: chunks

    /// Runs `body(thread, rows)` for each thread's contiguous chunk of the local rows, on
    /// `threads` threads (called once per chunk, never per row).
    func forEachChunk(_ body: (Int, Range<Int>) -> Void) {
        if threads == 1 {
            body(0, 0 ..< n)
        } else {
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                body(t, Partition.block(count: n, parts: threads, index: t))
            }
        }
    }

    /// Centres converted to the data's type, with their squared norms.
    struct Centres {
        var values: [T]
        var norms: [T]
        var count: Int
        init(_ c: [Double], d: Int) {
            count = d == 0 ? 0 : c.count / d
            values = c.map { T($0) }
            norms = [T](repeating: 0, count: count)
            for j in 0 ..< count {
                var s = 0.0
                for f in 0 ..< d { let v = Double(values[j * d + f]); s += v * v }
                norms[j] = T(s)
            }
        }
    }

    /// Distances of a block of `b` rows to `m` centres, laid out centre-major:
    /// `work[j·b + i] = ‖c_j‖² − 2·x_{start+i}·c_j` (one GEMM with β = 1 over a buffer
    /// pre-filled with the norms), then the nearest centre of each row by an element-wise
    /// pass over rows (SIMD-friendly, ties to the lower centre index) into `best` and `index`,
    /// and each row's cached ‖x‖² into `norm`. Centre-major keeps GEMM's long dimension on the rows.
    @inline(__always)
    func nearestInBlock(_ x: UnsafePointer<T>, start: Int, rows b: Int, centres: UnsafePointer<T>, norms cn: UnsafePointer<T>, m: Int,
                        work: UnsafeMutablePointer<T>, best: UnsafeMutablePointer<T>, index: UnsafeMutablePointer<Int32>,
                        norm: UnsafeMutablePointer<Double>) {
        let d = self.d
        for j in 0 ..< m { (work + j * b).update(repeating: cn[j], count: b) }
        T.gemm(transA: false, transB: true, m: m, n: b, k: d, alpha: -2, a: centres, lda: d, b: x + start * d, ldb: d,
               beta: 1, c: work, ldc: b)
        if T.self == Double.self {
            columnArgmin(UnsafeRawPointer(work).assumingMemoryBound(to: Double.self), rows: b, columns: m,
                         best: UnsafeMutableRawPointer(best).assumingMemoryBound(to: Double.self), index: index)
        } else if T.self == Float.self {
            columnArgmin(UnsafeRawPointer(work).assumingMemoryBound(to: Float.self), rows: b, columns: m,
                         best: UnsafeMutableRawPointer(best).assumingMemoryBound(to: Float.self), index: index)
        } else {
            for i in 0 ..< b {
                var bv = work[i], bj: Int32 = 0
                for j in 1 ..< max(m, 1) where work[j * b + i] < bv { bv = work[j * b + i]; bj = Int32(j) }
                best[i] = bv
                index[i] = bj
            }
        }
        norm.update(from: rowNorms + start, count: b)
    }

    /// ‖x‖² of one row in Float64 with four partial sums (a fixed order per row, so the value
    /// does not depend on blocks or ranks; four chains instead of one long dependency).
    @inline(__always)
    func rowNorm(_ xi: UnsafePointer<T>) -> Double {
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var f = 0
        while f + 4 <= d {
            let a = Double(xi[f]), b = Double(xi[f + 1]), c = Double(xi[f + 2]), e = Double(xi[f + 3])
            s0 += a * a; s1 += b * b; s2 += c * c; s3 += e * e
            f += 4
        }
        while f < d { let a = Double(xi[f]); s0 += a * a; f += 1 }
        return (s0 + s1) + (s2 + s3)
    }

    /// Per-thread scratch for ``nearestInBlock``: distances (m × rows), best, index, norms.
    struct Scratch {
        let rows: Int
        let work: UnsafeMutablePointer<T>
        let best: UnsafeMutablePointer<T>
        let index: UnsafeMutablePointer<Int32>
        let norm: UnsafeMutablePointer<Double>
        init(rows: Int, m: Int) {
            self.rows = rows
            work = .allocate(capacity: rows * m)
            best = .allocate(capacity: rows)
            index = .allocate(capacity: rows)
            norm = .allocate(capacity: rows)
        }
        func free() {
            work.deallocate()
            best.deallocate()
            index.deallocate()
            norm.deallocate()
        }
    }

    // MARK: Lloyd assignment

    /// Layout of a Lloyd accumulator: sums (k·d), counts (k), inertia, changed labels.
    func accumulatorCount(k: Int) -> Int { k * (d + 1) + 2 }

    /// Collective-free. Assigns every local row to its nearest centre, writes `labels` and
    /// `mind2`, and returns this rank's per-centre sums, counts, inertia and the number of
    /// changed labels (layout of ``accumulatorCount(k:)``), summed over threads in order.
    func assign(_ c: Centres) -> [Double] {
        let k = c.count, size = accumulatorCount(k: k)
        let stride = (size + 7) & ~7
        var acc = [Double](repeating: 0, count: stride * threads)
        guard n > 0, let x else { return [Double](repeating: 0, count: size) }
        let rowsPerBlock = blockRows(for: k)
        acc.withUnsafeMutableBufferPointer { accAll in
            c.values.withUnsafeBufferPointer { cv in
                c.norms.withUnsafeBufferPointer { cn in
                    forEachChunk { t, rows in
                        let scratch = Scratch(rows: rowsPerBlock, m: k)
                        defer { scratch.free() }
                        assignChunk(x, rows: rows, c: cv.baseAddress!, cn: cn.baseAddress!, k: k, scratch: scratch,
                                    acc: accAll.baseAddress! + t * stride)
                    }
                }
            }
        }
        var out = Array(acc[0 ..< size])
        for t in 1 ..< threads { for i in 0 ..< size { out[i] += acc[t * stride + i] } }
        return out
    }

    /// The Lloyd kernel for one chunk of rows.
    private func assignChunk(_ x: UnsafePointer<T>, rows: Range<Int>, c: UnsafePointer<T>, cn: UnsafePointer<T>, k: Int,
                             scratch: Scratch, acc: UnsafeMutablePointer<Double>) {
        let d = self.d, labels = self.labels, mind2 = self.mind2
        let counts = acc + k * d
        var inertia = 0.0, changed = 0.0
        var start = rows.lowerBound
        while start < rows.upperBound {
            let b = min(scratch.rows, rows.upperBound - start)
            nearestInBlock(x, start: start, rows: b, centres: c, norms: cn, m: k, work: scratch.work, best: scratch.best,
                           index: scratch.index, norm: scratch.norm)
            for i in 0 ..< b {
                let r = start + i, j = Int(scratch.index[i])
                let xi = x + r * d, s = acc + j * d
                for f in 0 ..< d { s[f] += Double(xi[f]) }
                let d2 = max(0, scratch.norm[i] + Double(scratch.best[i]))
                counts[j] += 1
                inertia += d2
                if labels[r] != Int32(j) { changed += 1; labels[r] = Int32(j) }
                mind2[r] = d2
            }
            start += b
        }
        acc[k * (d + 1)] = inertia
        acc[k * (d + 1) + 1] = changed
    }

    // MARK: nearest-candidate update (k-means||, k-means++)

    /// Collective-free. Updates each row's squared distance to the nearest centre with `m`
    /// new centres (labelled `offset`, `offset + 1`, ...): where a new centre is strictly
    /// closer, `mind2` and `labels` change. Returns this rank's φ = Σ mind2 (threads summed
    /// in order).
    func updateNearest(_ c: Centres, offset: Int) -> Double {
        let m = c.count
        guard n > 0, m > 0, let x else { return n == 0 ? 0 : localCost() }
        let rowsPerBlock = blockRows(for: m)
        var partial = [Double](repeating: 0, count: threads * 8)
        partial.withUnsafeMutableBufferPointer { pp in
            c.values.withUnsafeBufferPointer { cv in
                c.norms.withUnsafeBufferPointer { cn in
                    forEachChunk { t, rows in
                        let scratch = Scratch(rows: rowsPerBlock, m: m)
                        defer { scratch.free() }
                        pp[t * 8] = updateChunk(x, rows: rows, c: cv.baseAddress!, cn: cn.baseAddress!, m: m, offset: offset, scratch: scratch)
                    }
                }
            }
        }
        return (0 ..< threads).reduce(0.0) { $0 + partial[$1 * 8] }
    }

    private func updateChunk(_ x: UnsafePointer<T>, rows: Range<Int>, c: UnsafePointer<T>, cn: UnsafePointer<T>, m: Int, offset: Int,
                             scratch: Scratch) -> Double {
        let labels = self.labels, mind2 = self.mind2
        var cost = 0.0
        var start = rows.lowerBound
        while start < rows.upperBound {
            let b = min(scratch.rows, rows.upperBound - start)
            nearestInBlock(x, start: start, rows: b, centres: c, norms: cn, m: m, work: scratch.work, best: scratch.best,
                           index: scratch.index, norm: scratch.norm)
            for i in 0 ..< b {
                let r = start + i
                let d2 = max(0, scratch.norm[i] + Double(scratch.best[i]))
                if d2 < mind2[r] { mind2[r] = d2; labels[r] = Int32(offset) + scratch.index[i] }
                cost += mind2[r]
            }
            start += b
        }
        return cost
    }

    /// Σ mind2 over local rows, in row order.
    func localCost() -> Double {
        var s = 0.0
        for i in 0 ..< n { s += mind2[i] }
        return s
    }

    /// Collective-free. For each of `m` trial centres, Σ over local rows of
    /// min(mind2, d²(x, trial)): the potential k-means++ would have after adding it.
    func trialPotentials(_ c: Centres) -> [Double] {
        let m = c.count
        guard n > 0, m > 0, let x else { return [Double](repeating: 0, count: m) }
        let rowsPerBlock = blockRows(for: m), stride = (m + 7) & ~7
        var acc = [Double](repeating: 0, count: stride * threads)
        acc.withUnsafeMutableBufferPointer { ap in
            c.values.withUnsafeBufferPointer { cv in
                c.norms.withUnsafeBufferPointer { cn in
                    forEachChunk { t, rows in
                        let scratch = Scratch(rows: rowsPerBlock, m: m)
                        defer { scratch.free() }
                        let out = ap.baseAddress! + t * stride
                        var start = rows.lowerBound
                        while start < rows.upperBound {
                            let b = min(rowsPerBlock, rows.upperBound - start)
                            nearestInBlock(x, start: start, rows: b, centres: cv.baseAddress!, norms: cn.baseAddress!, m: m,
                                           work: scratch.work, best: scratch.best, index: scratch.index, norm: scratch.norm)
                            for j in 0 ..< m {
                                let row = scratch.work + j * b
                                var s = 0.0
                                for i in 0 ..< b { s += min(mind2[start + i], max(0, scratch.norm[i] + Double(row[i]))) }
                                out[j] += s
                            }
                            start += b
                        }
                    }
                }
            }
        }
        var out = Array(acc[0 ..< m])
        for t in 1 ..< threads { for j in 0 ..< m { out[j] += acc[t * stride + j] } }
        return out
    }

    // MARK: rows by global index

    /// Collective. The rows with the given global indices, m × d as Float64, on every rank:
    /// each owner writes its rows into a zero buffer and one allreduce sums them (adding
    /// zeros is exact, so the result is the rows bit for bit).
    func fetchRows(_ indices: [Int]) throws -> [Double] {
        var buf = [Double](repeating: 0, count: indices.count * d)
        if let x {
            for (q, g) in indices.enumerated() where g >= globalStart && g < globalStart + n {
                let r = g - globalStart
                for f in 0 ..< d { buf[q * d + f] = Double(x[r * d + f]) }
            }
        }
        try allreduceSum(&buf)
        return buf
    }

    /// The local row `r` as Float64.
    func row(_ r: Int) -> [Double] {
        guard let x else { return [] }
        return (0 ..< d).map { Double(x[r * d + $0]) }
    }

    /// Collective. The `m` rows farthest from their labelled centre over all ranks, by
    /// `mind2` descending, ties to the lower global index: each rank proposes its local
    /// top m, the proposals are allgathered and every rank picks the same m.
    /// - Returns: records (d², global index, label, row).
    func globalFarthest(_ m: Int) throws -> [(d2: Double, global: Int, label: Int, row: [Double])] {
        guard m > 0 else { return [] }
        // Local top m by (d² desc, index asc); m is at most k, so insertion into a short sorted list.
        var top: [(Double, Int)] = []
        top.reserveCapacity(m + 1)
        for r in 0 ..< n {
            let v = mind2[r]
            if top.count == m, let last = top.last, !(v > last.0) { continue }
            var pos = top.count
            while pos > 0 && v > top[pos - 1].0 { pos -= 1 }
            top.insert((v, r), at: pos)
            if top.count > m { top.removeLast() }
        }
        var packed: [Double] = []
        packed.reserveCapacity(top.count * (d + 3))
        for (v, r) in top {
            packed += [v, Double(globalStart + r), Double(labels[r])]
            packed += row(r)
        }
        let all = try allgather(packed)
        let w = d + 3
        var recs = stride(from: 0, to: all.count, by: w).map { o in
            (d2: all[o], global: Int(all[o + 1]), label: Int(all[o + 2]), row: Array(all[o + 3 ..< o + w]))
        }
        recs.sort { ($0.d2, -$0.global) > ($1.d2, -$1.global) }
        return Array(recs.prefix(m))
    }

    // MARK: variance and finiteness

    /// Collective. The mean per-feature variance of all rows (scikit-learn's scale for `tol`),
    /// checking every value is finite and the shards add up to `globalCount` rows.
    ///
    /// One pass: sums of (x − s) and (x − s)² with s = global row 0 (a shift that keeps the
    /// one-pass formula accurate), then one allreduce of 2d + 1 values. The same pass fills
    /// ``rowNorms``.
    /// - Throws: ``MPILearnError/dataError`` naming the global row and column of the first
    ///   non-finite value on a rank; ``MPILearnError/mismatch`` when shards do not add up.
    func meanVariance(dataName: String, featureNames: [String]) throws -> Double {
        let shift = try fetchRows([0])
        var local = [Double](repeating: 0, count: 2 * d + 1)
        if let x, n > 0 {
            let stride = (2 * d + 7) & ~7
            var acc = [Double](repeating: 0, count: stride * threads)
            acc.withUnsafeMutableBufferPointer { ap in
                shift.withUnsafeBufferPointer { sp in
                    forEachChunk { t, rows in
                        let out = ap.baseAddress! + t * stride, norms = rowNorms
                        for r in rows {
                            let xi = x + r * d
                            for f in 0 ..< d {
                                let v = Double(xi[f]) - sp[f]
                                out[f] += v
                                out[d + f] += v * v
                            }
                            norms[r] = rowNorm(xi)
                        }
                    }
                }
            }
            for t in 0 ..< threads { for i in 0 ..< 2 * d { local[i] += acc[t * stride + i] } }
            if local.contains(where: { !$0.isFinite }) {
                for r in 0 ..< n {
                    for f in 0 ..< d where !x[r * d + f].isFinite {
                        let name = f < featureNames.count ? featureNames[f] : "x\(f)"
                        throw MPILearnError.dataError(SourceLocation(file: dataName),
                            "row \(globalStart + r + 1), column \(f + 1) (\(name)) is \(x[r * d + f]); k-means needs finite values")
                    }
                }
                throw MPILearnError.numerical("\(dataName): values are too large: the sum of squares of a feature overflows")
            }
        }
        local[2 * d] = Double(n)
        try allreduceSum(&local)
        guard Int(local[2 * d]) == globalCount else {
            throw MPILearnError.mismatch("\(dataName): the ranks hold \(Int(local[2 * d])) rows in total but the dataset says \(globalCount)")
        }
        let count = Double(max(globalCount, 1))
        var s = 0.0
        for f in 0 ..< d {
            let mean = local[f] / count
            s += max(0, local[d + f] / count - mean * mean)
        }
        return s / Double(d)
    }
}

// MARK: concrete SIMD kernels

/// For each of `rows` rows, the minimum over `columns` of `work[j·rows + i]` and its index
/// (ties to the lower index), eight rows at a time in SIMD registers. Concrete per type:
/// generic `SIMD8<T>` code is not lowered to vector instructions.
@inline(__always)
func columnArgmin(_ work: UnsafePointer<Double>, rows b: Int, columns m: Int, best: UnsafeMutablePointer<Double>, index: UnsafeMutablePointer<Int32>) {
    typealias V = SIMD8<Double>
    let raw = UnsafeRawPointer(work)
    var i = 0
    while i + 8 <= b {
        var bestV = raw.loadUnaligned(fromByteOffset: i * 8, as: V.self)
        var indexV = SIMD8<Int64>(repeating: 0)
        var j = 1
        while j < m {
            let v = raw.loadUnaligned(fromByteOffset: (j * b + i) * 8, as: V.self)
            let closer = v .< bestV
            bestV.replace(with: v, where: closer)
            indexV.replace(with: SIMD8<Int64>(repeating: Int64(j)), where: closer)
            j += 1
        }
        UnsafeMutableRawPointer(best + i).storeBytes(of: bestV, as: V.self)
        let i32 = SIMD8<Int32>(truncatingIfNeeded: indexV)
        UnsafeMutableRawPointer(index + i).storeBytes(of: i32, as: SIMD8<Int32>.self)
        i += 8
    }
    while i < b {
        var bv = work[i], bj: Int32 = 0
        var j = 1
        while j < m { if work[j * b + i] < bv { bv = work[j * b + i]; bj = Int32(j) }; j += 1 }
        best[i] = bv
        index[i] = bj
        i += 1
    }
}

/// Float32 version of ``columnArgmin(_:rows:columns:best:index:)`` (indices exact below 2²⁴).
@inline(__always)
func columnArgmin(_ work: UnsafePointer<Float>, rows b: Int, columns m: Int, best: UnsafeMutablePointer<Float>, index: UnsafeMutablePointer<Int32>) {
    typealias V = SIMD8<Float>
    let raw = UnsafeRawPointer(work)
    var i = 0
    while i + 8 <= b {
        var bestV = raw.loadUnaligned(fromByteOffset: i * 4, as: V.self)
        var indexV = SIMD8<Int32>(repeating: 0)
        var j = 1
        while j < m {
            let v = raw.loadUnaligned(fromByteOffset: (j * b + i) * 4, as: V.self)
            let closer = v .< bestV
            bestV.replace(with: v, where: closer)
            indexV.replace(with: SIMD8<Int32>(repeating: Int32(j)), where: closer)
            j += 1
        }
        UnsafeMutableRawPointer(best + i).storeBytes(of: bestV, as: V.self)
        UnsafeMutableRawPointer(index + i).storeBytes(of: indexV, as: SIMD8<Int32>.self)
        i += 8
    }
    while i < b {
        var bv = work[i], bj: Int32 = 0
        var j = 1
        while j < m { if work[j * b + i] < bv { bv = work[j * b + i]; bj = Int32(j) }; j += 1 }
        best[i] = bv
        index[i] = bj
        i += 1
    }
}
