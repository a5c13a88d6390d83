import Foundation
import SwiftMPI

/// The cascade SVM (Graf, Cosatto, Bottou, Dourdanovic & Vapnik, "Parallel Support Vector
/// Machines: The Cascade SVM", NIPS 2004), for training sets no single rank should solve
/// alone:
///
/// 1. every rank solves its own rows (in parallel) and keeps their support vectors;
/// 2. support vectors are merged pairwise up a binary tree of ranks (rank r + s sends its
///    set to rank r at step s = 1, 2, 4, …), each merge solved again and reduced to its
///    support vectors, until rank 0 holds one set;
/// 3. passes: the set is solved (the one-vs-one pairs shared over the ranks), every rank
///    checks the model against its own rows, and rows that break the global optimality
///    conditions (y·f(x) < 1 − tol for a row that is not a support vector) join the next
///    pass's set; the cascade stops when no row in the whole data breaks them.
///    Each pass's solve starts from the last α and takes its gradient from the kernel sums
///    the ranks keep for their own rows (no rows of Q are computed for the warm start).
///
/// The last pass solves a problem that holds every support vector of the whole problem, and
/// every other row meets the optimality conditions, so the model is the direct solution up
/// to the solver's tolerance; the expensive first pass runs on all ranks at once, and no
/// rank ever holds more than its own rows plus the support vectors. Rows are merged in
/// global row order, so the result does not depend on the tree's shape beyond the first
/// layer's split.
struct CascadeSVM {
    let configuration: SVC
    /// Passes at most; a cascade that still has violators then stops with a warning.
    var maxPasses = 30

    /// Pair (i, j), i < j, of k classes: its index in libsvm's order.
    static func pairIndex(_ i: Int, _ j: Int, classes k: Int) -> Int { i * k - i * (i + 1) / 2 + (j - i - 1) }

    /// Each row's α per pair of classes (rows × pairs, unsigned; 0 for the rows that are not
    /// support vectors and for pairs the row's class is not in), from a solve on `codes`.
    static func alphas(_ m: LibSVMModel, rows: Int, codes: [Int], classes k: Int) -> [Double] {
        coefficients(m, rows: rows, codes: codes, classes: k).map(abs)
    }

    /// As ``alphas(_:rows:codes:classes:)``, signed (y α: positive for the pair's first class).
    static func coefficients(_ m: LibSVMModel, rows: Int, codes: [Int], classes k: Int) -> [Double] {
        let pairs = k * (k - 1) / 2, total = m.support.count
        var out = [Double](repeating: 0, count: rows * pairs)
        for (s, r) in m.support.enumerated() {
            let c = codes[r]
            guard let pc = m.labels.firstIndex(of: c) else { continue }
            for (po, other) in m.labels.enumerated() where other != c {
                // libsvm's layout (by label position): an SV of label pc against label po
                // has its coefficient in row po − 1 when po > pc, else row po.
                let row = po > pc ? po - 1 : po
                out[r * pairs + pairIndex(min(c, other), max(c, other), classes: k)] = m.svCoef[row * total + s]
            }
        }
        return out
    }

    /// Rows of a working set: features, class codes, global row ids, and each row's α per
    /// pair of classes from the last solve that held it (0 for new rows): a warm start.
    struct Rows {
        var x: [Double]
        var codes: [Int]
        var ids: [Int]
        var alpha: [Double]
        var pairs: Int

        var count: Int { ids.count }

        /// The union of two sets, in global row order.
        func merged(_ other: Rows, width: Int) -> Rows {
            let order = (ids + other.ids).indices.sorted { a, b in
                let ia = a < ids.count ? ids[a] : other.ids[a - ids.count]
                let ib = b < ids.count ? ids[b] : other.ids[b - ids.count]
                return ia < ib
            }
            var out = Rows(x: [], codes: [], ids: [], alpha: [], pairs: pairs)
            out.x.reserveCapacity((count + other.count) * width)
            var seen = Set<Int>()
            for t in order {
                let (src, r) = t < ids.count ? (self, t) : (other, t - ids.count)
                guard seen.insert(src.ids[r]).inserted else { continue }
                out.x += src.x[r * width ..< (r + 1) * width]
                out.codes.append(src.codes[r])
                out.ids.append(src.ids[r])
                out.alpha += src.alpha[r * pairs ..< (r + 1) * pairs]
            }
            return out
        }

