import Foundation
import SwiftMPI

// Ordinary least squares and ridge regression over rows spread across ranks. Both reduce the
// data to its normal equations: every rank centres its rows by the global means (one
// allreduce of the column and target sums), computes its share of the Gram matrix XᵀX and of
// Xᵀy with BLAS GEMM, and one allreduce of d² + d values gives every rank the same system,
// which each solves with LAPACK. The coefficients therefore agree across rank counts up to
// the order of floating-point summation.

/// Ordinary least squares (scikit-learn's `LinearRegression`).
///
/// Solves the centred normal equations (XcᵀXc)·w = Xcᵀyc with LAPACK's SVD least-squares
/// driver (`gelsd`), so rank-deficient or collinear features give the minimum-norm solution
/// (the pseudo-inverse one, as scipy's `lstsq`). Singular values of the Gram matrix below
/// 1e-12 of the largest (1e-6 of X's largest) count as zero.
public struct LinearRegression: Estimator, Equatable {
    /// Fit an intercept (centre X and y by their global means); else the model goes through 0.
    public var fitIntercept: Bool

    public init(fitIntercept: Bool = true) { self.fitIntercept = fitIntercept }

    enum CodingKeys: String, CodingKey { case fitIntercept = "fit_intercept" }

    public static let estimatorName = "linear-regression"
    public static let role = EstimatorRole.regressor
    /// A data-parallel fit: the same coefficients on any number of ranks (up to rounding).
    public static var fitsShardedData: Bool { true }

    public func validate() throws {}

    /// Collective. Fits every rank's rows; the model is identical on every rank.
    /// - Throws: ``MPILearnError/dataError`` naming the row (and column) of a non-finite
    ///   feature or target; ``MPILearnError/numerical`` if the SVD does not converge.
    public func fit(_ data: Dataset<Double>, comm: any Communicator) throws -> LinearRegressionModel {
        let system = try NormalEquations(data, fitIntercept: fitIntercept, learner: "linear regression", comm: comm)
        let d = system.gram.rows
        let (w, rank) = try solveLeastSquaresSVD(system.gram, Matrix(rows: d, columns: 1, storage: system.xty), rcond: 1e-12)
        let coef = LinearCoefficients(coef: Matrix(rows: 1, columns: d, storage: w.storage),
                                      intercept: [system.intercept(for: w.storage)])
        return LinearRegressionModel(configuration: self, coefficients: coef, schema: data.regressionSchema, rank: rank)
    }
}

/// Linear least squares with an L2 penalty (scikit-learn's `Ridge`, Cholesky solver).
///
/// Minimises ‖y − Xw − b‖² + alpha·‖w‖²; the intercept b is not penalised (X and y are
/// centred by their global means). Solves (XcᵀXc + alpha·I)·w = Xcᵀyc with LAPACK `posv`.
public struct Ridge: Estimator, Equatable {
    /// The penalty strength (`alpha`), ≥ 0.
    public var alpha: Double
    /// Fit an unpenalised intercept (`fit_intercept`).
    public var fitIntercept: Bool

    public init(alpha: Double = 1, fitIntercept: Bool = true) {
        self.alpha = alpha
        self.fitIntercept = fitIntercept
    }

    enum CodingKeys: String, CodingKey { case alpha, fitIntercept = "fit_intercept" }

    public static let estimatorName = "ridge"
    public static let role = EstimatorRole.regressor
    public static var fitsShardedData: Bool { true }

    public func validate() throws {
        try require(alpha >= 0 && alpha.isFinite, "alpha", alpha, "a finite number >= 0")
    }

    /// Collective. Fits every rank's rows; the model is identical on every rank.
    /// - Throws: ``MPILearnError/numerical`` when XᵀX + alpha·I is singular (alpha = 0 with
    ///   collinear features); ``MPILearnError/dataError`` for non-finite values.
    public func fit(_ data: Dataset<Double>, comm: any Communicator) throws -> RidgeModel {
        try validate()
        let system = try NormalEquations(data, fitIntercept: fitIntercept, learner: "ridge", comm: comm)
        let d = system.gram.rows
        var a = system.gram
        for j in 0 ..< d { a[j, j] += alpha }
        let w = try solveSymmetricPositiveDefinite(a, Matrix(rows: d, columns: 1, storage: system.xty))
        let coef = LinearCoefficients(coef: Matrix(rows: 1, columns: d, storage: w.storage), intercept: [system.intercept(for: w.storage)])
        return RidgeModel(configuration: self, coefficients: coef, schema: data.regressionSchema)
    }
}

/// The centred normal equations of every rank's rows, identical on every rank.
struct NormalEquations {
    var gram: Matrix<Double>
    var xty: [Double]
    var xMean: [Double]
    var yMean: Double

