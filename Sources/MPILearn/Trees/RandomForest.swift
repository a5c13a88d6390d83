import Foundation
import SwiftMPI

/// Called on rank 0 as its trees finish: trees done on rank 0, trees rank 0 grows.
public typealias ForestProgress = (_ done: Int, _ total: Int) -> Void

/// A training shard as a fit reads it: a ``Dataset`` (features dense or as columns, the
/// target and what the features mean), or rows already binned. Owned by the fit, which
/// frees the raw features once they are binned.
struct TrainingShard {
    /// The rows. Once the raw features are freed (``dropFeatures()``), and for a pre-binned
    /// shard, its features are no columns of `rowCount` rows.
    var dataset: Dataset<Double>
    /// Features already binned (bins learned on these rows): shared by the fits of one fold.
    var prebinned: (bins: FeatureBins, codes: [UInt8])?
    /// The features (counted before any are freed).
    let featureCount: Int

    init(_ data: consuming Dataset<Double>) {
        featureCount = data.featureCount
        dataset = data
        prebinned = nil
    }

    /// Rows `rows` of `data`, binned with edges learned once and reused through `cache` by
    /// every fit on the same rows with the same `max_bins` (a search's candidates on one
    /// fold): the same forest as from the rows themselves, without copying them.
    init(_ data: Dataset<Double>, rows: [Int], maxBins: Int, cache: FitCache) {
        // Only the bin edges are cached: learning them sorts every feature, while coding the
        // rows with known edges is one quick pass; the codes (a byte a value) live for this
        // fit alone, so a search holds one fold's codes at a time, not every fold's.
        let bins = cache.value("forest-bins-\(maxBins)") { FeatureBins(data, rows: rows, maxBins: maxBins) }
        prebinned = (bins, bins.bin(data, rows: rows))
        featureCount = data.featureCount
        dataset = Dataset(features: .columns([], rows: rows.count), target: data.target.map { t in rows.map { t[$0] } },
                          featureNames: data.featureNames, categories: data.categories, globalRowStart: 0, globalRowCount: rows.count,
                          targetName: data.targetName, classNames: data.classNames, source: data.source)
    }

    var rowCount: Int { dataset.rowCount }
    var target: [Double]? { dataset.target }
    var featureNames: [String] { dataset.featureNames }
    var categories: [CategoryDictionary?] { dataset.categories }
    var globalRowStart: Int { dataset.globalRowStart }

    /// The features binned (`classes > 0`: class codes `y`; else regression values `yValue`):
    /// dense rows as a matrix, columns one column at a time (no row-major copy is made).
    func binned(classes: Int, y: [Int32], yValue: [Double], maxBins: Int) -> BinnedData {
        if let prebinned {
            return BinnedData(codes: prebinned.codes, rows: rowCount, bins: prebinned.bins, classes: classes, yClass: y, yValue: yValue)
        }
        switch dataset.features {
        case .dense(let x):
            return classes > 0 ? BinnedData(x: x, classes: classes, y: y, maxBins: maxBins) : BinnedData(x: x, y: yValue, maxBins: maxBins)
        case .columns(let c, let n):
            return BinnedData(columns: c, rows: n, classes: classes, y: y, yValue: yValue, maxBins: maxBins)
        case .coded:
            let bins = FeatureBins(dataset, rows: nil, maxBins: maxBins)
            return BinnedData(codes: bins.bin(dataset, rows: nil), rows: rowCount, bins: bins, classes: classes, yClass: y, yValue: yValue)
        case .sparse:
            preconditionFailure("TrainingShard.binned: sparse features (ForestTrainer.fit refuses them)")
        }
    }

    /// Frees the raw features (the row count stays).
    mutating func dropFeatures() { dataset.features = .columns([], rows: dataset.rowCount) }
}

/// The shared fitting procedure of both forests.
enum ForestTrainer {
    enum Domain { static let bootstrap = RandomDomains.forestBootstrap, features = RandomDomains.forestFeatures }