        func subset(_ rows: [Int], width: Int) -> Rows {
            var out = Rows(x: [], codes: [], ids: [], alpha: [], pairs: pairs)
            out.x.reserveCapacity(rows.count * width)
            for r in rows {
                out.x += x[r * width ..< (r + 1) * width]
                out.codes.append(codes[r])
                out.ids.append(ids[r])
                out.alpha += alpha[r * pairs ..< (r + 1) * pairs]
            }
            return out
        }
    }

    func fit(_ local0: SVMData, comm: any Communicator) throws -> SVCModel {
        let c = configuration
        let start = Date()
        var stats = SVMFitStatistics()
        let classes = try local0.globalClasses(comm: comm)
        let local = local0.withClasses(classes.values, names: classes.names)
        let k = classes.values.count
        // The kernel and class weights of the whole data, as the direct fit computes them.
        let (kernel, weights, seed) = try c.prepare(local, comm: comm)
        let width = local.x.columns
        let n = Int(try comm.allreduce(Int64(local.x.rows), op: .sum))
        let gamma = kernel.gamma
        let solo = LocalCommunicator.solo()
        var kernelRows = 0

        let pairs = k * (k - 1) / 2
        /// The support vectors of a solve on `rows` (all of them when they hold one class),
        /// started from the rows' α and carrying the solution's.
        func reduce(_ rows: Rows) throws -> Rows {
            guard Set(rows.codes).count >= 2 else { return rows }
            let (m, kr) = try c.solveShared(x: Matrix(rows: rows.count, columns: width, storage: rows.x), codes: rows.codes, kernel: kernel,
                                             weights: weights, seed: seed, warmStart: WarmStart(alpha: rows.alpha, classes: k), comm: solo)
            kernelRows += kr
            var solved = rows
            solved.alpha = Self.alphas(m, rows: rows.count, codes: rows.codes, classes: k)
            return solved.subset(m.support, width: width)
        }

        // 1. Each rank's own rows.
        let localRows = Rows(x: local.x.storage, codes: local.codes, ids: (0 ..< local.x.rows).map { local.globalRowStart + $0 },
                             alpha: [Double](repeating: 0, count: local.x.rows * pairs), pairs: pairs)
        var set = localRows
        /// Seconds since `t0`, the slowest rank's (identical on every rank).
        func elapsed(since t0: Date) throws -> Double { try comm.allreduce(Date().timeIntervalSince(t0), op: .max) }
        var t0 = Date()
        stats.levelRows.append(Int(try comm.allreduce(Int64(set.count), op: .max)))
        set = try reduce(set)
        stats.levelSeconds.append(try elapsed(since: t0))
        // 2. Up the tree.
        var step = 1
        while step < comm.size {
            t0 = Date()
            var solved = 0
            if comm.rank % (2 * step) == step {
                try comm.send(set.x, to: comm.rank - step, tag: 71)
                try comm.send(set.codes.map(Int64.init), to: comm.rank - step, tag: 72)
                try comm.send(set.ids.map(Int64.init), to: comm.rank - step, tag: 73)
                try comm.send(set.alpha, to: comm.rank - step, tag: 74)
            } else if comm.rank % (2 * step) == 0 && comm.rank + step < comm.size {
                let x = try comm.receive(Double.self, from: comm.rank + step, tag: 71).values
                let codes = try comm.receive(Int64.self, from: comm.rank + step, tag: 72).values.map(Int.init)
                let ids = try comm.receive(Int64.self, from: comm.rank + step, tag: 73).values.map(Int.init)
                let alpha = try comm.receive(Double.self, from: comm.rank + step, tag: 74).values
                set = set.merged(Rows(x: x, codes: codes, ids: ids, alpha: alpha, pairs: pairs), width: width)
                solved = set.count
                set = try reduce(set)
            }
            stats.levelRows.append(Int(try comm.allreduce(Int64(solved), op: .max)))
            stats.levelSeconds.append(try elapsed(since: t0))
            step *= 2
        }
        try comm.broadcast(&set.x, root: 0)
        try comm.broadcast(&set.alpha, root: 0)
        var codes64 = set.codes.map(Int64.init), ids64 = set.ids.map(Int64.init)
        try comm.broadcast(&codes64, root: 0)
        try comm.broadcast(&ids64, root: 0)
        set.codes = codes64.map(Int.init)
        set.ids = ids64.map(Int.init)

        // 3. Passes until no row anywhere breaks the optimality conditions. Every rank keeps,
        // for its own rows, the sums of the current α's coefficients times the kernel
        // (``sums(of:)``), updated by the coefficients that change: they give the KKT check's
        // decision values and, gathered for the next working set's rows, the warm start's
        // gradient, so no solve computes rows of Q for its starting point.
        var warning: String?
        var acc = [Double](repeating: 0, count: local.x.rows * 2 * pairs)
        var held: [Int: [Double]] = [:]
        /// Brings `acc` to the coefficients of `set`'s α.
        func follow(_ set: Rows) throws {
            let now = sums(of: set, classes: k, weights: weights)
            var rowOf: [Int: Int] = [:]
            for (r, id) in set.ids.enumerated() { rowOf[id] = r }
            let zero = [Double](repeating: 0, count: 2 * pairs)
            var changed: [(row: Int, delta: [Double])] = []
            for id in Set(now.keys).union(held.keys).sorted() {
                let delta = zip(now[id] ?? zero, held[id] ?? zero).map { $0 - $1 }
                guard delta.contains(where: { $0 != 0 }) else { continue }
                guard let r = rowOf[id] else { throw MPILearnError.numerical("cascade SVM: support vector \(id) left the working set") }
                changed.append((r, delta))
            }
            accumulate(&acc, local: local.x, set: set, changed: changed, columns: 2 * pairs, kernel: kernel)
            held = now
        }
        let own = local.globalRowStart ..< local.globalRowStart + local.x.rows
        while true {
            stats.passes += 1
            t0 = Date()
            try follow(set)
            // The sums at the set's rows, from the ranks that hold them.
            var mineIDs: [Int64] = [], mineSums: [Double] = []
            for id in set.ids where own.contains(id) {
                mineIDs.append(Int64(id))
                mineSums += acc[(id - own.lowerBound) * 2 * pairs ..< (id - own.lowerBound + 1) * 2 * pairs]
            }
            let allIDs = try comm.allgatherv(mineIDs).values, allSums = try comm.allgatherv(mineSums).values
            var at: [Int: Int] = [:]
            for (t, id) in allIDs.enumerated() { at[Int(id)] = t }
            var setSums = [Double](repeating: 0, count: set.count * 2 * pairs)
            for (r, id) in set.ids.enumerated() {
                guard let t = at[id] else { throw MPILearnError.numerical("cascade SVM: no rank holds row \(id) of the working set") }
                for q in 0 ..< 2 * pairs { setSums[r * 2 * pairs + q] = allSums[t * 2 * pairs + q] }
            }
            let (m, kr) = try c.solveShared(x: Matrix(rows: set.count, columns: width, storage: set.x), codes: set.codes, kernel: kernel,
                                             weights: weights, seed: seed, warmStart: WarmStart(alpha: set.alpha, classes: k, sums: setSums),
                                             comm: comm)
            kernelRows += kr
            guard m.labels == Array(0 ..< k) else {
                throw MPILearnError.numerical("cascade SVM: the working set lost a class (it holds classes \(m.labels.map { classes.names[$0] }))")
            }
            var setData = local
            setData.x = Matrix(rows: set.count, columns: width, storage: set.x)
            setData.codes = set.codes
            setData.globalRowStart = 0
            var model = try SVCModel(configuration: c, data: setData, gamma: gamma, libsvm: m, statistics: stats)
            model.support = m.support.map { set.ids[$0] }
            let supportIDs = Set(model.support)
            set.alpha = Self.alphas(m, rows: set.count, codes: set.codes, classes: k)
            try follow(set)
            var violators: [Int] = []
            for r in 0 ..< local.x.rows where !supportIDs.contains(local.globalRowStart + r) {
                let code = local.codes[r]
                var p = 0
                var violates = false
                for i in 0 ..< k {
                    for j in i + 1 ..< k {
                        let f = acc[r * 2 * pairs + p] - m.rho[p]
                        if code == i && f < 1 - c.tol { violates = true }
                        if code == j && -f < 1 - c.tol { violates = true }
                        p += 1
                    }
                }
                if violates { violators.append(r) }
            }
            let mine = localRows.subset(violators, width: width)
            let all = Rows(x: try comm.allgatherv(mine.x).values, codes: try comm.allgatherv(mine.codes.map(Int64.init)).values.map(Int.init),
                           ids: try comm.allgatherv(mine.ids.map(Int64.init)).values.map(Int.init),
                           alpha: [Double](repeating: 0, count: Int(try comm.allreduce(Int64(mine.count), op: .sum)) * pairs), pairs: pairs)
            stats.violators.append(all.count)
            stats.passSeconds.append(try elapsed(since: t0))
            if all.count == 0 || stats.passes >= maxPasses {
                if all.count > 0 {
                    warning = "the cascade stopped after \(maxPasses) passes with \(all.count) rows still violating the optimality conditions"
                }
                stats.kernelRows = Int(try comm.allreduce(Int64(kernelRows), op: .sum))
                stats.solveSeconds = Date().timeIntervalSince(start)
                model.statistics = stats
                model.nTrainingRows = n
                if let w = warning { model.warning = (model.warning.map { $0 + "; " } ?? "") + w }
                return model
            }
            // The next set: this solve's support vectors (with their α) and the violators (α 0).
            set = set.subset(m.support, width: width).merged(all, width: width)
        }
    }

