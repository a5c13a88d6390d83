/// One feature column held as a dictionary of its distinct values and a one- or two-byte code
/// per row: lossless (every value comes back bit for bit, `-0.0` and `0.0` kept apart, NaN for
/// missing), and an eighth or a quarter of the bytes of Doubles for the columns tabular data
/// mostly has (counts, times, small integers, categorical codes). A column with more than
/// 65,535 distinct values stays as its values.
///
/// A search over a random forest holds its training data this way (``Dataset/makeCoded()``):
/// binning a fold's rows reads values through the dictionary, and coding rows with known bin
/// edges is one table lookup per value.
public struct CodedColumn<T: LinearAlgebraScalar>: Sendable {
    /// How the rows are held.
    public enum Storage: Sendable {
        /// Codes into ``CodedColumn/values``; ``CodedColumn/missingCode`` is NaN.
        case byte([UInt8])
        case short([UInt16])
        /// The values themselves (too many distinct ones for two-byte codes).
        case values([T])
    }

    /// The distinct non-missing values, ascending (`-0.0` before `0.0`); empty for ``Storage/values(_:)``.
    public let values: [T]
    public let storage: Storage

    /// Rows in the column.
    public var count: Int {
        switch storage {
        case .byte(let c): return c.count
        case .short(let c): return c.count
        case .values(let v): return v.count
        }
    }

    /// The code of a missing value: one past the last value's.
    public var missingCode: Int { values.count }

    /// Bytes held for the rows and the dictionary.
    public var byteCount: Int {
        let dictionary = values.count * MemoryLayout<T>.stride
        switch storage {
        case .byte(let c): return c.count + dictionary
        case .short(let c): return 2 * c.count + dictionary
        case .values(let v): return v.count * MemoryLayout<T>.stride
        }
    }

    /// Codes `column`: distinct values by bit pattern (so the codes give back the exact values),
    /// sorted ascending; one byte a row for at most 254 of them, two for at most 65,535, else
    /// the values as they are.
    public init(_ column: [T]) {
        var index: [UInt64: Int] = [:]
        var distinct: [T] = []
        for v in column where !v.isNaN {
            let key = Double(v).bitPattern
            if index[key] == nil {
                if distinct.count == 65_535 { values = []; storage = .values(column); return }
                index[key] = distinct.count
                distinct.append(v)
            }
        }
        // Ascending, with -0.0 before 0.0 (they compare equal; the sign bit orders them).
        let order = distinct.indices.sorted { a, b in
            let x = distinct[a], y = distinct[b]
            return x < y || (x == y && x.sign == .minus && y.sign == .plus)
        }
        var rank = [Int](repeating: 0, count: distinct.count)
        for (r, i) in order.enumerated() { rank[i] = r }
        values = order.map { distinct[$0] }
        let missing = distinct.count
        func code(_ v: T) -> Int { v.isNaN ? missing : rank[index[Double(v).bitPattern]!] }
        if distinct.count < 255 {
            storage = .byte(column.map { UInt8(code($0)) })
        } else {
            storage = .short(column.map { UInt16(code($0)) })
        }
    }

    /// The value of row `i` (NaN when missing).
    @inlinable public subscript(i: Int) -> T {
        switch storage {
        case .byte(let c): let k = Int(c[i]); return k < values.count ? values[k] : .nan
        case .short(let c): let k = Int(c[i]); return k < values.count ? values[k] : .nan
        case .values(let v): return v[i]
        }
    }

    /// Every row's value (a new array).
    public func decoded() -> [T] { (0 ..< count).map { self[$0] } }
}
