import CKernels
import Foundation
import SwiftMPI

// The global forest (`mode = global`): bins learned from all ranks' rows, bootstrap counts
// drawn per global row, and trees grown data-parallel by ``HistogramGrower``. The forest and
// its model file are byte-identical for any number of ranks.

extension FeatureBins {
    /// Bins learned from all ranks' rows, identical for any number of ranks: every k-th global
    /// row (k = ⌈total / sampleLimit⌉, counted from global row 0) is allgathered — an exact
    /// sample keyed by global row index, not a sketch, so there is no merge error — then each
    /// feature's sampled values are sorted and cut as by ``init(_:maxBins:sampleLimit:)``. At one
    /// rank these are the local forest's bins.
    /// - Parameters:
    ///   - firstRow: the global index of this rank's first row.
    ///   - totalRows: rows over all ranks.
    static func global(_ data: Dataset<Double>, firstRow: Int, totalRows: Int, maxBins: Int, comm: any Communicator,
                       sampleLimit: Int = 250_000) throws -> FeatureBins {
        let d = data.featureCount, n = data.rowCount
        let step = max(1, (totalRows + sampleLimit - 1) / max(1, sampleLimit))
        var local: [Double] = []
        var i = (step - firstRow % step) % step
        local.reserveCapacity((n / step + 1) * d)
        while i < n {
            switch data.features {
            case .dense(let x): x.storage.withUnsafeBufferPointer { local.append(contentsOf: $0[(i * d) ..< (i * d + d)]) }
            case .columns(let c, _): for f in 0 ..< d { local.append(c[f][i]) }
            case .coded(let c, _): for f in 0 ..< d { local.append(c[f][i]) }
            case .sparse: preconditionFailure("FeatureBins.global: sparse features (the forest refuses them)")
            }
            i += step
        }
        let sample = comm.size > 1 ? try comm.allgatherv(local).values : local
        let m = d > 0 ? sample.count / d : 0
        var column: [Double] = []
        column.reserveCapacity(m)
        let edges: [[Double]] = sample.withUnsafeBufferPointer { s in
            (0 ..< d).map { f in
                column.removeAll(keepingCapacity: true)
                for r in 0 ..< m { let v = s[r * d + f]; if !v.isNaN { column.append(v) } }
                radixSort(&column)
                return cuts(sorted: column, maxBins: maxBins)
            }
        }
        return FeatureBins(edges: edges)
    }
}

/// The global forest's bootstrap: each row's count in each tree is drawn from
/// (random_state, tree, global row index) alone — a Poisson draw with mean λ (Spark MLlib's
/// bagging) — so the in-bag multiset of every tree is the same whichever rank holds each row.
/// λ = 1 without `max_samples` (about 63.2% of the rows in the bag, as in a bootstrap of N
/// draws), λ = f for `max_samples = f`, λ = c / N for `max_samples = c`. The total count is
/// N·λ on average rather than exactly (draws are independent per row).
enum GlobalBootstrap {
    static let domain = RandomDomains.globalForestBootstrap

    /// Thresholds of the Poisson(λ) distribution on 32 bits: a uniform word `u` draws the count
    /// `k` with `thresholds[k-1] <= u < thresholds[k]`.
    static func thresholds(lambda: Double) -> [UInt64] {
        var out: [UInt64] = []
        var p = Foundation.exp(-lambda), cdf = p, k = 0.0
        while out.count < 64 {
            out.append(UInt64(min(cdf, 1) * 4_294_967_296.0))
            if cdf >= 1 || out.last! >= 4_294_967_296 { break }
            k += 1
            p *= lambda / k
            cdf += p
        }
        return out
    }

    /// The counts of global rows `first ..< first + n` in tree `tree`.
    static func counts(seed: UInt64, tree: Int, thresholds: [UInt64], first: Int, n: Int, into out: UnsafeMutablePointer<Int32>) {
        let key = Philox.key(seed: seed, domain: domain)
        let t = UInt64(tree)
        var i = 0
        while i < n {
            let g = first + i
            let q = UInt64(g / 4)
            let b = Philox.block(counter: (UInt32(truncatingIfNeeded: q), UInt32(truncatingIfNeeded: q >> 32),
                                           UInt32(truncatingIfNeeded: t), UInt32(truncatingIfNeeded: t >> 32)), key: key)
            var lane = g % 4
            while lane < 4 && i < n {
                let u: UInt64
                switch lane {
                case 0: u = UInt64(b.0)
                case 1: u = UInt64(b.1)
                case 2: u = UInt64(b.2)
                default: u = UInt64(b.3)
                }
                var k: Int32 = 0
                while Int(k) < thresholds.count && u >= thresholds[Int(k)] { k += 1 }
                out[i] = k
                i += 1
                lane += 1
            }
        }
    }
}

