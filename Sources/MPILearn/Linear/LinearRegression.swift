import Foundation
import SwiftMPI

// Ordinary least squares and ridge regression over rows spread across ranks. Every rank
// centres by the global means (one allreduce of the column and target sums), so the
// intercept is not penalised, as in scikit-learn. Then, for dense features and sparse ones
// with at most `sparseGramColumnLimit` columns, each rank computes its share of the Gram
// matrix XcᵀXc and of Xcᵀyc (GEMM on dense rows, the sparse outer-product kernel on CSR
// rows), one allreduce of d² + d values gives every rank the same normal equations, and each
// solves them with LAPACK. Wider sparse features (hashed text) go to iterative solvers that
// never form XcᵀXc: conjugate gradient (Ridge, scikit-learn's `sparse_cg`) and LSQR
// (LinearRegression, what scikit-learn runs on sparse input), one allreduce of d values per
// iteration (ConjugateGradient.swift). Either way the coefficients agree across rank counts
// up to the order of floating-point summation.

/// Sparse features with more columns than this skip the Gram matrix (d² Float64 values,
/// 128 MiB at 4096, allreduced and factorised on every rank) for an iterative solver:
/// Ridge's `auto` solver picks `sparse_cg`, LinearRegression LSQR.
public let sparseGramColumnLimit = 4096

/// Ordinary least squares (scikit-learn's `LinearRegression`).
///
/// Dense features, and sparse ones with at most ``sparseGramColumnLimit`` columns: solves the
/// centred normal equations (XcᵀXc)·w = Xcᵀyc with LAPACK's SVD least-squares driver
/// (`gelsd`), so rank-deficient or collinear features give the minimum-norm solution (the
/// pseudo-inverse one, as scipy's `lstsq`) and `rank_`. Singular values of X below
/// `tol`·σ₁ count as zero (scikit-learn ≥ 1.9 passes `tol` to `lstsq` as `cond`; the Gram
/// matrix's are σ², so its cut-off is tol²).
///
/// Wider sparse features: LSQR on the implicitly centred rows with `atol = btol = tol`, as
/// scikit-learn does for every sparse input (`scipy.sparse.linalg.lsqr`); from zero it
/// converges to the same minimum-norm solution. `rank_` is then unknown (nil), as
/// scikit-learn leaves it unset.
public struct LinearRegression: Estimator, Equatable {
    /// Fit an intercept (centre X and y by their global means); else the model goes through 0.
    public var fitIntercept: Bool
    /// The precision of the solution (`tol`, default 1e-6): the relative cut-off for singular
    /// values of X (Gram path) or LSQR's `atol` and `btol` (wide sparse features).
    public var tol: Double
    /// Sparse features with more columns than this are solved by LSQR (not a parameter: tests
    /// lower it to run LSQR on small data).
    var sparseGramLimit = sparseGramColumnLimit

    public init(fitIntercept: Bool = true, tol: Double = 1e-6) {
        self.fitIntercept = fitIntercept
        self.tol = tol
    }

    enum CodingKeys: String, CodingKey { case fitIntercept = "fit_intercept", tol }

