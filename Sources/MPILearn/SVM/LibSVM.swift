import CLinearAlgebra
import Foundation

/// The 32-bit Mersenne Twister (MT19937, Matsumoto & Nishimura 1998) as C++'s
/// `std::mt19937` and NumPy's legacy `RandomState` run it. scikit-learn's libsvm draws its
/// probability folds from it, so MPILearn reproduces them with the same `random_state`.
/// Hand-written: no Swift package on this machine provides MT19937.
struct MT19937 {
    private var state = [UInt32](repeating: 0, count: 624)
    private var index = 624

    init(seed: UInt32) { self.seed(seed) }

    /// `init_genrand`: `std::mt19937::seed` and NumPy's `RandomState(int)`.
    mutating func seed(_ s: UInt32) {
        state[0] = s
        for i in 1 ..< 624 {
            state[i] = 1_812_433_253 &* (state[i - 1] ^ (state[i - 1] >> 30)) &+ UInt32(i)
        }
        index = 624
    }

    mutating func next() -> UInt32 {
        if index >= 624 {
            for i in 0 ..< 624 {
                let y = (state[i] & 0x8000_0000) | (state[(i + 1) % 624] & 0x7FFF_FFFF)
                var v = state[(i + 397) % 624] ^ (y >> 1)
                if y & 1 != 0 { v ^= 0x9908_B0DF }
                state[i] = v
            }
            index = 0
        }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// scikit-learn's `bounded_rand_int`: a number in 0..<range by Lemire's method with its
    /// rejection threshold computed as scikit-learn does.
    mutating func bounded(_ range: Int) -> Int {
        let r = UInt32(truncatingIfNeeded: range)
        var x = next()
        var m = UInt64(x) * UInt64(r)
        var low = UInt32(truncatingIfNeeded: m)
        if low < r {
            var t = 0 &- r
            if t >= r {
                t -= r
                if t >= r { t %= r }
            }
            while low < t {
                x = next()
                m = UInt64(x) * UInt64(r)
                low = UInt32(truncatingIfNeeded: m)
            }
        }
        return Int(m >> 32)
    }

    /// The seed scikit-learn hands libsvm for `random_state`:
    /// `RandomState(random_state).randint(2**31 - 1)` (NumPy's masked rejection sampling).
    static func libsvmSeed(randomState: Int) -> Int {
        var g = MT19937(seed: UInt32(truncatingIfNeeded: randomState))
        while true {
            let v = g.next() & 0x7FFF_FFFF
            if v <= 2_147_483_646 { return Int(v) }
        }
    }
}

/// libsvm's solution of one C-SVC problem of two classes.
struct BinarySolution: Sendable, Equatable {
    /// y_i α_i per problem row (libsvm's `f.alpha`).
    var alpha: [Double]
    var rho: Double
    var objective: Double
    var iterations: Int
    var hitMaxIter: Bool

    /// Flat, for sending between ranks: alpha, then rho, objective, iterations, hitMaxIter.
    var flat: [Double] { alpha + [rho, objective, Double(iterations), hitMaxIter ? 1 : 0] }

    init(alpha: [Double], rho: Double, objective: Double, iterations: Int, hitMaxIter: Bool) {
        self.alpha = alpha
        self.rho = rho
        self.objective = objective
        self.iterations = iterations
        self.hitMaxIter = hitMaxIter
    }

    init(flat v: ArraySlice<Double>) {
        let a = Array(v)
        alpha = Array(a[0 ..< a.count - 4])
        rho = a[a.count - 4]
        objective = a[a.count - 3]
        iterations = Int(a[a.count - 2])
        hitMaxIter = a[a.count - 1] != 0
    }
}

/// A model as libsvm's `svm_train` builds it for C-SVC (multi-class one-vs-one).
struct LibSVMModel: Sendable, Equatable {
    /// Labels in sorted order (libsvm's `label`, sorted as scikit-learn sorts them).
    var labels: [Int]
    /// Support vectors per label.
    var nSupport: [Int]
    /// Rows of the training matrix that are support vectors, grouped by label.
    var support: [Int]
    /// (labels − 1) × support.count, row-major (libsvm's `sv_coef`).
    var svCoef: [Double]
    /// One per pair (i < j), in libsvm's order.
    var rho: [Double]
    var probA: [Double]?
    var probB: [Double]?
    var iterations: [Int]
    var objectives: [Double]
    var hitMaxIter: Bool
}

/// The solves of a libsvm C-SVC fit laid out before any runs: class grouping, the pairs of
/// classes, and (with probability) each pair's fold permutation, drawn as scikit-learn's
/// libsvm draws it. The solves are then independent tasks — per pair, five probability
/// folds and the pair's own solve — that ranks can share (``LibSVMTrainer``).
struct LibSVMPlan: Sendable {
    struct Pair: Sendable {
        var first: Int, second: Int
        /// Training-matrix rows: the first class's, then the second's (grouped order).
        var rows: [Int]
        var y: [Int8]
        var cp: Double, cn: Double
        /// libsvm's shuffle of `rows` for the probability folds.
        var permutation: [Int]?
    }

