/// The first `limit` items joined by `separator`, then how many were left out: a message that
/// names columns or categories stays readable when there are thousands of them.
///
/// ```swift
/// listPreview(["a", "b", "c"])                 // "a, b, c"
/// listPreview((1 ... 600).map { "c\($0)" })    // "c1, c2, ..., c20 … and 580 more"
/// ```
/// - Parameters:
///   - items: the values, already formatted (quote them first if the message quotes values).
///   - limit: how many to show; at least 1.
///   - separator: what goes between two shown items.
/// - Returns: the shown items, followed by ` … and N more` when `N` items were left out.
public func listPreview<C: Collection>(_ items: C, limit: Int = 20, separator: String = ", ") -> String where C.Element == String {
    let shown = max(limit, 1)
    let head = items.prefix(shown).joined(separator: separator)
    let rest = items.count - min(items.count, shown)
    return rest > 0 ? "\(head) … and \(rest) more" : head
}
