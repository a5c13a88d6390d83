import Foundation
import SwiftMPI

/// The result of an initialisation: k × d centres and facts for the report.
struct KMeansInitResult {
    var centres: [Double]
    var candidates: Int?
    var warnings: [String] = []
    /// What the engine's per-row state holds for a first bounded pass (nil: nothing usable).
    var guess: KMeansStartingGuess?
}

// k-means|| — Bahmani, Moseley, Vattani, Kumar, Vassilvitskii, "Scalable K-Means++",
// PVLDB 5(7), 2012, Algorithm 2 (k-means||):
//
//   1: C ← sample a point uniformly at random from X
//   2: ψ ← φ_X(C)
//   3: for O(log ψ) times do
//   4:   C' ← sample each point x ∈ X independently with probability p_x = ℓ·d²(x, C)/φ_X(C)
//   5:   C ← C ∪ C'
//   6: end for
//   7: for x ∈ C, set w_x to be the number of points in X closer to x than any other point in C
//   8: recluster the weighted points in C into k clusters
//
// Each step below is one function. Steps 2, 5 and 7 are one pass over the local rows plus one
// allreduce; step 4 is a pass over the per-row distances plus one allgather of the new
// candidates; step 8 runs on every rank identically from the shared seed (no gather to a root).
extension KMeansEngine {
    /// k-means|| initialisation: steps 1-8 of Algorithm 2 with r = `rounds` oversampling
    /// rounds of expected size ℓ = `oversampling`.
    ///
    /// Candidates are appended in (round, global row) order, and every random decision is a
    /// pure function of (seed, round, global row index), so the candidate set, its weights and
    /// the centres returned are the same for any number of ranks.
    func kMeansParallel(k: Int, oversampling ell: Double, rounds: Int, seed: UInt64) throws -> KMeansInitResult {
        var warnings: [String] = []
        // 1: the first candidate, uniform over all rows.
        var candidates = try step1FirstCandidate(seed: seed)
        // 2: ψ, the cost of all rows with respect to it.
        let psi = try step2InitialCost(candidates)
        var phi = psi
        // 3-6: oversampling rounds.
        for round in 0 ..< rounds where phi > 0 {
            // 4: sample C' with p_x = min(1, ℓ·d²(x, C)/φ_X(C)).
            let fresh = try step4Sample(round: round, oversampling: ell, phi: phi, seed: seed)
            if fresh.isEmpty { continue }
            // 5: C ← C ∪ C', and the new φ.
            phi = try step5Union(&candidates, fresh)
        }
        let found = candidates.count / d
        if found < k {
            warnings.append("k-means|| found \(found) candidate(s) for \(k) clusters (oversampling_factor \(ell), \(rounds) rounds); "
                + "adding the \(k - found) row(s) farthest from the candidates")
            try topUp(&candidates, to: k)
        }
        // 7: weight each candidate by the number of rows nearest to it.
        let weights = try step7Weights(candidateCount: candidates.count / d)
        // 8: recluster the weighted candidates into k centres.
        let (centres, warning) = step8Recluster(candidates, weights: weights, k: k, seed: seed)
        if let warning { warnings.append(warning) }
        return KMeansInitResult(centres: centres, candidates: found, warnings: warnings, guess: .candidates(candidates))
    }

    /// Step 1: one row drawn uniformly from all `globalCount` rows with the shared seed, so
    /// every rank draws the same index; its owner contributes it through ``fetchRows(_:)``.
    func step1FirstCandidate(seed: UInt64) throws -> [Double] {
        var rng = Philox(seed: seed, domain: KMeansDomain.firstCentre.rawValue)
        return try fetchRows([rng.below(globalCount)])
    }

    /// Step 2: ψ = φ_X(C) = Σ_x d²(x, C): sets every row's distance to the first candidate
    /// (`mind2`, `labels` = 0) and sums over ranks (one allreduce).
    func step2InitialCost(_ candidates: [Double]) throws -> Double {
        for i in 0 ..< n { mind2[i] = .infinity; labels[i] = -1 }
        var cost = [updateNearest(Centres(candidates, d: d), offset: 0)]
        try allreduceSum(&cost)
        return cost[0]
    }