    enum Task: Sendable, Equatable {
        /// Held-out decision values of fold `fold` of a pair.
        case fold(pair: Int, fold: Int)
        /// The pair's solve.
        case solve(pair: Int)

        var isSolve: Bool { if case .solve = self { return true } else { return false } }
    }

    var labels: [Int]
    var count: [Int]
    var start: [Int]
    /// Training-matrix rows grouped by label.
    var grouped: [Int]
    var pairs: [Pair]
    var probability: Bool
    /// Optional warm starts: per pair, α (unsigned) per pair row, feasible (Σ y α = 0, within
    /// the bounds). A cascade starts each solve from the solutions it merges.
    var initialAlpha: [[Double]]?
    /// With `initialAlpha`, optionally: per pair, the gradient at it and libsvm's `G_bar` (per
    /// pair row), when the caller knows them (``SMOSolver/solve(q:p:y:alpha:c:eps:shrinking:maxIter:gradient:)``).
    var initialGradient: [(g: [Double], gBar: [Double])]?

    /// Lays out `svm_train` on `rows` (training-matrix rows) with integer labels.
    /// - Parameter seed: libsvm's seed (``MT19937/libsvmSeed(randomState:)``).
    init(rows: [Int], labels: [Int], c: Double, weights: [Int: Double], probability: Bool, seed: Int) {
        let sorted = Array(Set(labels)).sorted()
        var position: [Int: Int] = [:]
        for (i, v) in sorted.enumerated() { position[v] = i }
        var count = [Int](repeating: 0, count: sorted.count)
        for v in labels { count[position[v]!] += 1 }
        var start = [Int](repeating: 0, count: sorted.count)
        for i in 1 ..< max(1, sorted.count) { start[i] = start[i - 1] + count[i - 1] }
        var next = start
        var grouped = [Int](repeating: 0, count: labels.count)
        for (t, v) in labels.enumerated() {
            let ci = position[v]!
            grouped[next[ci]] = rows[t]
            next[ci] += 1
        }
        self.labels = sorted
        self.count = count
        self.start = start
        self.grouped = grouped
        self.probability = probability
        let weightedC = sorted.map { c * (weights[$0] ?? 1) }
        var rng = MT19937(seed: UInt32(truncatingIfNeeded: seed))
        var pairs: [Pair] = []
        for i in 0 ..< sorted.count {
            for j in i + 1 ..< sorted.count {
                let r = Array(grouped[start[i] ..< start[i] + count[i]]) + Array(grouped[start[j] ..< start[j] + count[j]])
                let y = [Int8](repeating: 1, count: count[i]) + [Int8](repeating: -1, count: count[j])
                var pair = Pair(first: i, second: j, rows: r, y: y, cp: weightedC[i], cn: weightedC[j], permutation: nil)
                if probability {
                    var perm = Array(0 ..< r.count)
                    for t in 0 ..< r.count { perm.swapAt(t, t + rng.bounded(r.count - t)) }
                    pair.permutation = perm
                    // Every fold that trains a model calls svm_train, which reseeds the
                    // generator (scikit-learn passes its seed down to the folds).
                    if Self.folds(perm.count).contains(where: { Self.foldClasses(perm: perm, y: y, fold: $0) == (true, true) }) {
                        rng.seed(UInt32(truncatingIfNeeded: seed))
                    }
                }
                pairs.append(pair)
            }
        }
        self.pairs = pairs
    }

    /// The five held-out blocks (begin, end) of libsvm's probability folds.
    static func folds(_ l: Int) -> [(Int, Int)] { (0 ..< 5).map { (($0 * l) / 5, (($0 + 1) * l) / 5) } }

    /// Whether the training rows of a fold hold positives, negatives.
    static func foldClasses(perm: [Int], y: [Int8], fold: (Int, Int)) -> (Bool, Bool) {
        var pos = false, neg = false
        for t in 0 ..< perm.count where t < fold.0 || t >= fold.1 {
            if y[perm[t]] > 0 { pos = true } else { neg = true }
        }
        return (pos, neg)
    }