    /// Model files written before `tol` existed decode with its default.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        fitIntercept = try c.decode(Bool.self, forKey: .fitIntercept)
        tol = try c.decodeIfPresent(Double.self, forKey: .tol) ?? 1e-6
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(fitIntercept, forKey: .fitIntercept)
        try c.encode(tol, forKey: .tol)
    }

    public static let estimatorName = "linear-regression"
    public static let role = EstimatorRole.regressor
    /// A data-parallel fit: the same coefficients on any number of ranks (up to rounding).
    public static var fitsShardedData: Bool { true }

    public func validate() throws {
        try require(tol >= 0 && tol.isFinite, "tol", tol, "a finite number >= 0")
    }

    /// Collective. Fits every rank's rows; the model is identical on every rank.
    /// - Throws: ``MPILearnError/dataError`` naming the row (and column) of a non-finite
    ///   feature or target; ``MPILearnError/numerical`` if the SVD does not converge.
    public func fit(_ data: Dataset<Double>, comm: any Communicator) throws -> LinearRegressionModel {
        try validate()
        let learner = "linear regression"
        let design = try linearDesign(data, learner: learner)
        let y = try linearTarget(data, learner: learner)
        let centring = try Centring(design, targets: [y], fitIntercept: fitIntercept, learner: learner, comm: comm)
        let d = design.columns
        let w: [Double], rank: Int?, nIter: Int?
        if design is SparseDesign && d > sparseGramLimit {
            let op = CentredOperator(design: design, means: centring.xMean, comm: comm)
            let solution = try lsqr(op, y.map { $0 - centring.yMean }, atol: tol, btol: tol, iterationLimit: 2 * d)
            (w, rank, nIter) = (solution.x, nil, solution.nIter)
        } else {
            let system = try NormalEquations(design, y: y, centring: centring, comm: comm)
            let (x, r) = try solveLeastSquaresSVD(system.gram, Matrix(rows: d, columns: 1, storage: system.xty), rcond: tol * tol)
            (w, rank, nIter) = (x.storage, r, nil)
        }
        let coef = LinearCoefficients(coef: Matrix(rows: 1, columns: d, storage: w), intercept: [centring.intercept(for: w)])
        return LinearRegressionModel(configuration: self, coefficients: coef, schema: data.regressionSchema, rank: rank, nIter: nIter)
    }
}

/// Linear least squares with an L2 penalty (scikit-learn's `Ridge`).
///
/// Minimises ‖y − Xw − b‖² + alpha·‖w‖²; the intercept b is not penalised (X and y are
/// centred by their global means). The solvers (`solver`):
///
/// - `cholesky`: (XcᵀXc + alpha·I)·w = Xcᵀyc from the allreduced Gram matrix, by LAPACK
///   `posv`. Sparse features too (scikit-learn refuses `cholesky` with an intercept on sparse
///   input; the centred Gram matrix here is formed from the sparse rows without centring them).
/// - `sparse_cg`: conjugate gradient on the same system without forming XcᵀXc, stopping at
///   ‖residual‖ < `tol`·‖Xcᵀyc‖ or after `max_iter` iterations (default 10 × features), as
///   scikit-learn's `sparse_cg` when rows ≥ features (with more features than rows
///   scikit-learn iterates on the rows' kernel instead; the solution is the same, the
///   iterates are not). One allreduce of the features per iteration.
/// - `auto` (default): `sparse_cg` for sparse features with more than
///   ``sparseGramColumnLimit`` columns, `cholesky` otherwise. (scikit-learn's `auto` picks
///   `sparse_cg` for every sparse input; `cholesky` is its exact solution.)
public struct Ridge: Estimator, Equatable {
    /// The penalty strength (`alpha`), ≥ 0.
    public var alpha: Double
    /// Fit an unpenalised intercept (`fit_intercept`).
    public var fitIntercept: Bool
    /// Conjugate-gradient iterations at most (`max_iter`; nil: 10 × features, scipy's default).
    public var maxIter: Int?
    /// `sparse_cg` stops when the residual's norm is below `tol` times the right-hand side's.
    public var tol: Double
    /// `auto`, `cholesky` or `sparse_cg`.
    public var solver: String

    /// The solvers implemented (scikit-learn's `svd`, `lsqr`, `sag`, `saga`, `lbfgs` are not).
    public static let solvers = ["auto", "cholesky", "sparse_cg"]

    public init(alpha: Double = 1, fitIntercept: Bool = true, maxIter: Int? = nil, tol: Double = 1e-4, solver: String = "auto") {
        self.alpha = alpha
        self.fitIntercept = fitIntercept
        self.maxIter = maxIter
        self.tol = tol
        self.solver = solver
    }

    enum CodingKeys: String, CodingKey { case alpha, fitIntercept = "fit_intercept", maxIter = "max_iter", tol, solver }