extension ForestTrainer {
    /// The global forest: every tree grown on all rows of all ranks (see ``HistogramGrower``).
    /// Collective. Tree `g` is kept by rank g mod p; the header's provenance describes the one
    /// forest whatever the rank count.
    static func fitGlobal(_ data: consuming TrainingShard, y: [Double], task: ForestHeader.Task, parameters p: RandomForestParameters,
                          comm: any Communicator, classNames: [String]?, target: String, dataDescription: String, keepTrees: Bool,
                          progress: ForestProgress?, checkpoint: Checkpointer? = nil) throws -> ForestModel {
        let d = data.featureCount, n = data.rowCount
        var timings = ForestFitTimings()
        var clock = Date()
        func lap(_ into: inout Double) { let now = Date(); into += now.timeIntervalSince(clock); clock = now }
        var traffic = Traffic()

        let rowsPerRank = try comm.allgatherCounts(n)
        traffic.count(bytes: 8 * comm.size)
        let totalRows = rowsPerRank.reduce(0, +)
        guard totalRows > 0 else { throw MPILearnError.mismatch("fit got no training rows on any rank") }
        let firstRow = rowsPerRank[..<comm.rank].reduce(0, +)
        let classification = task == .classification
        var classValues: [Double] = [], yCodes: [Int32] = [], globalClassCounts: [Double] = []
        if classification {
            (classValues, yCodes, globalClassCounts) = try encodeClasses(y, comm: comm, replicated: false)
            traffic.count(bytes: 8 * (classValues.count * (comm.size + 1)))
        }
        let k = classValues.count
        // Rows move between ranks with a two-byte class code.
        try require(k <= 65536, "mode", "global", "local for more than 65,536 classes (this target has \(k))")
        let names: [String] = classValues.map { ClassLabels.name(of: $0, classNames: classNames) }
        var classWeight = [Double](repeating: 1, count: max(1, k))
        if p.classWeight == .balanced {
            for c in 0 ..< k where globalClassCounts[c] > 0 { classWeight[c] = Double(totalRows) / (Double(k) * globalClassCounts[c]) }
        }
        // Regression: targets in fixed point about the midrange (see ``FixedPointTarget``).
        var fixed: FixedPointTarget? = nil
        if !classification {
            fixed = try FixedPointTarget(y, totalRows: totalRows, maxCount: p.bootstrap ? GlobalBootstrap.thresholds(lambda: 1).count : 1, comm: comm)
            traffic.count(bytes: 16, collectives: 2)
        }
        lap(&timings.communication)

        // Global bins, this rank's codes, and the features that vary anywhere.
        let bins: FeatureBins
        let codes: [UInt8]
        if comm.size == 1, let pre = data.prebinned {
            (bins, codes) = pre
        } else {
            bins = try .global(data.dataset, firstRow: firstRow, totalRows: totalRows, maxBins: p.tree.maxBins, comm: comm)
            traffic.count(bytes: 8 * d * min(totalRows, 250_000))
            codes = bins.bin(data.dataset, rows: nil)
        }
        var low = [Int32](repeating: 255, count: d), high = [Int32](repeating: 0, count: d)
        codes.withUnsafeBufferPointer { c in
            for i in 0 ..< n { for f in 0 ..< d { let v = Int32(c[i * d + f]); low[f] = min(low[f], v); high[f] = max(high[f], v) } }
        }
        if comm.size > 1 {
            low = try comm.allreduce(low, op: .min)
            high = try comm.allreduce(high, op: .max)
            traffic.count(bytes: 8 * d, collectives: 2)
        }
        let candidates = (0 ..< d).filter { low[$0] < high[$0] }.map { Int32($0) }
        if !p.oobScore { data.dropFeatures() }
        lap(&timings.bin)

        let lambda: Double
        switch p.maxSamples {
        case .fraction(let f)?: lambda = f
        case .count(let c)?: lambda = Double(c) / Double(totalRows)
        case nil: lambda = 1
        }
        let thresholds = GlobalBootstrap.thresholds(lambda: lambda)
        let grower = HistogramGrower(params: p.tree, classes: k, bins: bins, candidates: candidates, seed: p.randomState, threads: p.threads)
        let engine = GlobalGrowth(grower: grower, comm: comm, codes: codes, labels: yCodes, targets: fixed.map { f in y.map { f.code($0) } } ?? [],
                                  rows: n, firstRow: firstRow, bootstrap: p.bootstrap, thresholds: thresholds,
                                  statWeights: fixed.map { [$0.scale] } ?? classWeight, offset: fixed?.offset ?? 0,
                                  balancedSubsample: p.classWeight == .balancedSubsample, progress: progress)
        // Tree g is kept by rank g mod p (a batch of trees is then shared evenly).
        let myTrees = Array(stride(from: comm.rank, to: p.nEstimators, by: comm.size))
        // Each kept tree's importances are taken as it is finished; unless full trees are wanted
        // (or the out-of-bag score needs them) it is then packed and dropped.
        let mine = myTrees.count
        let compact = !keepTrees && !p.oobScore && d <= 256
        var owned = [Tree?](repeating: nil, count: mine)
        var packed = [BinnedPackedTree?](repeating: nil, count: mine)
        var treeImportances = [Double](repeating: 0, count: mine * d)
        // Compact fits with a checkpoint also hold the full trees, for the checkpoint files.
        var held = [Tree?](repeating: nil, count: checkpoint != nil && compact ? mine : 0)
        let keep = NSLock()
        // A checkpoint holds every tree finished so far, gathered into rank 0's file: the
        // forest does not depend on the rank count, so a resumed fit may run on another one
        // (each rank takes its trees g mod p from the file).
        // Each save holds the trees finished since the one before (rank 0's files append).
        var start = 0, savedUpTo = 0
        if let checkpoint, let parts = try checkpoint.restoreParts(rebalances: true) {
            let path = checkpoint.options.directory
            let state = parts.last!
            let (trees, indices, importances) = try checkpointTrees(parts, path: path, outputs: classification ? k : 1, features: d)
            guard indices == Array(0 ..< state.step), importances.count == indices.count * d, state.step <= p.nEstimators else {
                throw MPILearnError.dataError(SourceLocation(file: path), "checkpoint holds trees that do not match its step \(state.step); it is damaged")
            }
            for (g, tree) in zip(indices, trees) where g % comm.size == comm.rank {
                let i = g / comm.size
                for f in 0 ..< d { treeImportances[i * d + f] = importances[g * d + f] }
                if compact {
                    packed[i] = BinnedPackedTree(tree, bins: bins)
                    held[i] = tree
                } else {
                    owned[i] = tree
                }
            }
            start = state.step
            savedUpTo = start
        }
        checkpoint?.totalUnits = p.nEstimators
        // Boundaries: after each batch of at most N trees (`--checkpoint-every N`; smaller
        // batches than the memory bound allows cost more rounds of collectives), or (time or
        // signal only) of the memory-bound size; one rank: rounds of one tree per thread.
        // A stop waits for the batch being grown.
        var chunk: Int? = nil
        if let checkpoint {
            if case let .units(u)? = checkpoint.options.every { chunk = u } else if comm.size == 1 { chunk = max(1, p.threads) }
        }
        try engine.grow(trees: p.nEstimators, from: start, chunk: chunk, traffic: &traffic, finish: { g, tree in
            let i = g / comm.size
            let imp = tree.featureImportances(features: d)
            var pt: BinnedPackedTree? = nil
            if compact {
                guard let packedTree = BinnedPackedTree(tree, bins: bins) else {
                    preconditionFailure("a tree grown on these bins has a threshold that is not one of their edges")
                }
                pt = packedTree
            }
            keep.lock()
            for f in 0 ..< d { treeImportances[i * d + f] = imp[f] }
            if compact { packed[i] = pt } else { owned[i] = tree }
            if compact && checkpoint != nil { held[i] = tree }
            keep.unlock()
        }, boundary: checkpoint.map { checkpoint in { finished in
            try checkpoint.boundary(done: finished) {
                // This rank's trees finished since the last save, gathered in tree order on rank 0.
                if !checkpoint.continuesChain { savedUpTo = 0 }
                let from = savedUpTo
                savedUpTo = finished
                let mine = (0 ..< mine).filter { myTrees[$0] >= from && myTrees[$0] < finished }
                let trees = mine.map { (compact ? held[$0] : owned[$0])! }
                let part = ModelContainer(kind: "forest-part", header: Data(), sections: ForestModel.sections(trees, mine.map { myTrees[$0] })).encoded()
                let imps = mine.flatMap { treeImportances[$0 * d ..< ($0 + 1) * d] }
                let gathered = try comm.gatherv([UInt8](part), root: 0), gatheredImportances = try comm.gatherv(imps, root: 0)
                guard let (bytes, layout) = gathered, let (allImp, impLayout) = gatheredImportances else {
                    return CheckpointState(step: finished, header: Data("{}".utf8), appends: true)
                }
                var all: [(Int, Tree, ArraySlice<Double>)] = []
                for r in 0 ..< comm.size {
                    let c = try ModelContainer.decode(Data(bytes[layout.range(of: r)]), path: "rank \(r)'s trees")
                    let (t, idx) = try ForestModel.trees(from: c, path: "rank \(r)'s trees", outputs: classification ? k : 1, features: d)
                    let base = impLayout.displacements[r]
                    for (j, (g, tree)) in zip(idx, t).enumerated() { all.append((g, tree, allImp[base + j * d ..< base + (j + 1) * d])) }
                }
                all.sort { $0.0 < $1.0 }
                return CheckpointState(step: finished, header: Data("{}".utf8),
                                       sections: ForestModel.sections(all.map(\.1), all.map(\.0)) + [("importances", Data(flat: all.flatMap(\.2)))],
                                       appends: true)
            }
        } })
        try checkpoint?.finish()
        lap(&timings.grow)

        // Importances: every tree's, summed in tree order (the same sums at any rank count).
        // Rank r's block holds trees r, r + p, r + 2p, …
        let (all, layout) = comm.size > 1 ? try comm.allgatherv(treeImportances) : (treeImportances, Layout(counts: [treeImportances.count]))
        traffic.count(bytes: 8 * d * p.nEstimators)
        var imp = [Double](repeating: 0, count: d)
        for t in 0 ..< p.nEstimators {
            let at = layout.displacements[t % comm.size] + (t / comm.size) * d
            for f in 0 ..< d { imp[f] += all[at + f] }
        }
        let s = imp.reduce(0, +)
        if s > 0 { imp = imp.map { $0 / s } }

        // The forest does not depend on the rank count, so neither does its record: one rank's layout.
        let provenance = ForestProvenance(ranks: 1, trainRows: totalRows, rowsPerRank: [totalRows], treesPerRank: [p.nEstimators],
                                          data: dataDescription, date: try fitDate(comm), mpilearn: MPILearnVersion.string)
        let header = ForestHeader(task: task, featureNames: data.featureNames, categories: data.categories.map { $0?.values },
                                  target: target, classes: names, parameters: p, nEstimators: p.nEstimators,
                                  featureImportances: imp, oobScore: nil, provenance: provenance)
        var model = ForestModel(header: header, trees: compact ? [] : owned.map { $0! }, treeIndices: myTrees)
        if compact { model.predictors = packed.map { $0! } }
        lap(&timings.communication)
        if p.oobScore {
            model.header.oobScore = try oobScore(model, data: data.dataset, yCodes: yCodes, comm: comm, ordered: true) { g, counts in
                GlobalBootstrap.counts(seed: p.randomState, tree: g, thresholds: thresholds, first: firstRow, n: n, into: counts)
                return true
            }
            lap(&timings.communication)
        }
        if !keepTrees && p.oobScore && d <= 256 {
            model.predictors = model.trees.map { BinnedPackedTree($0, bins: bins)! }
            model.trees = []
        }
        timings.bytes = traffic.bytes
        timings.collectives = traffic.collectives
        timings.reduceSeconds = traffic.seconds
        model.timings = timings
        model.bins = bins
        return model
    }
}