    /// Step 4: every row x is kept independently with probability min(1, ℓ·d²(x, C)/φ). The
    /// uniform draw for global row g in round `round` is one half of the Philox4x32-10 block
    /// with counter (⌊g/2⌋, round) under a key made from the seed (rows 2i and 2i+1 share a
    /// block, 64 bits each, so one block serves two rows), so it does not depend on which
    /// rank holds g. The kept rows are allgathered in rank order, which is global row order.
    /// - Returns: the new candidates, m × d, the same on every rank.
    func step4Sample(round: Int, oversampling ell: Double, phi: Double, seed: UInt64) throws -> [Double] {
        let keyBits = Philox.mix(seed ^ Philox.mix(KMeansDomain.sampleRound.rawValue))
        let key = (UInt32(truncatingIfNeeded: keyBits), UInt32(truncatingIfNeeded: keyBits >> 32))
        let scale = ell / phi, start = globalStart, mind2 = self.mind2
        var kept = [[Int]](repeating: [], count: threads)
        kept.withUnsafeMutableBufferPointer { kp in
            forEachChunk { t, rows in
                var mine: [Int] = []
                var pair = UInt64.max, halves: (UInt64, UInt64) = (0, 0)
                for r in rows {
                    let p = scale * mind2[r]
                    if p <= 0 { continue }
                    let g = UInt64(start + r)
                    if g >> 1 != pair {
                        pair = g >> 1
                        let b = Philox.block(counter: (UInt32(truncatingIfNeeded: pair), UInt32(truncatingIfNeeded: pair >> 32), UInt32(round), 0),
                                             key: key)
                        halves = (UInt64(b.0) | UInt64(b.1) << 32, UInt64(b.2) | UInt64(b.3) << 32)
                    }
                    let u = Double((g & 1 == 0 ? halves.0 : halves.1) >> 11) * 0x1.0p-53
                    if u < p { mine.append(r) }
                }
                kp[t] = mine
            }
        }
        var packed: [Double] = []
        for rows in kept { for r in rows { packed += row(r) } }
        return try allgather(packed)
    }

    /// Step 5: C ← C ∪ C'. Updates every row's nearest candidate with the new ones (one pass
    /// with one GEMM per block) and returns the new φ_X(C) (one allreduce).
    func step5Union(_ candidates: inout [Double], _ fresh: [Double]) throws -> Double {
        let offset = candidates.count / d
        candidates += fresh
        var cost = [updateNearest(Centres(fresh, d: d), offset: offset)]
        try allreduceSum(&cost)
        return cost[0]
    }

    /// Too few candidates (tiny ℓ·r, or data with few distinct rows): adds the rows farthest
    /// from the current candidates, one at a time, ties to the lower global row — deterministic
    /// and rank invariant.
    func topUp(_ candidates: inout [Double], to k: Int) throws {
        while candidates.count / d < k {
            guard let far = try globalFarthest(1).first else { break }
            _ = try step5Union(&candidates, far.row)
        }
    }

    /// Step 7: w_c = number of rows whose nearest candidate is c. The pass in steps 2 and 5
    /// already left each row's nearest candidate in `labels`, so this is a local count and
    /// one allreduce of |C| values.
    func step7Weights(candidateCount m: Int) throws -> [Double] {
        var w = [Double](repeating: 0, count: m)
        for i in 0 ..< n { w[Int(labels[i])] += 1 }
        try allreduceSum(&w)
        return w
    }

    /// Step 8: weighted k-means++ on the candidates, then weighted Lloyd iterations to
    /// convergence (at most 100), on every rank from the same seed and the same inputs, so
    /// every rank computes the same k centres without a gather.
    func step8Recluster(_ candidates: [Double], weights: [Double], k: Int, seed: UInt64) -> (centres: [Double], warning: String?) {
        let points = Matrix(rows: candidates.count / d, columns: d, storage: candidates)
        var rng = Philox(seed: seed, domain: KMeansDomain.recluster.rawValue)
        let start = WeightedKMeans.plusPlus(points, weights: weights, k: k, rng: &rng)
        let done = WeightedKMeans.lloyd(points, weights: weights, centres: start, maxIter: 100)
        let distinct = Set((0 ..< k).map { done.row($0).map(\.bitPattern) }).count
        let warning = distinct < k ? "only \(distinct) distinct initial centres for \(k) clusters: the data has fewer distinct rows than clusters" : nil
        return (done.storage, warning)
    }
}

// MARK: k-means++ and random