    /// - Parameter replicated: every rank holds the same rows (all of them): the trees are
    ///   shared out evenly and the forest is tree for tree the one-rank forest (class counts
    ///   are not summed over ranks, importances are summed in tree order). No OOB score.
    static func fit(_ data: consuming TrainingShard, task: ForestHeader.Task, parameters p: RandomForestParameters, comm: any Communicator,
                    classNames: [String]?, target: String, dataDescription: String, keepTrees: Bool,
                    progress: ForestProgress?, replicated: Bool = false, checkpoint: Checkpointer? = nil) throws -> ForestModel {
        let classification = task == .classification
        let d = data.featureCount, n = data.rowCount
        try data.dataset.refuseSparse(for: classification ? "a random forest classifier" : "a random forest regressor")
        try p.validate(features: d, classification: classification)
        guard let y = data.target else { throw MPILearnError.mismatch("fit needs a target column, and the dataset has none") }
        guard y.count == data.rowCount else { throw MPILearnError.mismatch("dataset has \(data.rowCount) rows but \(y.count) targets") }
        if let i = y.firstIndex(where: { !$0.isFinite }) {
            throw MPILearnError.dataError(SourceLocation(file: target, line: data.globalRowStart + i + 1), "target is missing or not finite in row \(data.globalRowStart + i + 1)")
        }
        if p.mode == .global {
            precondition(!replicated, "a global forest is not fitted on replicated rows")
            return try fitGlobal(data, y: y, task: task, parameters: p, comm: comm, classNames: classNames, target: target,
                                 dataDescription: dataDescription, keepTrees: keepTrees, progress: progress, checkpoint: checkpoint)
        }
        var timings = ForestFitTimings()
        var clock = Date()
        func lap(_ into: inout Double) { let now = Date(); into += now.timeIntervalSince(clock); clock = now }

        // Rows per rank, and trees per rank in proportion (exactly n_estimators in total).
        let rowsPerRank = try comm.allgatherCounts(data.rowCount)
        precondition(!replicated || (rowsPerRank.allSatisfy { $0 == data.rowCount } && !p.oobScore), "replicated forest fit: ranks hold different rows, or OOB asked")
        let totalRows = replicated ? data.rowCount : rowsPerRank.reduce(0, +)
        guard totalRows > 0 else { throw MPILearnError.mismatch("fit got no training rows on any rank") }
        let treesPerRank = Partition.proportional(total: p.nEstimators, weights: rowsPerRank)
        let firstTree = treesPerRank[..<comm.rank].reduce(0, +)
        let myTrees = treesPerRank[comm.rank]

        // Classes: the sorted union of every rank's labels; global counts.
        var classValues: [Double] = []
        var yCodes: [Int32] = []
        var globalClassCounts: [Double] = []
        if classification { (classValues, yCodes, globalClassCounts) = try encodeClasses(y, comm: comm, replicated: replicated) }
        lap(&timings.communication)
        let k = classValues.count
        let names: [String] = classValues.map { ClassLabels.name(of: $0, classNames: classNames) }
        var classWeight = [Double](repeating: 1, count: max(1, k))
        if p.classWeight == .balanced {
            for c in 0 ..< k where globalClassCounts[c] > 0 { classWeight[c] = Double(totalRows) / (Double(k) * globalClassCounts[c]) }
        }

        // Bin once, then grow this rank's trees. Each tree's importances are taken as soon as
        // it is grown; unless full trees are wanted (or the out-of-bag score needs them), the
        // tree is then packed into its compact predictor and dropped, so a rank never holds
        // its full forest. The raw features are freed once binned if nothing needs them.
        var trees = [Tree?](repeating: nil, count: myTrees)
        var predictors = [BinnedPackedTree?](repeating: nil, count: myTrees)
        var treeImportances = [Double](repeating: 0, count: myTrees * d)
        let compact = !keepTrees && !p.oobScore && d <= 256
        var bins: FeatureBins? = nil
        // Rows each bootstrap sample draws (this rank's share of max_samples).
        let draws: Int
        switch p.maxSamples {
        case .fraction(let f)?: draws = max(1, Int((f * Double(n)).rounded()))
        case .count(let c)?: draws = max(1, Int((Double(c) * Double(n) / Double(totalRows)).rounded()))
        case nil: draws = n
        }
        // With a checkpoint, trees grow in rounds of `chunk` trees per rank, the same number
        // of rounds on every rank (ranks with fewer or no trees take part in every boundary).
        let maxTrees = treesPerRank.max() ?? 0
        var chunk = max(1, myTrees)
        if let checkpoint {
            // Every N trees, or (time or signal only) rounds of one tree per thread.
            if case let .units(c)? = checkpoint.options.every { chunk = c } else { chunk = max(1, p.threads) }
        }
        checkpoint?.totalUnits = maxTrees
        if myTrees > 0 {
            let binned = data.binned(classes: classification ? k : 0, y: yCodes, yValue: classification ? [] : y, maxBins: p.tree.maxBins)
            bins = binned.bins
            if !p.oobScore { data.dropFeatures() }
            lap(&timings.bin)
            let threads = min(p.threads, myTrees)
            let lock = NSLock()
            var done = 0
            let box = UncheckedSendable(UnsafeMutableBufferPointer<Tree?>.allocate(capacity: myTrees))
            box.value.initialize(repeating: nil)
            let packedBox = UncheckedSendable(UnsafeMutableBufferPointer<BinnedPackedTree?>.allocate(capacity: myTrees))
            packedBox.value.initialize(repeating: nil)
            let importanceBox = UncheckedSendable(UnsafeMutableBufferPointer<Double>.allocate(capacity: myTrees * d))
            importanceBox.value.initialize(repeating: 0)
            defer {
                box.value.deinitialize().deallocate()
                packedBox.value.deinitialize().deallocate()
                importanceBox.value.deallocate()
            }
            let isRoot = comm.rank == 0
            // One builder and bootstrap buffers per worker of the pool.
            let workers = (0 ..< threads).map { _ in
                (builder: TreeBuilder(params: p.tree, data: binned), samples: UnsafeMutablePointer<Int32>.allocate(capacity: n),
                 counts: UnsafeMutablePointer<Int32>.allocate(capacity: n))
            }
            defer { for w in workers { w.samples.deallocate(); w.counts.deallocate() } }
            // With a checkpoint the trees grow in rounds of `chunk` trees per rank (the same
            // number of rounds on every rank), each ending at a checkpoint boundary; the full
            // trees are kept for the checkpoint files and packed at the end.
            let keepFull = !compact || checkpoint != nil
            var start = 0
            // Each save holds the trees grown since the one before (the files append).
            var savedTrees = 0
            if let checkpoint, let parts = try checkpoint.restoreParts() {
                let path = checkpoint.options.directory
                let state = parts.last!
                let restored = try restoreLocalTrees(parts, path: path, myTrees: myTrees, firstTree: firstTree, features: d,
                                                     outputs: classification ? k : 1)
                for (t, tree) in restored.trees.enumerated() {
                    box.value[t] = tree
                    if compact { packedBox.value[t] = BinnedPackedTree(tree, bins: binned.bins) }
                    for f in 0 ..< d { importanceBox.value[t * d + f] = restored.importances[t * d + f] }
                }
                guard restored.trees.count == min(state.step, myTrees) else {
                    throw MPILearnError.dataError(SourceLocation(file: path), "checkpoint holds \(restored.trees.count) trees of this rank at step \(state.step); it is damaged")
                }
                start = state.step
                done = restored.trees.count
                savedTrees = done
            }
            var lo = start
            while lo < (checkpoint == nil ? myTrees : maxTrees) {
                defer { lo += chunk }
                let hi = min(lo + chunk, myTrees)
                if lo < hi {
                    WorkerPool.run(hi - lo, threads: min(threads, hi - lo)) { i, worker in
                        let t = lo + i
                        let (builder, samples, counts) = workers[worker]
                        let g = UInt64(firstTree + t)
                        let m = bootstrapSample(rows: n, draws: draws, bootstrap: p.bootstrap, seed: p.randomState, tree: g,
                                                counts: counts, samples: samples)
                        var subsampleWeight = classWeight
                        if p.classWeight == .balancedSubsample {
                            var cc = [Double](repeating: 0, count: k)
                            for s in 0 ..< m { let i = Int(samples[s]); cc[Int(yCodes[i])] += Double(counts[i]) }
                            let total = cc.reduce(0, +)
                            for c in 0 ..< k { subsampleWeight[c] = cc[c] > 0 ? total / (Double(k) * cc[c]) : 1 }
                        }
                        var rng = Philox(seed: p.randomState, domain: Domain.features, stream: g)
                        var tree = yCodes.withUnsafeBufferPointer { yc in
                            builder.grow(samples: samples, count: m, rng: &rng) { i in
                                Double(counts[i]) * (classification ? subsampleWeight[Int(yc[i])] : 1)
                            }
                        }
                        for (f, v) in tree.featureImportances(features: d).enumerated() { importanceBox.value[t * d + f] = v }
                        var packed: BinnedPackedTree? = nil
                        if compact {
                            guard let pt = BinnedPackedTree(tree, bins: binned.bins) else {
                                preconditionFailure("a tree grown on these bins has a threshold that is not one of their edges")
                            }
                            packed = pt
                        }
                        if keepFull { tree.shrinkToFit() }
                        lock.lock()
                        if let packed { packedBox.value[t] = packed }
                        if keepFull { box.value[t] = tree }
                        done += 1
                        let d = done
                        lock.unlock()
                        if isRoot, let progress { progress(d, myTrees) }
                    }
                }
                guard let checkpoint else { continue }
                let grown = hi, upTo = min(lo + chunk, maxTrees)
                try checkpoint.boundary(done: upTo) {
                    if !checkpoint.continuesChain { savedTrees = 0 }
                    let new = savedTrees ..< grown
                    savedTrees = grown
                    return CheckpointState(step: upTo, header: Data("{}".utf8),
                                           sections: ForestModel.sections(new.map { box.value[$0]! }, new.map { firstTree + $0 })
                                               + [("importances", Data(flat: Array(importanceBox.value[new.lowerBound * d ..< new.upperBound * d])))],
                                           appends: true)
                }
            }
            try checkpoint?.finish()
            trees = compact ? [] : Array(box.value)
            predictors = Array(packedBox.value)
            treeImportances = Array(importanceBox.value)
            lap(&timings.grow)
        } else if let checkpoint {
            // No trees here: the rank still takes part in every round's checkpoint boundary.
            var lo = try checkpoint.restoreParts()?.last?.step ?? 0
            while lo < maxTrees {
                let upTo = min(lo + chunk, maxTrees)
                try checkpoint.boundary(done: upTo) {
                    CheckpointState(step: upTo, header: Data("{}".utf8), sections: ForestModel.sections([], []) + [("importances", Data())], appends: true)
                }
                lo += chunk
            }
            try checkpoint.finish()
        }
        let grown = compact ? [] : trees.map { $0! }

        // Importances: mean over all trees of each tree's normalised importances.
        var imp = [Double](repeating: 0, count: d)
        if replicated {
            // Every tree's importances, summed in tree order: the one-rank forest's sums.
            let all = try comm.allgatherv(treeImportances).values
            for t in 0 ..< p.nEstimators { for f in 0 ..< d { imp[f] += all[t * d + f] } }
        } else {
            for t in 0 ..< myTrees { for f in 0 ..< d { imp[f] += treeImportances[t * d + f] } }
            imp = try comm.allreduce(imp, op: .sum)
        }
        let s = imp.reduce(0, +)
        if s > 0 { imp = imp.map { $0 / s } }

        let provenance = ForestProvenance(ranks: comm.size, trainRows: totalRows, rowsPerRank: rowsPerRank, treesPerRank: treesPerRank,
                                          data: dataDescription, date: try fitDate(comm), mpilearn: MPILearnVersion.string)
        let header = ForestHeader(task: task, featureNames: data.featureNames, categories: data.categories.map { $0?.values },
                                  target: target, classes: names, parameters: p, nEstimators: p.nEstimators,
                                  featureImportances: imp, oobScore: nil, provenance: provenance)
        var model = ForestModel(header: header, trees: grown, treeIndices: (0 ..< myTrees).map { firstTree + $0 })
        if compact { model.predictors = predictors.map { $0! } }
        lap(&timings.communication)
        if p.oobScore {
            let own = firstTree ..< firstTree + model.treeCount
            let samples = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, n))
            defer { samples.deallocate() }
            model.header.oobScore = try oobScore(model, data: data.dataset, yCodes: yCodes, comm: comm) { g, counts in
                // Other ranks' trees never saw these rows; this rank's trees left out the rows they did not draw.
                guard own.contains(g) else { return false }
                _ = bootstrapSample(rows: n, draws: draws, bootstrap: true, seed: p.randomState, tree: UInt64(g), counts: counts, samples: samples)
                return true
            }
            if !keepTrees, let bins, d <= 256 {
                model.predictors = model.trees.map { BinnedPackedTree($0, bins: bins)! }
                model.trees = []
            }
            lap(&timings.communication)
        }
        model.timings = timings
        model.bins = bins
        return model
    }

    /// Every tree (with its global index and importances) in the parts of a forest checkpoint,
    /// in order: each part holds the trees finished since the one before.
    static func checkpointTrees(_ parts: [CheckpointState], path: String, outputs: Int,
                                features d: Int) throws -> (trees: [Tree], indices: [Int], importances: [Double]) {
        var trees: [Tree] = [], indices: [Int] = [], importances: [Double] = []
        for state in parts {
            let c = ModelContainer(kind: "forest-part", header: Data(), sections: state.sections)
            let (t, i) = try ForestModel.trees(from: c, path: path, outputs: outputs, features: d)
            trees += t
            indices += i
            importances += try state.section("importances", in: path).flatArray(of: Double.self, path: path)
        }
        guard importances.count == trees.count * d else {
            throw MPILearnError.dataError(SourceLocation(file: path), "checkpoint holds \(importances.count) importances for \(trees.count) trees; it is damaged")
        }
        return (trees, indices, importances)
    }

    /// The trees and importances a local-mode checkpoint holds for this rank (its first trees).
    static func restoreLocalTrees(_ parts: [CheckpointState], path: String, myTrees: Int, firstTree: Int, features d: Int,
                                  outputs: Int) throws -> (trees: [Tree], importances: [Double]) {
        let (trees, indices, importances) = try checkpointTrees(parts, path: path, outputs: outputs, features: d)
        guard trees.count <= myTrees, indices == (0 ..< trees.count).map({ firstTree + $0 }) else {
            throw MPILearnError.dataError(SourceLocation(file: path), "checkpoint holds trees \(indices.first ?? 0)… for another share of the forest; it was written for other data")
        }
        return (trees, importances)
    }

    /// Collective. The fit's date (ISO 8601, UTC) by rank 0's clock, so the header (and the
    /// whole model) is identical on every rank; `SOURCE_DATE_EPOCH` overrides the clock.
    static func fitDate(_ comm: any Communicator) throws -> String {
        let env = ProcessInfo.processInfo.environment
        let stamp = try comm.broadcast(env["SOURCE_DATE_EPOCH"].flatMap(Double.init) ?? Date().timeIntervalSince1970, root: 0)
        let fmt = ISO8601DateFormatter()
        fmt.timeZone = TimeZone(identifier: "UTC")
        return fmt.string(from: Date(timeIntervalSince1970: stamp))
    }

    /// The sorted union of every rank's target values (the classes), each row's class code,
    /// and the classes' counts over all ranks (this rank's alone when `replicated`).
    static func encodeClasses(_ y: [Double], comm: any Communicator, replicated: Bool) throws -> (values: [Double], codes: [Int32], counts: [Double]) {
        let local = Array(Set(y)).sorted()
        let classValues = Array(Set(try comm.allgatherv(local).values)).sorted()
        let yCodes = y.map { v in
            var lo = 0, hi = classValues.count - 1
            while lo < hi { let m = (lo + hi) / 2; if classValues[m] < v { lo = m + 1 } else { hi = m } }
            return Int32(lo)
        }
        var counts = [Double](repeating: 0, count: classValues.count)
        for c in yCodes { counts[Int(c)] += 1 }
        return (classValues, yCodes, replicated ? counts : try comm.allreduce(counts, op: .sum))
    }

    /// Draws a tree's bootstrap sample: `counts[i]` is row i's multiplicity, `samples[0..<m]`
    /// the distinct drawn rows in increasing order. Without bootstrap every row once.
    static func bootstrapSample(rows n: Int, draws: Int, bootstrap: Bool, seed: UInt64, tree g: UInt64,
                                counts: UnsafeMutablePointer<Int32>, samples: UnsafeMutablePointer<Int32>) -> Int {
        if !bootstrap {
            for i in 0 ..< n { counts[i] = 1; samples[i] = Int32(i) }
            return n
        }
        for i in 0 ..< n { counts[i] = 0 }
        var rng = Philox(seed: seed, domain: Domain.bootstrap, stream: g)
        for _ in 0 ..< draws { counts[rng.below(n)] += 1 }
        var m = 0
        for i in 0 ..< n where counts[i] > 0 { samples[m] = Int32(i); m += 1 }
        return m
    }

    /// The exact out-of-bag score over all ranks: each training row is predicted by every
    /// tree whose bootstrap sample did not draw it — all trees of the other ranks (which
    /// never saw the row) and this rank's trees that left it out — then accuracy (or R²)
    /// is combined by allreduce over the rows that have at least one such tree. Columns are
    /// read a row at a time (no row-major copy).
    /// - Parameter bagCounts: for tree `g`, fills each row's count in the tree's bag and
    ///   returns true, or returns false when the tree never saw this rank's rows.
    /// - Parameter ordered: compute R² from every row's (target, prediction) gathered in global
    ///   row order, so it does not depend on the rank count (the global forest records it).
    static func oobScore(_ model: ForestModel, data: Dataset<Double>, yCodes: [Int32], comm: any Communicator, ordered: Bool = false,
                         bagCounts: (_ g: Int, _ counts: UnsafeMutablePointer<Int32>) -> Bool) throws -> Double {
        let whole = try model.allgathered(comm)
        let n = data.rowCount, d = data.featureCount, k = model.header.outputs
        var sums = [Double](repeating: 0, count: n * k)
        var votes = [Double](repeating: 0, count: n)
        let counts = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, n))
        defer { counts.deallocate() }
        var one = [Double](repeating: 0, count: k)
        var row = [Double](repeating: 0, count: d)
        /// Calls `body` with row `i`'s features.
        func withRow(_ i: Int, _ body: (UnsafeBufferPointer<Double>) -> Void) {
            switch data.features {
            case .dense(let x):
                x.storage.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[(i * d) ..< (i * d + d)])) }
            case .columns(let columns, _):
                for f in 0 ..< d { row[f] = columns[f][i] }
                row.withUnsafeBufferPointer(body)
            case .coded(let columns, _):
                for f in 0 ..< d { row[f] = columns[f][i] }
                row.withUnsafeBufferPointer(body)
            case .sparse(let m):
                for f in 0 ..< d { row[f] = 0 }
                for q in m.range(ofRow: i) { row[Int(m.indices[q])] += m.data[q] }
                row.withUnsafeBufferPointer(body)
            }
        }
        for (t, g) in zip(whole.trees, whole.treeIndices) where n > 0 {
            let mine = bagCounts(g, counts)
            for i in 0 ..< n where !mine || counts[i] == 0 {
                for c in 0 ..< k { one[c] = 0 }
                withRow(i) { x in
                    one.withUnsafeMutableBufferPointer { o in t.accumulate(x, rows: 1, columns: d, into: o) }
                }
                for c in 0 ..< k { sums[i * k + c] += one[c] }
                votes[i] += 1
            }
        }
        let rows = (0 ..< n).filter { votes[$0] > 0 }
        if model.header.task == .classification {
            let pred = argmaxRows(sums, classes: k)
            let correct = rows.reduce(0.0) { $0 + (pred[$1] == Int(yCodes[$1]) ? 1 : 0) }
            let r = try comm.allreduce([correct, Double(rows.count)], op: .sum)
            return r[1] > 0 ? r[0] / r[1] : .nan
        } else {
            let yTrue = rows.map { data.target![$0] }, yPred = rows.map { sums[$0] / votes[$0] }
            if ordered && comm.size > 1 {
                let t = try comm.allgatherv(yTrue).values, p = try comm.allgatherv(yPred).values
                return try Metrics.r2(yTrue: t, yPred: p, comm: LocalCommunicator.solo())
            }
            return try Metrics.r2(yTrue: yTrue, yPred: yPred, comm: comm)
        }
    }
}

