import CKernels
import Foundation

/// What an initialisation leaves in the engine's per-row state that a first bounded pass can
/// start from, instead of computing every row's distances to all k centres.
enum KMeansStartingGuess {
    /// `labels` hold each row's nearest candidate of `candidates` (m × d, rows of the data)
    /// and `mind2` the squared distance to it, as computed by the candidate passes (k-means||).
    case candidates([Double])
    /// `labels` hold each row's nearest initial centre (k-means++).
    case centres
}

// MARK: bounded (Hamerly) passes
//
// Hamerly, "Making k-means even faster", SDM 2010: with one lower bound per row (on the
// distance to every centre but its own) and the centres' movements, most rows of a
// converging k-means provably keep their centre, so their distances to the other centres are
// never computed. Here the proof is made to cover rounding too: a row keeps its label only
// when no other centre can come within the rounding margin of the GEMM's |c|² − 2x·c (see
// `mpl_bounds_ctx` in ckernels.h), so every label equals that of the plain Lloyd pass
// (``KMeansEngine/assign(_:distances:)``), and the centres too, up to the order of the sums'
// additions. The per-centre sums still read every row.
extension KMeansEngine {
    /// The bound on the relative rounding of the direct squared distance Σ (x_f − c_f)² in
    /// Float64 (d subtractions, products and additions of non-negative terms), with room.
    var upperScale: Double { 1 + Double(d + 8) * 0x1p-52 }

    /// Per-row rounding margin factor of the distance GEMM in the data's type: |computed −
    /// exact| of ‖c‖² − 2x·c (and of ‖x‖²) stays below margin · (‖x‖² + max‖c‖²), twice over.
    var marginFactor: Double { 4 * Double(d + 4) * Double(T.ulpOfOne) }

    /// The lower-bound array, allocated (to −∞, which proves nothing) on first use.
    func boundsStorage() -> UnsafeMutablePointer<Double> {
        if let lower { return lower }
        let p = UnsafeMutablePointer<Double>.allocate(capacity: max(n, 1))
        p.initialize(repeating: -.infinity, count: max(n, 1))
        lower = p
        return p
    }

    /// Lower bounds of |c_a − c_j| over j ≠ a, per centre (Hamerly's s(a), whole not halved):
    /// any row x labelled a is at least s(a) − |x − c_a| from every other centre. Computed
    /// directly in Float64 and rounded down; for k > 2048 (k² distances per pass) all zeros,
    /// which proves nothing.
    func separations(_ c: Centres) -> [Double] {
        let k = c.count
        guard k > 1 else { return [Double](repeating: .infinity, count: k) }
        var s = [Double](repeating: .infinity, count: k)
        guard k <= 2048 else { return [Double](repeating: 0, count: k) }
        let down = 1 - Double(d + 8) * 0x1p-52 - 0x1p-44
        c.rounded.withUnsafeBufferPointer { r in
            for a in 0 ..< k {
                for j in a + 1 ..< k {
                    var sum = 0.0
                    for f in 0 ..< d { let t = r[a * d + f] - r[j * d + f]; sum += t * t }
                    let dist = sum.squareRoot() * down
                    s[a] = min(s[a], dist)
                    s[j] = min(s[j], dist)
                }
            }
        }
        return s
    }

    /// Upper bounds of how far each centre moved from `old` to `new` (rounded centres, k × d):
    /// the largest, its centre, and the second largest.
    func drifts(from old: [Double]?, to new: [Double], k: Int) -> (first: Double, index: Int32, second: Double) {
        guard let old, old.count == new.count else { return (.infinity, -1, .infinity) }
        let up = 1 + Double(d + 8) * 0x1p-52 + 0x1p-44
        var first = 0.0, second = 0.0, index: Int32 = -1
        for j in 0 ..< k {
            var sum = 0.0
            for f in 0 ..< d { let t = new[j * d + f] - old[j * d + f]; sum += t * t }
            let m = sum.squareRoot() * up
            if m > first { second = first; first = m; index = Int32(j) } else if m > second { second = m }
        }
        return (first, index, second)
    }

    /// Starts the bounds for a run from its initial centres `c`: labels and lower bounds from
    /// what the initialisation left (`guess`), or label −1 (distances to all centres in the
    /// first pass) without one. Collective-free; reads `labels` and `mind2`.
    ///
    /// From k-means|| candidates: a row whose nearest candidate is q (at distance t, bounded
    /// above from `mind2` with the candidate pass's rounding margin) gets the label of q's
    /// nearest centre a(q), and the lower bound min over j ≠ a(q) of |q − c_j| − t (triangle
    /// inequality).
    func seedBounds(_ guess: KMeansStartingGuess?, centres c: Centres) {
        let lower = boundsStorage(), labels = self.labels
        boundsCentres = c.rounded
        guard let guess, c.count > 0 else {
            for r in 0 ..< n { labels[r] = -1; lower[r] = -.infinity }
            return
        }
        switch guess {
        case .centres:
            for r in 0 ..< n { lower[r] = -.infinity; if labels[r] >= Int32(c.count) { labels[r] = -1 } }
        case .candidates(let cand):
            let m = d == 0 ? 0 : cand.count / d, k = c.count
            guard m > 0 else { for r in 0 ..< n { labels[r] = -1; lower[r] = -.infinity }; return }
            var nearest = [Int32](repeating: -1, count: m), other = [Double](repeating: -.infinity, count: m)
            var candMax2 = 0.0
            let down = 1 - Double(d + 8) * 0x1p-52 - 0x1p-44
            for q in 0 ..< m {
                var n2 = 0.0
                for f in 0 ..< d { n2 += Double(T(cand[q * d + f])) * Double(T(cand[q * d + f])) }
                candMax2 = max(candMax2, n2)
                var best = Double.infinity, bestJ = -1, second = Double.infinity
                for j in 0 ..< k {
                    var sum = 0.0
                    for f in 0 ..< d { let t = Double(T(cand[q * d + f])) - c.rounded[j * d + f]; sum += t * t }
                    if sum < best { second = best; best = sum; bestJ = j } else if sum < second { second = sum }
                }
                nearest[q] = Int32(bestJ)
                other[q] = second.isFinite ? second.squareRoot() * down : .infinity
            }
            let mind2 = self.mind2, norms = rowNorms, margin = marginFactor, scale = upperScale
            forEachChunk { _, rows in
                mpl_bounds_seed(rows.count, labels + rows.lowerBound, mind2 + rows.lowerBound, norms + rows.lowerBound, m,
                                nearest, other, margin, candMax2, scale, lower + rows.lowerBound)
            }
        }
    }