extension KMeansEngine {
    /// k-means++ over all rows (Arthur and Vassilvitskii 2007) with scikit-learn's greedy
    /// variant: at each step 2 + ⌊ln k⌋ rows are drawn with probability ∝ d²(x, C) and the one
    /// that lowers the potential most is kept. Each step is two passes over the data (trial
    /// potentials, then the update) and three allreduces.
    func kMeansPlusPlus(k: Int, seed: UInt64) throws -> KMeansInitResult {
        var rng = Philox(seed: seed, domain: KMeansDomain.plusPlus.rawValue)
        var centres = try fetchRows([rng.below(globalCount)])
        for i in 0 ..< n { mind2[i] = .infinity; labels[i] = -1 }
        _ = updateNearest(Centres(centres, d: d), offset: 0)
        let trials = 2 + Int(log(Double(k)))
        for c in 1 ..< max(k, 1) {
            let draws = (0 ..< trials).map { _ in rng.uniform() }
            let rows = try sampleRowsByDistance(draws)
            var potentials = trialPotentials(Centres(rows, d: d))
            try allreduceSum(&potentials)
            var best = 0
            for j in 1 ..< trials where potentials[j] < potentials[best] { best = j }
            let chosen = Array(rows[best * d ..< (best + 1) * d])
            centres += chosen
            _ = updateNearest(Centres(chosen, d: d), offset: c)
        }
        return KMeansInitResult(centres: centres, guess: .centres)
    }

    /// Collective. Rows drawn with probability ∝ `mind2`: draw u ∈ [0, 1) selects the row where
    /// the running sum of `mind2` in global row order first exceeds u·Σ mind2. The ranks'
    /// partial sums are allgathered; the owner of each draw contributes its row (one
    /// allreduce). When every distance is zero the draw falls back to a uniform row.
    func sampleRowsByDistance(_ draws: [Double]) throws -> [Double] {
        var local = 0.0
        for i in 0 ..< n { local += mind2[i] }
        let t0 = monotonicSeconds()
        let sums = try comm.allgather(local)
        communicationSeconds += monotonicSeconds() - t0
        var prefix = 0.0
        for r in 0 ..< comm.rank { prefix += sums[r] }
        let total = sums.reduce(0, +)
        let w = d + 1
        var buf = [Double](repeating: 0, count: draws.count * w)
        for (q, u) in draws.enumerated() {
            if total <= 0 {
                let g = min(globalCount - 1, Int(u * Double(globalCount)))
                if g >= globalStart && g < globalStart + n { buf[q * w] = 1; for f in 0 ..< d { buf[q * w + 1 + f] = row(g - globalStart)[f] } }
                continue
            }
            let target = u * total
            guard target >= prefix && target < prefix + local else { continue }
            // Scan this rank's running sum against the target's offset into it; if rounding
            // leaves the target past the end, take the last row with a positive distance.
            let offset = target - prefix
            var running = 0.0, found = -1
            for i in 0 ..< n {
                running += mind2[i]
                if running > offset { found = i; break }
            }
            if found < 0 { found = (0 ..< n).last { mind2[$0] > 0 } ?? n - 1 }
            buf[q * w] = 1
            let r = row(found)
            for f in 0 ..< d { buf[q * w + 1 + f] = r[f] }
        }
        try allreduceSum(&buf)
        var out: [Double] = []
        out.reserveCapacity(draws.count * d)
        for q in 0 ..< draws.count {
            if buf[q * w] == 1 {
                out += buf[q * w + 1 ..< (q + 1) * w]
            } else {
                // No owner (a draw on a rounding boundary): use the first draw's row.
                out += buf[1 ..< w]
            }
        }
        return out
    }

    /// k distinct rows chosen uniformly from all rows (Floyd's sampling with the shared seed).
    func randomRows(k: Int, seed: UInt64) throws -> KMeansInitResult {
        var rng = Philox(seed: seed, domain: KMeansDomain.randomInit.rawValue)
        var chosen = Set<Int>(), order: [Int] = []
        for j in (globalCount - k) ..< globalCount {
            let t = rng.below(j + 1)
            let pick = chosen.contains(t) ? j : t
            chosen.insert(pick)
            order.append(pick)
        }
        return KMeansInitResult(centres: try fetchRows(order))
    }
}

