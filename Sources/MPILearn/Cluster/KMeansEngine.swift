import CKernels
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
/// ``blockRows(stride:)`` rows, computes −2·X_block·Cᵀ with one GEMM into a private workspace
/// of blockRows × ``Centres/stride`` elements (the only buffer whose size depends on the
/// data), and reads the rows again while they are still in L1. The data is never copied.
final class KMeansEngine<T: KMeansScalar> {
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
    /// Bounded (Hamerly) passes only, allocated by the first one: for each local row, a lower
    /// bound on its distance to every centre other than its label's, valid for the centres
    /// in ``boundsCentres``.
    var lower: UnsafeMutablePointer<Double>?
    /// The centres (``Centres/rounded``) that ``lower`` refers to; nil before any.
    var boundsCentres: [Double]?

    /// Bytes of one block's rows plus its distances: 24 KiB stays in a 32-48 KiB L1 data
    /// cache, so the argmin and the per-centre sums re-read the rows GEMM has just read.
    static var blockBytes: Int { 24 << 10 }

    /// `bounded`: allocate the lower bounds of bounded passes now, with the other per-row
    /// state (else the first bounded pass does).
    init(x: UnsafePointer<T>?, rows n: Int, features d: Int, globalStart: Int, globalCount: Int, comm: any Communicator, threads: Int,
         bounded: Bool = false) {
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
        if bounded { _ = boundsStorage() }
    }

    deinit {
        labels.deallocate()
        mind2.deallocate()
        rowNorms.deallocate()
        lower?.deallocate()
    }

    /// Fills ``rowNorms`` (one pass; the variance pass does it as a side effect).
    func computeNorms() {
        guard let x, n > 0 else { return }
        let norms = rowNorms
        forEachChunk { _, rows in for r in rows { norms[r] = rowNorm(x + r * d) } }
    }

