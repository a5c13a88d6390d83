/// Binned training inputs shared read-only by every thread growing trees on one rank.
public struct BinnedData: @unchecked Sendable {
    /// Rows of this rank's shard.
    public let rows: Int
    public let features: Int
    /// Row-major codes: feature `f` of row `i` at `i * features + f` (see ``FeatureBins``).
    public let codes: [UInt8]
    public let bins: FeatureBins
    /// Number of classes (classification) or 0 (regression).
    public let classes: Int
    /// Class code of each row (classification).
    public let yClass: [Int32]
    /// Target of each row (regression).
    public let yValue: [Double]

    public init(codes: [UInt8], rows: Int, bins: FeatureBins, classes: Int, yClass: [Int32] = [], yValue: [Double] = []) {
        precondition(codes.count == rows * bins.edges.count, "BinnedData: \(codes.count) codes for \(rows) rows × \(bins.edges.count) features")
        self.codes = codes
        self.rows = rows
        self.features = bins.edges.count
        self.bins = bins
        self.classes = classes
        self.yClass = yClass
        self.yValue = yValue
    }

    /// Bins `x` and wraps it with a classification target (`y` are class codes `0..<classes`).
    public init(x: Matrix<Double>, classes: Int, y: [Int32], maxBins: Int) {
        let bins = FeatureBins(x, maxBins: maxBins)
        self.init(codes: bins.bin(x), rows: x.rows, bins: bins, classes: classes, yClass: y)
    }

    /// Bins separate feature columns (the same codes as their row-major matrix) and wraps
    /// them with a target: class codes `y` when `classes > 0`, else regression values `yValue`.
    public init(columns: [[Double]], rows: Int, classes: Int, y: [Int32] = [], yValue: [Double] = [], maxBins: Int) {
        let bins = FeatureBins(columns: columns, rows: rows, maxBins: maxBins)
        self.init(codes: bins.bin(columns: columns, rows: rows), rows: rows, bins: bins, classes: classes, yClass: y, yValue: yValue)
    }

    /// Bins `x` and wraps it with a regression target.
    public init(x: Matrix<Double>, y: [Double], maxBins: Int) {
        let bins = FeatureBins(x, maxBins: maxBins)
        self.init(codes: bins.bin(x), rows: x.rows, bins: bins, classes: 0, yValue: y)
    }
}

/// Grows one CART tree at a time over ``BinnedData`` (the splitter and the builder).
///
/// Split finding is histogram-based: for each candidate feature of a node, one pass over
/// the node's rows adds their statistics (row count and class weights, or `w, wy, wy²`) into
/// the bins of the feature's codes; one scan over the non-empty bins in code order then
/// evaluates every threshold, with missing values tried on both sides (scikit-learn ≥ 1.3's
/// rule: with no missing values in the node they go to the child with more rows). Nodes of
/// at most 256 rows track the bins they touch, so a small node costs its rows, not 256 bins.
///
/// Memory layout: at the start of a tree the in-bag rows' codes, weights and targets are
/// copied into node-ordered working arrays (row-major codes, `F` bytes per row). A split
/// partitions these arrays stably (left rows compacted in place, right rows through a
/// scratch buffer, computing both children's statistics in the same pass), so every node
/// owns a contiguous range and every histogram pass reads memory sequentially instead of
/// gathering random rows — on the flights data this was 3–4× faster than indexing
/// column-major codes through an `Int32` row-index array, whose random gathers stall on
/// cache misses.
///
/// Features are sampled per node without replacement (a partial Fisher–Yates shuffle driven
/// by the tree's own random stream); as in scikit-learn, features constant in the node do
/// not count towards `max_features`, and drawing continues until that many non-constant
/// features were seen or none are left. Histogram subtraction (building the smaller child
/// and subtracting it from the parent) is not used: it needs the parent's histogram over
/// every feature, which costs more than the `max_features` columns sampled per node unless
/// `max_features` is at least half the features.
///
/// Growth is depth-first (a stack) or, with `max_leaf_nodes`, best-first (a heap keyed by
/// impurity decrease, ties to the older node). One builder owns its scratch buffers,
/// allocated once, and is used by one thread; the tree is a pure function of the data, the
/// weights and the random stream.
public final class TreeBuilder {
    let params: TreeParameters
    let data: BinnedData
    /// Statistics per bin: `[count, w_0 ... w_{K-1}]` or `[count, w, wy, wy²]`.
    let S: Int
    let K: Int
    let F: Int
    /// Bytes per row in the working set: `F` rounded up to whole 8-byte words, so a row
    /// moves as a few `UInt64` stores rather than a `memmove` call.
    let stride: Int
    let words: Int
    let mtry: Int
    let maxCodes: Int
    let hist: UnsafeMutablePointer<Double>
    let touched: UnsafeMutablePointer<Int32>
    let featureOrder: UnsafeMutablePointer<Int32>
    /// The features that vary in the shard, ascending; each tree starts its feature
    /// shuffles from this order, so a tree does not depend on the trees built before it.
    let candidates: UnsafeMutablePointer<Int32>
    let missCodes: UnsafeMutablePointer<UInt8>
    var candidateCount = 0
    let scanner: SplitScanner
    let statsL: UnsafeMutablePointer<Double>, statsR: UnsafeMutablePointer<Double>, statsNode: UnsafeMutablePointer<Double>
    let valueBuf: UnsafeMutablePointer<Double>
    // Node-ordered working set and partition scratch.
    // Sized to the largest in-bag row count seen so far (a bootstrap holds about 63% of the
    // rows), not to every row: class labels for a classifier, values for a regressor.
    var capacity = 0
    var rc: UnsafeMutablePointer<UInt8>, rc2: UnsafeMutablePointer<UInt8>
    var sw: UnsafeMutablePointer<Double>, sw2: UnsafeMutablePointer<Double>
    var sy: UnsafeMutablePointer<Int32>, sy2: UnsafeMutablePointer<Int32>
    var sv: UnsafeMutablePointer<Double>, sv2: UnsafeMutablePointer<Double>

