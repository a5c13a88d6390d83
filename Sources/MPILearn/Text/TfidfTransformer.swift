import Foundation
import SwiftMPI

/// scikit-learn's `TfidfTransformer`: term counts to tf-idf weights.
///
/// ``fit(_:comm:)`` counts each column's document frequency `df` — the rows storing an entry
/// in it, explicit zeros included (scikit-learn's `np.bincount(X.indices)`) — over every
/// rank's rows, and sets `idf = ln(n / df) + 1`, where with `smooth_idf` both `n` and `df` are
/// one larger (as if one document held every term). ``TfidfModel/transform(_:)`` replaces
/// each stored value `x` with `ln(x) + 1` (`sublinear_tf`), multiplies it by its column's
/// `idf` (`use_idf`) and normalises the rows (`norm`).
public struct TfidfTransformer: Codable, Sendable, Equatable {
    /// `norm`: the row normalisation of the output, or nil. Default l2.
    public var norm: RowNorm?
    /// `use_idf`: weight by inverse document frequency. Default true.
    public var useIdf: Bool
    /// `smooth_idf`: add one to every document frequency and to the document count. Default true.
    public var smoothIdf: Bool
    /// `sublinear_tf`: replace each term frequency `tf` with `1 + ln(tf)`. Default false.
    public var sublinearTf: Bool

    public init(norm: RowNorm? = .l2, useIdf: Bool = true, smoothIdf: Bool = true, sublinearTf: Bool = false) {
        self.norm = norm
        self.useIdf = useIdf
        self.smoothIdf = smoothIdf
        self.sublinearTf = sublinearTf
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case norm, useIdf = "use_idf", smoothIdf = "smooth_idf", sublinearTf = "sublinear_tf"
    }

    /// Decodes scikit-learn's parameter names; a missing key takes scikit-learn's default.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        norm = try RowNorm.decode(c, .norm, default: .l2)
        useIdf = try c.decodeIfPresent(Bool.self, forKey: .useIdf) ?? true
        smoothIdf = try c.decodeIfPresent(Bool.self, forKey: .smoothIdf) ?? true
        sublinearTf = try c.decodeIfPresent(Bool.self, forKey: .sublinearTf) ?? false
    }

    /// Encodes every parameter under scikit-learn's name, `norm` null when nil.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if let norm { try c.encode(norm, forKey: .norm) } else { try c.encodeNil(forKey: .norm) }
        try c.encode(useIdf, forKey: .useIdf)
        try c.encode(smoothIdf, forKey: .smoothIdf)
        try c.encode(sublinearTf, forKey: .sublinearTf)
    }

    /// Collective. Learns the document frequencies of every rank's rows of `x` (a block of
    /// rows of one matrix; every rank passes the same column count) and returns the model,
    /// identical on every rank and equal to a one-rank fit on all rows.
    /// - Throws: ``MPILearnError/mismatch`` when ranks disagree on the column count, when no
    ///   rank has a row, or when `x` is inconsistent or stores NaN or infinity.
    public func fit(_ x: CSRMatrix<Double>, comm: any Communicator) throws -> TfidfModel {
        try x.validate()
        let finite = x.data.allSatisfy(\.isFinite)
        let checks = try comm.allreduce([Int64(x.columns), -Int64(x.columns), finite ? 0 : 1], op: .max)
        guard checks[0] == -checks[1] else {
            throw MPILearnError.mismatch("TfidfTransformer.fit: ranks hold matrices of \(-checks[1]) to \(checks[0]) columns; every rank needs the same count")
        }
        guard checks[2] == 0 else {
            throw MPILearnError.mismatch("TfidfTransformer.fit: the input stores NaN or infinity (on this rank: \(finite ? "no" : "yes"))")
        }
        guard useIdf else { return TfidfModel(parameters: self, nFeatures: x.columns, idf: nil) }
        // Document frequencies and the row count, summed over the ranks (integers: exact).
        var counts = [Int64](repeating: 0, count: x.columns + 1)
        for j in x.indices { counts[Int(j)] += 1 }
        counts[x.columns] = Int64(x.rows)
        try comm.allreduce(&counts, op: .sum)
        guard counts[x.columns] > 0 else {
            throw MPILearnError.mismatch("TfidfTransformer.fit: no rows on any rank; need at least one document")
        }
        let n = Double(counts[x.columns]) + (smoothIdf ? 1 : 0)
        // scikit-learn's order: idf = n; idf /= (df + smooth); idf = log(idf); idf += 1.
        let idf = (0 ..< x.columns).map { j in log(n / (Double(counts[j]) + (smoothIdf ? 1 : 0))) + 1 }
        return TfidfModel(parameters: self, nFeatures: x.columns, idf: idf)
    }
}

/// A fitted ``TfidfTransformer``: its parameters and scikit-learn's `idf_`.
public struct TfidfModel: Codable, Sendable, Equatable {
    public var parameters: TfidfTransformer
    /// The column count `fit` saw (scikit-learn's `n_features_in_`).
    public var nFeatures: Int
    /// scikit-learn's `idf_`, one weight per column; nil when `use_idf` is false.
    public var idf: [Double]?

    public init(parameters: TfidfTransformer, nFeatures: Int, idf: [Double]?) {
        self.parameters = parameters
        self.nFeatures = nFeatures
        self.idf = idf
    }

    enum CodingKeys: String, CodingKey {
        case parameters, nFeatures = "n_features_in", idf = "idf_"
    }

    /// scikit-learn's `transform`: `ln(x) + 1` for each stored value with `sublinear_tf`
    /// (explicit zeros become −∞, as in scikit-learn), times the column's `idf`, then the row
    /// normalisation.
    /// - Throws: ``MPILearnError/mismatch`` when `x` has another column count than the fit saw,
    ///   is inconsistent, or stores NaN or infinity.
    public func transform(_ x: CSRMatrix<Double>) throws -> CSRMatrix<Double> {
        try x.validate()
        guard x.columns == nFeatures else {
            throw MPILearnError.mismatch("TfidfModel.transform: X has \(x.columns) features, but the model was fitted on \(nFeatures)")
        }
        guard x.data.allSatisfy(\.isFinite) else {
            throw MPILearnError.mismatch("TfidfModel.transform: the input stores NaN or infinity")
        }
        var y = x
        if parameters.sublinearTf {
            for k in y.data.indices { y.data[k] = log(y.data[k]) + 1 }
        }
        if let idf {
            for k in y.data.indices { y.data[k] *= idf[Int(y.indices[k])] }
        }
        parameters.norm?.apply(to: &y)
        return y
    }
}
