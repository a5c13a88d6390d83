import CKernels
import Foundation
import SwiftMPI

/// The data-parallel tree learner of the global forest (`mode = global`): every tree is grown
/// on all the rows of all the ranks, and the forest is byte-identical for any rank count.
///
/// **Steps.** A node's split is found in three separate steps: each rank builds histograms of
/// the node's sampled features over its own rows (``buildHistograms``), the histograms are
/// summed over the ranks (one allreduce carrying every open node of several trees at once),
/// and every rank scans the sums with the serial learner's ``SplitScanner``, so all ranks pick
/// the same split and apply it to their own rows. At one rank the reduction is skipped.
///
/// **Why the result does not depend on the rank count.** Histogram statistics are integers —
/// distinct rows and bootstrap counts per class (class weights are applied when a histogram is
/// scanned, not when rows are added), or for regression rows, Σw, Σw·q and Σw·q² of targets in
/// fixed point (``FixedPointTarget``) — so their sums are exact in any order and over any split
/// of the rows. Each node's features are drawn from its own random stream, keyed by
/// (random_state, tree, the node's path from the root), not from a stream shared by the nodes
/// in growth order. Bins and bootstrap counts are global (``GlobalForest``). A node's split is
/// then a function of its global histogram and its path alone.
///
/// **Small nodes are finished on one rank.** Once a node holds few enough rows
/// (``smallNode``), summing its subtree's histograms over the ranks would cost more than moving
/// its rows: the ranks send those rows to one owner (an alltoallv per batch of trees, owners
/// chosen by a greedy balance of row counts), which grows the subtree alone with the same
/// per-node steps, and the finished subtrees go to the rank that keeps the tree. Because a
/// node's split does not depend on where it is computed, the threshold may depend on the rank
/// count without changing the forest.
///
/// **Histogram subtraction** (build the smaller child, derive the larger from the parent) is
/// used in the one-rank growth when every node evaluates every feature (``growLocal``); with
/// feature draws it is not, for the serial learner's reason: each node samples its own
/// `max_features` features, so a child's features are rarely its parent's.
///
/// The histogram layout is `S` statistics per bin (rows, then the task's sums); gradient
/// boosting would add (gradient, hessian) sums per bin to the same layout and steps.
final class HistogramGrower {
    let params: TreeParameters
    let K: Int, S: Int, F: Int, stride: Int
    let mtry: Int
    /// Per feature, its missing code (non-missing codes are `0 ..< missCode`).
    let missCodes: [Int]
    let edges: [[Double]]
    /// The features that vary over all rows of all ranks, ascending.
    let candidates: [Int32]
    let seed: UInt64
    let threads: Int
    let maxCodes: Int

    static let featureDomain = RandomDomains.globalForestFeatures

    init(params: TreeParameters, classes: Int, bins: FeatureBins, candidates: [Int32], seed: UInt64, threads: Int) {
        self.params = params
        K = classes
        S = classes > 0 ? classes + 1 : 4
        F = bins.edges.count
        stride = max(1, (F + 7) / 8) * 8
        mtry = params.maxFeatures.resolve(features: F)
        missCodes = bins.edges.map { $0.count + 1 }
        edges = bins.edges
        self.candidates = candidates
        self.seed = seed
        self.threads = max(1, threads)
        maxCodes = (bins.edges.map { $0.count + 2 }.max() ?? 2)
    }

    // MARK: working set of one tree on one rank

    /// One tree's in-bag rows on this rank, in node order: row-major codes (`stride` bytes a
    /// row), bootstrap counts, and class codes (classification) or fixed-point targets
    /// (regression). Each open node owns a contiguous range.
    final class Work {
        let tree: Int
        var rows: Int
        var codes: UnsafeMutablePointer<UInt8>
        var weight: UnsafeMutablePointer<Int32>
        var label: UnsafeMutablePointer<Int32>
        var q: UnsafeMutablePointer<Int64>
        /// How integer statistics become weighted ones: the class weights of this tree
        /// (`balanced_subsample` differs per tree), or for regression `[scale]`, the value of
        /// one fixed-point unit of the target.
        var statWeights: [Double]
        /// Regression: the target value of fixed point 0 (leaf values add it).
        var offset = 0.0
        var rootWeight = 0.0
        /// The nodes grown over all ranks (identical on every rank); a child link `<= -2`
        /// is the small node finished on one rank as `jobs[-2 - link]`.
        var top: Tree
        var jobs: [Job] = []