    /// Every task, in libsvm's order.
    var tasks: [Task] {
        pairs.indices.flatMap { p in (probability ? (0 ..< 5).map { Task.fold(pair: p, fold: $0) } : []) + [Task.solve(pair: p)] }
    }

    /// A relative cost of a task (an SMO solve grows about with the square of its rows).
    func cost(_ t: Task) -> Double {
        switch t {
        case .fold(let p, _): return pow(Double(pairs[p].rows.count) * 0.8, 2)
        case .solve(let p): return pow(Double(pairs[p].rows.count), 2)
        }
    }
}

/// The classification problem each pair of classes solves: libsvm's C-SVC (bounds Cp and Cn,
/// α from zero, or from a warm start) or ν-SVC (ν ∈ (0, 1]: bounds 1, α from ν·l/2 per class,
/// `Solver_NU`, then α, ρ and the objective scaled by 1/r).
enum LibSVMFormulation: Sendable, Equatable {
    case c
    case nu(Double)
}

/// Runs a ``LibSVMPlan``'s tasks over rows of one training matrix and assembles libsvm's
/// model.
struct LibSVMTrainer {
    /// The whole training matrix: features, or a precomputed kernel's Gram rows.
    let x: UnsafePointer<Double>
    let width: Int
    let kernel: KernelParameters
    let tol: Double
    let shrinking: Bool
    let maxIter: Int
    let cacheBytes: Int
    /// Threads for the kernel rows and blocks.
    let threads: Int
    /// C-SVC or ν-SVC.
    var formulation: LibSVMFormulation = .c
    /// The pair whose probability folds run here last, and its rows of K (one pair's at a time).
    private let folds = FoldRows()

    final class FoldRows {
        var pair = -1
        var store: KernelRowStore?
    }

    init(x: UnsafePointer<Double>, width: Int, kernel: KernelParameters, tol: Double, shrinking: Bool, maxIter: Int, cacheBytes: Int,
         threads: Int = 1) {
        self.threads = threads
        self.x = x
        self.width = width
        self.kernel = kernel
        self.tol = tol
        self.shrinking = shrinking
        self.maxIter = maxIter
        self.cacheBytes = cacheBytes
    }

    private func row(_ r: Int) -> UnsafePointer<Double> { x + r * width }

    /// The store of K over pair `p`'s rows its folds read from (`cacheBytes` more memory).
    private func store(pair p: Int, plan: LibSVMPlan, kernelRows: inout Int) -> KernelRowStore? {
        guard kernel.kernel != .precomputed else { return nil }
        if folds.pair != p {
            kernelRows += folds.store?.rowsComputed ?? 0
            folds.store = KernelRowStore(rows: plan.pairs[p].rows, x: x, width: width, kernel: kernel, bytes: cacheBytes, threads: threads)
            folds.pair = p
        }
        return folds.store
    }

    /// Kernel rows the fold stores computed (call once, after the last task).
    func storeRows() -> Int { folds.store?.rowsComputed ?? 0 }

    /// `svm_train_one`: `rows` with signs `y`; for C-SVC bounds Cp (y = +1) and Cn and α from
    /// `alpha0` (or zero); for ν-SVC libsvm's start (warm starts are C-SVC's only).
    /// - Parameter kernelRows: adds the kernel rows the solve computed.
    /// - Parameter shared: rows of K over a superset of `rows` and each row's index there.
    func solve(rows: [Int], y: [Int8], cp: Double, cn: Double, alpha0: [Double]? = nil, gradient: (g: [Double], gBar: [Double])? = nil,
               shared: (KernelRowStore, [Int])? = nil, kernelRows: inout Int) -> BinarySolution {
        let q = KernelMatrix(rows: rows.map(row), width: width, columns: kernel.kernel == .precomputed ? rows : nil, y: y,
                             kernel: kernel, cacheBytes: cacheBytes, shared: shared?.0, positions: shared?.1, threads: threads)
        let l = rows.count
        if case .nu(let nu) = formulation {
            // solve_nu_svc: ν·l (summed row by row, as libsvm does) split evenly between the
            // signs, each half given to the rows of its sign in order, bounds 1.
            var nuL = 0.0
            for _ in 0 ..< l { nuL += nu }
            var sumPos = nuL / 2, sumNeg = nuL / 2
            var start = [Double](repeating: 0, count: l)
            for i in 0 ..< l {
                if y[i] > 0 { start[i] = min(1, sumPos); sumPos -= start[i] } else { start[i] = min(1, sumNeg); sumNeg -= start[i] }
            }
            let s = SMOSolver.solve(q: q, p: [Double](repeating: 0, count: l), y: y, alpha: start, c: [Double](repeating: 1, count: l),
                                    eps: tol, shrinking: shrinking, maxIter: maxIter, nu: true)
            kernelRows += q.rowsComputed
            return BinarySolution(alpha: zip(s.alpha, y).map { $0 * Double($1) / s.r }, rho: s.rho / s.r, objective: s.objective / (s.r * s.r),
                                  iterations: s.iterations, hitMaxIter: s.hitMaxIter)
        }
        let s = SMOSolver.solve(q: q, p: [Double](repeating: -1, count: l), y: y, alpha: alpha0 ?? [Double](repeating: 0, count: l),
                                c: y.map { $0 > 0 ? cp : cn }, eps: tol, shrinking: shrinking, maxIter: maxIter, gradient: gradient)
        kernelRows += q.rowsComputed
        return BinarySolution(alpha: zip(s.alpha, y).map { $0 * Double($1) }, rho: s.rho, objective: s.objective,
                              iterations: s.iterations, hitMaxIter: s.hitMaxIter)
    }

