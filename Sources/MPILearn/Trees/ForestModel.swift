import Foundation
import SwiftMPI

/// Where a model came from: saved in its header.
public struct ForestProvenance: Codable, Equatable, Sendable {
    /// Ranks of the training job.
    public var ranks: Int
    /// Training rows over all ranks, and per rank.
    public var trainRows: Int
    public var rowsPerRank: [Int]
    /// Trees grown by each rank (in proportion to its rows).
    public var treesPerRank: [Int]
    /// What the training data was (a path, or a generator description).
    public var data: String
    /// When the model was fitted (ISO 8601, UTC; `SOURCE_DATE_EPOCH` overrides the clock so
    /// builds of a model can be byte-identical).
    public var date: String
    public var mpilearn: String

    enum CodingKeys: String, CodingKey {
        case ranks, trainRows = "train_rows", rowsPerRank = "rows_per_rank", treesPerRank = "trees_per_rank", data, date, mpilearn
    }
}

/// The JSON header of a forest model file: everything but the trees.
public struct ForestHeader: Codable, Equatable, Sendable {
    public enum Task: String, Codable, Sendable, CaseIterable { case classification, regression }
    public var task: Task
    /// Feature names in column order; prediction inputs must have these columns.
    public var featureNames: [String]
    /// Per feature, the category dictionary (values in code order) of a categorical feature.
    public var categories: [[String]?]
    /// The target column (or expression such as `arr_delay>15`).
    public var target: String
    /// Class labels in class-code order (classification).
    public var classes: [String]
    public var parameters: RandomForestParameters
    /// Trees in the whole forest.
    public var nEstimators: Int
    /// Impurity-based importances, averaged over every tree of every rank, summing to 1.
    public var featureImportances: [Double]
    /// Out-of-bag score (accuracy or R²) if requested.
    public var oobScore: Double?
    public var provenance: ForestProvenance

    enum CodingKeys: String, CodingKey {
        case task, featureNames = "feature_names", categories, target, classes, parameters, nEstimators = "n_estimators"
        case featureImportances = "feature_importances", oobScore = "oob_score", provenance
    }

    public var outputs: Int { task == .classification ? classes.count : 1 }
    public var kind: String { task == .classification ? ForestModel.classifierKind : ForestModel.regressorKind }
}

/// Seconds spent in the phases of a fit, split into compute and communication.
public struct ForestFitTimings: Sendable {
    public var bin = 0.0
    public var grow = 0.0
    public var communication = 0.0
    /// Global mode: bytes this rank sent in the fit's collectives, their number, and the
    /// seconds spent in the growth's collectives (part of `grow`).
    public var bytes = 0
    public var collectives = 0
    public var reduceSeconds = 0.0
    public init() {}
}

/// A random forest: header plus some or all of its trees.
///
/// After `fit` each rank holds only the trees it grew (``isComplete`` is false with more
/// than one rank); ``gathered(_:root:)`` and ``allgathered(_:)`` assemble the whole forest,
/// ``load(from:)`` reads a saved one. Trees are kept in global tree-index order.
///
/// A model fitted with `keepTrees: false` holds each tree only as its compact predictor
/// (``predictors``, on the fit's ``bins``): it predicts exactly as the full trees would, but
/// cannot be saved, gathered or allgathered.
public struct ForestModel: Sendable {
    public static let classifierKind = "random-forest-classifier"
    public static let regressorKind = "random-forest-regressor"

    public var header: ForestHeader
    /// The full trees (empty when only ``predictors`` are kept).
    public var trees: [Tree]
    /// Global index of each tree held here (in `trees`, or in ``predictors``).
    public var treeIndices: [Int]
    /// The trees packed for prediction on ``bins`` codes, in ``treeIndices`` order, when the
    /// fit kept no full trees; else empty.
    public internal(set) var predictors: [BinnedPackedTree] = []
    /// Timings of the fit that produced this model (not saved).
    public var timings = ForestFitTimings()
    /// The bins this rank's trees were grown on (after `fit`, not saved): ``sumOutputs``
    /// then predicts on codes binned with them (exactly the same result, see
    /// ``BinnedPackedTree``). Models assembled across ranks or loaded have none.
    public var bins: FeatureBins?

    public init(header: ForestHeader, trees: [Tree], treeIndices: [Int]) {
        self.header = header
        self.trees = trees
        self.treeIndices = treeIndices
    }