        init(tree: Int, capacity: Int, stride: Int, outputs: Int, statWeights: [Double], regression: Bool = false) {
            self.tree = tree
            rows = 0
            codes = .allocate(capacity: max(1, capacity * stride))
            weight = .allocate(capacity: max(1, capacity))
            label = .allocate(capacity: regression ? 1 : max(1, capacity))
            q = .allocate(capacity: regression ? max(1, capacity) : 1)
            self.statWeights = statWeights
            top = Tree(outputs: outputs)
        }

        func free() {
            codes.deallocate(); weight.deallocate(); label.deallocate(); q.deallocate()
            codes = .allocate(capacity: 1); weight = .allocate(capacity: 1); label = .allocate(capacity: 1); q = .allocate(capacity: 1)
            rows = 0
        }

        deinit { codes.deallocate(); weight.deallocate(); label.deallocate(); q.deallocate() }
    }

    /// A node to finish on one rank: its rows' local range, its depth, key and global statistics.
    struct Job {
        var start: Int, end: Int
        var depth: Int
        var key: UInt64
        var stats: [Int64]
        var rows: Int { Int(stats[0]) }
    }

    /// A node whose split is being looked for.
    struct OpenNode {
        var node: Int
        var start: Int, end: Int
        var depth: Int
        var key: UInt64
        var stats: [Int64]
        /// Its weighted impurity `W · impurity`.
        var wimp: Double
    }

    /// Per-thread buffers: one feature's histogram (integer and weighted), the codes it
    /// touched, the node's feature order and the partition scratch.
    final class Scratch {
        let hist: UnsafeMutablePointer<Int64>
        let dhist: UnsafeMutablePointer<Double>
        let touched: UnsafeMutablePointer<Int32>
        let order: UnsafeMutablePointer<Int32>
        let bestLeft: UnsafeMutablePointer<Int64>
        let scanner: SplitScanner
        let nodeStats: UnsafeMutablePointer<Double>
        /// A node's value (K class fractions, or the mean).
        let value: UnsafeMutablePointer<Double>
        var capacity = 0
        var codes2: UnsafeMutablePointer<UInt8> = .allocate(capacity: 1)
        var weight2: UnsafeMutablePointer<Int32> = .allocate(capacity: 1)
        var label2: UnsafeMutablePointer<Int32> = .allocate(capacity: 1)
        var q2: UnsafeMutablePointer<Int64> = .allocate(capacity: 1)

        init(_ g: HistogramGrower) {
            hist = .allocate(capacity: g.maxCodes * g.S)
            hist.initialize(repeating: 0, count: g.maxCodes * g.S)
            dhist = .allocate(capacity: g.maxCodes * g.S)
            touched = .allocate(capacity: g.maxCodes + 1)
            order = .allocate(capacity: max(1, g.candidates.count))
            bestLeft = .allocate(capacity: g.S)
            scanner = SplitScanner(classes: g.K, criterion: g.params.criterion, minSamplesLeaf: g.params.minSamplesLeaf)
            nodeStats = .allocate(capacity: g.S)
            value = .allocate(capacity: max(1, g.K))
        }

        func reserve(_ n: Int, stride: Int) {
            guard n > capacity else { return }
            codes2.deallocate(); weight2.deallocate(); label2.deallocate(); q2.deallocate()
            capacity = n + n / 8 + 1
            codes2 = .allocate(capacity: capacity * stride)
            weight2 = .allocate(capacity: capacity)
            label2 = .allocate(capacity: capacity)
            q2 = .allocate(capacity: capacity)
        }