/// A regression target in fixed point, identical on every rank: `q = round((y − offset) /
/// scale)` with `offset` the midrange of the targets over all ranks (exact: an allreduce of
/// min and max) and `scale` half the range / 2^B. B is the most bits for which every
/// histogram sum Σw·q² of a tree fits in 62 bits: B = ⌊(62 − bits(N · maxCount)) / 2⌋, at most
/// 30 (19 bits for 260,000 rows, 18 for 1.6 million). Integer sums make a regression forest
/// byte-identical for any rank count, at the price of targets rounded to 2^-B of their
/// half-range (a relative 2·10⁻⁶ at 19 bits): leaf values differ from the local mode's in
/// about the sixth significant digit of the range.
struct FixedPointTarget {
    let offset: Double
    let scale: Double
    let bits: Int

    init(_ y: [Double], totalRows: Int, maxCount: Int, comm: any Communicator) throws {
        var lo = y.min() ?? .infinity, hi = y.max() ?? -.infinity
        if comm.size > 1 {
            lo = try comm.allreduce(lo, op: .min)
            hi = try comm.allreduce(hi, op: .max)
        }
        let weightBits = Int.bitWidth - max(1, totalRows * max(1, maxCount)).leadingZeroBitCount
        bits = max(1, min(30, (62 - weightBits) / 2))
        offset = lo / 2 + hi / 2
        let half = hi / 2 - lo / 2
        scale = half > 0 && half.isFinite ? half / Double(1 << bits) : 1
    }