    /// A task's result as numbers: a fold's held-out decision values (in held-out order), or
    /// a solve's ``BinarySolution/flat``.
    /// - Parameter seed: for a fold, the pair's own solution (y α per pair row): the fold's
    ///   solve starts from it (see ``foldStart(_:y:c:)``) instead of from zero.
    func run(_ task: LibSVMPlan.Task, plan: LibSVMPlan, seed: [Double]? = nil, kernelRows: inout Int) -> [Double] {
        switch task {
        case .solve(let p):
            let pair = plan.pairs[p]
            return solve(rows: pair.rows, y: pair.y, cp: pair.cp, cn: pair.cn, alpha0: plan.initialAlpha?[p],
                         gradient: plan.initialGradient?[p], kernelRows: &kernelRows).flat
        case .fold(let p, let f):
            let pair = plan.pairs[p]
            let perm = pair.permutation!
            let (b, e) = LibSVMPlan.folds(perm.count)[f]
            let held = (b ..< e).map { pair.rows[perm[$0]] }
            switch LibSVMPlan.foldClasses(perm: perm, y: pair.y, fold: (b, e)) {
            case (false, false): return [Double](repeating: 0, count: held.count)
            case (true, false): return [Double](repeating: 1, count: held.count)
            case (false, true): return [Double](repeating: -1, count: held.count)
            case (true, true): break
            }
            // The fold's svm_train: its labels sort to (−1, +1), so the submodel solves with
            // the −1 rows first as its positives, bounds Cn for them and Cp for the others
            // (C = 1, class weights Cp and Cn), and its decision is negated back.
            var neg: [Int] = [], pos: [Int] = []
            for t in 0 ..< perm.count where t < b || t >= e {
                if pair.y[perm[t]] > 0 { pos.append(perm[t]) } else { neg.append(perm[t]) }
            }
            let local = neg + pos
            let rows = local.map { pair.rows[$0] }
            let y = [Int8](repeating: 1, count: neg.count) + [Int8](repeating: -1, count: pos.count)
            let alpha0 = formulation != .c ? nil : seed.map { s in Self.foldStart(local.map { abs(s[$0]) }, y: y) { $0 > 0 ? pair.cn : pair.cp } }
            let shared = store(pair: p, plan: plan, kernelRows: &kernelRows).map { ($0, local) }
            let s = solve(rows: rows, y: y, cp: pair.cn, cn: pair.cp, alpha0: alpha0, shared: shared, kernelRows: &kernelRows)
            let sv = rows.indices.filter { s.alpha[$0] != 0 }
            let dec = KernelBlock.decision(rows: held, supportRows: sv.map { rows[$0] }, coefficients: sv.map { s.alpha[$0] },
                                           x: x, width: width, kernel: kernel, threads: threads)
            return dec.map { -($0 - s.rho) }
        }
    }

