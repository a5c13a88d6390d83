import CKernels
import Foundation
import SwiftMPI

/// Epsilon-support vector regression (scikit-learn's `SVR`, which is libsvm's epsilon-SVR):
/// one SMO solve of 2·n variables (α and α* per row) with libsvm's solver (``SMOSolver``),
/// so the support vectors, dual coefficients and intercept equal scikit-learn's to libsvm's
/// tolerance.
///
/// Every rank gathers every row (in global row order) and solves the same problem, so the
/// model is the same for any number of ranks; `n_jobs` threads per rank compute the kernel
/// rows and the prediction blocks. Parameters keep scikit-learn's names and meaning.
public struct SVR: Estimator, Equatable {
    /// `linear`, `poly`, `rbf`, `sigmoid` or `precomputed` (a Gram matrix as features).
    public var kernel: String
    /// The polynomial kernel's degree, ≥ 0.
    public var degree: Int
    /// `scale` (1 / (n_features · Var X)), `auto` (1 / n_features), or a number ≥ 0.
    public var gamma: ParameterValue
    /// The independent term of the poly and sigmoid kernels.
    public var coef0: Double
    /// Stopping tolerance of the SMO solver (libsvm's `eps`).
    public var tol: Double
    /// Penalty of the errors beyond `epsilon`, > 0.
    public var C: Double
    /// The half-width of the tube in which errors cost nothing, ≥ 0.
    public var epsilon: Double
    /// libsvm's shrinking heuristic.
    public var shrinking: Bool
    /// The kernel cache, in megabytes, > 0.
    public var cacheSize: Double
    /// SMO iterations at most; -1 for no limit.
    public var maxIter: Int
    /// Threads per rank for the kernel rows and kernel blocks (`n_jobs`, ≥ 1): an execution
    /// setting, the model is the same bit for bit for any count.
    public var threads: Int

    public init(kernel: String = "rbf", degree: Int = 3, gamma: ParameterValue = "scale", coef0: Double = 0, tol: Double = 1e-3,
                C: Double = 1, epsilon: Double = 0.1, shrinking: Bool = true, cacheSize: Double = 200, maxIter: Int = -1, threads: Int = 1) {
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.tol = tol
        self.C = C
        self.epsilon = epsilon
        self.shrinking = shrinking
        self.cacheSize = cacheSize
        self.maxIter = maxIter
        self.threads = threads
    }

    enum CodingKeys: String, CodingKey {
        case kernel, degree, gamma, coef0, tol, C, epsilon, shrinking, cacheSize = "cache_size", maxIter = "max_iter", threads = "n_jobs"
    }

    public static let estimatorName = "svr"
    public static let role = EstimatorRole.regressor

    /// The kernel as an enum (after ``validate()``).
    public var kernelKind: SVMKernel { SVMKernel(rawValue: kernel) ?? .rbf }

    public func validate() throws {
        try SVMParameters.validate(C: C, kernel: kernel, degree: degree, gamma: gamma, coef0: coef0, tol: tol, cacheSize: cacheSize,
                                   maxIter: maxIter, threads: threads)
        try require(epsilon >= 0 && epsilon.isFinite, "epsilon", epsilon, "a finite number >= 0")
    }

    /// SMO work grows about with the square of the rows (of 2·n variables).
    public func expectedCost(rows: Int) -> Double { 2 * Double(rows) * Double(rows) }

    /// Collective. Every rank gathers every row (global row order) and solves; the model is
    /// identical on every rank and for any number of ranks.
    /// - Throws: ``MPILearnError/invalidParameter`` for bad parameters,
    ///   ``MPILearnError/dataError`` for non-finite features or targets, no rows, or a
    ///   precomputed kernel that is not square.
    public func fit(_ data: Dataset<Double>, comm: any Communicator) throws -> SVRModel {
        try validate()
        let local = try SVMData(data, classification: false, estimator: "an SVR")
        let start = Date()
        let all = try local.gathered(comm: comm, classification: false)
        return try fitGathered(all, gatherSeconds: Date().timeIntervalSince(start))
    }