        deinit {
            hist.deallocate(); dhist.deallocate(); touched.deallocate(); nodeStats.deallocate(); value.deallocate()
            order.deallocate(); bestLeft.deallocate()
            codes2.deallocate(); weight2.deallocate(); label2.deallocate(); q2.deallocate()
        }
    }

    // MARK: per-node steps shared by the distributed and the one-rank growth

    /// The key of the root of tree `t`, and of a node's left (0) or right (1) child: a path
    /// hash that names the node whichever ranks grow it.
    static func rootKey(tree t: Int) -> UInt64 { Philox.mix(UInt64(t) &+ 0x5851_F42D_4C95_7F2D) }
    static func childKey(_ parent: UInt64, side: UInt64) -> UInt64 { Philox.mix(parent &* 0x9E37_79B9_7F4A_7C15 &+ side &+ 1) }

    /// The weighted statistics of integer ones: rows, then each class's count × its weight;
    /// or for regression rows, Σw, and the sums of w·y and w·y² about `offset` (the scale
    /// `w[0]` applied; variance does not depend on the offset).
    @inline(__always)
    func weighted(_ s: UnsafePointer<Int64>, statWeights w: UnsafePointer<Double>, into d: UnsafeMutablePointer<Double>) {
        d[0] = Double(s[0])
        if K > 0 {
            for c in 0 ..< K { d[1 + c] = Double(s[1 + c]) * w[c] }
        } else {
            d[1] = Double(s[1])
            d[2] = Double(s[2]) * w[0]
            d[3] = Double(s[3]) * w[0] * w[0]
        }
    }

    /// Whether a node can gain nothing from a split: one class has all the weight, or every
    /// target is the same (Σw · Σw q² = (Σw q)², exact in 128 bits).
    @inline(__always)
    func isPure(_ s: UnsafePointer<Int64>, weighted d: UnsafePointer<Double>, scanner: SplitScanner) -> Bool {
        if K > 0 { return scanner.isPureClass(d) }
        let a = s[1].multipliedFullWidth(by: s[3]), b = s[2].multipliedFullWidth(by: s[2])
        return a.high == b.high && a.low == b.low
    }

    /// A node's value: class fractions, or the mean target.
    @inline(__always)
    func nodeValue(_ d: UnsafePointer<Double>, weight w: Double, offset: Double, into value: UnsafeMutablePointer<Double>) {
        if K > 0 {
            for c in 0 ..< K { value[c] = w > 0 ? d[1 + c] / w : 0 }
        } else {
            value[0] = w > 0 ? offset + d[2] / w : 0
        }
    }

    /// Appends a node with global statistics `stats` to `tree` and tells whether it may be
    /// split (the serial learner's stopping rules: pure, too few rows, maximum depth).
    func appendNode(_ s: UnsafePointer<Int64>, depth: Int, statWeights: UnsafePointer<Double>, offset: Double, to tree: inout Tree,
                    scratch: Scratch) -> (node: Int, splittable: Bool, wimp: Double) {
        let d = scratch.nodeStats, value = scratch.value
        weighted(s, statWeights: statWeights, into: d)
        let (w, wimp) = scratch.scanner.weightedImpurity(d)
        nodeValue(d, weight: w, offset: offset, into: value)
        let n = Int(s[0])
        let node = tree.appendNode(samples: n, weighted: w, impurity: w > 0 ? wimp / w : 0, value: UnsafeBufferPointer(start: value, count: max(1, K)))
        let stop = isPure(s, weighted: d, scanner: scratch.scanner) || n < params.minSamplesSplit || n < 2 * params.minSamplesLeaf
            || (params.maxDepth.map { depth >= $0 } ?? false)
        return (node, !stop, wimp)
    }