    /// Collective-free. Assigns every local row to its nearest centre of `c` like
    /// ``assign(_:distances:)`` (the same labels), computing
    /// distances to all centres only for rows whose bounds do not prove their label; updates
    /// the bounds to refer to `c`. Returns the accumulators in the layout of
    /// ``accumulatorCount(k:)`` followed by the number of rows whose distances were skipped.
    /// The inertia adds each row's direct squared distance Σ (x_f − c_f)². Within a block the
    /// rows that kept their label are summed first, then the others (each group in row
    /// order), so the sums equal the plain pass's up to the order of additions.
    func assignBounded(_ c: Centres) -> [Double] {
        let k = c.count, d = self.d, size = accumulatorCount(k: k)
        let stride = (size + 1 + 7) & ~7
        var acc = [Double](repeating: 0, count: stride * threads)
        guard n > 0, let x else { return [Double](repeating: 0, count: size + 1) }
        let lower = boundsStorage(), labels = self.labels, norms = rowNorms
        let separation = separations(c)
        let drift = drifts(from: boundsCentres, to: c.rounded, k: k)
        let rowsPerBlock = blockRows(stride: c.stride), cs = c.stride
        let gap = 128 / MemoryLayout<mpl_lloyd_acc>.stride
        var states = [mpl_lloyd_acc](repeating: mpl_lloyd_acc(), count: threads * gap)
        acc.withUnsafeMutableBufferPointer { ap in
            states.withUnsafeMutableBufferPointer { sp in
                c.rounded.withUnsafeBufferPointer { cr in
                    separation.withUnsafeBufferPointer { sep in
                        c.transposed.withUnsafeBufferPointer { ct in
                            c.norms.withUnsafeBufferPointer { cn in
                                var context = mpl_bounds_ctx(centres: cr.baseAddress, separation: sep.baseAddress,
                                                             drift1: drift.first, drift2: drift.second, drift1_index: drift.index,
                                                             upper_scale: upperScale, margin: marginFactor, cmax2: c.maxNorm2)
                                for t in 0 ..< threads {
                                    sp[t * gap] = mpl_lloyd_acc(sums: ap.baseAddress! + t * stride, counts: ap.baseAddress! + t * stride + k * d,
                                                                inertia: 0, changed: 0)
                                }
                                withUnsafePointer(to: &context) { ctx in
                                    forEachChunk { t, rows in
                                        let work = UnsafeMutablePointer<T>.allocate(capacity: rowsPerBlock * cs)
                                        let packed = UnsafeMutablePointer<T>.allocate(capacity: rowsPerBlock * d)
                                        let fail = UnsafeMutablePointer<Int32>.allocate(capacity: rowsPerBlock)
                                        defer { work.deallocate(); packed.deallocate(); fail.deallocate() }
                                        let state = sp.baseAddress! + t * gap
                                        var skipped = 0, start = rows.lowerBound
                                        while start < rows.upperBound {
                                            let b = min(rowsPerBlock, rows.upperBound - start), xb = x + start * d
                                            let failed = T.boundsPass(xb, rows: b, features: d, context: ctx, rowNorms: norms + start,
                                                                      labels: labels + start, lower: lower + start, fail: fail, acc: state)
                                            if failed > 0 {
                                                // Distances for the failed rows only: in place when the whole block failed,
                                                // else from a packed copy of those rows (in L1).
                                                var source = xb
                                                if failed < b {
                                                    for i in 0 ..< failed { (packed + i * d).update(from: xb + Int(fail[i]) * d, count: d) }
                                                    source = UnsafePointer(packed)
                                                }
                                                T.gemm(transA: false, transB: false, m: failed, n: cs, k: d, alpha: -2, a: source, lda: d,
                                                       b: ct.baseAddress!, ldb: cs, beta: 0, c: work, ldc: cs)
                                                T.boundsAssign(xb, features: d, work: work, stride: cs, norms: cn.baseAddress!, failed: failed,
                                                               fail: fail, context: ctx, rowNorms: norms + start, labels: labels + start,
                                                               lower: lower + start, acc: state)
                                            }
                                            skipped += b - failed
                                            start += b
                                        }
                                        ap[t * stride + size] = Double(skipped)
                                    }
                                }
                                for t in 0 ..< threads {
                                    ap[t * stride + k * (d + 1)] = sp[t * gap].inertia
                                    ap[t * stride + k * (d + 1) + 1] = sp[t * gap].changed
                                }
                            }
                        }
                    }
                }
            }
        }
        boundsCentres = c.rounded
        var out = Array(acc[0 ..< size + 1])
        for t in 1 ..< threads { for i in 0 ..< size + 1 { out[i] += acc[t * stride + i] } }
        return out
    }
}