    /// The fit on rows this rank holds whole.
    func fitGathered(_ d: SVMData, gatherSeconds: Double = 0) throws -> SVRModel {
        let start = Date()
        let n = d.x.rows
        guard n > 0 else { throw MPILearnError.dataError(SourceLocation(file: d.source), "SVR needs at least one training row; the data has none") }
        guard n < Int(Int32.max) / 2 else {
            throw MPILearnError.dataError(SourceLocation(file: d.source), "SVR solves 2 variables per row: \(n) rows is beyond its 2³¹ variables")
        }
        if kernelKind == .precomputed && n != d.x.columns {
            throw MPILearnError.dataError(SourceLocation(file: d.source),
                                          "kernel='precomputed' needs a square Gram matrix (n_train × n_train) as features; got \(n) rows × \(d.x.columns) columns")
        }
        let g = try SVMParameters.resolveGamma(gamma, d.x, width: d.x.columns, values: Double(n * d.x.columns), comm: LocalCommunicator.solo())
        let kp = KernelParameters(kernel: kernelKind, degree: degree, gamma: g, coef0: coef0)
        let s = d.x.storage.withUnsafeBufferPointer { xp in
            Self.solve(x: xp.baseAddress!, rows: n, width: d.x.columns, targets: d.targets, kernel: kp, C: C, epsilon: epsilon, tol: tol,
                       shrinking: shrinking, maxIter: maxIter, cacheBytes: Int(cacheSize * 1_048_576), threads: threads)
        }
        var stats = SVMFitStatistics()
        stats.gatherSeconds = gatherSeconds
        stats.solveSeconds = Date().timeIntervalSince(start)
        stats.kernelRows = s.kernelRows
        return SVRModel(configuration: self, data: d, kernel: kp, solution: s, statistics: stats)
    }

    /// libsvm's `solve_epsilon_svr`.
    struct Solution {
        /// α_i − α*_i per training row.
        var coefficients: [Double]
        var rho: Double
        var objective: Double
        var iterations: Int
        var hitMaxIter: Bool
        var kernelRows: Int
    }

    /// libsvm's `solve_epsilon_svr` on `rows` rows of `x` (width `width`): variables α
    /// (y = +1, p = ε − t) then α* (y = −1, p = ε + t), every bound C, from zero.
    static func solve(x: UnsafePointer<Double>, rows n: Int, width: Int, targets t: [Double], kernel: KernelParameters, C: Double,
                      epsilon: Double, tol: Double, shrinking: Bool, maxIter: Int, cacheBytes: Int, threads: Int) -> Solution {
        let k = KernelMatrix(rows: (0 ..< n).map { x + $0 * width }, width: width, columns: kernel.kernel == .precomputed ? Array(0 ..< n) : nil,
                             y: nil, kernel: kernel, cacheBytes: cacheBytes, threads: threads)
        let q = SVRMatrix(k)
        let p = t.map { epsilon - $0 } + t.map { epsilon + $0 }
        let y = [Int8](repeating: 1, count: n) + [Int8](repeating: -1, count: n)
        let s = SMOSolver.solve(q: q, p: p, y: y, alpha: [Double](repeating: 0, count: 2 * n), c: [Double](repeating: C, count: 2 * n),
                                eps: tol, shrinking: shrinking, maxIter: maxIter)
        return Solution(coefficients: (0 ..< n).map { s.alpha[$0] - s.alpha[$0 + n] }, rho: s.rho, objective: s.objective,
                        iterations: s.iterations, hitMaxIter: s.hitMaxIter, kernelRows: k.rowsComputed)
    }
}

/// libsvm's SVR_Q: the 2·n variables of epsilon-SVR over n rows. Variable k is row
/// `index[k]` (k mod n at first) with sign ±1; Q_kj = sign_k sign_j K(x_index[k], x_index[j]).
/// Rows of K come whole (n values) from one kernel cache over the n rows, which is never
/// swapped; the solver's swaps move signs and indices only. Two output buffers alternate, as
/// the solver holds rows i and j at once.
final class SVRMatrix: SMOMatrix {
    private let kernel: KernelMatrix
    private let n: Int
    private let sign: UnsafeMutablePointer<Int8>
    /// Each variable's row (32-bit: the gather takes eight at a time; n < 2³¹ is checked by
    /// ``SVR/fit(_:comm:)``).
    private let index: UnsafeMutablePointer<Int32>
    let diagonal: UnsafeMutablePointer<Double>
    private let buffers: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>)
    private var next = 0

    init(_ kernel: KernelMatrix) {
        self.kernel = kernel
        n = kernel.l
        let m = max(1, 2 * n)
        sign = .allocate(capacity: m)
        index = .allocate(capacity: m)
        diagonal = .allocate(capacity: m)
        buffers = (.allocate(capacity: m), .allocate(capacity: m))
        for k in 0 ..< n {
            sign[k] = 1; sign[k + n] = -1
            index[k] = Int32(k); index[k + n] = Int32(k)
            diagonal[k] = kernel.diagonal[k]; diagonal[k + n] = kernel.diagonal[k]
        }
    }

    deinit {
        sign.deallocate(); index.deallocate(); diagonal.deallocate()
        buffers.0.deallocate(); buffers.1.deallocate()
    }

    func row(_ i: Int, _ len: Int) -> UnsafePointer<Float> {
        let data = kernel.row(Int(index[i]), n)
        let out = next == 0 ? buffers.0 : buffers.1
        next = 1 - next
        mpl_svm_gather_row32(len, data, index, sign, Int32(sign[i]), out)
        return UnsafePointer(out)
    }

    func swapIndex(_ i: Int, _ j: Int) {
        swap(&sign[i], &sign[j])
        swap(&index[i], &index[j])
        swap(&diagonal[i], &diagonal[j])
    }
}