/// Weighted k-means on a small replicated point set (the k-means|| candidates), computed
/// identically on every rank. Distances use BLAS GEMM through ``matmul(_:_:transposeA:transposeB:)``.
enum WeightedKMeans {
    /// Nearest centre and squared distance for each point.
    static func nearest(_ points: Matrix<Double>, _ centres: Matrix<Double>) -> (labels: [Int], d2: [Double]) {
        let m = points.rows, k = centres.rows, d = points.columns
        // The shapes fit by construction, so matmul cannot throw here.
        let dot = (try? matmul(points, centres, transposeB: true)) ?? Matrix(rows: m, columns: k)
        var cn = [Double](repeating: 0, count: k)
        for j in 0 ..< k { for f in 0 ..< d { cn[j] += centres[j, f] * centres[j, f] } }
        var labels = [Int](repeating: 0, count: m), d2 = [Double](repeating: 0, count: m)
        for i in 0 ..< m {
            var xn = 0.0
            for f in 0 ..< d { xn += points[i, f] * points[i, f] }
            var best = Double.infinity, bj = 0
            for j in 0 ..< k {
                let v = cn[j] - 2 * dot.storage[i * k + j]
                if v < best { best = v; bj = j }
            }
            labels[i] = bj
            d2[i] = max(0, xn + best)
        }
        return (labels, d2)
    }

    /// Weighted greedy k-means++ (scikit-learn's `_kmeans_plusplus` with sample weights):
    /// the first centre ∝ w, then at each step 2 + ⌊ln k⌋ draws ∝ w·d² and the best kept.
    /// When every weighted distance is zero the lowest-index unused point is taken.
    static func plusPlus(_ points: Matrix<Double>, weights: [Double], k: Int, rng: inout Philox) -> Matrix<Double> {
        let m = points.rows, d = points.columns
        func draw(_ mass: [Double], _ u: Double) -> Int {
            let total = mass.reduce(0, +)
            guard total > 0 else { return -1 }
            let target = u * total
            var running = 0.0
            for i in 0 ..< m {
                running += mass[i]
                if running > target { return i }
            }
            return mass.lastIndex { $0 > 0 } ?? m - 1
        }
        var chosen: [Int] = [max(0, draw(weights, rng.uniform()))]
        var closest = nearest(points, Matrix(rows: 1, columns: d, storage: Array(points.row(chosen[0])))).d2
        let trials = 2 + Int(log(Double(k)))
        while chosen.count < k {
            let mass = (0 ..< m).map { weights[$0] * closest[$0] }
            var ids = (0 ..< trials).map { _ in draw(mass, rng.uniform()) }
            if ids[0] < 0 {
                let used = Set(chosen)
                ids = [(0 ..< m).first { !used.contains($0) } ?? 0]
            }
            var best = -1, bestPot = Double.infinity, bestD2: [Double] = []
            for id in ids {
                let dd = nearest(points, Matrix(rows: 1, columns: d, storage: Array(points.row(id)))).d2
                var pot = 0.0
                var nd = closest
                for i in 0 ..< m { nd[i] = min(nd[i], dd[i]); pot += weights[i] * nd[i] }
                if pot < bestPot { bestPot = pot; best = id; bestD2 = nd }
            }
            chosen.append(best)
            closest = bestD2
        }
        return Matrix(rows: k, columns: d, storage: chosen.flatMap { Array(points.row($0)) })
    }

    /// Weighted Lloyd iterations until the labels stop changing (at most `maxIter`); a
    /// centre that loses all its weight keeps its position.
    static func lloyd(_ points: Matrix<Double>, weights: [Double], centres: Matrix<Double>, maxIter: Int) -> Matrix<Double> {
        var c = centres
        let k = c.rows, d = c.columns
        var previous: [Int] = []
        for _ in 0 ..< maxIter {
            let labels = nearest(points, c).labels
            if labels == previous { break }
            previous = labels
            var sums = [Double](repeating: 0, count: k * d), w = [Double](repeating: 0, count: k)
            for (i, j) in labels.enumerated() {
                w[j] += weights[i]
                for f in 0 ..< d { sums[j * d + f] += weights[i] * points[i, f] }
            }
            for j in 0 ..< k where w[j] > 0 { for f in 0 ..< d { c[j, f] = sums[j * d + f] / w[j] } }
        }
        return c
    }
}
