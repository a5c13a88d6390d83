/// scikit-learn's `FeatureHasher`: named features to a sparse matrix through MurmurHash3.
///
/// A feature `(name, value)` goes to column `abs(h) % n_features` where `h` is the signed
/// MurmurHash3_x86_32 (seed 0) of the name's UTF-8 bytes; with `alternate_sign` its value is
/// negated when `h < 0`. Zero values are skipped. Each row holds its columns in increasing
/// order with duplicates summed and explicit zeros kept (scipy's `sum_duplicates`).
///
/// Duplicates in one row are summed in input order. scipy sorts a row's entries with an
/// unstable sort before summing, so for rows of more than 16 entries whose duplicate
/// non-integer values round differently in another order, the last bit may differ.
///
/// Input types: `dict` and `pair` both take each sample as a list of `(name, value)` pairs
/// (for `dict`, in the dictionary's iteration order); scikit-learn turns a string value `v`
/// into the feature `"name=v"` with value 1 — pass that pair directly. `string` takes each
/// sample as a list of names, each with value 1. Unlike scikit-learn, no samples give a
/// matrix with no rows instead of an error (a rank may hold none).
public struct FeatureHasher: Codable, Sendable, Equatable {
    /// scikit-learn's `input_type`.
    public enum InputType: String, Codable, Sendable, CaseIterable {
        case dict, pair, string
    }

    /// `n_features`: the number of columns, in `1 ... 2^31 - 1`. Default 2^20.
    public var nFeatures: Int
    /// `input_type`. Default `dict`, as in scikit-learn.
    public var inputType: InputType
    /// `alternate_sign`: negate values whose name hashes below zero. Default true.
    public var alternateSign: Bool

    public init(nFeatures: Int = 1 << 20, inputType: InputType = .dict, alternateSign: Bool = true) {
        self.nFeatures = nFeatures
        self.inputType = inputType
        self.alternateSign = alternateSign
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case nFeatures = "n_features", inputType = "input_type", alternateSign = "alternate_sign"
    }

    /// Decodes scikit-learn's parameter names; a missing key takes scikit-learn's default.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        nFeatures = try c.decodeIfPresent(Int.self, forKey: .nFeatures) ?? 1 << 20
        alternateSign = try c.decodeIfPresent(Bool.self, forKey: .alternateSign) ?? true
        let t = try c.decodeIfPresent(String.self, forKey: .inputType) ?? "dict"
        guard let type = InputType(rawValue: t) else {
            throw MPILearnError.invalidParameter(name: "input_type", value: "\"\(t)\"", allowed: "\"dict\", \"pair\" or \"string\"")
        }
        inputType = type
    }

    /// Checks `n_features`.
    /// - Throws: ``MPILearnError/invalidParameter`` naming the parameter and its allowed range.
    public func validate() throws {
        guard nFeatures >= 1, nFeatures <= Int(Int32.max) else {
            throw MPILearnError.invalidParameter(name: "n_features", value: "\(nFeatures)", allowed: "an integer in 1...2147483647")
        }
    }

    /// scikit-learn's `transform` for `input_type` `dict` or `pair`: one row per sample.
    /// - Throws: ``MPILearnError/invalidParameter`` for a bad parameter or when `input_type` is `string`.
    public func transform(pairs samples: [[(String, Double)]]) throws -> CSRMatrix<Double> {
        try validate()
        guard inputType != .string else {
            throw MPILearnError.invalidParameter(name: "input_type", value: "\"string\"",
                                                 allowed: "\"dict\" or \"pair\" for (name, value) samples; use transform(strings:)")
        }
        var rows = HashedRows(nFeatures: nFeatures, alternateSign: alternateSign)
        for sample in samples {
            for (name, value) in sample { rows.add(name, value) }
            rows.endRow()
        }
        return rows.matrix()
    }

    /// scikit-learn's `transform` for `input_type` `string`: each name counts 1.
    /// - Throws: ``MPILearnError/invalidParameter`` for a bad parameter or when `input_type` is not `string`.
    public func transform(strings samples: [[String]]) throws -> CSRMatrix<Double> {
        try validate()
        guard inputType == .string else {
            throw MPILearnError.invalidParameter(name: "input_type", value: "\"\(inputType.rawValue)\"",
                                                 allowed: "\"string\" for samples of names; use transform(pairs:)")
        }
        var rows = HashedRows(nFeatures: nFeatures, alternateSign: alternateSign)
        for sample in samples {
            for name in sample { rows.add(name, 1) }
            rows.endRow()
        }
        return rows.matrix()
    }
}

/// Rows of hashed `(name, value)` features with any values: each row's entries are sorted by
/// column (stable) and runs of one column summed in input order.
struct HashedRows {
    let nFeatures: Int
    let alternateSign: Bool
    private var entries: [(column: Int32, value: Double)] = []
    private var indptr: [Int64] = [0]
    private var indices: [Int32] = []
    private var data: [Double] = []

    init(nFeatures: Int, alternateSign: Bool) {
        self.nFeatures = nFeatures
        self.alternateSign = alternateSign
    }

    mutating func add(_ name: String, _ value: Double) {
        if value == 0 { return }
        let h = MurmurHash3.hash32(name)
        let column = Int32(MurmurHash3.column(ofHash: h, nFeatures: nFeatures))
        entries.append((column, alternateSign && h < 0 ? -value : value))
    }

    mutating func endRow() {
        // A stable sort: by column, then by position.
        let order = entries.indices.sorted { (entries[$0].column, $0) < (entries[$1].column, $1) }
        var k = 0
        while k < order.count {
            let column = entries[order[k]].column
            var sum = entries[order[k]].value
            k += 1
            while k < order.count, entries[order[k]].column == column {
                sum += entries[order[k]].value
                k += 1
            }
            indices.append(column)
            data.append(sum)
        }
        indptr.append(Int64(data.count))
        entries.removeAll(keepingCapacity: true)
    }

    func matrix() -> CSRMatrix<Double> {
        CSRMatrix(rows: indptr.count - 1, columns: nFeatures, indptr: indptr, indices: indices, data: data)
    }
}