    /// Trees held here (full trees or compact predictors).
    public var treeCount: Int { treeIndices.count }

    /// True when every tree of the forest is here.
    public var isComplete: Bool { treeCount == header.nEstimators }

    /// Throws unless the full trees are here (a model file and the messages between ranks hold them).
    func requireFullTrees(_ action: String) throws {
        guard trees.count == treeIndices.count else {
            throw MPILearnError.mismatch("cannot \(action): this model keeps only its trees' compact predictors (fitted with keepTrees: false)")
        }
    }

    // MARK: trees as flat sections

    /// The trees as named flat arrays (the model file's sections).
    static func sections(_ trees: [Tree], _ indices: [Int]) -> [(name: String, bytes: Data)] {
        func cat<T: BitwiseCopyable>(_ key: KeyPath<Tree, [T]>) -> Data { Data(flat: trees.flatMap { $0[keyPath: key] }) }
        return [
            ("tree_index", Data(flat: indices.map { Int64($0) })),
            ("node_count", Data(flat: trees.map { Int64($0.nodeCount) })),
            ("feature", cat(\.feature)), ("threshold", cat(\.threshold)), ("left", cat(\.left)), ("right", cat(\.right)),
            ("missing_left", cat(\.missingGoesLeft)), ("samples", cat(\.samples)), ("weighted_samples", cat(\.weightedSamples)),
            ("impurity", cat(\.impurity)), ("value", cat(\.value)),
        ]
    }

    /// Trees from sections written by ``sections(_:_:)``, with every structure checked.
    static func trees(from c: ModelContainer, path: String, outputs: Int, features: Int) throws -> ([Tree], [Int]) {
        func bad(_ m: String) -> MPILearnError { .dataError(SourceLocation(file: path), m) }
        let indices = try c.section("tree_index", in: path).flatArray(of: Int64.self, path: path).map { Int($0) }
        let counts = try c.section("node_count", in: path).flatArray(of: Int64.self, path: path).map { Int($0) }
        // No tree has more nodes than the feature section holds entries, so the sum below
        // cannot overflow even in a crafted file.
        let maxNodes = try c.section("feature", in: path).count / MemoryLayout<Int32>.stride
        guard counts.count == indices.count, counts.allSatisfy({ $0 >= 1 && $0 <= maxNodes }) else {
            throw bad("model file has inconsistent tree tables; it is corrupt")
        }
        let total = counts.reduce(0, +)
        // Each tree's arrays are copied straight out of the file's bytes (the sections are
        // slices of them): loading holds the file and the trees, nothing more.
        func section<T: BitwiseCopyable>(_ name: String, _ type: T.Type, per node: Int = 1) throws -> Data {
            let bytes = try c.section(name, in: path)
            try bytes.requireValues(T.self, count: total * node, path: path, what: "section '\(name)'")
            return bytes
        }
        let feature = try section("feature", Int32.self), threshold = try section("threshold", Double.self)
        let left = try section("left", Int32.self), right = try section("right", Int32.self)
        let missing = try section("missing_left", UInt8.self), samples = try section("samples", Int32.self)
        let weighted = try section("weighted_samples", Double.self), impurity = try section("impurity", Double.self)
        let value = try section("value", Double.self, per: outputs)
        var trees: [Tree] = []
        trees.reserveCapacity(counts.count)
        var o = 0
        for (t, n) in counts.enumerated() {
            var tree = Tree(outputs: outputs)
            tree.feature = feature.values(Int32.self, from: o, count: n)
            tree.threshold = threshold.values(Double.self, from: o, count: n)
            tree.left = left.values(Int32.self, from: o, count: n)
            tree.right = right.values(Int32.self, from: o, count: n)
            tree.missingGoesLeft = missing.values(UInt8.self, from: o, count: n)
            tree.samples = samples.values(Int32.self, from: o, count: n)
            tree.weightedSamples = weighted.values(Double.self, from: o, count: n)
            tree.impurity = impurity.values(Double.self, from: o, count: n)
            tree.value = value.values(Double.self, from: o * outputs, count: n * outputs)
            if let problem = tree.validate(features: features) { throw bad("tree \(t): \(problem); the model file is corrupt") }
            trees.append(tree)
            o += n
        }
        return (trees, indices)
    }

