import CKernels
/// A fitted decision tree as flat arrays, one entry per node (scikit-learn's `Tree` layout).
///
/// Node 0 is the root. An internal node sends a row left when its feature value is
/// `≤ threshold` (raw feature units), right otherwise; a missing value (NaN) goes left when
/// `missingGoesLeft` is 1. A leaf has `feature == -1`. `value` holds `outputs` numbers per node:
/// the weighted class fractions for a classifier, the weighted mean for a regressor. Flat
/// arrays make a tree cheap to serialise, send and save.
public struct Tree: Equatable, Sendable {
    /// Numbers per node in `value`: the number of classes, or 1 for regression.
    public var outputs: Int
    public var feature: [Int32] = []
    public var threshold: [Double] = []
    public var left: [Int32] = []
    public var right: [Int32] = []
    public var missingGoesLeft: [UInt8] = []
    /// Training rows that reached the node (distinct rows; bootstrap repeats count once).
    public var samples: [Int32] = []
    /// Their total weight (bootstrap multiplicity × class weight).
    public var weightedSamples: [Double] = []
    /// The node's impurity under the training criterion.
    public var impurity: [Double] = []
    public var value: [Double] = []

    public init(outputs: Int) { self.outputs = outputs }

    public var nodeCount: Int { feature.count }
    public var leafCount: Int { feature.reduce(0) { $0 + ($1 < 0 ? 1 : 0) } }

    /// Maximum depth (the root alone has depth 0).
    public var depth: Int {
        guard nodeCount > 0 else { return 0 }
        var depthOf = [Int](repeating: 0, count: nodeCount), best = 0
        for i in 0 ..< nodeCount where feature[i] >= 0 {   // children always follow parents
            for c in [Int(left[i]), Int(right[i])] {
                depthOf[c] = depthOf[i] + 1
                best = max(best, depthOf[c])
            }
        }
        return best
    }

    /// Reallocates every per-node array to exactly its length. A grown tree's arrays have
    /// up to twice the capacity they need (appends double it); a forest keeps many trees.
    public mutating func shrinkToFit() {
        func exact<T>(_ a: inout [T]) { a = a.withUnsafeBufferPointer { Array($0) } }
        exact(&feature); exact(&threshold); exact(&left); exact(&right); exact(&missingGoesLeft)
        exact(&samples); exact(&weightedSamples); exact(&impurity); exact(&value)
    }

    /// Appends a node and returns its index.
    @discardableResult
    mutating func appendNode(samples n: Int, weighted: Double, impurity imp: Double, value v: UnsafeBufferPointer<Double>) -> Int {
        feature.append(-1)
        threshold.append(0)
        left.append(-1)
        right.append(-1)
        missingGoesLeft.append(0)
        samples.append(Int32(n))
        weightedSamples.append(weighted)
        impurity.append(imp)
        value.append(contentsOf: v)
        return feature.count - 1
    }

    /// The leaf reached by row `x` (a buffer of the row's feature values).
    @inlinable
    public func leaf(_ x: UnsafePointer<Double>) -> Int {
        feature.withUnsafeBufferPointer { f in
            threshold.withUnsafeBufferPointer { t in
                left.withUnsafeBufferPointer { l in
                    right.withUnsafeBufferPointer { r in
                        missingGoesLeft.withUnsafeBufferPointer { m in
                            var node = 0
                            while f[node] >= 0 {
                                let v = x[Int(f[node])]
                                let goLeft = v.isNaN ? m[node] != 0 : v <= t[node]
                                node = Int(goLeft ? l[node] : r[node])
                            }
                            return node
                        }
                    }
                }
            }
        }
    }

