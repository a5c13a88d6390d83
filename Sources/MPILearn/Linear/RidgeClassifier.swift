import Foundation
import SwiftMPI

extension Ridge {
    /// Collective. Fits `Ridge` as a classifier (scikit-learn's `RidgeClassifier`): each class
    /// becomes a target of +1 on its rows and −1 elsewhere (scikit-learn's `LabelBinarizer`
    /// with `neg_label=-1`), one target for two classes (+1 on the second class), and the
    /// ridge problem is solved for every target on the same rows, with the same solver choice
    /// as ``fit(_:comm:)`` (so hashed text goes to `sparse_cg`, one CG solve per target).
    /// The predicted class is the largest decision value (for two classes, the second when
    /// it is positive).
    ///
    /// `mpilearn text --estimator ridge` fits this. It is not a searchable ``Estimator``:
    /// a ridge classifier has no probabilities, so it has no ``ClassifierModel`` conformance.
    /// - Parameter data: features and class labels (the sorted union of every rank's labels
    ///   are the classes, as scikit-learn's `classes_`).
    /// - Throws: as ``fit(_:comm:)``, and ``MPILearnError/dataError`` for fewer than two classes.
    public func fitClassifier(_ data: Dataset<Double>, comm: any Communicator) throws -> RidgeClassifierModel {
        try validate()
        let learner = "ridge classifier"
        let design = try linearDesign(data, learner: learner)
        let y = try linearTarget(data, learner: learner)
        let classValues = Array(Set(try comm.allgatherv(Array(Set(y)).sorted()).values)).sorted()
        guard classValues.count >= 2 else {
            throw MPILearnError.dataError(SourceLocation(file: data.source.isEmpty ? "data" : data.source),
                                          "a ridge classifier needs samples of at least 2 classes; the data has \(classValues.count) (\(classValues.map { data.labelName($0) }))")
        }
        let positives = classValues.count == 2 ? [classValues[1]] : classValues
        let targets = positives.map { c in y.map { $0 == c ? 1.0 : -1.0 } }
        let centring = try Centring(design, targets: targets, fitIntercept: fitIntercept, learner: learner, comm: comm)
        let s = try solve(design, targets: targets, centring: centring, comm: comm)
        var schema = data.schema
        schema.classes = classValues.map { data.labelName($0) }
        return RidgeClassifierModel(configuration: self, coefficients: s.coefficients, schema: schema, nIter: s.nIter, warning: s.warning)
    }
}

/// A ridge classifier (``Ridge/fitClassifier(_:comm:)``): `coef_` (1 × features for two
/// classes, classes × features otherwise), `intercept_`, `classes_`.
public struct RidgeClassifierModel: Sendable, Equatable {
    public var configuration: Ridge
    public var coefficients: LinearCoefficients
    /// Feature names (none for hashed features), the target and the class names.
    public var schema: FeatureSchema
    /// The most conjugate-gradient iterations of any class (`sparse_cg`); nil for `cholesky`.
    public var nIter: Int?
    /// Set when a `sparse_cg` solve stopped at `max_iter` (not saved).
    public var warning: String?

    public static let kind = "ridge-classifier"

    public init(configuration: Ridge, coefficients: LinearCoefficients, schema: FeatureSchema, nIter: Int? = nil, warning: String? = nil) {
        self.configuration = configuration
        self.coefficients = coefficients
        self.schema = schema
        self.nIter = nIter
        self.warning = warning
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.configuration == b.configuration && a.coefficients == b.coefficients && a.schema == b.schema && a.nIter == b.nIter
    }

    /// `classes_`: the class names, in code order.
    public var classes: [String] { schema.classes ?? [] }
    public var coef: Matrix<Double> { coefficients.coef }
    public var intercept: [Double] { coefficients.intercept }
    /// The solver that ran: `sparse_cg` or `cholesky`.
    public var solver: String { nIter == nil ? "cholesky" : "sparse_cg" }

    /// Decision values, rows × 1 for two classes (positive: the second class), rows × classes
    /// otherwise (scikit-learn's `decision_function`). Local.
    public func decisionFunction(_ x: Matrix<Double>) throws -> Matrix<Double> {
        guard x.columns == coef.columns else {
            throw MPILearnError.mismatch("input has \(x.columns) features but the model was trained on \(coef.columns)")
        }
        return try coefficients.decision(x)
    }

    /// Class codes: the largest decision value (ties to the lower class), as scikit-learn.
    public func predict(_ x: Matrix<Double>) throws -> [Int] {
        LinearCoefficients.classCodes(decision: try decisionFunction(x))
    }

    public func container() throws -> ModelContainer {
        try coefficients.container(kind: Self.kind, parameters: configuration, schema: schema, nIter: nIter, rank: nil)
    }

    public static func decode(_ container: ModelContainer, path: String) throws -> RidgeClassifierModel {
        let (h, c) = try LinearCoefficients.decodeClassifier(container, path: path, as: Ridge.self)
        return RidgeClassifierModel(configuration: h.parameters, coefficients: c, schema: h.schema, nIter: h.nIter)
    }

    /// `model inspect` lines.
    public func summary() -> [(String, String)] {
        let p = configuration
        return [("classes", "\(classes.count) (\(listPreview(classes)))")]
            + linearSummary(coefficients, featureNames: schema.featureNames,
                            parameters: "alpha=\(p.alpha) fit_intercept=\(p.fitIntercept) solver=\(p.solver) tol=\(p.tol) "
                                + "max_iter=\(p.maxIter.map(String.init) ?? "None")")
            + [("solver", solver + (nIter.map { ", \($0) iteration(s)" } ?? ""))]
    }
}