    static var headerEncoder: JSONEncoder { ModelJSON.encoder }

    /// The model file container (header JSON + tree sections).
    public func container() throws -> ModelContainer {
        guard isComplete else {
            throw MPILearnError.mismatch("cannot save a partial forest (\(treeCount) of \(header.nEstimators) trees); gather it first")
        }
        try requireFullTrees("save the forest")
        return ModelContainer(kind: header.kind, header: try Self.headerEncoder.encode(header), sections: Self.sections(trees, treeIndices))
    }

    /// Writes the model atomically to `path` (call on one rank, holding the whole forest).
    public func write(to path: String) throws {
        guard isComplete else {
            throw MPILearnError.mismatch("cannot save a partial forest (\(treeCount) of \(header.nEstimators) trees); gather it first")
        }
        try requireFullTrees("save the forest")
        try container().write(to: path)
    }

    /// Reads a forest model file; no MPI needed.
    /// - Parameter kinds: accepted kinds (default: classifier and regressor).
    /// - Throws: ``MPILearnError`` for a missing, truncated, corrupt, newer or other-kind file.
    public static func load(from path: String, kinds: [String] = [classifierKind, regressorKind]) throws -> ForestModel {
        let c = try ModelContainer.read(from: path, expectedKinds: kinds)
        return try decode(c, path: path)
    }

    /// The forest in a model file's bytes (read on one rank and broadcast to the others),
    /// decoded without a second copy of them.
    public static func decode(fileBytes: [UInt8], path: String, kinds: [String] = [classifierKind, regressorKind]) throws -> ForestModel {
        try ModelContainer.decode(bytes: fileBytes, path: path, expectedKinds: kinds) { try decode($0, path: path) }
    }

    /// The forest in a decoded container (kind, header and every tree checked).
    public static func decode(_ c: ModelContainer, path: String) throws -> ForestModel {
        let header: ForestHeader
        do { header = try ModelJSON.decoder.decode(ForestHeader.self, from: c.header) } catch {
            throw MPILearnError.dataError(SourceLocation(file: path), "model header is not valid: \(error)")
        }
        guard header.kind == c.kind else {
            throw MPILearnError.dataError(SourceLocation(file: path), "model header says \(header.task.rawValue) but the file kind is '\(c.kind)'")
        }
        let (trees, indices) = try trees(from: c, path: path, outputs: header.outputs, features: header.featureNames.count)
        guard trees.count == header.nEstimators, Set(indices).count == indices.count else {
            throw MPILearnError.dataError(SourceLocation(file: path), "model file holds \(trees.count) trees but its header says \(header.nEstimators); it is corrupt")
        }
        return ForestModel(header: header, trees: trees, treeIndices: indices)
    }

    // MARK: assembling the forest across ranks

    func partBytes() throws -> [UInt8] {
        try requireFullTrees("send the trees to other ranks")
        return [UInt8](ModelContainer(kind: "forest-part", header: Data(), sections: Self.sections(trees, treeIndices)).encoded())
    }

    private func merged(_ parts: [UInt8], _ layout: Layout, ranks: Int) throws -> ForestModel {
        var all: [(Int, Tree)] = []
        for r in 0 ..< ranks {
            let c = try ModelContainer.decode(Data(parts[layout.range(of: r)]), path: "rank \(r)'s trees")
            let (t, i) = try Self.trees(from: c, path: "rank \(r)'s trees", outputs: header.outputs, features: header.featureNames.count)
            all += zip(i, t).map { ($0, $1) }
        }
        all.sort { $0.0 < $1.0 }
        var m = ForestModel(header: header, trees: all.map(\.1), treeIndices: all.map(\.0))
        m.timings = timings
        return m
    }

    /// Collective. `root` receives the whole forest (every rank's trees, in tree-index
    /// order); the other ranks get nil.
    public func gathered(_ comm: any Communicator, root: Int = 0) throws -> ForestModel? {
        guard let (bytes, layout) = try comm.gatherv(try partBytes(), root: root) else { return nil }
        return try merged(bytes, layout, ranks: comm.size)
    }

    /// Collective. Every rank receives the whole forest (allgatherv of serialised trees).
    public func allgathered(_ comm: any Communicator) throws -> ForestModel {
        let (bytes, layout) = try comm.allgatherv(try partBytes())
        return try merged(bytes, layout, ranks: comm.size)
    }