    /// Model files written before `max_iter`, `tol` and `solver` existed decode with their
    /// defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        alpha = try c.decode(Double.self, forKey: .alpha)
        fitIntercept = try c.decode(Bool.self, forKey: .fitIntercept)
        maxIter = try c.decodeIfPresent(Int.self, forKey: .maxIter)
        tol = try c.decodeIfPresent(Double.self, forKey: .tol) ?? 1e-4
        solver = try c.decodeIfPresent(String.self, forKey: .solver) ?? "auto"
    }

    /// Encodes every parameter, `max_iter` as null when unset (the names ``setting(_:)`` accepts).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(alpha, forKey: .alpha)
        try c.encode(fitIntercept, forKey: .fitIntercept)
        try c.encode(maxIter, forKey: .maxIter)
        try c.encode(tol, forKey: .tol)
        try c.encode(solver, forKey: .solver)
    }

    public static let estimatorName = "ridge"
    public static let role = EstimatorRole.regressor
    public static var fitsShardedData: Bool { true }

    public func validate() throws {
        try require(alpha >= 0 && alpha.isFinite, "alpha", alpha, "a finite number >= 0")
        try require(tol >= 0 && tol.isFinite, "tol", tol, "a finite number >= 0")
        if let maxIter { try require(maxIter >= 1, "max_iter", maxIter, "an integer >= 1 or None") }
        try require(Self.solvers.contains(solver), "solver", "'\(solver)'",
                    "'auto', 'cholesky' or 'sparse_cg' (scikit-learn's 'svd', 'lsqr', 'sag', 'saga' and 'lbfgs' are not implemented)")
    }

    /// The solver a fit on `design` uses: `solver`, with `auto` resolved.
    func resolvedSolver(_ design: any LinearDesign) -> String {
        guard solver == "auto" else { return solver }
        return design is SparseDesign && design.columns > sparseGramColumnLimit ? "sparse_cg" : "cholesky"
    }

    /// Collective. Fits every rank's rows; the model is identical on every rank.
    /// - Throws: ``MPILearnError/invalidParameter`` for bad parameters;
    ///   ``MPILearnError/numerical`` when XᵀX + alpha·I is singular (`cholesky` with alpha = 0
    ///   and collinear features); ``MPILearnError/dataError`` for non-finite values.
    public func fit(_ data: Dataset<Double>, comm: any Communicator) throws -> RidgeModel {
        try validate()
        let learner = "ridge"
        let design = try linearDesign(data, learner: learner)
        let y = try linearTarget(data, learner: learner)
        let centring = try Centring(design, targets: [y], fitIntercept: fitIntercept, learner: learner, comm: comm)
        let s = try solve(design, targets: [y], centring: centring, comm: comm)
        return RidgeModel(configuration: self, coefficients: s.coefficients, schema: data.regressionSchema, nIter: s.nIter, warning: s.warning)
    }

    /// Collective. The ridge coefficients of each of `targets` (each this rank's values, one
    /// per row) on the same rows: one coefficient row and intercept per target. `cholesky`
    /// forms the Gram matrix once and solves for every target in one `posv`; `sparse_cg` runs
    /// one conjugate-gradient solve per target.
    /// - Returns: the coefficients, the most CG iterations of any target (nil for
    ///   `cholesky`), and a warning when a CG solve stopped at `max_iter`.
    func solve(_ design: any LinearDesign, targets: [[Double]], centring: Centring,
               comm: any Communicator) throws -> (coefficients: LinearCoefficients, nIter: Int?, warning: String?) {
        let d = design.columns, k = targets.count
        var coef = Matrix<Double>(rows: k, columns: d)
        var nIter: Int?, warning: String?
        let op = CentredOperator(design: design, means: centring.xMean, comm: comm)
        if resolvedSolver(design) == "sparse_cg" {
            let limit = maxIter ?? 10 * d
            for (c, y) in targets.enumerated() {
                let b = try op.transposeTimes(y.map { $0 - centring.yMeans[c] }).product
                let solution = try conjugateGradient(b, rtol: tol, maxIter: limit) { v in
                    var av = try op.transposeTimes(op.times(v)).product
                    for j in 0 ..< d { av[j] += alpha * v[j] }
                    return av
                }
                for j in 0 ..< d { coef[c, j] = solution.x[j] }
                nIter = max(nIter ?? 0, solution.nIter)
                if !solution.converged {
                    warning = "sparse_cg did not reach tol=\(tol) in max_iter=\(limit) iterations; increase max_iter or tol"
                }
            }
        } else {
            let system = try NormalEquations(design, y: targets[0], centring: centring, comm: comm)
            var a = system.gram
            for j in 0 ..< d { a[j, j] += alpha }
            // Right-hand sides d × k: the first target's from the normal equations, the others' by Xcᵀ·yc.
            var rhs = Matrix<Double>(rows: d, columns: k)
            for c in 0 ..< k {
                let xty = c == 0 ? system.xty : try op.transposeTimes(targets[c].map { $0 - centring.yMeans[c] }).product
                for j in 0 ..< d { rhs[j, c] = xty[j] }
            }
            coef = try solveSymmetricPositiveDefinite(a, rhs).transposed
        }
        let intercepts = (0 ..< k).map { c in centring.intercept(for: Array(coef.row(c)), target: c) }
        return (LinearCoefficients(coef: coef, intercept: intercepts), nIter, warning)
    }
}