    /// Adds this tree's output for each row of `x` (row-major, `columns` features) to `out`
    /// (`rows × outputs`). With `hard`, a classifier adds 1 to its predicted class instead
    /// of the leaf's class fractions.
    public func accumulate(_ x: UnsafeBufferPointer<Double>, rows: Int, columns: Int,
                           into out: UnsafeMutableBufferPointer<Double>, hard: Bool = false) {
        let k = outputs
        feature.withUnsafeBufferPointer { f in
            threshold.withUnsafeBufferPointer { t in
                left.withUnsafeBufferPointer { l in
                    right.withUnsafeBufferPointer { r in
                        missingGoesLeft.withUnsafeBufferPointer { m in
                            value.withUnsafeBufferPointer { val in
                                for i in 0 ..< rows {
                                    let row = x.baseAddress! + i * columns
                                    var node = 0
                                    while f[node] >= 0 {
                                        let v = row[Int(f[node])]
                                        let goLeft = v.isNaN ? m[node] != 0 : v <= t[node]
                                        node = Int(goLeft ? l[node] : r[node])
                                    }
                                    let o = i * k, vo = node * k
                                    if hard {
                                        var best = 0
                                        for c in 1 ..< k where val[vo + c] > val[vo + best] { best = c }
                                        out[o + best] += 1
                                    } else {
                                        for c in 0 ..< k { out[o + c] += val[vo + c] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Impurity-based feature importances of this tree (weighted impurity decrease per
    /// feature), normalised to sum to 1 (all zero for a single leaf), as in scikit-learn.
    public func featureImportances(features: Int) -> [Double] {
        var imp = [Double](repeating: 0, count: features)
        for i in 0 ..< nodeCount where feature[i] >= 0 {
            let l = Int(left[i]), r = Int(right[i])
            imp[Int(feature[i])] += weightedSamples[i] * impurity[i] - weightedSamples[l] * impurity[l] - weightedSamples[r] * impurity[r]
        }
        let s = imp.reduce(0, +)
        return s > 0 ? imp.map { $0 / s } : imp
    }

    /// Checks the structure (child indices in range and after their parent, array lengths),
    /// so a corrupt model file is reported rather than crashing prediction.
    public func validate(features: Int) -> String? {
        let n = nodeCount
        guard n > 0 else { return "tree has no nodes" }
        guard threshold.count == n, left.count == n, right.count == n, missingGoesLeft.count == n, samples.count == n,
              weightedSamples.count == n, impurity.count == n, value.count == n * outputs else { return "tree arrays have inconsistent lengths" }
        for i in 0 ..< n where feature[i] >= 0 {
            guard Int(feature[i]) < features else { return "node \(i) uses feature \(feature[i]) of \(features)" }
            guard left[i] > Int32(i), right[i] > Int32(i), Int(left[i]) < n, Int(right[i]) < n else { return "node \(i) has bad children" }
        }
        return nil
    }
}

/// A tree laid out for prediction: 16-byte nodes in breadth-first order with the two
/// children of a node adjacent, so a descent touches one cache line per level and needs
/// no separate `right` array.
public struct PackedTree: Sendable {
    /// Internal node: `feature = f << 1 | missingGoesLeft`, `child` = index of the left child
    /// (the right child follows it). Leaf: `feature = -1`, `child` = the leaf's node index in
    /// the source tree (for its `value`).
    struct Node {
        var threshold: Double
        var feature: Int32
        var child: Int32
    }

    var nodes: [Node]
    public let value: [Double]
    public let outputs: Int

    public init(_ t: Tree) {
        var nodes = [Node](repeating: Node(threshold: 0, feature: -1, child: 0), count: t.nodeCount)
        var queue: [(old: Int, new: Int)] = [(0, 0)]
        queue.reserveCapacity(t.nodeCount)
        var head = 0, next = 1
        while head < queue.count {
            let (o, n) = queue[head]
            head += 1
            if t.feature[o] < 0 {
                nodes[n] = Node(threshold: 0, feature: -1, child: Int32(o))
            } else {
                nodes[n] = Node(threshold: t.threshold[o], feature: t.feature[o] << 1 | Int32(t.missingGoesLeft[o] != 0 ? 1 : 0), child: Int32(next))
                queue.append((Int(t.left[o]), next))
                queue.append((Int(t.right[o]), next + 1))
                next += 2
            }
        }
        self.nodes = nodes
        value = t.value
        outputs = t.outputs
    }

    /// Adds the tree's output for each row of `x` to `out` (see ``Tree/accumulate``).
    ///
    /// Rows descend in groups of 16 in lockstep, one level per round: the 16 node loads of a
    /// round are independent, so their cache misses overlap instead of queueing one after
    /// another (a deep tree does not fit in cache; one row at a time was 4× slower).
    public func accumulate(_ x: UnsafeBufferPointer<Double>, rows: Int, columns: Int,
                           into out: UnsafeMutableBufferPointer<Double>, hard: Bool = false) {
        let k = outputs
        let group = 16
        nodes.withUnsafeBufferPointer { nd in
            value.withUnsafeBufferPointer { val in
                withUnsafeTemporaryAllocation(of: Int32.self, capacity: group) { cur in
                    var g0 = 0
                    while g0 < rows {
                        let m = min(group, rows - g0)
                        for j in 0 ..< m { cur[j] = 0 }
                        var active = true
                        while active {
                            active = false
                            for j in 0 ..< m {
                                let n = nd[Int(cur[j])]
                                if n.feature < 0 { continue }
                                let v = x[(g0 + j) * columns + Int(n.feature >> 1)]
                                let goLeft = v.isNaN ? (n.feature & 1) != 0 : v <= n.threshold
                                cur[j] = n.child + (goLeft ? 0 : 1)
                                active = true
                            }
                        }
                        for j in 0 ..< m {
                            let o = (g0 + j) * k, vo = Int(nd[Int(cur[j])].child) * k
                            if hard {
                                var best = 0
                                for c in 1 ..< max(1, k) where val[vo + c] > val[vo + best] { best = c }
                                out[o + best] += 1
                            } else {
                                for c in 0 ..< k { out[o + c] += val[vo + c] }
                            }
                        }
                        g0 += m
                    }
                }
            }
        }
    }
}

/// A tree laid out for prediction on binned features (``FeatureBins`` codes): 8-byte nodes,
/// siblings adjacent, in depth-first order of the sibling pairs (a node's children follow
/// its own pair when it is a left child, so a descent often stays in one cache line where a
/// breadth-first layout touches a new line every level past the top few), and the rows'
/// features are read as bytes (8× less memory traffic than raw Doubles).
///
/// Exact: a threshold is the upper edge `edges[f][b]` of bin `b` (or +∞, "every value"), and
/// a code is the first bin whose edge is ≥ the value, so `code ≤ b` ⟺ `value ≤ threshold`.
/// A missing value has code `edges[f].count + 1`; it goes left only at nodes whose `missing`
/// equals that code. Built only for trees grown on these bins (see ``init(_:bins:)``).
///
/// Compact, so a forest that only predicts keeps these instead of its ``Tree``s (about 8
/// bytes a node against 57): leaf outputs are interned (bit-identical output vectors, such
/// as every pure leaf of a class, share one entry of a small table), and a leaf node holds
/// its entry in its otherwise unused `missing` field. Each leaf still adds exactly its own
/// Doubles, so sums are those of the full tree.
public struct BinnedPackedTree: Sendable {
    /// Internal node: `child` = left child (the right one follows it), `feature`, `bin`,
    /// `missing` = the feature's missing code if missing values go left, else 256 (never).
    /// Leaf: `child` = its own index and `bin = 255` (no code is above it, so every row goes
    /// "left", to the leaf itself, whatever `missing` holds): a row that reached a leaf stays
    /// there. `missing` = the leaf's entry in ``leafValue``, unless ``leafEntry`` is used.
    typealias Node = mpl_tree_node

    var nodes: [Node]
    /// Distinct leaf outputs, `outputs` numbers per entry, in order of first appearance.
    var leafValue: [Double]
    /// Each entry's class for hard voting (the first largest fraction).
    var leafClass: [Int32]
    /// Per node, its leaf's entry: only for a tree with more than 65,536 distinct leaf outputs
    /// (a regressor on many distinct targets), whose entries do not fit in `missing`; else empty.
    var leafEntry: [Int32]
    public let outputs: Int

    /// Entries of the leaf-output table (distinct leaf outputs).
    public var distinctLeafOutputs: Int { leafClass.count }

    /// Bytes held by the tree's arrays.
    public var byteCount: Int {
        nodes.count * MemoryLayout<Node>.stride + leafValue.count * 8 + leafClass.count * 4 + leafEntry.count * 4
    }

    /// Packs `t` for codes binned with `bins`; nil if a threshold is not one of the bin edges
    /// (a tree grown on other bins), a feature has more than 254 edges, or there are more
    /// than 256 features.
    public init?(_ t: Tree, bins: FeatureBins) {
        guard bins.edges.count <= 256 else { return nil }
        let count = t.nodeCount, k = t.outputs
        var nodes = [Node](repeating: Node(child: -1, feature: 0, bin: 0, missing: 256), count: count)
        var entryOf = [Int32](repeating: 0, count: count)
        var table = LeafTable(outputs: k)
        // Depth-first: a node's children pair is placed when the node is expanded, left
        // subtree first, so a left child's pair follows its own pair in memory.
        var stack: [(old: Int, new: Int)] = [(0, 0)]
        var next = 1
        while let (o, n) = stack.popLast() {
            if t.feature[o] < 0 {
                nodes[n] = Node(child: Int32(n), feature: 0, bin: 255, missing: 0)
                entryOf[n] = t.value.withUnsafeBufferPointer { table.intern($0.baseAddress! + o * k) }
                continue
            }
            let f = Int(t.feature[o])
            guard f < bins.edges.count else { return nil }
            let e = bins.edges[f], th = t.threshold[o]
            guard e.count <= 254 else { return nil }
            var b: Int
            if th == .infinity {
                b = e.count
            } else {
                var lo = 0, hi = e.count
                while lo < hi { let mid = (lo + hi) >> 1; if th <= e[mid] { hi = mid } else { lo = mid + 1 } }
                guard lo < e.count, e[lo] == th else { return nil }
                b = lo
            }
            nodes[n] = Node(child: Int32(next), feature: UInt8(f), bin: UInt8(b),
                            missing: t.missingGoesLeft[o] != 0 ? UInt16(e.count + 1) : 256)
            stack.append((Int(t.right[o]), next + 1))
            stack.append((Int(t.left[o]), next))
            next += 2
        }
        if table.count <= 1 << 16 {
            for n in 0 ..< count where nodes[n].bin == 255 { nodes[n].missing = UInt16(entryOf[n]) }
            leafEntry = []
        } else {
            leafEntry = entryOf
        }
        self.nodes = nodes
        leafValue = table.values.withUnsafeBufferPointer { Array($0) }
        leafClass = table.classes.withUnsafeBufferPointer { Array($0) }
        outputs = k
    }

    /// Adds the tree's output for each row of `codes` (row-major, `columns` codes per row) to
    /// `out`, exactly as ``PackedTree/accumulate`` does on the raw values. `codes` holds 4
    /// more bytes after the rows' codes (``FeatureBins/bin(_:padding:)`` with `padding: 4`):
    /// the descent's gathers read 32 bits at a time. `scratch` is reused across calls.
    ///
    /// The descent (`mpl_tree_leaves`, CKernels) keeps a pool of rows in flight and starts the
    /// next row as soon as one reaches its leaf, so every step visits a node on some row's path
    /// (a lockstep descent runs every row for the deepest leaf's depth, twice the average on
    /// the flights forest); the AVX-512 variant advances 64 rows at a time with gathers.
    /// Then each row adds its leaf's entry, tree after tree in the caller's order.
    public func accumulate(_ codes: UnsafeBufferPointer<UInt8>, rows: Int, columns: Int,
                           into out: UnsafeMutableBufferPointer<Double>, hard: Bool = false,
                           scratch: inout [Int32]) {
        guard rows > 0 else { return }
        precondition(codes.count >= rows * columns + 4, "BinnedPackedTree.accumulate: \(codes.count) codes for \(rows) rows × \(columns) features and 4 padding bytes")
        let k = outputs
        // Each row's leaf, then the 2 × (rows + 64) entries `mpl_tree_leaves` works in.
        let need = rows + 2 * (rows + 64)
        if scratch.count < need { scratch = [Int32](repeating: 0, count: need) }
        let entryInNode = leafEntry.isEmpty
        nodes.withUnsafeBufferPointer { nd in
            leafValue.withUnsafeBufferPointer { val in
                leafClass.withUnsafeBufferPointer { cls in
                    leafEntry.withUnsafeBufferPointer { le in
                        scratch.withUnsafeMutableBufferPointer { sc in
                            let leaf = sc.baseAddress!, nb = nd.baseAddress!, ob = out.baseAddress!
                            mpl_tree_leaves(nb, codes.baseAddress!, rows, columns, leaf, leaf + rows)
                            if hard {
                                for i in 0 ..< rows {
                                    let node = Int(leaf[i])
                                    let entry = entryInNode ? Int(nb[node].missing) : Int(le[node])
                                    ob[i &* k &+ Int(cls[entry])] += 1
                                }
                            } else {
                                for i in 0 ..< rows {
                                    let node = Int(leaf[i])
                                    let entry = entryInNode ? Int(nb[node].missing) : Int(le[node])
                                    let o = i &* k, vo = entry &* k
                                    for c in 0 ..< k { ob[o &+ c] += val[vo &+ c] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Interns leaf outputs for ``BinnedPackedTree``: vectors of `outputs` numbers that are
/// bit-identical get one entry (an open-addressing hash table over the entries).
struct LeafTable {
    let outputs: Int
    /// `outputs` numbers per entry.
    private(set) var values: [Double] = []
    /// Each entry's first largest component.
    private(set) var classes: [Int32] = []
    /// Entry index per slot, -1 if empty; a power of two at least twice the entries.
    private var slots = [Int32](repeating: -1, count: 64)

    init(outputs: Int) { self.outputs = outputs }

    var count: Int { classes.count }

    private func hash(_ v: UnsafePointer<Double>) -> Int {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15
        for c in 0 ..< outputs {
            h = (h ^ v[c].bitPattern) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
        }
        return Int(truncatingIfNeeded: h)
    }

    /// The entry of the vector at `v` (`outputs` numbers), added if new.
    mutating func intern(_ v: UnsafePointer<Double>) -> Int32 {
        let k = outputs, mask = slots.count - 1
        var i = hash(v) & mask
        while slots[i] >= 0 {
            let e = Int(slots[i])
            var same = true
            for c in 0 ..< k where values[e * k + c].bitPattern != v[c].bitPattern { same = false; break }
            if same { return Int32(e) }
            i = (i + 1) & mask
        }
        let entry = Int32(count)
        var best = 0
        for c in 0 ..< k {
            values.append(v[c])
            if v[c] > v[best] { best = c }
        }
        classes.append(Int32(best))
        slots[i] = entry
        if 2 * count > slots.count { grow() }
        return entry
    }

    /// Doubles the slots and re-places every entry.
    private mutating func grow() {
        let size = slots.count * 2, mask = size - 1
        var fresh = [Int32](repeating: -1, count: size)
        values.withUnsafeBufferPointer { vals in
            for e in 0 ..< count {
                var i = hash(vals.baseAddress! + e * outputs) & mask
                while fresh[i] >= 0 { i = (i + 1) & mask }
                fresh[i] = Int32(e)
            }
        }
        slots = fresh
    }
}