    /// ``appendNode(_:depth:statWeights:offset:to:scratch:)`` for a node of `work`'s tree.
    func appendNode(_ stats: [Int64], depth: Int, work: Work, to tree: inout Tree, scratch: Scratch) -> (node: Int, splittable: Bool, wimp: Double) {
        stats.withUnsafeBufferPointer { s in
            work.statWeights.withUnsafeBufferPointer { appendNode(s.baseAddress!, depth: depth, statWeights: $0.baseAddress!, offset: work.offset, to: &tree, scratch: scratch) }
        }
    }

    /// The state of one node's split search: its feature draws (a partial Fisher–Yates
    /// shuffle of the candidates by the node's own stream) and the best split so far.
    struct Search {
        var order: [Int32]
        var drawn = 0
        var visited = 0
        var rng: Philox
        var best = SplitCandidate()
        /// The integer statistics of the best split's left child.
        var bestLeft: [Int64]

        /// The next `count` features of the node's order.
        mutating func draw(_ count: Int, sample: Bool) -> [Int32] {
            var out: [Int32] = []
            let nf = order.count
            while out.count < count && drawn < nf {
                if sample {
                    let r = drawn + rng.below(nf - drawn)
                    order.swapAt(drawn, r)
                }
                out.append(order[drawn])
                drawn += 1
            }
            return out
        }
    }

    func makeSearch(key: UInt64) -> Search {
        Search(order: candidates, rng: Philox(seed: seed, domain: Self.featureDomain, stream: key), bestLeft: [Int64](repeating: 0, count: S))
    }

    /// How many more features the node needs: `max_features` non-constant ones were seen, or
    /// every candidate was drawn (constant features do not count, as in scikit-learn).
    func wanted(_ s: Search) -> Int { s.visited >= mtry ? 0 : min(mtry - s.visited, candidates.count - s.drawn) }

    /// Scans feature `f`'s summed histogram `h` (codes × `S` integers) for a node with
    /// weighted statistics `node`: updates `best`, counts the feature in `visited` if it is not
    /// constant in the node, and when it becomes the best, writes its left child's integer
    /// statistics to `bestLeft`. `touched[0 ..< known]` are the non-empty codes ascending when
    /// known; else they are found. The histogram is left as it was.
    @inline(__always)
    func scan(_ h: UnsafePointer<Int64>, feature f: Int, node: UnsafePointer<Double>, statWeights: UnsafePointer<Double>,
              best: inout SplitCandidate, visited: inout Int, bestLeft: UnsafeMutablePointer<Int64>, scratch: Scratch, touched known: Int? = nil) {
        let miss = missCodes[f], S = self.S
        let touched = scratch.touched
        var n = 0
        if let known { n = known } else {
            for c in 0 ... miss where h[c * S] > 0 { touched[n] = Int32(c); n += 1 }
        }
        let dh = scratch.dhist
        for t in 0 ..< n {
            let c = Int(touched[t])
            let b = h + c * S, o = dh + c * S
            weighted(b, statWeights: statWeights, into: o)
        }
        let before = best
        if scratch.scanner.scan(hist: dh, touched: touched, count: n, missCode: miss, node: node, feature: f, best: &best) {
            visited += 1
        }
        let b = best
        if b.feature == f && (before.feature != f || before.bin != b.bin || before.missingLeft != b.missingLeft || before.childImpurity != b.childImpurity) {
            for q in 0 ..< S { bestLeft[q] = 0 }
            for t in 0 ..< n {
                let c = Int(touched[t])
                if c == miss ? b.missingLeft : c <= b.bin {
                    for q in 0 ..< S { bestLeft[q] += Int64(h[c * S + q]) }
                }
            }
        }
    }

