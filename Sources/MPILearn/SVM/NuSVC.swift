import Foundation
import SwiftMPI

/// ν-support vector classification (scikit-learn's `NuSVC`, libsvm's ν-SVC): `nu` ∈ (0, 1]
/// bounds the fraction of margin errors from above and the fraction of support vectors from
/// below, in place of C. One-vs-one over pairs of classes, each pair solved by libsvm's
/// `Solver_NU` on the same SMO machinery as ``SVC`` (kernel rows through BLAS, the LRU cache,
/// shrinking, threads), so the support vectors, dual coefficients and intercepts equal
/// scikit-learn's to libsvm's tolerance. Every rank gathers every row; the pairs' solves and
/// the probability folds are shared out over the ranks, and the model is the same for any
/// number of ranks.
///
/// Not here: `class_weight` (libsvm's ν-SVC ignores it apart from the probability folds) and
/// the cascade.
public struct NuSVC: Estimator, Equatable {
    /// An upper bound on the fraction of margin errors and a lower bound on the fraction of
    /// support vectors, in (0, 1]; a pair of classes of n_i and n_j rows needs
    /// ν ≤ 2 min(n_i, n_j) / (n_i + n_j).
    public var nu: Double
    public var kernel: String
    public var degree: Int
    public var gamma: ParameterValue
    public var coef0: Double
    public var shrinking: Bool
    /// Platt scaling by libsvm's internal 5-fold cross-validation (the folds solve ν-SVC from
    /// libsvm's start, so Platt's A and B are libsvm's).
    public var probability: Bool
    public var tol: Double
    public var cacheSize: Double
    public var maxIter: Int
    public var decisionFunctionShape: String
    public var breakTies: Bool
    public var randomState: Int?
    /// Threads per rank (`n_jobs`); the model is the same bit for bit for any count.
    public var threads: Int

    public init(nu: Double = 0.5, kernel: String = "rbf", degree: Int = 3, gamma: ParameterValue = "scale", coef0: Double = 0,
                shrinking: Bool = true, probability: Bool = false, tol: Double = 1e-3, cacheSize: Double = 200, maxIter: Int = -1,
                decisionFunctionShape: String = "ovr", breakTies: Bool = false, randomState: Int? = nil, threads: Int = 1) {
        self.nu = nu
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.shrinking = shrinking
        self.probability = probability
        self.tol = tol
        self.cacheSize = cacheSize
        self.maxIter = maxIter
        self.decisionFunctionShape = decisionFunctionShape
        self.breakTies = breakTies
        self.randomState = randomState
        self.threads = threads
    }

    enum CodingKeys: String, CodingKey {
        case nu, kernel, degree, gamma, coef0, shrinking, probability, tol, cacheSize = "cache_size", maxIter = "max_iter"
        case decisionFunctionShape = "decision_function_shape", breakTies = "break_ties", randomState = "random_state", threads = "n_jobs"
    }

    /// Encodes every parameter, nil ones as null (the names ``setting(_:)`` accepts).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(nu, forKey: .nu)
        try c.encode(kernel, forKey: .kernel)
        try c.encode(degree, forKey: .degree)
        try c.encode(gamma, forKey: .gamma)
        try c.encode(coef0, forKey: .coef0)
        try c.encode(shrinking, forKey: .shrinking)
        try c.encode(probability, forKey: .probability)
        try c.encode(tol, forKey: .tol)
        try c.encode(cacheSize, forKey: .cacheSize)
        try c.encode(maxIter, forKey: .maxIter)
        try c.encode(decisionFunctionShape, forKey: .decisionFunctionShape)
        try c.encode(breakTies, forKey: .breakTies)
        try c.encode(randomState, forKey: .randomState)
        try c.encode(threads, forKey: .threads)
    }

    public static let estimatorName = "nusvc"
    public static let role = EstimatorRole.classifier

    /// The C-SVC machinery's settings for this ν-SVC (C and class weights do not enter).
    var machinery: SVC {
        var s = SVC(C: 1, kernel: kernel, degree: degree, gamma: gamma, coef0: coef0, shrinking: shrinking, probability: probability, tol: tol,
                    cacheSize: cacheSize, classWeight: nil, maxIter: maxIter, decisionFunctionShape: decisionFunctionShape, breakTies: breakTies,
                    randomState: randomState, training: "direct", threads: threads)
        s.formulation = .nu(nu)
        return s
    }

    public func validate() throws {
        try require(nu > 0 && nu <= 1 && nu.isFinite, "nu", nu, "a number in (0, 1]")
        try machinery.validate()
    }

    public func expectedCost(rows: Int) -> Double { machinery.expectedCost(rows: rows) }

    /// Collective. Every rank gathers every row (global row order); the pairs' solves and
    /// probability folds are shared out; the model is identical on every rank.
    /// - Throws: ``MPILearnError/invalidParameter`` for bad parameters or an infeasible `nu`
    ///   (naming the two classes), ``MPILearnError/dataError`` as ``SVC/fit(_:comm:)``.
    public func fit(_ data: Dataset<Double>, comm: any Communicator) throws -> NuSVCModel {
        try validate()
        return NuSVCModel(configuration: self, fitted: try machinery.fit(data, comm: comm))
    }

    /// Collective. Every rank holds every row: the solves are shared out over the ranks.
    public func fitReplicated(_ data: Dataset<Double>, comm: any Communicator) throws -> NuSVCModel {
        try validate()
        return NuSVCModel(configuration: self, fitted: try machinery.fitReplicated(data, comm: comm))
    }
}