    // MARK: prediction

    /// Checks that `x` has the model's number of features.
    public func checkFeatures(_ x: Matrix<Double>) throws {
        guard x.columns == header.featureNames.count else {
            throw MPILearnError.mismatch("input has \(x.columns) features but the model was trained on \(header.featureNames.count) (\(header.featureNames.joined(separator: ", ")))")
        }
    }

    /// The sum over this model's trees of each row's output (`rows × outputs`): class
    /// fractions (or, with `hard`, one vote per tree for its class) or regression values.
    /// Packs the trees for prediction first (``predictor()``); to predict many chunks, make
    /// the predictor once and call its ``ForestPredictor/sumOutputs(_:hard:threads:)``.
    public func sumOutputs(_ x: Matrix<Double>, hard: Bool = false, threads: Int = 1) throws -> [Double] {
        try checkFeatures(x)
        return try predictor().sumOutputs(x, hard: hard, threads: threads)
    }

    /// The trees packed for prediction, in tree-index order:
    /// * the ``predictors`` when the model keeps only those (they need ``bins``);
    /// * trees grown here on ``bins``: packed on those bins' one-byte codes;
    /// * other trees (gathered from other ranks or loaded from a file): packed on bins made
    ///   of their own thresholds — consecutive trees share bins while no feature has more than
    ///   254 distinct thresholds among them (the trees one rank grew always do), so a model
    ///   gathered from P ranks bins each row about P times;
    /// * else (a model whose trees would each need their own bins) on raw values.
    /// Every form sums exactly the same Doubles in the same order.
    public func predictor() throws -> ForestPredictor {
        let d = header.featureNames.count, k = header.outputs
        if !predictors.isEmpty {
            guard let bins, bins.edges.count == d else {
                throw MPILearnError.mismatch("this model keeps only compact predictors, which need the bins of its fit")
            }
            return ForestPredictor(groups: [(bins, predictors)], outputs: k, features: d)
        }
        if let bins, bins.edges.count == d {
            let packed = trees.compactMap { BinnedPackedTree($0, bins: bins) }
            if packed.count == trees.count { return ForestPredictor(groups: [(bins, packed)], outputs: k, features: d) }
        }
        if let groups = thresholdGroups(features: d) { return ForestPredictor(groups: groups, outputs: k, features: d) }
        return ForestPredictor(raw: trees.map(PackedTree.init), outputs: k, features: d)
    }

    /// Consecutive trees grouped so that no feature has more than 254 distinct thresholds
    /// within a group, each group packed on bins whose edges are exactly those thresholds (so
    /// `code ≤ b` ⟺ `value ≤ threshold`). Nil when that takes more than one group per four
    /// trees on average (binning rows once per group would cost more than it saves).
    func thresholdGroups(features d: Int) -> [(FeatureBins, [BinnedPackedTree])]? {
        guard d <= 256, !trees.isEmpty else { return nil }
        var runs: [(start: Int, end: Int, edges: [Set<Double>])] = []
        var current = [Set<Double>](repeating: [], count: d), start = 0
        for (i, t) in trees.enumerated() {
            var mine = [Set<Double>](repeating: [], count: d)
            for n in 0 ..< t.nodeCount where t.feature[n] >= 0 && t.threshold[n] != .infinity {
                mine[Int(t.feature[n])].insert(t.threshold[n] + 0)   // -0.0 and 0.0 as one
            }
            guard mine.allSatisfy({ $0.count <= 254 }) else { return nil }
            if (0 ..< d).contains(where: { current[$0].union(mine[$0]).count > 254 }) {
                runs.append((start, i, current))
                current = mine
                start = i
            } else {
                for f in 0 ..< d { current[f].formUnion(mine[f]) }
            }
        }
        runs.append((start, trees.count, current))
        guard runs.count * 4 <= trees.count || runs.count == 1 else { return nil }
        var groups: [(FeatureBins, [BinnedPackedTree])] = []
        for r in runs {
            let bins = FeatureBins(edges: r.edges.map { $0.sorted() })
            let packed = trees[r.start ..< r.end].compactMap { BinnedPackedTree($0, bins: bins) }
            guard packed.count == r.end - r.start else { return nil }
            groups.append((bins, packed))
        }
        return groups
    }
}