    /// - Parameters:
    ///   - params: validated tree parameters.
    ///   - data: the binned shard.
    public init(params: TreeParameters, data: BinnedData) {
        self.params = params
        self.data = data
        K = data.classes
        S = data.classes > 0 ? data.classes + 1 : 4
        F = data.features
        words = max(1, (data.features + 7) / 8)
        stride = words * 8
        mtry = params.maxFeatures.resolve(features: data.features)
        maxCodes = (data.bins.edges.map { $0.count + 2 }.max() ?? 2)
        hist = .allocate(capacity: maxCodes * S)
        hist.initialize(repeating: 0, count: maxCodes * S)
        touched = .allocate(capacity: 257)
        let order = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, data.features))
        candidates = order
        featureOrder = .allocate(capacity: max(1, data.features))
        missCodes = .allocate(capacity: max(1, data.features))
        for f in 0 ..< data.features { missCodes[f] = UInt8(data.bins.edges[f].count + 1) }
        // Features with a single code everywhere can never split; they are left out.
        var n = 0
        let d = data.features, rows = data.rows
        data.codes.withUnsafeBufferPointer { codes in
            for f in 0 ..< d {
                var constant = true
                if rows > 0 {
                    let first = codes[f]
                    for i in 1 ..< rows where codes[i * d + f] != first { constant = false; break }
                }
                if !constant { order[n] = Int32(f); n += 1 }
            }
        }
        scanner = SplitScanner(classes: data.classes, criterion: params.criterion, minSamplesLeaf: params.minSamplesLeaf)
        statsL = .allocate(capacity: S); statsR = .allocate(capacity: S); statsNode = .allocate(capacity: S)
        valueBuf = .allocate(capacity: max(1, K))
        rc = .allocate(capacity: 1); rc2 = .allocate(capacity: 1)
        sw = .allocate(capacity: 1); sw2 = .allocate(capacity: 1)
        sy = .allocate(capacity: 1); sy2 = .allocate(capacity: 1)
        sv = .allocate(capacity: 1); sv2 = .allocate(capacity: 1)
        candidateCount = n
    }

    /// Makes the working set hold `count` rows (with 1/64 to spare, so the next trees' draws
    /// rarely need more). Its contents are not kept: each tree fills it anew.
    func reserve(_ count: Int) {
        guard count > capacity else { return }
        freeWorkingSet()
        let cap = count + count / 64 + 1
        rc = .allocate(capacity: cap * stride); rc2 = .allocate(capacity: cap * stride)
        rc.initialize(repeating: 0, count: cap * stride)
        sw = .allocate(capacity: cap); sw2 = .allocate(capacity: cap)
        sy = .allocate(capacity: K > 0 ? cap : 1); sy2 = .allocate(capacity: K > 0 ? cap : 1)
        sv = .allocate(capacity: K > 0 ? 1 : cap); sv2 = .allocate(capacity: K > 0 ? 1 : cap)
        capacity = cap
    }

    private func freeWorkingSet() {
        rc.deallocate(); rc2.deallocate(); sw.deallocate(); sw2.deallocate()
        sy.deallocate(); sy2.deallocate(); sv.deallocate(); sv2.deallocate()
    }

    deinit {
        hist.deallocate(); touched.deallocate(); featureOrder.deallocate(); candidates.deallocate(); missCodes.deallocate()
        statsL.deallocate(); statsR.deallocate(); statsNode.deallocate(); valueBuf.deallocate()
        freeWorkingSet()
    }

    struct Pending {
        var node: Int
        var start: Int
        var end: Int
        var depth: Int
        var split: SplitCandidate
        var improvement: Double
    }

    @inline(__always)
    func weightedImpurity(_ s: UnsafePointer<Double>) -> (Double, Double) { scanner.weightedImpurity(s) }

    /// Grows a tree on the rows `samples[0..<count]` (distinct rows with weight > 0).
    /// - Parameters:
    ///   - samples: row indices of the shard (not modified).
    ///   - weights: weight of every row of the shard (bootstrap count × class weight).
    ///   - rng: the tree's stream for feature sampling.
    public func grow(samples: UnsafeMutablePointer<Int32>, count: Int, weights: UnsafePointer<Double>, rng: inout Philox) -> Tree {
        grow(samples: samples, count: count, rng: &rng) { weights[$0] }
    }

    /// ``grow(samples:count:weights:rng:)`` with each row's weight from `weight(row)`, so a
    /// forest needs no array of weights over all rows beside its bootstrap counts.
    func grow(samples: UnsafeMutablePointer<Int32>, count: Int, rng: inout Philox, weight: (Int) -> Double) -> Tree {
        var tree = Tree(outputs: max(1, K))
        guard count > 0 else {
            for c in 0 ..< max(1, K) { valueBuf[c] = 0 }
            tree.appendNode(samples: 0, weighted: 0, impurity: 0, value: UnsafeBufferPointer(start: valueBuf, count: max(1, K)))
            return tree
        }
        reserve(count)
        featureOrder.update(from: candidates, count: candidateCount)
        // Working set in node order, and the root's statistics.
        for q in 0 ..< S { statsNode[q] = 0 }
        var yMin = Double.infinity, yMax = -Double.infinity
        let F = self.F, stride = self.stride
        data.codes.withUnsafeBufferPointer { codes in
            data.yClass.withUnsafeBufferPointer { yc in
                data.yValue.withUnsafeBufferPointer { yv in
                    for s in 0 ..< count {
                        let i = Int(samples[s]), w = weight(i)
                        (rc + s * stride).update(from: codes.baseAddress! + i * F, count: F)
                        sw[s] = w
                        statsNode[0] += 1
                        if K > 0 {
                            sy[s] = yc[i]
                            statsNode[1 + Int(yc[i])] += w
                        } else {
                            let y = yv[i]
                            sv[s] = y
                            statsNode[1] += w; statsNode[2] += w * y; statsNode[3] += w * y * y
                            yMin = min(yMin, y); yMax = max(yMax, y)
                        }
                    }
                }
            }
        }
        let rootWeight = weightedImpurity(statsNode).0
        var frontier: [Pending] = []
        let bestFirst = params.maxLeafNodes != nil
        var finalizedLeaves = 0
        var rng = rng

        func create(_ start: Int, _ end: Int, _ depth: Int, _ stats: UnsafeMutablePointer<Double>, pure: Bool) {
            let (w, wimp) = weightedImpurity(stats)
            let imp = w > 0 ? wimp / w : 0
            if K > 0 {
                for c in 0 ..< K { valueBuf[c] = w > 0 ? stats[1 + c] / w : 0 }
            } else {
                valueBuf[0] = w > 0 ? stats[2] / w : 0
            }
            let n = end - start
            let node = tree.appendNode(samples: n, weighted: w, impurity: imp, value: UnsafeBufferPointer(start: valueBuf, count: max(1, K)))
            if pure || n < params.minSamplesSplit || n < 2 * params.minSamplesLeaf || (params.maxDepth.map { depth >= $0 } ?? false) {
                finalizedLeaves += 1
                return
            }
            let split = findSplit(start: start, end: end, node: stats, rng: &rng)
            guard split.feature >= 0 else { finalizedLeaves += 1; return }
            let improvement = rootWeight > 0 ? (wimp - split.childImpurity) / rootWeight : 0
            if improvement + Double.ulpOfOne < params.minImpurityDecrease { finalizedLeaves += 1; return }
            let p = Pending(node: node, start: start, end: end, depth: depth, split: split, improvement: improvement)
            if bestFirst { heapPush(&frontier, p) } else { frontier.append(p) }
        }

        create(0, count, 0, statsNode, pure: K > 0 ? isPureClass(statsNode) : yMin == yMax)
        while !frontier.isEmpty {
            if let maxLeaves = params.maxLeafNodes, finalizedLeaves + frontier.count >= maxLeaves { break }
            let p = bestFirst ? heapPop(&frontier) : frontier.removeLast()
            let (mid, pureL, pureR) = partition(p)
            let f = p.split.feature
            tree.feature[p.node] = Int32(f)
            tree.threshold[p.node] = p.split.bin < data.bins.edges[f].count ? data.bins.edges[f][p.split.bin] : .infinity
            tree.missingGoesLeft[p.node] = p.split.missingLeft ? 1 : 0
            // statsL/statsR are only written by the next partition, after both creates.
            tree.left[p.node] = Int32(tree.nodeCount)
            create(p.start, mid, p.depth + 1, statsL, pure: pureL)
            tree.right[p.node] = Int32(tree.nodeCount)
            create(mid, p.end, p.depth + 1, statsR, pure: pureR)
        }
        return tree
    }

    @inline(__always)
    func isPureClass(_ s: UnsafePointer<Double>) -> Bool { scanner.isPureClass(s) }

    /// Stably partitions the node's working-set range by its split (left rows compacted in
    /// place, right rows via scratch); fills `statsL`/`statsR` and tells whether each child
    /// is pure.
    func partition(_ p: Pending) -> (Int, Bool, Bool) {
        let K = self.K, stride = self.stride, words = self.words
        let rw = UnsafeMutableRawPointer(rc).assumingMemoryBound(to: UInt64.self)
        let rw2 = UnsafeMutableRawPointer(rc2).assumingMemoryBound(to: UInt64.self)
        let f = p.split.feature, bin = UInt8(p.split.bin), missCode = missCodes[f]
        let missLeft = p.split.missingLeft
        for q in 0 ..< S { statsL[q] = 0; statsR[q] = 0 }
        var lMin = Double.infinity, lMax = -Double.infinity, rMin = Double.infinity, rMax = -Double.infinity
        var l = p.start, r = 0
        for s in p.start ..< p.end {
            let c = rc[s * stride + f]
            let goLeft = c == missCode ? missLeft : c <= bin
            let w = sw[s]
            if goLeft {
                if l != s { for q in 0 ..< words { rw[l * words + q] = rw[s * words + q] } }
                sw[l] = w
                statsL[0] += 1
                if K > 0 {
                    let y = sy[s]; sy[l] = y; statsL[1 + Int(y)] += w
                } else {
                    let y = sv[s]; sv[l] = y
                    statsL[1] += w; statsL[2] += w * y; statsL[3] += w * y * y
                    lMin = min(lMin, y); lMax = max(lMax, y)
                }
                l += 1
            } else {
                for q in 0 ..< words { rw2[r * words + q] = rw[s * words + q] }
                sw2[r] = w
                statsR[0] += 1
                if K > 0 {
                    let y = sy[s]; sy2[r] = y; statsR[1 + Int(y)] += w
                } else {
                    let y = sv[s]; sv2[r] = y
                    statsR[1] += w; statsR[2] += w * y; statsR[3] += w * y * y
                    rMin = min(rMin, y); rMax = max(rMax, y)
                }
                r += 1
            }
        }
        (rc + l * stride).update(from: rc2, count: r * stride)
        (sw + l).update(from: sw2, count: r)
        if K > 0 { (sy + l).update(from: sy2, count: r) } else { (sv + l).update(from: sv2, count: r) }
        if K > 0 { return (l, isPureClass(statsL), isPureClass(statsR)) }
        return (l, lMin == lMax, rMin == rMax)
    }

    /// The best split of the node over up to `max_features` sampled non-constant features.
    func findSplit(start: Int, end: Int, node: UnsafePointer<Double>, rng: inout Philox) -> SplitCandidate {
        var best = SplitCandidate()
        let nf = candidateCount
        var visited = 0, j = 0
        let sample = mtry < nf
        while j < nf && visited < mtry {
            if sample {
                let r = j + rng.below(nf - j)
                let t = featureOrder[j]; featureOrder[j] = featureOrder[r]; featureOrder[r] = t
            }
            let f = Int(featureOrder[j])
            j += 1
            if evaluate(feature: f, start: start, end: end, node: node, best: &best) { visited += 1 }
        }
        return best
    }

    /// Builds the feature's histogram over the node, scans it, updates `best`, and clears the
    /// histogram. Returns false if the feature is constant in the node.
    func evaluate(feature f: Int, start: Int, end: Int, node: UnsafePointer<Double>, best: inout SplitCandidate) -> Bool {
        let S = self.S, K = self.K, F = self.stride
        let hist = self.hist, touched = self.touched, rc = self.rc, sw = self.sw, sy = self.sy, sv = self.sv
        let nb = data.bins.edges[f].count + 1
        let missCode = nb
        let small = end - start <= 256
        var nTouched = 0
        let col = rc + f
        if K > 0 {
            if small {
                for s in start ..< end {
                    let c = Int(col[s * F]), b = c * S
                    if hist[b] == 0 { touched[nTouched] = Int32(c); nTouched += 1 }
                    hist[b] += 1
                    hist[b + 1 + Int(sy[s])] += sw[s]
                }
            } else {
                for s in start ..< end {
                    let b = Int(col[s * F]) * S
                    hist[b] += 1
                    hist[b + 1 + Int(sy[s])] += sw[s]
                }
            }
        } else {
            for s in start ..< end {
                let c = Int(col[s * F]), b = c * S
                if small && hist[b] == 0 { touched[nTouched] = Int32(c); nTouched += 1 }
                let w = sw[s], y = sv[s]
                hist[b] += 1; hist[b + 1] += w; hist[b + 2] += w * y; hist[b + 3] += w * y * y
            }
        }
        if small {
            // Insertion sort of the touched codes (at most 256, usually a few).
            for a in 1 ..< max(1, nTouched) {
                let v = touched[a]
                var b = a - 1
                while b >= 0 && touched[b] > v { touched[b + 1] = touched[b]; b -= 1 }
                touched[b + 1] = v
            }
        } else {
            nTouched = 0
            for c in 0 ... nb where hist[c * S] > 0 { touched[nTouched] = Int32(c); nTouched += 1 }
        }
        let constant = !scanner.scan(hist: hist, touched: touched, count: nTouched, missCode: missCode, node: node, feature: f, best: &best)
        for t in 0 ..< nTouched {
            let h = hist + Int(touched[t]) * S
            for q in 0 ..< S { h[q] = 0 }
        }
        return !constant
    }

    // MARK: best-first frontier (a binary max-heap on improvement, ties to the lower node id)

    @inline(__always)
    private func before(_ a: Pending, _ b: Pending) -> Bool {
        a.improvement > b.improvement || (a.improvement == b.improvement && a.node < b.node)
    }

    private func heapPush(_ h: inout [Pending], _ p: Pending) {
        h.append(p)
        var i = h.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if before(h[i], h[parent]) { h.swapAt(i, parent); i = parent } else { break }
        }
    }

    private func heapPop(_ h: inout [Pending]) -> Pending {
        let top = h[0]
        let last = h.removeLast()
        if !h.isEmpty {
            h[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < h.count && before(h[l], h[m]) { m = l }
                if r < h.count && before(h[r], h[m]) { m = r }
                if m == i { break }
                h.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}