    /// Rows per distance block against centres padded to `stride` columns: a block's rows
    /// and distances stay within ``blockBytes`` (at least 16 rows, at most 1024).
    func blockRows(stride: Int) -> Int {
        max(16, min(1024, Self.blockBytes / max(1, (d + stride) * MemoryLayout<T>.stride)))
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

    /// Centres converted to the data's type, transposed for GEMM, with their squared norms.
    ///
    /// `transposed` is d × `stride`, row-major: column j holds centre j, and the columns past
    /// `count` are zero. `stride` is `count` rounded up to a multiple of 8 because OpenBLAS's
    /// small-matrix GEMM kernels (the no-packing path it takes for these block sizes) run
    /// whole AVX-512 vectors of centres: measured here, 16 padded columns cost less than 12.
    /// `norms` has `stride` entries: the padding columns' norm is +∞, so the argmin kernels
    /// scan whole vectors and never pick one.
    ///
    /// `rounded` is the centres as the GEMM sees them (converted to the data's type), k × d in
    /// Float64 followed by 8 zeros, and `maxNorm2` the largest of their squared norms: bounded passes measure
    /// distances to these.
    struct Centres {
        var transposed: [T]
        var norms: [T]
        var rounded: [Double]
        var maxNorm2 = 0.0
        var count: Int
        var stride: Int
        init(_ c: [Double], d: Int) {
            count = d == 0 ? 0 : c.count / d
            stride = max(8, (count + 7) & ~7)
            transposed = [T](repeating: 0, count: d * stride)
            norms = [T](repeating: .infinity, count: stride)
            rounded = [Double](repeating: 0, count: count * d + 8)   // + 8: the kernels' vector tails may read on
            for j in 0 ..< count {
                var s = 0.0
                for f in 0 ..< d {
                    let v = T(c[j * d + f])
                    transposed[f * stride + j] = v
                    rounded[j * d + f] = Double(v)
                    s += Double(v) * Double(v)
                }
                norms[j] = T(s)
                maxNorm2 = max(maxNorm2, s)
            }
        }
    }

    /// `work[i·stride + j] = −2·x_{start+i}·c_j` for a block of `b` rows: one GEMM, β = 0.
    @inline(__always)
    func distances(_ x: UnsafePointer<T>, start: Int, rows b: Int, centres ct: UnsafePointer<T>, stride: Int,
                   work: UnsafeMutablePointer<T>) {
        T.gemm(transA: false, transB: false, m: b, n: stride, k: d, alpha: -2, a: x + start * d, lda: d, b: ct, ldb: stride,
               beta: 0, c: work, ldc: stride)
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

    /// Per-thread scratch of a pass: distances (rows × stride), best value and index per row.
    struct Scratch {
        let rows: Int
        let work: UnsafeMutablePointer<T>
        let best: UnsafeMutablePointer<T>
        let index: UnsafeMutablePointer<Int32>
        init(rows: Int, stride: Int) {
            self.rows = rows
            work = .allocate(capacity: rows * stride)
            best = .allocate(capacity: rows)
            index = .allocate(capacity: rows)
        }
        func free() {
            work.deallocate()
            best.deallocate()
            index.deallocate()
        }
    }

    /// One distance block handed to a pass: rows `start ..< start + rows` of thread
    /// `thread`'s chunk, with `scratch.work` holding −2·x·cⱼ for them and `norms` the
    /// centres' padded norms.
    struct Block {
        let thread: Int
        let start: Int
        let rows: Int
        let scratch: Scratch
        let norms: UnsafePointer<T>
    }

    /// The skeleton of every pass over the data against a set of centres: each thread walks
    /// its chunk in blocks of ``blockRows(stride:)`` rows with its own scratch, computes the
    /// block's distances with one GEMM (``distances(_:start:rows:centres:stride:work:)``)
    /// and calls `body` while the block is still in L1.
    func forEachBlock(_ c: Centres, _ body: (Block) -> Void) {
        guard let x, n > 0 else { return }
        let rowsPerBlock = blockRows(stride: c.stride), stride = c.stride
        c.transposed.withUnsafeBufferPointer { cv in
            c.norms.withUnsafeBufferPointer { cn in
                forEachChunk { t, rows in
                    let scratch = Scratch(rows: rowsPerBlock, stride: stride)
                    defer { scratch.free() }
                    var start = rows.lowerBound
                    while start < rows.upperBound {
                        let b = min(rowsPerBlock, rows.upperBound - start)
                        distances(x, start: start, rows: b, centres: cv.baseAddress!, stride: stride, work: scratch.work)
                        body(Block(thread: t, start: start, rows: b, scratch: scratch, norms: cn.baseAddress!))
                        start += b
                    }
                }
            }
        }
    }

    // MARK: Lloyd assignment

    /// Layout of a Lloyd accumulator: sums (k·d), counts (k), inertia, changed labels.
    func accumulatorCount(k: Int) -> Int { k * (d + 1) + 2 }

    /// Collective-free. Assigns every local row to its nearest centre, writes `labels` (and
    /// `mind2` when `distances`), and returns this rank's per-centre sums, counts, inertia and
    /// the number of changed labels (layout of ``accumulatorCount(k:)``), summed over threads
    /// in order. Lloyd iterations pass `distances: false`: they need `mind2` only to relocate
    /// an empty cluster, and skipping its store saves 16 of about 190 bytes of memory traffic
    /// per row (float64, 20 features).
    ///
    /// Per block, CKernels' fused Lloyd kernel (`mpl_lloyd_block_*`, vectorised) takes each
    /// row's argmin and adds the row to its centre's sums while the block is in L1.
    func assign(_ c: Centres, distances: Bool = true) -> [Double] {
        let k = c.count, d = self.d, size = accumulatorCount(k: k)
        let stride = (size + 7) & ~7
        var acc = [Double](repeating: 0, count: stride * threads)
        guard n > 0, let x else { return [Double](repeating: 0, count: size) }
        // Each thread's kernel state (32 bytes, rewritten after every block) sits 128 bytes
        // from the next one's, so two threads never write the same cache line.
        let gap = 128 / MemoryLayout<mpl_lloyd_acc>.stride
        var states = [mpl_lloyd_acc](repeating: mpl_lloyd_acc(), count: threads * gap)
        acc.withUnsafeMutableBufferPointer { ap in
            states.withUnsafeMutableBufferPointer { sp in
                for t in 0 ..< threads {
                    sp[t * gap] = mpl_lloyd_acc(sums: ap.baseAddress! + t * stride, counts: ap.baseAddress! + t * stride + k * d,
                                          inertia: 0, changed: 0)
                }
                forEachBlock(c) { b in
                    T.lloydBlock(x + b.start * d, rows: b.rows, features: d, work: b.scratch.work, stride: c.stride,
                                 norms: b.norms, rowNorms: rowNorms + b.start, labels: labels + b.start, mind2: distances ? mind2 + b.start : nil,
                                 best: b.scratch.best, index: b.scratch.index, acc: sp.baseAddress! + b.thread * gap)
                }
                for t in 0 ..< threads {
                    ap[t * stride + k * (d + 1)] = sp[t * gap].inertia
                    ap[t * stride + k * (d + 1) + 1] = sp[t * gap].changed
                }
            }
        }
        var out = Array(acc[0 ..< size])
        for t in 1 ..< threads { for i in 0 ..< size { out[i] += acc[t * stride + i] } }
        return out
    }

    // MARK: nearest-candidate update (k-means||, k-means++)

    /// Collective-free. Updates each row's squared distance to the nearest centre with `m`
    /// new centres (labelled `offset`, `offset + 1`, ...): where a new centre is strictly
    /// closer, `mind2` and `labels` change. Returns this rank's φ = Σ mind2 (threads summed
    /// in order).
    func updateNearest(_ c: Centres, offset: Int) -> Double {
        guard n > 0, c.count > 0 else { return n == 0 ? 0 : localCost() }
        let labels = self.labels, mind2 = self.mind2, norms = self.rowNorms
        var partial = [Double](repeating: 0, count: threads * 8)
        partial.withUnsafeMutableBufferPointer { pp in
            forEachBlock(c) { b in
                let s = b.scratch
                T.argmin(s.work, rows: b.rows, stride: c.stride, norms: b.norms, best: s.best, index: s.index)
                var cost = pp[b.thread * 8]   // one running sum per thread, in row order
                for i in 0 ..< b.rows {
                    let r = b.start + i
                    let d2 = max(0, norms[r] + Double(s.best[i]))
                    if d2 < mind2[r] { mind2[r] = d2; labels[r] = Int32(offset) + s.index[i] }
                    cost += mind2[r]
                }
                pp[b.thread * 8] = cost
            }
        }
        return (0 ..< threads).reduce(0.0) { $0 + partial[$1 * 8] }
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
        let m = c.count, cs = c.stride, stride = (m + 7) & ~7
        guard n > 0, m > 0 else { return [Double](repeating: 0, count: m) }
        let norms = rowNorms, mind2 = self.mind2
        var acc = [Double](repeating: 0, count: stride * threads)
        acc.withUnsafeMutableBufferPointer { ap in
            forEachBlock(c) { b in
                let out = ap.baseAddress! + b.thread * stride
                for i in 0 ..< b.rows {
                    let w = b.scratch.work + i * cs, r = b.start + i
                    for j in 0 ..< m { out[j] += min(mind2[r], max(0, norms[r] + Double(b.norms[j]) + Double(w[j]))) }
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
