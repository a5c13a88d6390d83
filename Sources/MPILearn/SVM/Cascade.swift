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
    /// Rows per block when checking a rank's rows against the model (bounds memory).
    var blockRows = 4096

    /// Rows of a working set: features, class codes, global row ids.
    struct Rows {
        var x: [Double]
        var codes: [Int]
        var ids: [Int]

        var count: Int { ids.count }

        /// The union of two sets, in global row order.
        func merged(_ other: Rows, width: Int) -> Rows {
            let order = (ids + other.ids).indices.sorted { a, b in
                let ia = a < ids.count ? ids[a] : other.ids[a - ids.count]
                let ib = b < ids.count ? ids[b] : other.ids[b - ids.count]
                return ia < ib
            }
            var out = Rows(x: [], codes: [], ids: [])
            out.x.reserveCapacity((count + other.count) * width)
            var seen = Set<Int>()
            for t in order {
                let (src, r) = t < ids.count ? (self, t) : (other, t - ids.count)
                guard seen.insert(src.ids[r]).inserted else { continue }
                out.x += src.x[r * width ..< (r + 1) * width]
                out.codes.append(src.codes[r])
                out.ids.append(src.ids[r])
            }
            return out
        }

        func subset(_ rows: [Int], width: Int) -> Rows {
            var out = Rows(x: [], codes: [], ids: [])
            out.x.reserveCapacity(rows.count * width)
            for r in rows {
                out.x += x[r * width ..< (r + 1) * width]
                out.codes.append(codes[r])
                out.ids.append(ids[r])
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
        guard k >= 2 else {
            throw MPILearnError.dataError(SourceLocation(file: local.source), "SVC needs samples of at least 2 classes; the data has \(k) (\(classes.names))")
        }
        let width = Int(try comm.allreduce(Int64(local.x.columns), op: .max))
        guard local.x.rows == 0 || local.x.columns == width else { throw MPILearnError.mismatch("ranks hold rows of different widths") }
        var counts = [Double](repeating: 0, count: k)
        for code in local.codes { counts[code] += 1 }
        try comm.allreduce(&counts, op: .sum)
        let n = counts.reduce(0, +)
        // The kernel and class weights of the whole data, as the direct fit computes them.
        var gamma = c.gamma.number ?? 1
        if case .string(let s) = c.gamma {
            if s == "auto" {
                gamma = 1 / Double(max(1, width))
            } else {
                let values = n * Double(width)
                let mean = try comm.allreduce(local.x.storage.reduce(0, +), op: .sum) / max(1, values)
                var m2 = 0.0
                for a in local.x.storage { m2 += (a - mean) * (a - mean) }
                let v = try comm.allreduce(m2, op: .sum) / max(1, values)
                gamma = v != 0 ? 1 / (Double(width) * v) : 1
            }
        }
        let kernel = KernelParameters(kernel: c.kernelKind, degree: c.degree, gamma: gamma, coef0: c.coef0)
        var weights: [Int: Double] = [:]
        if c.classWeight == "balanced" { for code in 0 ..< k { weights[code] = n / (Double(k) * counts[code]) } }
        let seed = MT19937.libsvmSeed(randomState: c.randomState ?? 0)
        let solo = LocalCommunicator.solo()
        var kernelRows = 0

        /// The support vectors of a solve on `rows` (all of them when they hold one class).
        func reduce(_ rows: Rows) throws -> Rows {
            guard Set(rows.codes).count >= 2 else { return rows }
            let (m, kr) = try c.solveShared(x: Matrix(rows: rows.count, columns: width, storage: rows.x), codes: rows.codes, kernel: kernel,
                                             weights: weights, seed: seed, comm: solo)
            kernelRows += kr
            return rows.subset(m.support, width: width)
        }

        // 1. Each rank's own rows.
        var set = Rows(x: local.x.storage, codes: local.codes, ids: (0 ..< local.x.rows).map { local.globalRowStart + $0 })
        stats.levelRows.append(Int(try comm.allreduce(Int64(set.count), op: .max)))
        set = try reduce(set)
        // 2. Up the tree.
        var step = 1
        while step < comm.size {
            var solved = 0
            if comm.rank % (2 * step) == step {
                try comm.send(set.x, to: comm.rank - step, tag: 71)
                try comm.send(set.codes.map(Int64.init), to: comm.rank - step, tag: 72)
                try comm.send(set.ids.map(Int64.init), to: comm.rank - step, tag: 73)
            } else if comm.rank % (2 * step) == 0 && comm.rank + step < comm.size {
                let x = try comm.receive(Double.self, from: comm.rank + step, tag: 71).values
                let codes = try comm.receive(Int64.self, from: comm.rank + step, tag: 72).values.map(Int.init)
                let ids = try comm.receive(Int64.self, from: comm.rank + step, tag: 73).values.map(Int.init)
                set = set.merged(Rows(x: x, codes: codes, ids: ids), width: width)
                solved = set.count
                set = try reduce(set)
            }
            stats.levelRows.append(Int(try comm.allreduce(Int64(solved), op: .max)))
            step *= 2
        }
        try comm.broadcast(&set.x, root: 0)
        var codes64 = set.codes.map(Int64.init), ids64 = set.ids.map(Int64.init)
        try comm.broadcast(&codes64, root: 0)
        try comm.broadcast(&ids64, root: 0)
        set.codes = codes64.map(Int.init)
        set.ids = ids64.map(Int.init)

        // 3. Passes until no row anywhere breaks the optimality conditions.
        var warning: String?
        while true {
            stats.passes += 1
            let (m, kr) = try c.solveShared(x: Matrix(rows: set.count, columns: width, storage: set.x), codes: set.codes, kernel: kernel,
                                             weights: weights, seed: seed, comm: comm)
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
            // This rank's violators.
            var violators: [Int] = []
            var r0 = 0
            while r0 < local.x.rows {
                let r1 = min(local.x.rows, r0 + blockRows)
                let block = Matrix(rows: r1 - r0, columns: width, storage: Array(local.x.storage[r0 * width ..< r1 * width]))
                let dec = try model.pairwiseDecision(block)
                for r in r0 ..< r1 where !supportIDs.contains(local.globalRowStart + r) {
                    let code = local.codes[r]
                    var p = 0
                    var violates = false
                    for i in 0 ..< k {
                        for j in i + 1 ..< k {
                            if code == i && dec[r - r0, p] < 1 - c.tol { violates = true }
                            if code == j && -dec[r - r0, p] < 1 - c.tol { violates = true }
                            p += 1
                        }
                    }
                    if violates { violators.append(r) }
                }
                r0 = r1
            }
            let mine = Rows(x: local.x.storage, codes: local.codes, ids: (0 ..< local.x.rows).map { local.globalRowStart + $0 })
                .subset(violators, width: width)
            let all = Rows(x: try comm.allgatherv(mine.x).values, codes: try comm.allgatherv(mine.codes.map(Int64.init)).values.map(Int.init),
                           ids: try comm.allgatherv(mine.ids.map(Int64.init)).values.map(Int.init))
            stats.violators.append(all.count)
            if all.count == 0 || stats.passes >= maxPasses {
                if all.count > 0 {
                    warning = "the cascade stopped after \(maxPasses) passes with \(all.count) rows still violating the optimality conditions"
                }
                stats.kernelRows = Int(try comm.allreduce(Int64(kernelRows), op: .sum))
                stats.solveSeconds = Date().timeIntervalSince(start)
                model.statistics = stats
                model.nTrainingRows = Int(n)
                if let w = warning { model.warning = (model.warning.map { $0 + "; " } ?? "") + w }
                return model
            }
            // The next set: this solve's support vectors and the violators.
            set = set.subset(m.support, width: width).merged(all, width: width)
        }
    }
}