    /// A feasible start for a probability fold's solve: the pair's solution restricted to the
    /// fold's rows (`alpha`, unsigned, within the bounds `c` by sign). Without the held-out
    /// rows Σ y α is off zero; the class with too much gives up the difference, from its free
    /// α first (in proportion), then from the rest, so as few α as possible leave their
    /// bound. (Alpha seeding for cross-validation: DeCoste & Wagstaff, KDD 2000; Wen et al.,
    /// AAAI 2017.)
    static func foldStart(_ alpha: [Double], y: [Int8], c: (Int8) -> Double) -> [Double] {
        var plus = 0.0, minus = 0.0
        for (a, s) in zip(alpha, y) { if s > 0 { plus += a } else { minus += a } }
        guard plus != minus else { return alpha }
        let side: Int8 = plus > minus ? 1 : -1
        var excess = abs(plus - minus)
        var out = alpha
        /// Takes up to `excess` off the α of `side` that `pick` selects, in proportion.
        func take(_ pick: (Int) -> Bool) {
            var sum = 0.0
            for i in out.indices where y[i] == side && pick(i) { sum += out[i] }
            let t = min(sum, excess)
            guard t > 0 else { return }
            let keep = 1 - t / sum
            for i in out.indices where y[i] == side && pick(i) { out[i] = max(0, out[i] * keep) }
            excess -= t
        }
        take { out[$0] > 0 && out[$0] < c(y[$0]) }
        take { out[$0] > 0 }
        return out
    }

    /// libsvm's model from the plan and every task's result (in ``LibSVMPlan/tasks`` order).
    func assemble(_ plan: LibSVMPlan, results: [[Double]]) -> LibSVMModel {
        let k = plan.labels.count
        var solutions: [BinarySolution] = []
        var probA: [Double] = [], probB: [Double] = []
        var at = 0
        for pair in plan.pairs {
            if plan.probability {
                let perm = pair.permutation!
                var dec = [Double](repeating: 0, count: pair.rows.count)
                for (f, (b, _)) in LibSVMPlan.folds(perm.count).enumerated() {
                    for (t, v) in results[at + f].enumerated() { dec[perm[b + t]] = v }
                }
                at += 5
                let (a, bb) = PlattScaling.fit(decision: dec, positive: pair.y.map { $0 > 0 })
                probA.append(a)
                probB.append(bb)
            }
            solutions.append(BinarySolution(flat: results[at][...]))
            at += 1
        }
        let n = plan.grouped.count
        var nonzero = [Bool](repeating: false, count: n)
        for (p, pair) in plan.pairs.enumerated() {
            let si = plan.start[pair.first], sj = plan.start[pair.second], ci = plan.count[pair.first], cj = plan.count[pair.second]
            for t in 0 ..< ci where solutions[p].alpha[t] != 0 { nonzero[si + t] = true }
            for t in 0 ..< cj where solutions[p].alpha[ci + t] != 0 { nonzero[sj + t] = true }
        }
        var nSupport = [Int](repeating: 0, count: k)
        for i in 0 ..< k { for t in 0 ..< plan.count[i] where nonzero[plan.start[i] + t] { nSupport[i] += 1 } }
        let total = nSupport.reduce(0, +)
        let support = (0 ..< n).filter { nonzero[$0] }.map { plan.grouped[$0] }
        var nzStart = [Int](repeating: 0, count: k)
        for i in 1 ..< max(1, k) { nzStart[i] = nzStart[i - 1] + nSupport[i - 1] }
        var coef = [Double](repeating: 0, count: max(0, k - 1) * total)
        for (p, pair) in plan.pairs.enumerated() {
            let i = pair.first, j = pair.second
            let si = plan.start[i], sj = plan.start[j], ci = plan.count[i], cj = plan.count[j]
            var q = nzStart[i]
            for t in 0 ..< ci where nonzero[si + t] { coef[(j - 1) * total + q] = solutions[p].alpha[t]; q += 1 }
            q = nzStart[j]
            for t in 0 ..< cj where nonzero[sj + t] { coef[i * total + q] = solutions[p].alpha[ci + t]; q += 1 }
        }
        return LibSVMModel(labels: plan.labels, nSupport: nSupport, support: support, svCoef: coef, rho: solutions.map(\.rho),
                           probA: plan.probability ? probA : nil, probB: plan.probability ? probB : nil,
                           iterations: solutions.map(\.iterations), objectives: solutions.map(\.objective),
                           hitMaxIter: solutions.contains { $0.hitMaxIter })
    }
}

/// Platt's sigmoid for SVM decision values, as libsvm fits and applies it (Lin, Lin &
/// Weng's Newton method with a backtracking line search, and the targets' prior
/// correction): P(positive | f) = 1 / (1 + exp(A f + B)).
enum PlattScaling {
    /// (A, B) for decision values `decision` with labels `positive`.
    static func fit(decision dec: [Double], positive: [Bool]) -> (Double, Double) {
        let l = dec.count
        var prior1 = 0.0, prior0 = 0.0
        for p in positive { if p { prior1 += 1 } else { prior0 += 1 } }
        let maxIter = 100, minStep = 1e-10, sigma = 1e-12, eps = 1e-5
        let hi = (prior1 + 1) / (prior1 + 2), lo = 1 / (prior0 + 2)
        let t = positive.map { $0 ? hi : lo }
        var a = 0.0, b = log((prior0 + 1) / (prior1 + 1))
        func objective(_ a: Double, _ b: Double) -> Double {
            var f = 0.0
            for i in 0 ..< l {
                let fApB = dec[i] * a + b
                if fApB >= 0 { f += t[i] * fApB + log(1 + exp(-fApB)) } else { f += (t[i] - 1) * fApB + log(1 + exp(fApB)) }
            }
            return f
        }
        var fval = objective(a, b)
        for _ in 0 ..< maxIter {
            var h11 = sigma, h22 = sigma, h21 = 0.0, g1 = 0.0, g2 = 0.0
            for i in 0 ..< l {
                let fApB = dec[i] * a + b
                let p: Double, q: Double
                if fApB >= 0 {
                    p = exp(-fApB) / (1.0 + exp(-fApB))
                    q = 1.0 / (1.0 + exp(-fApB))
                } else {
                    p = 1.0 / (1.0 + exp(fApB))
                    q = exp(fApB) / (1.0 + exp(fApB))
                }
                let d2 = p * q
                h11 += dec[i] * dec[i] * d2
                h22 += d2
                h21 += dec[i] * d2
                let d1 = t[i] - p
                g1 += dec[i] * d1
                g2 += d1
            }
            if abs(g1) < eps && abs(g2) < eps { break }
            let det = h11 * h22 - h21 * h21
            let dA = -(h22 * g1 - h21 * g2) / det
            let dB = -(-h21 * g1 + h11 * g2) / det
            let gd = g1 * dA + g2 * dB
            var step = 1.0
            while step >= minStep {
                let na = a + step * dA, nb = b + step * dB
                let nf = objective(na, nb)
                if nf < fval + 0.0001 * step * gd {
                    a = na; b = nb; fval = nf
                    break
                }
                step /= 2
            }
            if step < minStep { break }
        }
        return (a, b)
    }

