/// The per-row normalisation of scikit-learn's `normalize` (and the `norm` parameter of its
/// text transformers): each row divided by its l1 or l2 norm, rows of norm zero left alone.
public enum RowNorm: String, Codable, Sendable, CaseIterable {
    /// Divide by the sum of absolute values.
    case l1
    /// Divide by the square root of the sum of squares.
    case l2

    /// Normalises every row of `x` in place, with the operations in scikit-learn's order
    /// (`_inplace_csr_row_normalize_l1` / `_l2`: sum over the row's stored entries in order,
    /// skip the row when the sum is 0, divide each entry), so the results are the same bits.
    public func apply(to x: inout CSRMatrix<Double>) {
        let rows = x.rows
        x.indptr.withUnsafeBufferPointer { ptr in
            x.data.withUnsafeMutableBufferPointer { data in
                for i in 0 ..< rows {
                    let r = Int(ptr[i]) ..< Int(ptr[i + 1])
                    var sum = 0.0
                    switch self {
                    case .l1: for j in r { sum += abs(data[j]) }
                    case .l2: for j in r { sum += data[j] * data[j] }
                    }
                    if sum == 0 { continue }
                    if self == .l2 { sum = sum.squareRoot() }
                    for j in r { data[j] /= sum }
                }
            }
        }
    }

    /// Decodes an optional norm as scikit-learn writes it: "l1", "l2" or null.
    /// - Throws: ``MPILearnError/invalidParameter`` for any other string.
    static func decode<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ key: K, default value: RowNorm?) throws -> RowNorm? {
        guard c.contains(key) else { return value }
        if try c.decodeNil(forKey: key) { return nil }
        let s = try c.decode(String.self, forKey: key)
        guard let norm = RowNorm(rawValue: s) else {
            throw MPILearnError.invalidParameter(name: key.stringValue, value: "\"\(s)\"", allowed: "\"l1\", \"l2\" or null")
        }
        return norm
    }
}