    /// Stably partitions rows `start ..< end` of `work` by the split: left rows compacted in
    /// place, right rows through the scratch. Returns the first right row.
    func partition(_ work: Work, start: Int, end: Int, split b: SplitCandidate, scratch: Scratch) -> Int {
        let stride = self.stride
        scratch.reserve(end - start, stride: stride)
        let f = b.feature, bin = UInt8(b.bin), miss = UInt8(missCodes[f]), missLeft = b.missingLeft
        let rc = work.codes, w = work.weight, y = work.label, q = work.q
        let rc2 = scratch.codes2, w2 = scratch.weight2, y2 = scratch.label2, q2 = scratch.q2
        let classes = K > 0
        // Rows move as whole 8-byte words (the stride is a multiple of 8), not memmove calls.
        let words = stride / 8
        let rw = UnsafeMutableRawPointer(rc).assumingMemoryBound(to: UInt64.self)
        let rw2 = UnsafeMutableRawPointer(rc2).assumingMemoryBound(to: UInt64.self)
        var l = start, r = 0
        for s in start ..< end {
            let c = rc[s * stride + f]
            if c == miss ? missLeft : c <= bin {
                if l != s {
                    for k in 0 ..< words { rw[l * words + k] = rw[s * words + k] }
                    w[l] = w[s]
                    if classes { y[l] = y[s] } else { q[l] = q[s] }
                }
                l += 1
            } else {
                for k in 0 ..< words { rw2[r * words + k] = rw[s * words + k] }
                w2[r] = w[s]
                if classes { y2[r] = y[s] } else { q2[r] = q[s] }
                r += 1
            }
        }
        (rc + l * stride).update(from: rc2, count: r * stride)
        (w + l).update(from: w2, count: r)
        if classes { (y + l).update(from: y2, count: r) } else { (q + l).update(from: q2, count: r) }
        return l
    }

    /// Records the split in `tree` at `node`.
    func setSplit(_ tree: inout Tree, node: Int, split b: SplitCandidate) {
        let f = b.feature
        tree.feature[node] = Int32(f)
        tree.threshold[node] = b.bin < edges[f].count ? edges[f][b.bin] : .infinity
        tree.missingGoesLeft[node] = b.missingLeft ? 1 : 0
    }

    /// Whether a searched node is split: a split was found and it decreases the impurity enough.
    func accepts(_ best: SplitCandidate, wimp: Double, rootWeight: Double) -> Bool {
        guard best.feature >= 0 else { return false }
        let improvement = rootWeight > 0 ? (wimp - best.childImpurity) / rootWeight : 0
        return improvement + Double.ulpOfOne >= params.minImpurityDecrease
    }

    // MARK: growth on one rank

