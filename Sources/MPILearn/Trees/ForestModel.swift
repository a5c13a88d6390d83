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
    public enum Task: String, Codable, Sendable { case classification, regression }
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
        guard counts.count == indices.count, counts.allSatisfy({ $0 >= 1 }) else { throw bad("model file has inconsistent tree tables; it is corrupt") }
        let total = counts.reduce(0, +)
        let feature = try c.section("feature", in: path).flatArray(of: Int32.self, path: path)
        let threshold = try c.section("threshold", in: path).flatArray(of: Double.self, path: path)
        let left = try c.section("left", in: path).flatArray(of: Int32.self, path: path)
        let right = try c.section("right", in: path).flatArray(of: Int32.self, path: path)
        let missing = try c.section("missing_left", in: path).flatArray(of: UInt8.self, path: path)
        let samples = try c.section("samples", in: path).flatArray(of: Int32.self, path: path)
        let weighted = try c.section("weighted_samples", in: path).flatArray(of: Double.self, path: path)
        let impurity = try c.section("impurity", in: path).flatArray(of: Double.self, path: path)
        let value = try c.section("value", in: path).flatArray(of: Double.self, path: path)
        guard [feature.count, threshold.count, left.count, right.count, missing.count, samples.count, weighted.count, impurity.count].allSatisfy({ $0 == total }),
              value.count == total * outputs else { throw bad("model file node arrays do not match its \(total) nodes; it is corrupt") }
        var trees: [Tree] = []
        trees.reserveCapacity(counts.count)
        var o = 0
        for (t, n) in counts.enumerated() {
            var tree = Tree(outputs: outputs)
            tree.feature = Array(feature[o ..< o + n]); tree.threshold = Array(threshold[o ..< o + n])
            tree.left = Array(left[o ..< o + n]); tree.right = Array(right[o ..< o + n])
            tree.missingGoesLeft = Array(missing[o ..< o + n]); tree.samples = Array(samples[o ..< o + n])
            tree.weightedSamples = Array(weighted[o ..< o + n]); tree.impurity = Array(impurity[o ..< o + n])
            tree.value = Array(value[o * outputs ..< (o + n) * outputs])
            if let problem = tree.validate(features: features) { throw bad("tree \(t): \(problem); the model file is corrupt") }
            trees.append(tree)
            o += n
        }
        return (trees, indices)
    }

    static let headerEncoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    /// The model file container (header JSON + tree sections).
    public func container() throws -> ModelContainer {
        ModelContainer(kind: header.kind, header: try Self.headerEncoder.encode(header), sections: Self.sections(trees, treeIndices))
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

    /// The forest in a decoded container (kind, header and every tree checked).
    public static func decode(_ c: ModelContainer, path: String) throws -> ForestModel {
        let header: ForestHeader
        do { header = try JSONDecoder().decode(ForestHeader.self, from: c.header) } catch {
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

    private func partBytes() throws -> [UInt8] {
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
    ///
    /// Predicts with the ``predictors`` when the model keeps only those; otherwise the trees
    /// are first packed for prediction: on one-byte codes (``BinnedPackedTree``) when they
    /// were grown here on ``bins``, else on raw values (``PackedTree``). Rows go in chunks of
    /// 1024 so a chunk stays in cache while every tree visits it; chunks are spread over
    /// `threads` threads. Each row's sum runs over the trees in index order whatever the
    /// thread count.
    public func sumOutputs(_ x: Matrix<Double>, hard: Bool = false, threads: Int = 1) throws -> [Double] {
        try checkFeatures(x)
        let k = header.outputs, rows = x.rows, d = x.columns
        var out = [Double](repeating: 0, count: rows * k)
        if !predictors.isEmpty {
            guard let bins, bins.edges.count == d else {
                throw MPILearnError.mismatch("this model keeps only compact predictors, which need the bins of its fit")
            }
            accumulateCoded(predictors, bins.bin(x, padding: 4), rows: rows, columns: d, hard: hard, threads: threads, into: &out)
            return out
        }
        // Trees grown here on `bins`: predict on one-byte codes.
        if let bins, bins.edges.count == d {
            let packed = self.trees.compactMap { BinnedPackedTree($0, bins: bins) }
            if packed.count == self.trees.count {
                accumulateCoded(packed, bins.bin(x, padding: 4), rows: rows, columns: d, hard: hard, threads: threads, into: &out)
                return out
            }
        }
        let trees = self.trees.map(PackedTree.init)
        accumulateInChunks(x.storage, rows: rows, columns: d, outputs: k, chunk: 1024, threads: threads, into: &out) { xc, n, oc in
            for t in trees { t.accumulate(xc, rows: n, columns: d, into: oc, hard: hard) }
        }
        return out
    }

    /// Sums `trees`' outputs over `codes` (padded by 4 bytes) in chunks of rows: each tree is
    /// descended by a whole chunk before the next tree, so its nodes are fetched into cache
    /// once per chunk, not once per few rows. One thread takes all rows (up to 65,536) as one
    /// chunk; several threads share chunks of 16,384 rows, taken as each thread becomes free.
    private func accumulateCoded(_ trees: [BinnedPackedTree], _ codes: [UInt8], rows: Int, columns d: Int, hard: Bool,
                                 threads: Int, into out: inout [Double]) {
        accumulateInChunks(codes, rows: rows, columns: d, outputs: header.outputs, chunk: threads > 1 ? 16384 : 65536, threads: threads, into: &out) { cc, n, oc in
            var scratch: [Int32] = []
            for t in trees { t.accumulate(cc, rows: n, columns: d, into: oc, hard: hard, scratch: &scratch) }
        }
    }
}

/// Splits `rows × columns` inputs and `rows × outputs` sums into chunks of `chunk` rows (a chunk
/// stays in cache while every tree visits it), spread over `threads` threads, and calls
/// `body(inputChunk, chunkRows, outputChunk)` once per chunk. Chunks do not overlap, so the
/// result is the same for any thread count.
func accumulateInChunks<E>(_ input: [E], rows: Int, columns d: Int, outputs k: Int, chunk: Int, threads: Int, into out: inout [Double],
                           _ body: (UnsafeBufferPointer<E>, Int, UnsafeMutableBufferPointer<Double>) -> Void) {
    let chunks = (rows + chunk - 1) / chunk
    out.withUnsafeMutableBufferPointer { o in
        input.withUnsafeBufferPointer { xs in
            let ob = UncheckedSendable(o), xb = UncheckedSendable(xs)
            withoutActuallyEscaping(body) { b in
                let bb = UncheckedSendable(b)
                forEachChunk(chunks, threads: threads) { c in
                    let r0 = c * chunk, r1 = min(rows, r0 + chunk)
                    bb.value(UnsafeBufferPointer(rebasing: xb.value[(r0 * d) ..< (r1 * d)]), r1 - r0,
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