    /// A solve's starting point: α per row and pair of classes (rows × pairs, unsigned; 0 for
    /// the pairs the row's class is not in), feasible for each pair, and optionally the
    /// rows' ``CascadeSVM/sums(of:classes:weights:)`` at that α (rows × 2·pairs), from which
    /// the solver takes its gradient.
    struct WarmStart {
        var alpha: [Double]
        var classes: Int
        var sums: [Double]?
    }

    /// The coefficients behind a set's sums, by global row id (rows with a nonzero α only),
    /// 2·pairs each: per pair of classes, y α (positive for the pair's first class), then the
    /// same for the α at their bound C_i (0 for the others). Σ_j coef_j K(x, x_j) over these
    /// is, for pair p, the decision value before ρ (y_i times it is (Qα)_i) and then y_i
    /// times libsvm's G_bar_i.
    func sums(of set: Rows, classes k: Int, weights: [Int: Double]) -> [Int: [Double]] {
        let pairs = set.pairs
        var out: [Int: [Double]] = [:]
        for r in 0 ..< set.count {
            let code = set.codes[r]
            let bound = configuration.C * (weights[code] ?? 1)
            var v = [Double](repeating: 0, count: 2 * pairs)
            var any = false
            for other in 0 ..< k where other != code {
                let p = Self.pairIndex(min(code, other), max(code, other), classes: k)
                let a = set.alpha[r * pairs + p]
                guard a != 0 else { continue }
                any = true
                v[p] = code < other ? a : -a
                if a >= bound { v[pairs + p] = v[p] }
            }
            if any { out[set.ids[r]] = v }
        }
        return out
    }

    /// acc (rows of `x` × `columns`, row-major) += K(x, the changed rows of `set`) · their
    /// deltas, tile by tile.
    func accumulate(_ acc: inout [Double], local x: Matrix<Double>, set: Rows, changed: [(row: Int, delta: [Double])], columns: Int,
                    kernel: KernelParameters) {
        let n = x.rows, m = changed.count, width = x.columns
        guard n > 0, m > 0 else { return }
        KernelBlock.product(a: x.storage, m: n, b: KernelBlock.gather(changed.map(\.row), x: set.x, width: width), n: m, d: width,
                            kernel: kernel, w: changed.flatMap(\.delta), c: columns, into: &acc, add: true, threads: configuration.threads)
    }
}