/// The global means every least-squares fit centres by (zeros without an intercept).
struct Centring {
    var xMean: [Double]
    /// Each target's mean.
    var yMeans: [Double]
    /// Rows over all ranks.
    var rows: Int

    var yMean: Double { yMeans[0] }

    /// Collective: one allreduce of the d column sums, each target's sum and the row count.
    /// - Throws: ``MPILearnError/dataError`` when no rank holds a row.
    init(_ design: any LinearDesign, targets: [[Double]], fitIntercept: Bool, learner: String, comm: any Communicator) throws {
        let d = design.columns, k = targets.count
        var sums = design.columnSums() + targets.map { $0.reduce(0, +) } + [Double(design.rows)]
        try comm.allreduce(&sums, op: .sum)
        let n = sums[d + k]
        guard n >= 1 else { throw MPILearnError.dataError(SourceLocation(file: "data"), "\(learner) needs at least one row; the ranks hold none") }
        rows = Int(n)
        xMean = fitIntercept ? sums[0 ..< d].map { $0 / n } : [Double](repeating: 0, count: d)
        yMeans = fitIntercept ? sums[d ..< d + k].map { $0 / n } : [Double](repeating: 0, count: k)
    }

    /// ȳ − x̄·w for target `target` (0 without an intercept).
    func intercept(for w: [Double], target: Int = 0) -> Double {
        yMeans[target] - zip(xMean, w).reduce(0) { $0 + $1.0 * $1.1 }
    }
}

/// The centred normal equations of every rank's rows, identical on every rank.
struct NormalEquations {
    var gram: Matrix<Double>
    var xty: [Double]

    /// Collective: one allreduce of the d² + d entries of XcᵀXc and Xcᵀyc.
    init(_ design: any LinearDesign, y: [Double], centring: Centring, comm: any Communicator) throws {
        let d = design.columns
        var local = try design.centredGram(means: centring.xMean, y: y, yMean: centring.yMean)
        var flat = local.gram.storage + local.xty
        local = (Matrix(rows: 0, columns: 0), [])
        try comm.allreduce(&flat, op: .sum)
        // Symmetrise (GEMM's two triangles may differ in the last bit).
        var g = Matrix(rows: d, columns: d, storage: Array(flat[0 ..< d * d]))
        for i in 0 ..< d { for j in i + 1 ..< max(i + 1, d) { let v = 0.5 * (g[i, j] + g[j, i]); g[i, j] = v; g[j, i] = v } }
        gram = g
        xty = Array(flat[d * d ..< d * d + d])
    }
}

// MARK: - fitted models