    /// libsvm's `sigmoid_predict`.
    static func predict(_ f: Double, _ a: Double, _ b: Double) -> Double {
        let fApB = f * a + b
        return fApB >= 0 ? exp(-fApB) / (1.0 + exp(-fApB)) : 1.0 / (1 + exp(fApB))
    }

    /// libsvm's `multiclass_probability` (Wu, Lin & Weng's second method) for k classes
    /// from the pairwise probabilities r (k × k, row-major, r[i][j] = P(i | i or j)).
    static func coupled(_ k: Int, _ r: [Double]) -> [Double] {
        var p = [Double](repeating: 1 / Double(k), count: k)
        var q = [Double](repeating: 0, count: k * k)
        var qp = [Double](repeating: 0, count: k)
        let maxIter = max(100, k), eps = 0.005 / Double(k)
        for t in 0 ..< k {
            for j in 0 ..< t {
                q[t * k + t] += r[j * k + t] * r[j * k + t]
                q[t * k + j] = q[j * k + t]
            }
            for j in t + 1 ..< max(t + 1, k) {
                q[t * k + t] += r[j * k + t] * r[j * k + t]
                q[t * k + j] = -r[j * k + t] * r[t * k + j]
            }
        }
        for _ in 0 ..< maxIter {
            var pQp = 0.0
            for t in 0 ..< k {
                qp[t] = 0
                for j in 0 ..< k { qp[t] += q[t * k + j] * p[j] }
                pQp += p[t] * qp[t]
            }
            var maxError = 0.0
            for t in 0 ..< k { maxError = max(maxError, abs(qp[t] - pQp)) }
            if maxError < eps { break }
            for t in 0 ..< k {
                let diff = (-qp[t] + pQp) / q[t * k + t]
                p[t] += diff
                pQp = (pQp + diff * (diff * q[t * k + t] + 2 * qp[t])) / (1 + diff) / (1 + diff)
                for j in 0 ..< k {
                    qp[j] = (qp[j] + diff * q[t * k + j]) / (1 + diff)
                    p[j] /= (1 + diff)
                }
            }
        }
        return p
    }
}