    /// The fixed-point code of target `y` (|code| ≤ 2^B).
    func code(_ y: Double) -> Int64 {
        let limit = Double(1 << bits)
        return Int64(max(-limit, min(limit, ((y - offset) / scale).rounded())))
    }
}

/// A byte buffer that only grows: kept across batches, so its pages are faulted in once.
final class ByteBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8> = .allocate(capacity: 1)
    private(set) var capacity = 1

    /// Makes room for `count` bytes (contents not kept).
    func reserve(_ count: Int) {
        guard count > capacity else { return }
        base.deallocate()
        capacity = count + count / 8
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }
}

/// Bytes sent in collectives and their count (the histograms' reductions, the rows and subtrees
/// moved), and the seconds spent in the grower's collectives.
struct Traffic {
    var bytes = 0
    var collectives = 0
    var seconds = 0.0
    mutating func count(bytes b: Int, collectives c: Int = 1) { bytes += b; collectives += c }
}

/// The data-parallel growth of a global forest's trees on one rank: batches of trees grown
/// level by level over all ranks, then their small nodes finished on one rank each.
final class GlobalGrowth {
    let g: HistogramGrower
    let comm: any Communicator
    let codes: [UInt8]
    let labels: [Int32]
    /// Regression: each row's target in fixed point.
    let targets: [Int64]
    let rows: Int
    let firstRow: Int
    let bootstrap: Bool
    let thresholds: [UInt64]
    let statWeights: [Double]
    let offset: Double
    let balancedSubsample: Bool
    let progress: ForestProgress?
    let scratch: [HistogramGrower.Scratch]
    /// The rows sent to and received from other ranks, kept from batch to batch.
    let sendBuffer = ByteBuffer(), recvBuffer = ByteBuffer()

    init(grower: HistogramGrower, comm: any Communicator, codes: [UInt8], labels: [Int32], targets: [Int64], rows: Int, firstRow: Int,
         bootstrap: Bool, thresholds: [UInt64], statWeights: [Double], offset: Double, balancedSubsample: Bool, progress: ForestProgress?) {
        g = grower
        self.comm = comm
        self.codes = codes
        self.labels = labels
        self.targets = targets
        self.rows = rows
        self.firstRow = firstRow
        self.bootstrap = bootstrap
        self.thresholds = thresholds
        self.statWeights = statWeights
        self.offset = offset
        self.balancedSubsample = balancedSubsample
        self.progress = progress
        scratch = (0 ..< grower.threads).map { _ in HistogramGrower.Scratch(grower) }
    }

    /// Runs `body(i, scratch)` for i in 0 ..< count on the grower's threads (``WorkerPool``),
    /// each worker with its own scratch. Results do not depend on the thread count.
    func parallel(_ count: Int, _ body: (Int, HistogramGrower.Scratch) -> Void) {
        WorkerPool.run(count, threads: g.threads) { i, w in body(i, scratch[w]) }
    }