/// A forest's trees packed for prediction (``ForestModel/predictor()``): groups of trees on
/// one-byte codes of their group's bins, or trees on raw values. Made once, it predicts any
/// number of chunks of rows.
public struct ForestPredictor: Sendable {
    let groups: [(bins: FeatureBins, trees: [BinnedPackedTree])]
    let raw: [PackedTree]
    /// Numbers summed per row (classes, or 1 for regression).
    public let outputs: Int
    let features: Int

    init(groups: [(FeatureBins, [BinnedPackedTree])], outputs: Int, features: Int) {
        self.groups = groups.map { (bins: $0.0, trees: $0.1) }
        raw = []
        self.outputs = outputs
        self.features = features
    }

    init(raw: [PackedTree], outputs: Int, features: Int) {
        groups = []
        self.raw = raw
        self.outputs = outputs
        self.features = features
    }

    /// How the trees are packed: "codes" (with the number of bin groups) or "raw values".
    public var form: String { raw.isEmpty ? "codes (\(groups.count) bin group(s))" : "raw values" }

    /// The sum over the trees of each row's output (`rows × outputs`), trees in index order
    /// for every row whatever the thread count.
    ///
    /// On codes: each group's bins code the rows once (padded by 4 bytes for the descent's
    /// gathers); then each tree is descended by a whole chunk of rows before the next tree, so
    /// its nodes are fetched into cache once per chunk. One thread takes up to 65,536 rows as
    /// one chunk; several threads share chunks of 16,384 rows, each taking the next free one.
    public func sumOutputs(_ x: Matrix<Double>, hard: Bool = false, threads: Int = 1) throws -> [Double] {
        guard x.columns == features else {
            throw MPILearnError.mismatch("input has \(x.columns) features but the model was trained on \(features)")
        }
        let rows = x.rows, d = x.columns, k = outputs
        var out = [Double](repeating: 0, count: rows * k)
        for g in groups {
            accumulateInChunks(g.bins.bin(x, padding: 4), rows: rows, columns: d, outputs: k, chunk: threads > 1 ? 16384 : 65536,
                               threads: threads, tail: 4, into: &out) { cc, n, oc in
                var scratch: [Int32] = []
                for t in g.trees { t.accumulate(cc, rows: n, columns: d, into: oc, hard: hard, scratch: &scratch) }
            }
        }
        if !raw.isEmpty {
            accumulateInChunks(x.storage, rows: rows, columns: d, outputs: k, chunk: 1024, threads: threads, into: &out) { xc, n, oc in
                for t in raw { t.accumulate(xc, rows: n, columns: d, into: oc, hard: hard) }
            }
        }
        return out
    }
}

extension ForestPredictor {
    /// Whether ``stagedSums(_:stages:)`` can serve `stages`: the trees are one group on
    /// one-byte codes, and the stages ascend from at least 1 to at most the tree count.
    public func canStage(_ stages: [Int]) -> Bool {
        guard groups.count == 1, raw.isEmpty, let first = stages.first, let last = stages.last else { return false }
        return first >= 1 && last <= groups[0].trees.count && stages == stages.sorted()
    }

    /// The sums of ``sumOutputs(_:hard:threads:)`` after each of `stages` trees (ascending,
    /// at most the tree count): entry j equals the sums of a forest of the first `stages[j]`
    /// trees, bit for bit, because every row's sum is accumulated tree by tree in index order
    /// and copied as it passes each stage. One pass over the trees serves every stage.
    public func stagedSums(_ x: Matrix<Double>, stages: [Int]) throws -> [[Double]] {
        var staged: [[Double]] = []
        try forEachStage(Dataset(features: x), rows: nil, stages: stages) { _, sums in staged.append(sums) }
        return staged
    }

