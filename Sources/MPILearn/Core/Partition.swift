/// Block distributions of `count` items over `parts` ranks.
public enum Partition {
    /// The contiguous block of `count` items owned by part `index` of `parts`: the first
    /// `count % parts` parts get one extra item, so sizes differ by at most one.
    public static func block(count: Int, parts: Int, index: Int) -> Range<Int> {
        precondition(parts > 0 && index >= 0 && index < parts, "Partition.block: index \(index) of \(parts) parts")
        let base = count / parts, extra = count % parts
        let start = index * base + min(index, extra)
        return start ..< start + base + (index < extra ? 1 : 0)
    }

    /// Splits `total` items over parts in proportion to `weights` (largest remainder, ties to
    /// the lower index), so the shares sum to `total` exactly. A part of weight 0 gets 0.
    public static func proportional(total: Int, weights: [Int]) -> [Int] {
        let w = weights.reduce(0, +)
        guard w > 0 else { return Array(repeating: 0, count: weights.count) }
        var shares = weights.map { total * $0 / w }
        var remainders = weights.indices.map { (rem: total * weights[$0] % w, index: $0) }
        remainders.sort { ($0.rem, -$0.index) > ($1.rem, -$1.index) }
        var left = total - shares.reduce(0, +)
        for r in remainders where left > 0 && weights[r.index] > 0 {
            shares[r.index] += 1
            left -= 1
        }
        return shares
    }
}