    /// Tree `t`'s in-bag rows of this rank in a working set, and their integer statistics.
    func workingSet(tree t: Int) -> (HistogramGrower.Work, [Int64]) {
        let counts = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, rows))
        defer { counts.deallocate() }
        if bootstrap {
            GlobalBootstrap.counts(seed: g.seed, tree: t, thresholds: thresholds, first: firstRow, n: rows, into: counts)
        } else {
            counts.update(repeating: 1, count: rows)
        }
        var m = 0
        for i in 0 ..< rows where counts[i] > 0 { m += 1 }
        let classification = g.K > 0
        let work = HistogramGrower.Work(tree: t, capacity: m, stride: g.stride, outputs: max(1, g.K), statWeights: statWeights, regression: !classification)
        work.offset = offset
        var stats = [Int64](repeating: 0, count: g.S)
        let d = g.F, stride = g.stride
        let rc = work.codes, weight = work.weight, label = work.label, q = work.q
        codes.withUnsafeBufferPointer { c in
            labels.withUnsafeBufferPointer { y in
                targets.withUnsafeBufferPointer { v in
                    stats.withUnsafeMutableBufferPointer { st in
                        var s = 0
                        for i in 0 ..< rows where counts[i] > 0 {
                            let dst = rc + s * stride
                            dst.update(from: c.baseAddress! + i * d, count: d)
                            if stride > d { (dst + d).update(repeating: 0, count: stride - d) }
                            let w = counts[i]
                            weight[s] = w
                            st[0] += 1
                            if classification {
                                label[s] = y[i]
                                st[1 + Int(y[i])] += Int64(w)
                            } else {
                                q[s] = v[i]
                                st[1] += Int64(w)
                                st[2] += Int64(w) * v[i]
                                st[3] += Int64(w) * v[i] * v[i]
                            }
                            s += 1
                        }
                    }
                }
            }
        }
        work.rows = m
        return (work, stats)
    }

    /// The class weights of a tree from its global root statistics (`balanced_subsample`:
    /// from its own bootstrap counts, exact integers summed over the ranks).
    func weights(root stats: [Int64]) -> [Double] {
        guard balancedSubsample else { return statWeights }
        let k = g.K
        let total = Double(stats[1...].reduce(0, +))
        return (0 ..< k).map { c in stats[1 + c] > 0 ? total / (Double(k) * Double(stats[1 + c])) : 1 }
    }

    /// Grows `trees` trees; tree g is kept by rank g mod p.
    /// - Parameter finish: called with (g, tree) for each tree this rank keeps, from any
    ///   thread, as soon as it is complete.
    /// Grows trees `start ..< trees`, calling `finish` for each tree this rank keeps, and
    /// `boundary` (which checkpoints) with the trees finished so far after each batch of at
    /// most `chunk` trees.
    func grow(trees: Int, from start: Int = 0, chunk: Int? = nil, traffic: inout Traffic, finish: (Int, Tree) -> Void,
              boundary: ((Int) throws -> Void)? = nil) throws {
        let p = comm.size
        let ownerOf = (0 ..< trees).map { $0 % p }
        var done = start
        if p == 1 {
            // One rank: each tree grown whole, depth-first, trees shared over the threads.
            let lock = NSLock()
            var lo = start
            while lo < trees {
                let hi = min(trees, lo + (chunk ?? trees))
                parallel(hi - lo) { i, scratch in
                    let t = lo + i
                    let (work, stats) = workingSet(tree: t)
                    work.statWeights = weights(root: stats)
                    let d = scratch.nodeStats
                    stats.withUnsafeBufferPointer { s in work.statWeights.withUnsafeBufferPointer { g.weighted(s.baseAddress!, statWeights: $0.baseAddress!, into: d) } }
                    work.rootWeight = scratch.scanner.weightedImpurity(d).0
                    // growLocal appends nodes in the serial learner's order: the tree needs no assembly.
                    var tree = g.growLocal(work, start: 0, end: work.rows, depth: 0, key: HistogramGrower.rootKey(tree: t), stats: stats, scratch: scratch)
                    tree.shrinkToFit()
                    lock.lock()
                    finish(t, tree)
                    done += 1
                    let dn = done
                    lock.unlock()
                    if let progress { progress(dn, trees) }
                }
                try boundary?(hi)
                lo = hi
            }
            return
        }
        // Trees per batch: as many working sets as fit in 64 MB on the rank with most rows (a
        // tree's in-bag rows are about 63% of the rows, each `stride + 8` bytes).
        let maxRows = Int(try comm.allreduce(Int64(rows), op: .max))
        let perTree = max(1, maxRows * 2 / 3 * (g.stride + 8))
        let batch = max(1, min(trees, (64 << 20) / perTree, chunk ?? trees))
        var first = start
        while first < trees {
            let count = min(batch, trees - first)
            let grown = try growBatch(first: first, count: count, ownerOf: ownerOf, traffic: &traffic)
            for (t, tree) in grown { finish(t, tree) }
            done += count
            if comm.rank == 0, let progress { progress(done, trees) }
            first += count
            try boundary?(first)
        }
    }

    /// Grows trees `first ..< first + count` over all ranks; returns the ones this rank keeps,
    /// with their tree indices.
    func growBatch(first: Int, count: Int, ownerOf: [Int], traffic: inout Traffic) throws -> [(Int, Tree)] {
        let S = g.S, p = comm.size
        let outputs = max(1, g.K)
        // Working sets and root statistics (summed over the ranks in one allreduce).
        var works = [HistogramGrower.Work?](repeating: nil, count: count)
        var rootStats = [Int64](repeating: 0, count: count * S)
        let lock = NSLock()
        parallel(count) { i, _ in
            let (w, s) = workingSet(tree: first + i)
            lock.lock(); works[i] = w; for q in 0 ..< S { rootStats[i * S + q] = s[q] }; lock.unlock()
        }
        let work = works.map { $0! }
        try reduce(&rootStats, traffic: &traffic)
        var open: [[HistogramGrower.OpenNode]] = Array(repeating: [], count: count)
        for i in 0 ..< count {
            let stats = Array(rootStats[(i * S) ..< (i * S + S)])
            work[i].statWeights = weights(root: stats)
            let d = scratch[0].nodeStats
            stats.withUnsafeBufferPointer { s in work[i].statWeights.withUnsafeBufferPointer { g.weighted(s.baseAddress!, statWeights: $0.baseAddress!, into: d) } }
            work[i].rootWeight = scratch[0].scanner.weightedImpurity(d).0
            let key = HistogramGrower.rootKey(tree: first + i)
            let small = smallNode(rootRows: Int(stats[0]))
            if Int(stats[0]) <= small {
                work[i].jobs.append(.init(start: 0, end: work[i].rows, depth: 0, key: key, stats: stats))
            } else {
                let (node, splittable, wimp) = g.appendNode(stats, depth: 0, work: work[i], to: &work[i].top, scratch: scratch[0])
                if splittable { open[i].append(.init(node: node, start: 0, end: work[i].rows, depth: 0, key: key, stats: stats, wimp: wimp)) }
            }
        }
        let smallRows = (0 ..< count).map { smallNode(rootRows: Int(rootStats[$0 * S])) }

        // Level by level while any tree has open nodes.
        while open.contains(where: { !$0.isEmpty }) {
            var searches = open.map { nodes in nodes.map { g.makeSearch(key: $0.key) } }
            try searchSplits(work: work, open: open, searches: &searches, traffic: &traffic)
            // Apply the splits (every rank the same decisions) to this rank's rows.
            var next: [[HistogramGrower.OpenNode]] = Array(repeating: [], count: count)
            let nextLock = NSLock()
            parallel(count) { i, sc in
                var mineNext: [HistogramGrower.OpenNode] = []
                for (j, o) in open[i].enumerated() {
                    let s = searches[i][j]
                    guard g.accepts(s.best, wimp: o.wimp, rootWeight: work[i].rootWeight) else { continue }
                    g.setSplit(&work[i].top, node: o.node, split: s.best)
                    let mid = g.partition(work[i], start: o.start, end: o.end, split: s.best, scratch: sc)
                    let left = s.bestLeft
                    let right = (0 ..< S).map { o.stats[$0] - left[$0] }
                    for (side, stats, range) in [(0, left, o.start ..< mid), (1, right, mid ..< o.end)] {
                        let key = HistogramGrower.childKey(o.key, side: UInt64(side))
                        let link: Int32
                        if Int(stats[0]) <= smallRows[i] {
                            link = Int32(-2 - work[i].jobs.count)
                            work[i].jobs.append(.init(start: range.lowerBound, end: range.upperBound, depth: o.depth + 1, key: key, stats: stats))
                        } else {
                            let (node, splittable, wimp) = g.appendNode(stats, depth: o.depth + 1, work: work[i], to: &work[i].top, scratch: sc)
                            link = Int32(node)
                            if splittable {
                                mineNext.append(.init(node: node, start: range.lowerBound, end: range.upperBound, depth: o.depth + 1, key: key,
                                                      stats: stats, wimp: wimp))
                            }
                        }
                        if side == 0 { work[i].top.left[o.node] = link } else { work[i].top.right[o.node] = link }
                    }
                }
                nextLock.lock(); next[i] = mineNext; nextLock.unlock()
            }
            open = next
        }
        return try finishJobs(work: work, first: first, ownerOf: ownerOf, traffic: &traffic, outputs: outputs, p: p)
    }

    /// Rows at or below which a node is finished on one rank: a sixteenth of a rank's share of
    /// the tree's rows, at least 1,024 (enough small nodes per tree to balance the ranks, few
    /// enough large ones that their histograms are a small part of the traffic).
    func smallNode(rootRows: Int) -> Int { max(1024, rootRows / (16 * comm.size)) }

    /// Sums `values` over the ranks in place (counted in `traffic`).
    func reduce(_ values: inout [Int64], traffic: inout Traffic) throws {
        let t0 = Date()
        try comm.allreduce(&values, op: .sum)
        traffic.count(bytes: 8 * values.count)
        traffic.seconds += Date().timeIntervalSince(t0)
    }

    /// Finds the split of every open node of the batch: rounds of feature draws, each building
    /// this rank's histograms of all the nodes' drawn features into one buffer, summing it over
    /// the ranks (one allreduce) and scanning it, until every node has seen `max_features`
    /// non-constant features or drawn every candidate.
    func searchSplits(work: [HistogramGrower.Work], open: [[HistogramGrower.OpenNode]], searches: inout [[HistogramGrower.Search]],
                      traffic: inout Traffic) throws {
        let S = g.S
        let sample = g.mtry < g.candidates.count
        while true {
            // This round's features of every node still wanting some, and their places.
            var drawn: [[[Int32]]] = searches.map { $0.map { _ in [] } }
            var offsets: [[[Int]]] = searches.map { $0.map { _ in [] } }
            var size = 0
            for i in searches.indices {
                for j in searches[i].indices {
                    let want = g.wanted(searches[i][j])
                    guard want > 0 else { continue }
                    let fs = searches[i][j].draw(want, sample: sample)
                    drawn[i][j] = fs
                    offsets[i][j] = fs.map { f in defer { size += (g.missCodes[Int(f)] + 1) * S }; return size }
                }
            }
            if size == 0 { return }
            var buffer = [Int64](repeating: 0, count: size)
            buffer.withUnsafeMutableBufferPointer { buf in
                let base = buf.baseAddress!
                parallel(work.count) { i, _ in
                    for (j, o) in open[i].enumerated() where !drawn[i][j].isEmpty {
                        let hists: [UnsafeMutablePointer<Int64>?] = offsets[i][j].map { base + $0 }
                        let label: UnsafeMutablePointer<Int32>? = g.K > 0 ? work[i].label + o.start : nil
                        let q: UnsafeMutablePointer<Int64>? = g.K > 0 ? nil : work[i].q + o.start
                        drawn[i][j].withUnsafeBufferPointer { fp in
                            mpl_forest_hist(work[i].codes + o.start * g.stride, g.stride, o.end - o.start, work[i].weight + o.start,
                                            label, q, Int32(S), fp.baseAddress, Int32(fp.count), hists)
                        }
                    }
                }
            }
            try reduce(&buffer, traffic: &traffic)
            let lock = NSLock()
            buffer.withUnsafeBufferPointer { buf in
                let base = buf.baseAddress!
                parallel(work.count) { i, sc in
                    var mine = searches[i]
                    let node = UnsafeMutablePointer<Double>.allocate(capacity: S)
                    defer { node.deallocate() }
                    let cw = work[i].statWeights
                    for (j, o) in open[i].enumerated() where !drawn[i][j].isEmpty {
                        o.stats.withUnsafeBufferPointer { s in cw.withUnsafeBufferPointer { g.weighted(s.baseAddress!, statWeights: $0.baseAddress!, into: node) } }
                        var s = mine[j]
                        for (f, off) in zip(drawn[i][j], offsets[i][j]) {
                            cw.withUnsafeBufferPointer { w in
                                var best = s.best, visited = s.visited
                                s.bestLeft.withUnsafeMutableBufferPointer { bl in
                                    g.scan(base + off, feature: Int(f), node: node, statWeights: w.baseAddress!, best: &best,
                                           visited: &visited, bestLeft: bl.baseAddress!, scratch: sc)
                                }
                                s.best = best
                                s.visited = visited
                            }
                        }
                        mine[j] = s
                    }
                    lock.lock(); searches[i] = mine; lock.unlock()
                }
            }
        }
    }

    /// Moves every small node's rows to its owner (one alltoallv), grows the subtrees there,
    /// sends them to the trees' keepers (a second alltoallv) and assembles the kept trees.
    func finishJobs(work: [HistogramGrower.Work], first: Int, ownerOf: [Int], traffic: inout Traffic, outputs: Int, p: Int) throws -> [(Int, Tree)] {
        let stride = g.stride, me = comm.rank
        // Owners: the largest jobs first, each to its tree's keeper (whose subtree then need not
        // move) while that rank stays within 2% of an even share of the rows, else to the least
        // loaded rank (ties: lower rank). The same on every rank.
        var jobs: [(tree: Int, job: Int, rows: Int)] = []
        for (i, w) in work.enumerated() { for (j, job) in w.jobs.enumerated() { jobs.append((i, j, job.rows)) } }
        let order = jobs.indices.sorted { a, b in
            jobs[a].rows != jobs[b].rows ? jobs[a].rows > jobs[b].rows : (jobs[a].tree, jobs[a].job) < (jobs[b].tree, jobs[b].job)
        }
        let share = Double(jobs.reduce(0) { $0 + $1.rows }) / Double(p) * 1.02
        var load = [Int](repeating: 0, count: p)
        var owner = [Int](repeating: 0, count: jobs.count)
        for a in order {
            let keeper = ownerOf[first + jobs[a].tree]
            let r = Double(load[keeper] + jobs[a].rows) <= share ? keeper : load.indices.min { load[$0] != load[$1] ? load[$0] < load[$1] : $0 < $1 }!
            owner[a] = r
            load[r] += jobs[a].rows
        }
        // Rows to owners. Every rank first learns how many rows each of its jobs gets from each
        // rank (one small alltoallv); its own rows are copied straight into its jobs' working
        // sets; the other ranks' rows arrive in one alltoallv of bytes — per destination its
        // jobs in (tree, job) order, each row as its F codes, its count (one byte: a Poisson
        // count is at most 64) and its class (two bytes) or fixed-point target (eight) — into
        // buffers kept from batch to batch (no fresh pages to fault in each time).
        let classification = g.K > 0
        let F = g.F, rowBytes = g.F + 1 + (classification ? 2 : 8)
        var rowCounts: [Int64] = []
        var countSend = [Int](repeating: 0, count: p), byteCounts = [Int](repeating: 0, count: p)
        for dest in 0 ..< p {
            for (a, j) in jobs.enumerated() where owner[a] == dest {
                let job = work[j.tree].jobs[j.job]
                rowCounts.append(Int64(job.end - job.start))
                countSend[dest] += 1
                if dest != me { byteCounts[dest] += (job.end - job.start) * rowBytes }
            }
        }
        let t0 = Date()
        let (counts, countLayout) = try comm.alltoallv(rowCounts, sendCounts: countSend)
        traffic.seconds += Date().timeIntervalSince(t0)
        traffic.count(bytes: 8 * rowCounts.count)
        // My jobs, in (tree, job) order; the rows of each from every source rank in rank order.
        let myJobs = jobs.indices.filter { owner[$0] == me }
        var sizes = [Int](repeating: 0, count: myJobs.count)
        for src in 0 ..< p { for (q, c) in countLayout.range(of: src).enumerated() { sizes[q] += Int(counts[c]) } }
        var locals: [HistogramGrower.Work] = []
        for (q, a) in myJobs.enumerated() {
            let src = work[jobs[a].tree]
            let w = HistogramGrower.Work(tree: src.tree, capacity: sizes[q], stride: stride, outputs: outputs, statWeights: src.statWeights,
                                         regression: !classification)
            w.rootWeight = src.rootWeight
            w.offset = src.offset
            locals.append(w)
        }
        /// Appends rows `range` of `from` to `to`.
        func copyRows(_ from: HistogramGrower.Work, _ range: Range<Int>, to w: HistogramGrower.Work) {
            (w.codes + w.rows * stride).update(from: from.codes + range.lowerBound * stride, count: range.count * stride)
            (w.weight + w.rows).update(from: from.weight + range.lowerBound, count: range.count)
            if classification {
                (w.label + w.rows).update(from: from.label + range.lowerBound, count: range.count)
            } else {
                (w.q + w.rows).update(from: from.q + range.lowerBound, count: range.count)
            }
            w.rows += range.count
        }
        let sendTotal = byteCounts.reduce(0, +)
        sendBuffer.reserve(sendTotal)
        var o = sendBuffer.base
        for dest in 0 ..< p where dest != me {
            for (a, j) in jobs.enumerated() where owner[a] == dest {
                let job = work[j.tree].jobs[j.job], w = work[j.tree]
                let rc = w.codes, weight = w.weight, label = w.label, q = w.q
                for s in job.start ..< job.end {
                    o.update(from: rc + s * stride, count: F)
                    o[F] = UInt8(weight[s])
                    if classification {
                        o[F + 1] = UInt8(truncatingIfNeeded: label[s])
                        o[F + 2] = UInt8(truncatingIfNeeded: label[s] >> 8)
                    } else {
                        UnsafeMutableRawPointer(o + F + 1).storeBytes(of: q[s], as: Int64.self)
                    }
                    o += rowBytes
                }
            }
        }
        // Received bytes per source, in rank order.
        var recvCounts = [Int](repeating: 0, count: p)
        for src in 0 ..< p where src != me {
            for c in countLayout.range(of: src) { recvCounts[src] += Int(counts[c]) * rowBytes }
        }
        let sendLayout = Layout(counts: byteCounts), recvLayout = Layout(counts: recvCounts)
        recvBuffer.reserve(recvLayout.total)
        let t1 = Date()
        try comm.alltoallvRaw(send: sendBuffer.base, sendCounts: byteCounts, sendDisplacements: sendLayout.displacements,
                              recv: recvBuffer.base, recvCounts: recvCounts, recvDisplacements: recvLayout.displacements, kind: .uint8)
        traffic.seconds += Date().timeIntervalSince(t1)
        traffic.count(bytes: sendTotal)
        // Each job's rows from each source rank in rank order: my own copied, others' unpacked.
        for src in 0 ..< p {
            if src == me {
                for (q, a) in myJobs.enumerated() {
                    let job = work[jobs[a].tree].jobs[jobs[a].job]
                    copyRows(work[jobs[a].tree], job.start ..< job.end, to: locals[q])
                }
                continue
            }
            var i = recvBuffer.base + recvLayout.displacements[src]
            for (q, c) in countLayout.range(of: src).enumerated() {
                let w = locals[q]
                let rc = w.codes, weight = w.weight, label = w.label, target = w.q
                var m = w.rows
                for _ in 0 ..< Int(counts[c]) {
                    let dst = rc + m * stride
                    dst.update(from: i, count: F)
                    if stride > F { (dst + F).update(repeating: 0, count: stride - F) }
                    weight[m] = Int32(i[F])
                    if classification {
                        label[m] = Int32(i[F + 1]) | Int32(i[F + 2]) << 8
                    } else {
                        target[m] = UnsafeRawPointer(i + F + 1).loadUnaligned(as: Int64.self)
                    }
                    m += 1
                    i += rowBytes
                }
                w.rows = m
            }
        }
        for w in work { w.free() }
        // Grow my jobs.
        var subtrees = [Tree](repeating: Tree(outputs: outputs), count: myJobs.count)
        let lock = NSLock()
        parallel(myJobs.count) { q, sc in
            let j = jobs[myJobs[q]], job = work[j.tree].jobs[j.job]
            var t = g.growLocal(locals[q], start: 0, end: locals[q].rows, depth: job.depth, key: job.key, stats: job.stats, scratch: sc)
            t.shrinkToFit()
            lock.lock(); subtrees[q] = t; lock.unlock()
            locals[q].free()
        }
        locals = []
        // Subtrees to the trees' keepers: per destination its subtrees as raw arrays, each
        // tagged with its job's place in the batch's job list (ranks of one job exchange them,
        // so no container or checksum). Subtrees kept here do not move.
        var byJob = [Int: Tree]()
        var parts: [UInt8] = []
        var partCounts = [Int](repeating: 0, count: p)
        for dest in 0 ..< p {
            let before = parts.count
            for q in myJobs.indices where ownerOf[first + jobs[myJobs[q]].tree] == dest {
                if dest == me { byJob[myJobs[q]] = subtrees[q] } else { subtrees[q].appendRaw(to: &parts, id: myJobs[q]) }
            }
            partCounts[dest] = parts.count - before
        }
        subtrees = []
        let t2 = Date()
        let (incoming, _) = try comm.alltoallv(parts, sendCounts: partCounts)
        traffic.seconds += Date().timeIntervalSince(t2)
        traffic.count(bytes: parts.count)
        parts = []
        incoming.withUnsafeBytes { raw in
            var at = 0
            while at < raw.count {
                let (id, t) = Tree.readRaw(raw.baseAddress!, at: &at, outputs: outputs)
                byJob[id] = t
            }
        }
        // Assemble the trees I keep (the jobs are listed tree by tree), on the threads.
        var bases = [Int](repeating: 0, count: work.count)
        for i in 1 ..< max(1, work.count) { bases[i] = bases[i - 1] + work[i - 1].jobs.count }
        let keptIndices = work.indices.filter { ownerOf[first + $0] == me }
        for i in keptIndices {
            for j in 0 ..< work[i].jobs.count where byJob[bases[i] + j] == nil {
                throw MPILearnError.mismatch("global forest: the subtree of tree \(first + i)'s node \(j) did not arrive (internal error)")
            }
        }
        var kept = [(Int, Tree)](repeating: (0, Tree(outputs: outputs)), count: keptIndices.count)
        let keptLock = NSLock()
        parallel(keptIndices.count) { k, _ in
            let i = keptIndices[k]
            let subs = (0 ..< work[i].jobs.count).map { byJob[bases[i] + $0]! }
            var t = HistogramGrower.assemble(top: work[i].top, subtrees: subs, outputs: outputs)
            t.shrinkToFit()
            keptLock.lock(); kept[k] = (first + i, t); keptLock.unlock()
        }
        return kept
    }
}