/// A fitted ``SVR``: scikit-learn's fitted attributes (`support_`, `support_vectors_`,
/// `dual_coef_`, `intercept_`, `n_iter_`) and its `predict` and `score`.
public struct SVRModel: RegressorModel, FeatureSchemaModel, Equatable {
    public var configuration: SVR
    /// Feature names (for a precomputed kernel: one per training row) and the target.
    public var schema: FeatureSchema
    /// The kernel as fitted (gamma resolved: scikit-learn's `_gamma`).
    public var kernel: KernelParameters
    /// `support_`: training rows (global, 0-based) of the support vectors, ascending.
    public var support: [Int]
    /// `support_vectors_`, nSV × features (nSV × 0 for a precomputed kernel).
    public var supportVectors: Matrix<Double>
    /// `dual_coef_`: α_i − α*_i of each support vector.
    public var dualCoef: [Double]
    /// libsvm's `rho` (the intercept is −rho).
    public var rho: Double
    /// SMO iterations (`n_iter_`).
    public var nIter: Int
    /// The dual objective.
    public var objective: Double
    /// Rows the model was trained on (a precomputed kernel's test matrix must be this wide).
    public var nTrainingRows: Int
    /// Set when `max_iter` stopped the solve (scikit-learn's ConvergenceWarning; not saved).
    public var warning: String?
    /// Timings and counts of the fit (not saved).
    public var statistics = SVMFitStatistics()

    public static let kind = "svr"

    public static func == (a: Self, b: Self) -> Bool {
        a.configuration == b.configuration && a.schema == b.schema && a.kernel == b.kernel && a.support == b.support
            && a.supportVectors == b.supportVectors && a.dualCoef == b.dualCoef && a.rho == b.rho && a.nIter == b.nIter
            && a.objective == b.objective && a.nTrainingRows == b.nTrainingRows
    }

    init(configuration: SVR, data d: SVMData, kernel: KernelParameters, solution s: SVR.Solution, statistics: SVMFitStatistics) {
        let sv = s.coefficients.indices.filter { s.coefficients[$0] != 0 }
        let width = kernel.kernel == .precomputed ? 0 : d.x.columns
        var vectors = [Double]()
        vectors.reserveCapacity(sv.count * width)
        if width > 0 { for r in sv { vectors += d.x.row(r) } }
        self.init(configuration: configuration, schema: d.schema, kernel: kernel, support: sv.map { d.globalRowStart + $0 },
                  supportVectors: Matrix(rows: sv.count, columns: width, storage: vectors), dualCoef: sv.map { s.coefficients[$0] },
                  rho: s.rho, nIter: s.iterations, objective: s.objective, nTrainingRows: d.x.rows)
        warning = s.hitMaxIter ? "Solver terminated early (max_iter=\(configuration.maxIter)). Consider pre-processing your data with StandardScaler or MinMaxScaler." : nil
        self.statistics = statistics
    }

    init(configuration: SVR, schema: FeatureSchema, kernel: KernelParameters, support: [Int], supportVectors: Matrix<Double>,
         dualCoef: [Double], rho: Double, nIter: Int, objective: Double, nTrainingRows: Int) {
        self.configuration = configuration
        self.schema = schema
        self.kernel = kernel
        self.support = support
        self.supportVectors = supportVectors
        self.dualCoef = dualCoef
        self.rho = rho
        self.nIter = nIter
        self.objective = objective
        self.nTrainingRows = nTrainingRows
    }

    public var featureNames: [String] { schema.featureNames }
    /// `intercept_`: −rho.
    public var intercept: Double { rho == 0 ? 0 : -rho }

    /// Σ_s coef_s K(x, sv_s) + intercept per row, block by block of rows (`blockValues`
    /// kernel values at a time). Local.
    /// - Throws: ``MPILearnError/mismatch`` for the wrong number of features (a precomputed
    ///   kernel: not n_train kernel values per row).
    public func predict(_ x: Matrix<Double>) throws -> [Double] { try predict(x, blockValues: SVCModel.predictionBlockValues) }