    /// Grows the subtree of a node whose rows are all in `work[start ..< end]` (one rank
    /// holds them all), depth-first, one feature histogram at a time (a node of at most 256
    /// rows tracks the codes it touches instead of sweeping every bin). Nodes are appended to
    /// a new tree whose node 0 is this node, in the serial learner's order: a split's two
    /// children together, then the right child's subtree, then the left's. Allocation-free per
    /// node: statistics live on a stack of `S` integers per pending node, the feature order
    /// and histograms in `scratch`.
    func growLocal(_ work: Work, start: Int, end: Int, depth: Int, key: UInt64, stats rootStats: [Int64], scratch: Scratch) -> Tree {
        var tree = Tree(outputs: max(1, K))
        let S = self.S, stride = self.stride, nf = candidates.count
        struct Item { var node: Int; var start: Int; var end: Int; var depth: Int; var key: UInt64; var wimp: Double; var set: UnsafeMutablePointer<Int64>? }
        var stack: [Item] = []
        // Pending nodes' integer statistics, S per stack entry, in stack order.
        var statStack: [Int64] = []
        let sample = mtry < nf
        let node = scratch.nodeStats, order = scratch.order, bestLeft = scratch.bestLeft
        let hist = scratch.hist, touched = scratch.touched
        let cw = UnsafeMutablePointer<Double>.allocate(capacity: work.statWeights.count)
        let stats = UnsafeMutablePointer<Int64>.allocate(capacity: S), right = UnsafeMutablePointer<Int64>.allocate(capacity: S)
        defer { cw.deallocate(); stats.deallocate(); right.deallocate() }
        for c in 0 ..< work.statWeights.count { cw[c] = work.statWeights[c] }
        let offset = work.offset
        let label: UnsafeMutablePointer<Int32>? = K > 0 ? work.label : nil, q: UnsafeMutablePointer<Int64>? = K > 0 ? nil : work.q
        // Histogram subtraction, when every node evaluates every candidate feature (max_features
        // covers them all, so no draws): a node of at least `subtractRows` rows holds the
        // histograms of all its features (a set: feature j at j · maxCodes · S); when it splits,
        // the smaller child's set is built from its rows and the larger child's is the parent's
        // minus it — exact, the statistics being integers, so the tree is the same either way.
        let subtract = !sample && nf > 0, subtractRows = 1024, setStride = maxCodes * S, setSize = nf * maxCodes * S
        /// A set of every candidate's histogram over rows `range`.
        func buildSet(_ range: Range<Int>) -> UnsafeMutablePointer<Int64> {
            let set = UnsafeMutablePointer<Int64>.allocate(capacity: setSize)
            set.initialize(repeating: 0, count: setSize)
            let hists: [UnsafeMutablePointer<Int64>?] = (0 ..< nf).map { set + $0 * setStride }
            candidates.withUnsafeBufferPointer { fp in
                mpl_forest_hist(work.codes + range.lowerBound * stride, stride, range.count, work.weight + range.lowerBound,
                                label.map { $0 + range.lowerBound }, q.map { $0 + range.lowerBound }, Int32(S), fp.baseAddress, Int32(nf), hists)
            }
            return set
        }

        /// Appends the node with integer statistics `s`; pushes it if it may be split (with its
        /// histogram set, if it has one; else the set is freed).
        func create(_ s: UnsafePointer<Int64>, start: Int, end: Int, depth: Int, key: UInt64, set: UnsafeMutablePointer<Int64>? = nil) {
            let (id, splittable, wimp) = appendNode(s, depth: depth, statWeights: cw, offset: offset, to: &tree, scratch: scratch)
            guard splittable else { set?.deallocate(); return }
            stack.append(Item(node: id, start: start, end: end, depth: depth, key: key, wimp: wimp, set: set))
            for q in 0 ..< S { statStack.append(s[q]) }
        }

        rootStats.withUnsafeBufferPointer { create($0.baseAddress!, start: start, end: end, depth: depth, key: key) }
        var featureBox: Int32 = 0
        while let it = stack.popLast() {
            let top = stack.count
            for q in 0 ..< S { stats[q] = statStack[top * S + q] }
            statStack.removeLast(S)
            weighted(stats, statWeights: cw, into: node)
            // Its split: features in the node's own shuffle order until max_features vary.
            var rng = Philox(seed: seed, domain: Self.featureDomain, stream: it.key)
            candidates.withUnsafeBufferPointer { order.update(from: $0.baseAddress!, count: nf) }
            var best = SplitCandidate(), visited = 0, drawn = 0
            let n = it.end - it.start
            let small = n <= 256
            let base = work.codes + it.start * stride
            var set = it.set
            if subtract && set == nil && n >= subtractRows { set = buildSet(it.start ..< it.end) }
            while visited < mtry && drawn < nf {
                if sample {
                    let r = drawn + rng.below(nf - drawn)
                    let t = order[drawn]; order[drawn] = order[r]; order[r] = t
                }
                featureBox = order[drawn]
                drawn += 1
                let f = Int(featureBox)
                if let set {
                    // Without draws the order is the candidates': feature drawn - 1 of the set.
                    scan(set + (drawn - 1) * setStride, feature: f, node: node, statWeights: cw, best: &best, visited: &visited,
                         bestLeft: bestLeft, scratch: scratch)
                    continue
                }
                var known: Int? = nil
                if small {
                    var count = 0
                    mpl_forest_hist_touched(base + f, stride, n, work.weight + it.start, label.map { $0 + it.start }, q.map { $0 + it.start },
                                            Int32(S), hist, touched, &count)
                    // Insertion sort of the touched codes (few).
                    for a in 1 ..< max(1, count) {
                        let v = touched[a]
                        var b = a - 1
                        while b >= 0 && touched[b] > v { touched[b + 1] = touched[b]; b -= 1 }
                        touched[b + 1] = v
                    }
                    known = count
                } else {
                    withUnsafePointer(to: &featureBox) { fp in
                        var hp: UnsafeMutablePointer<Int64>? = hist
                        withUnsafePointer(to: &hp) { hs in
                            mpl_forest_hist(base, stride, n, work.weight + it.start, label.map { $0 + it.start }, q.map { $0 + it.start }, Int32(S), fp, 1, hs)
                        }
                    }
                }
                scan(hist, feature: f, node: node, statWeights: cw, best: &best, visited: &visited, bestLeft: bestLeft, scratch: scratch, touched: known)
                if let known {
                    for t in 0 ..< known { let b = hist + Int(touched[t]) * S; for q in 0 ..< S { b[q] = 0 } }
                } else {
                    hist.update(repeating: 0, count: (missCodes[f] + 1) * S)
                }
            }
            guard accepts(best, wimp: it.wimp, rootWeight: work.rootWeight) else { set?.deallocate(); continue }
            setSplit(&tree, node: it.node, split: best)
            let mid = partition(work, start: it.start, end: it.end, split: best, scratch: scratch)
            for q in 0 ..< S { right[q] = stats[q] - bestLeft[q] }
            // The children's sets: the smaller built, the larger by subtraction (in the parent's).
            var leftSet: UnsafeMutablePointer<Int64>? = nil, rightSet: UnsafeMutablePointer<Int64>? = nil
            if let parent = set {
                let nL = mid - it.start, nR = it.end - mid
                if max(nL, nR) >= subtractRows {
                    let smaller = buildSet(nL <= nR ? it.start ..< mid : mid ..< it.end)
                    for e in 0 ..< setSize { parent[e] -= smaller[e] }
                    var small: UnsafeMutablePointer<Int64>? = smaller
                    if min(nL, nR) < subtractRows { smaller.deallocate(); small = nil }
                    (leftSet, rightSet) = nL <= nR ? (small, parent) : (parent, small)
                } else {
                    parent.deallocate()
                }
            }
            tree.left[it.node] = Int32(tree.nodeCount)
            create(bestLeft, start: it.start, end: mid, depth: it.depth + 1, key: Self.childKey(it.key, side: 0), set: leftSet)
            tree.right[it.node] = Int32(tree.nodeCount)
            create(right, start: mid, end: it.end, depth: it.depth + 1, key: Self.childKey(it.key, side: 1), set: rightSet)
        }
        return tree
    }