    /// Collective: two allreduces, of d + 2 sums and of d² + d Gram entries.
    init(_ data: Dataset<Double>, fitIntercept: Bool, learner: String, comm: any Communicator) throws {
        let design = try linearDesign(data, learner: learner)
        let y = try linearTarget(data, learner: learner)
        let d = design.columns
        var sums = design.columnSums() + [y.reduce(0, +), Double(design.rows)]
        try comm.allreduce(&sums, op: .sum)
        let n = sums[d + 1]
        guard n >= 1 else { throw MPILearnError.dataError(SourceLocation(file: "data"), "\(learner) needs at least one row; the ranks hold none") }
        xMean = fitIntercept ? sums[0 ..< d].map { $0 / n } : [Double](repeating: 0, count: d)
        yMean = fitIntercept ? sums[d] / n : 0
        var local = try design.centredGram(means: xMean, y: y, yMean: yMean)
        var flat = local.gram.storage + local.xty
        local = (Matrix(rows: 0, columns: 0), [])
        try comm.allreduce(&flat, op: .sum)
        // Symmetrise (GEMM's two triangles may differ in the last bit).
        var g = Matrix(rows: d, columns: d, storage: Array(flat[0 ..< d * d]))
        for i in 0 ..< d { for j in i + 1 ..< max(i + 1, d) { let v = 0.5 * (g[i, j] + g[j, i]); g[i, j] = v; g[j, i] = v } }
        gram = g
        xty = Array(flat[d * d ..< d * d + d])
    }

    /// ȳ − x̄·w (0 without an intercept).
    func intercept(for w: [Double]) -> Double {
        yMean - zip(xMean, w).reduce(0) { $0 + $1.0 * $1.1 }
    }
}

// MARK: - fitted models

/// A fitted ``LinearRegression``: `coef_`, `intercept_` and the rank of X (`rank_`).
public struct LinearRegressionModel: RegressorModel, Equatable {
    public var configuration: LinearRegression
    public var coefficients: LinearCoefficients
    /// Feature names and category dictionaries (test rows are aligned to them), the target.
    public var schema: FeatureSchema
    /// The effective rank of the centred features (`rank_`).
    public var rank: Int

    public static let kind = "linear-regression"

    public var featureNames: [String] { schema.featureNames }

    /// `coef_`: one weight per feature.
    public var coef: [Double] { coefficients.coef.storage }
    /// `intercept_`.
    public var intercept: Double { coefficients.intercept[0] }

    public func predict(_ x: Matrix<Double>) throws -> [Double] {
        try checkFeatures(x.columns)
        return try coefficients.decision(x).storage
    }

    public func container() throws -> ModelContainer {
        try coefficients.container(kind: Self.kind, parameters: configuration, schema: schema, nIter: nil, rank: rank)
    }

    public static func decode(_ container: ModelContainer, path: String) throws -> LinearRegressionModel {
        let (h, c) = try LinearCoefficients.decode(container, path: path, as: LinearRegression.self)
        return LinearRegressionModel(configuration: h.parameters, coefficients: c, schema: h.schema, rank: h.rank ?? 0)
    }

    public func summary() -> [(String, String)] {
        linearSummary(coefficients, featureNames: featureNames, parameters: "fit_intercept=\(configuration.fitIntercept)") + [("rank", "\(rank)")]
    }
}

/// A fitted ``Ridge``: `coef_` and `intercept_`.
public struct RidgeModel: RegressorModel, Equatable {
    public var configuration: Ridge
    public var coefficients: LinearCoefficients
    /// Feature names and category dictionaries (test rows are aligned to them), the target.
    public var schema: FeatureSchema

    public static let kind = "ridge"

    public var featureNames: [String] { schema.featureNames }

    public var coef: [Double] { coefficients.coef.storage }
    public var intercept: Double { coefficients.intercept[0] }

    public func predict(_ x: Matrix<Double>) throws -> [Double] {
        try checkFeatures(x.columns)
        return try coefficients.decision(x).storage
    }

    public func container() throws -> ModelContainer {
        try coefficients.container(kind: Self.kind, parameters: configuration, schema: schema, nIter: nil, rank: nil)
    }

    public static func decode(_ container: ModelContainer, path: String) throws -> RidgeModel {
        let (h, c) = try LinearCoefficients.decode(container, path: path, as: Ridge.self)
        return RidgeModel(configuration: h.parameters, coefficients: c, schema: h.schema)
    }

    public func summary() -> [(String, String)] {
        linearSummary(coefficients, featureNames: featureNames,
                      parameters: "alpha=\(configuration.alpha) fit_intercept=\(configuration.fitIntercept)")
    }
}

extension Dataset where T == Double {
    /// The schema a regressor saves: no classes.
    var regressionSchema: FeatureSchema {
        var s = schema
        s.classes = nil
        return s
    }
}

/// `model inspect` lines shared by the linear models.
func linearSummary(_ c: LinearCoefficients, featureNames: [String], parameters: String) -> [(String, String)] {
    let rows = (0 ..< c.coef.rows).map { r in
        "[" + c.coef.row(r).map { String(format: "%.6g", $0) }.prefix(8).joined(separator: ", ") + (c.coef.columns > 8 ? ", …" : "") + "]"
    }
    return [
        ("features", "\(featureNames.count) (\(listPreview(featureNames)))"),
        ("coef", rows.joined(separator: " ")),
        ("intercept", c.intercept.map { String(format: "%.6g", $0) }.joined(separator: ", ")),
        ("parameters", parameters),
    ]
}