    /// Calls `body(j, sums)` for each of `stages` (ascending, at most the tree count) with
    /// the sums of a forest of the first `stages[j]` trees over rows `rows` of `x` (every row
    /// when nil), bit for bit those of ``sumOutputs(_:hard:threads:)``: each row's sum is
    /// accumulated tree by tree in index order and handed to `body` as it passes a stage. The
    /// rows are binned once (one byte a value) and one sum array serves every stage, so a
    /// search scores all its nested candidates in one pass and in the memory of one.
    public func forEachStage(_ x: Dataset<Double>, rows: [Int]?, stages: [Int], _ body: (Int, [Double]) throws -> Void) throws {
        guard x.featureCount == features else {
            throw MPILearnError.mismatch("input has \(x.featureCount) features but the model was trained on \(features)")
        }
        let d = x.featureCount, k = outputs
        guard canStage(stages), let last = stages.last else {
            throw MPILearnError.mismatch("staged sums need one group of binned trees and ascending stages within it")
        }
        let g = groups[0]
        let n = rows?.count ?? x.rowCount
        let codes = g.bins.bin(x, rows: rows, padding: 4)
        var sums = [Double](repeating: 0, count: n * k)
        var scratch: [Int32] = []
        var next = 0
        for (t, tree) in g.trees.prefix(last).enumerated() {
            codes.withUnsafeBufferPointer { cc in
                sums.withUnsafeMutableBufferPointer { oc in tree.accumulate(cc, rows: n, columns: d, into: oc, hard: false, scratch: &scratch) }
            }
            while next < stages.count && stages[next] == t + 1 {
                try body(next, sums)
                next += 1
            }
        }
    }
}

/// Splits `rows × columns` inputs and `rows × outputs` sums into chunks of `chunk` rows (a chunk
/// stays in cache while every tree visits it), spread over `threads` threads, and calls
/// `body(inputChunk, chunkRows, outputChunk)` once per chunk; an input chunk also shows the
/// `tail` elements after it (the next chunk's first, or the input's padding). Chunks do not overlap, so the
/// result is the same for any thread count.
func accumulateInChunks<E>(_ input: [E], rows: Int, columns d: Int, outputs k: Int, chunk: Int, threads: Int, tail: Int = 0,
                           into out: inout [Double], _ body: (UnsafeBufferPointer<E>, Int, UnsafeMutableBufferPointer<Double>) -> Void) {
    let chunks = (rows + chunk - 1) / chunk
    out.withUnsafeMutableBufferPointer { o in
        input.withUnsafeBufferPointer { xs in
            let ob = UncheckedSendable(o), xb = UncheckedSendable(xs)
            withoutActuallyEscaping(body) { b in
                let bb = UncheckedSendable(b)
                forEachChunk(chunks, threads: threads) { c in
                    let r0 = c * chunk, r1 = min(rows, r0 + chunk)
                    bb.value(UnsafeBufferPointer(rebasing: xb.value[(r0 * d) ..< min(xb.value.count, r1 * d + tail)]), r1 - r0,
                             UnsafeMutableBufferPointer(rebasing: ob.value[(r0 * k) ..< (r1 * k)]))
                }
            }
        }
    }
}

/// Runs `work(c)` for every chunk `c` in `0 ..< chunks`, on up to `threads` threads: each
/// thread takes the next chunk not yet taken, so a thread slowed by other load on the node
/// does fewer chunks instead of holding up the rest. Each chunk writes only its own rows, so
/// the result does not depend on the thread count or on which thread ran which chunk.
func forEachChunk(_ chunks: Int, threads: Int, _ work: (Int) -> Void) {
    if threads <= 1 || chunks <= 1 {
        for c in 0 ..< chunks { work(c) }
        return
    }
    let t = min(threads, chunks)
    let lock = NSLock()
    var taken = 0
    withoutActuallyEscaping(work) { w in
        let box = UncheckedSendable(w)
        let next = UncheckedSendable({ () -> Int in
            lock.lock()
            defer { lock.unlock() }
            taken += 1
            return taken - 1
        })
        DispatchQueue.concurrentPerform(iterations: t) { _ in
            while true {
                let c = next.value()
                if c >= chunks { break }
                box.value(c)
            }
        }
    }
}

/// Wraps a value the compiler cannot prove thread-safe but which the code shares safely
/// (disjoint writes to one buffer from several threads).
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}

/// The class with the largest score in each row of `scores` (`rows × k`), ties to the
/// lowest class code (numpy's `argmax`).
public func argmaxRows(_ scores: [Double], classes k: Int) -> [Int] {
    guard k > 0 else { return [] }
    let rows = scores.count / k
    var out = [Int](repeating: 0, count: rows)
    for i in 0 ..< rows {
        var best = 0
        for c in 1 ..< k where scores[i * k + c] > scores[i * k + best] { best = c }
        out[i] = best
    }
    return out
}