/// A fitted ``LinearRegression``: `coef_`, `intercept_` and the rank of X (`rank_`).
public struct LinearRegressionModel: RegressorModel, Equatable {
    public var configuration: LinearRegression
    public var coefficients: LinearCoefficients
    /// Feature names and category dictionaries (test rows are aligned to them), the target.
    public var schema: FeatureSchema
    /// The effective rank of the centred features (`rank_`); nil after LSQR (wide sparse
    /// features), which does not compute it.
    public var rank: Int?
    /// LSQR iterations (wide sparse features); nil for the direct solve.
    public var nIter: Int?

    public init(configuration: LinearRegression, coefficients: LinearCoefficients, schema: FeatureSchema, rank: Int?, nIter: Int? = nil) {
        self.configuration = configuration
        self.coefficients = coefficients
        self.schema = schema
        self.rank = rank
        self.nIter = nIter
    }

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
        try coefficients.container(kind: Self.kind, parameters: configuration, schema: schema, nIter: nIter, rank: rank)
    }

    public static func decode(_ container: ModelContainer, path: String) throws -> LinearRegressionModel {
        let (h, c) = try LinearCoefficients.decode(container, path: path, as: LinearRegression.self)
        return LinearRegressionModel(configuration: h.parameters, coefficients: c, schema: h.schema, rank: h.rank, nIter: h.nIter)
    }

    public func summary() -> [(String, String)] {
        linearSummary(coefficients, featureNames: featureNames,
                      parameters: "fit_intercept=\(configuration.fitIntercept) tol=\(configuration.tol)")
            + [rank.map { ("rank", "\($0)") } ?? ("solver", "lsqr, \(nIter ?? 0) iteration(s)")]
    }
}

/// A fitted ``Ridge``: `coef_`, `intercept_`, and the conjugate-gradient iterations when
/// `sparse_cg` solved it.
public struct RidgeModel: RegressorModel, Equatable {
    public var configuration: Ridge
    public var coefficients: LinearCoefficients
    /// Feature names and category dictionaries (test rows are aligned to them), the target.
    public var schema: FeatureSchema
    /// Conjugate-gradient iterations (`sparse_cg`); nil for `cholesky`.
    public var nIter: Int?
    /// Set when `sparse_cg` stopped at `max_iter` before reaching `tol` (not saved); print it
    /// on rank 0.
    public var warning: String?

    public init(configuration: Ridge, coefficients: LinearCoefficients, schema: FeatureSchema, nIter: Int? = nil, warning: String? = nil) {
        self.configuration = configuration
        self.coefficients = coefficients
        self.schema = schema
        self.nIter = nIter
        self.warning = warning
    }

    public static let kind = "ridge"

    public static func == (a: Self, b: Self) -> Bool {
        a.configuration == b.configuration && a.coefficients == b.coefficients && a.schema == b.schema && a.nIter == b.nIter
    }

    /// The solver that ran (scikit-learn's `solver_`): `sparse_cg` or `cholesky`.
    public var solver: String { nIter == nil ? "cholesky" : "sparse_cg" }

    public var featureNames: [String] { schema.featureNames }

    public var coef: [Double] { coefficients.coef.storage }
    public var intercept: Double { coefficients.intercept[0] }

    public func predict(_ x: Matrix<Double>) throws -> [Double] {
        try checkFeatures(x.columns)
        return try coefficients.decision(x).storage
    }

    public func container() throws -> ModelContainer {
        try coefficients.container(kind: Self.kind, parameters: configuration, schema: schema, nIter: nIter, rank: nil)
    }

    public static func decode(_ container: ModelContainer, path: String) throws -> RidgeModel {
        let (h, c) = try LinearCoefficients.decode(container, path: path, as: Ridge.self)
        return RidgeModel(configuration: h.parameters, coefficients: c, schema: h.schema, nIter: h.nIter)
    }

    public func summary() -> [(String, String)] {
        let p = configuration
        return linearSummary(coefficients, featureNames: featureNames,
                             parameters: "alpha=\(p.alpha) fit_intercept=\(p.fitIntercept) solver=\(p.solver) tol=\(p.tol) "
                                 + "max_iter=\(p.maxIter.map(String.init) ?? "None")")
            + [("solver", solver + (nIter.map { ", \($0) iteration(s)" } ?? ""))]
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