    // MARK: assembling a tree

    /// The tree in the serial learner's node order (a split's two children appended together,
    /// then the right child's subtree, then the left's), from the nodes grown over the ranks
    /// and the subtrees finished on one rank (`subtrees[j]` for the link `-2 - j`).
    static func assemble(top: Tree, subtrees: [Tree], outputs: Int) -> Tree {
        var out = Tree(outputs: outputs)
        // A node: (source, index), source -1 = top, j >= 0 = subtrees[j].
        func resolve(_ source: Int, _ link: Int32) -> (Int, Int) {
            if source < 0 && link <= -2 { return (Int(-2 - link), 0) }
            return (source, Int(link))
        }
        func copy(_ n: (Int, Int)) -> Int {
            let t = n.0 < 0 ? top : subtrees[n.0]
            let i = n.1
            let id = t.value.withUnsafeBufferPointer { v in
                out.appendNode(samples: Int(t.samples[i]), weighted: t.weightedSamples[i], impurity: t.impurity[i],
                               value: UnsafeBufferPointer(rebasing: v[(i * outputs) ..< (i * outputs + outputs)]))
            }
            out.feature[id] = t.feature[i]
            out.threshold[id] = t.threshold[i]
            out.missingGoesLeft[id] = t.missingGoesLeft[i]
            return id
        }
        // The root is the top's, or (when the whole tree was one small node) the first subtree's.
        let root = top.nodeCount > 0 ? (-1, 0) : (0, 0)
        guard root.0 < 0 || !subtrees.isEmpty else { return out }
        let total = top.nodeCount + subtrees.reduce(0) { $0 + $1.nodeCount }
        out.feature.reserveCapacity(total); out.threshold.reserveCapacity(total); out.left.reserveCapacity(total)
        out.right.reserveCapacity(total); out.missingGoesLeft.reserveCapacity(total); out.samples.reserveCapacity(total)
        out.weightedSamples.reserveCapacity(total); out.impurity.reserveCapacity(total); out.value.reserveCapacity(total * outputs)
        _ = copy(root)
        var stack: [((Int, Int), Int)] = [(root, 0)]   // (source node, its id in out)
        while let (n, id) = stack.popLast() {
            let t = n.0 < 0 ? top : subtrees[n.0]
            guard t.feature[n.1] >= 0 else { continue }
            if n.0 >= 0 && n.1 == 0 {
                // A subtree's root: its descendants come next, in the order this loop would
                // append them — the subtree's own order (growLocal's) — so they are copied as
                // one block, their links shifted.
                let shift = Int32(out.nodeCount - 1)
                func moved(_ a: [Int32]) -> [Int32] { a[1...].map { $0 >= 0 ? $0 + shift : $0 } }
                out.left[id] = t.left[0] + shift
                out.right[id] = t.right[0] + shift
                out.feature.append(contentsOf: t.feature[1...]); out.threshold.append(contentsOf: t.threshold[1...])
                out.left.append(contentsOf: moved(t.left)); out.right.append(contentsOf: moved(t.right))
                out.missingGoesLeft.append(contentsOf: t.missingGoesLeft[1...]); out.samples.append(contentsOf: t.samples[1...])
                out.weightedSamples.append(contentsOf: t.weightedSamples[1...]); out.impurity.append(contentsOf: t.impurity[1...])
                out.value.append(contentsOf: t.value[outputs...])
                continue
            }
            let l = resolve(n.0, t.left[n.1]), r = resolve(n.0, t.right[n.1])
            let lid = copy(l), rid = copy(r)
            out.left[id] = Int32(lid)
            out.right[id] = Int32(rid)
            stack.append((l, lid))
            stack.append((r, rid))
        }
        return out
    }
}