    public func predict(_ x: Matrix<Double>, blockValues: Int) throws -> [Double] {
        if kernel.kernel != .precomputed { try checkFeatures(x.columns) }
        let w = Matrix(rows: support.count, columns: 1, storage: dualCoef)
        let dec = try KernelBlock.decisionValues(x, kernel: kernel, supportVectors: supportVectors, support: support,
                                                 nTrainingRows: nTrainingRows, featureCount: featureNames.count, coefficients: w,
                                                 blockValues: blockValues, threads: configuration.threads)
        return dec.storage.map { $0 - rho }
    }

    /// R² on rows `x` with targets `y` (scikit-learn's `score`). Local.
    public func score(_ x: Matrix<Double>, y: [Double]) throws -> Double {
        try Metrics.r2(yTrue: y, yPred: predict(x), comm: LocalCommunicator.solo())
    }

    // MARK: - model file

    struct Header: Codable {
        var parameters: SVR
        var schema: FeatureSchema
        var kernel: KernelParameters
        var support: [Int]
        var nFeatures: Int
        var rho: Double
        var nIter: Int
        var objective: Double
        var nTrainingRows: Int
        var mpilearnVersion: String

        enum CodingKeys: String, CodingKey {
            case parameters, schema, kernel, support, nFeatures = "n_features", rho, nIter = "n_iter", objective
            case nTrainingRows = "n_training_rows", mpilearnVersion = "mpilearn_version"
        }
    }

    /// The model file; `n_jobs` (an execution setting) is saved as 1, so the file is the same
    /// for any thread count.
    public func container() throws -> ModelContainer {
        var parameters = configuration
        parameters.threads = 1
        let h = Header(parameters: parameters, schema: schema, kernel: kernel, support: support, nFeatures: supportVectors.columns, rho: rho,
                       nIter: nIter, objective: objective, nTrainingRows: nTrainingRows, mpilearnVersion: MPILearnVersion.string)
        return ModelContainer(kind: Self.kind, header: try ModelJSON.encoder.encode(h),
                              sections: [("support_vectors", Data(flat: supportVectors.storage)), ("dual_coef", Data(flat: dualCoef))])
    }

    public static func decode(_ c: ModelContainer, path: String) throws -> SVRModel {
        func bad(_ msg: String) -> MPILearnError { .dataError(SourceLocation(file: path), "svr model: \(msg)") }
        let h: Header
        do { h = try ModelJSON.decoder.decode(Header.self, from: c.header) } catch { throw bad("the header is not valid: \(error)") }
        do { try h.parameters.validate() } catch { throw bad("its parameters are not valid: \(error)") }
        let n = h.support.count
        guard h.nFeatures >= 0, h.nTrainingRows >= 0, h.support.allSatisfy({ $0 >= 0 && $0 < max(h.nTrainingRows, 1) }), h.rho.isFinite else {
            throw bad("the header's shapes do not agree (\(n) support vectors, \(h.nTrainingRows) training rows, \(h.nFeatures) features)")
        }
        let sv = try c.section("support_vectors", in: path).flatArray(of: Double.self, path: path)
        let coef = try c.section("dual_coef", in: path).flatArray(of: Double.self, path: path)
        guard sv.count == n * h.nFeatures, coef.count == n else {
            throw bad("\(sv.count) support-vector values and \(coef.count) coefficients; expected \(n) × \(h.nFeatures) and \(n)")
        }
        guard sv.allSatisfy(\.isFinite), coef.allSatisfy(\.isFinite) else { throw bad("non-finite values") }
        if h.kernel.kernel != .precomputed && h.schema.featureNames.count != h.nFeatures {
            throw bad("\(h.schema.featureNames.count) feature names for \(h.nFeatures) features")
        }
        return SVRModel(configuration: h.parameters, schema: h.schema, kernel: h.kernel, support: h.support,
                        supportVectors: Matrix(rows: n, columns: h.nFeatures, storage: sv), dualCoef: coef, rho: h.rho, nIter: h.nIter,
                        objective: h.objective, nTrainingRows: h.nTrainingRows)
    }

    /// `model inspect` lines.
    public func summary() -> [(String, String)] {
        let p = configuration
        return [
            ("target", schema.target.isEmpty ? "-" : schema.target),
            ("kernel", "\(kernel.kernel.rawValue) gamma=\(kernel.gamma) degree=\(kernel.degree) coef0=\(kernel.coef0)"),
            ("parameters", "C=\(p.C) epsilon=\(p.epsilon) tol=\(p.tol) shrinking=\(p.shrinking)"),
            ("support vectors", "\(support.count) of \(nTrainingRows) training rows"),
            ("features", kernel.kernel == .precomputed ? "precomputed kernel over \(nTrainingRows) training rows" : "\(featureNames.count) (\(listPreview(featureNames)))"),
            ("intercept", "\(intercept)"),
            ("iterations", "\(nIter)"),
            ("dual objective", "\(objective)"),
        ]
    }
}