/// A fitted ``NuSVC``: scikit-learn's fitted attributes and methods, as ``SVCModel``'s (the
/// one-vs-one model of libsvm is the same; only the problem each pair solved differs).
public struct NuSVCModel: DecisionFunctionModel, FeatureSchemaModel, Equatable {
    public var configuration: NuSVC
    /// The one-vs-one model: `support`, `supportVectors`, `nSupport`, `dualCoef`,
    /// `intercept`, `probA`, `probB`, `nIter`.
    public var fitted: SVCModel

    public static let kind = "nusvc"

    init(configuration: NuSVC, fitted: SVCModel) {
        self.configuration = configuration
        self.fitted = fitted
        self.fitted.configuration = configuration.machinery
    }

    public var schema: FeatureSchema { fitted.schema }
    public var featureNames: [String] { fitted.featureNames }
    public var classes: [String] { fitted.classes }

    public func decisionFunction(_ x: Matrix<Double>) throws -> Matrix<Double> { try fitted.decisionFunction(x) }
    public func predict(_ x: Matrix<Double>) throws -> [Int] { try fitted.predict(x) }
    public func predictProba(_ x: Matrix<Double>) throws -> Matrix<Double> { try fitted.predictProba(x) }
    /// Mean accuracy on rows `x` with class codes `y`. Local.
    public func score(_ x: Matrix<Double>, y: [Int]) throws -> Double { try fitted.score(x, y: y) }

    struct Header: Codable {
        var parameters: NuSVC
        /// The one-vs-one model's header (its parameters: the C-SVC machinery's).
        var model: SVCModel.Header
    }

    /// The model file (`nusvc`): the parameters and the one-vs-one model's header and
    /// sections; `n_jobs` is saved as 1.
    public func container() throws -> ModelContainer {
        let inner = try fitted.container()
        var parameters = configuration
        parameters.threads = 1
        let h = Header(parameters: parameters, model: try ModelJSON.decoder.decode(SVCModel.Header.self, from: inner.header))
        return ModelContainer(kind: Self.kind, header: try ModelJSON.encoder.encode(h), sections: inner.sections)
    }

    public static func decode(_ c: ModelContainer, path: String) throws -> NuSVCModel {
        let h: Header
        do { h = try ModelJSON.decoder.decode(Header.self, from: c.header) } catch {
            throw MPILearnError.dataError(SourceLocation(file: path), "nusvc model: the header is not valid: \(error)")
        }
        do { try h.parameters.validate() } catch {
            throw MPILearnError.dataError(SourceLocation(file: path), "nusvc model: its parameters are not valid: \(error)")
        }
        let inner = ModelContainer(kind: SVCModel.kind, header: try ModelJSON.encoder.encode(h.model), sections: c.sections)
        return NuSVCModel(configuration: h.parameters, fitted: try SVCModel.decode(inner, path: path))
    }

    /// `model inspect` lines.
    public func summary() -> [(String, String)] {
        let p = configuration
        return fitted.summary().map { key, value in
            key == "parameters" ? (key, "nu=\(p.nu) tol=\(p.tol) shrinking=\(p.shrinking) probability=\(p.probability)") : (key, value)
        }
    }
}