extension Tree {
    /// Appends the tree to `out` as raw arrays (for ranks of one job exchanging subtrees):
    /// `id` and the node count as Int64, then every per-node array's bytes.
    func appendRaw(to out: inout [UInt8], id: Int) {
        func put<T>(_ a: [T]) { a.withUnsafeBytes { out.append(contentsOf: $0) } }
        put([Int64(id), Int64(nodeCount)])
        put(feature); put(threshold); put(left); put(right); put(missingGoesLeft)
        put(samples); put(weightedSamples); put(impurity); put(value)
    }

    /// Reads a tree written by ``appendRaw(to:id:)`` at `at` (advanced past it).
    static func readRaw(_ raw: UnsafeRawPointer, at: inout Int, outputs: Int) -> (Int, Tree) {
        func get<T>(_ count: Int, _: T.Type) -> [T] {
            let a = [T](unsafeUninitializedCapacity: count) { b, n in
                UnsafeMutableRawBufferPointer(b).copyMemory(from: UnsafeRawBufferPointer(start: raw + at, count: count * MemoryLayout<T>.stride))
                n = count
            }
            at += count * MemoryLayout<T>.stride
            return a
        }
        let head = get(2, Int64.self)
        let n = Int(head[1])
        var t = Tree(outputs: outputs)
        t.feature = get(n, Int32.self); t.threshold = get(n, Double.self); t.left = get(n, Int32.self); t.right = get(n, Int32.self)
        t.missingGoesLeft = get(n, UInt8.self); t.samples = get(n, Int32.self); t.weightedSamples = get(n, Double.self)
        t.impurity = get(n, Double.self); t.value = get(n * outputs, Double.self)
        return (Int(head[0]), t)
    }
}
