import Foundation

/// The JSON header of every linear model file: parameters, the feature schema (names,
/// category dictionaries of categorical features, target, a classifier's classes), the fit's
/// facts. The coefficients are Float64 sections: `coef`
/// (`n_targets × n_features`, row-major; one row for a regressor or a binary classifier)
/// and `intercept` (`n_targets` values).
struct LinearModelHeader<P: Codable>: Codable {
    var parameters: P
    var nFeatures: Int
    var nTargets: Int
    var schema: FeatureSchema
    var nIter: Int?
    var rank: Int?
    var mpilearnVersion: String

    enum CodingKeys: String, CodingKey {
        case parameters, nFeatures = "n_features", nTargets = "n_targets", schema
        case nIter = "n_iter", rank, mpilearnVersion = "mpilearn_version"
    }
}

/// Fitted coefficients shared by the linear models (`coef_`, `intercept_`).
public struct LinearCoefficients: Equatable, Sendable {
    /// `n_targets × n_features` (scikit-learn's `coef_`; one row for a regressor).
    public var coef: Matrix<Double>
    /// One value per row of ``coef`` (`intercept_`).
    public var intercept: [Double]

    public init(coef: Matrix<Double>, intercept: [Double]) {
        precondition(coef.rows == intercept.count, "LinearCoefficients: \(coef.rows) coefficient rows, \(intercept.count) intercepts")
        self.coef = coef
        self.intercept = intercept
    }

    /// X·coefᵀ + intercept, rows × n_targets. Local.
    func decision(_ x: Matrix<Double>) throws -> Matrix<Double> {
        var z = Matrix<Double>(rows: x.rows, columns: coef.rows)
        try DenseDesign(x: x).decision(coef, intercept: intercept, into: &z)
        return z
    }

    func container<P: Codable>(kind: String, parameters: P, schema: FeatureSchema, nIter: Int?, rank: Int?) throws -> ModelContainer {
        let h = LinearModelHeader(parameters: parameters, nFeatures: coef.columns, nTargets: coef.rows, schema: schema,
                                  nIter: nIter, rank: rank, mpilearnVersion: MPILearnVersion.string)
        return ModelContainer(kind: kind, header: try ModelJSON.encoder.encode(h),
                              sections: [("coef", Data(flat: coef.storage)), ("intercept", Data(flat: intercept))])
    }

    static func decode<P: Codable>(_ c: ModelContainer, path: String, as: P.Type) throws -> (LinearModelHeader<P>, LinearCoefficients) {
        func bad(_ msg: String) -> MPILearnError { .dataError(SourceLocation(file: path), msg) }
        let h: LinearModelHeader<P>
        do { h = try ModelJSON.decoder.decode(LinearModelHeader<P>.self, from: c.header) } catch {
            throw bad("\(c.kind) model header is not valid: \(error)")
        }
        // Hashed features (a text model's) have no names and no dictionaries.
        let named = h.schema.featureNames.count == h.nFeatures && h.schema.categories.count == h.nFeatures
        let nameless = h.schema.featureNames.isEmpty && (h.schema.categories.isEmpty || h.schema.categories.count == h.nFeatures)
            && h.schema.categories.allSatisfy { $0 == nil }
        guard h.nFeatures >= 0, h.nTargets >= 1, named || nameless else {
            throw bad("\(c.kind) model header has \(h.nTargets) targets, \(h.nFeatures) features and \(h.schema.featureNames.count) feature names")
        }
        let coef = try c.section("coef", in: path).flatArray(of: Double.self, path: path)
        let intercept = try c.section("intercept", in: path).flatArray(of: Double.self, path: path)
        guard coef.count == checkedProduct(h.nTargets, h.nFeatures), intercept.count == h.nTargets else {
            throw bad("\(c.kind) model has \(coef.count) coefficients and \(intercept.count) intercepts; expected \(h.nTargets) × \(h.nFeatures) and \(h.nTargets)")
        }
        guard coef.allSatisfy(\.isFinite), intercept.allSatisfy(\.isFinite) else { throw bad("\(c.kind) model has non-finite coefficients") }
        return (h, LinearCoefficients(coef: Matrix(rows: h.nTargets, columns: h.nFeatures, storage: coef), intercept: intercept))
    }

    /// ``decode(_:path:as:)`` for a classifier, also checking the classes: at least two, and
    /// one coefficient row for two classes or one per class otherwise.
    static func decodeClassifier<P: Codable>(_ c: ModelContainer, path: String, as: P.Type) throws -> (LinearModelHeader<P>, LinearCoefficients) {
        let (h, coefficients) = try decode(c, path: path, as: P.self)
        guard let classes = h.schema.classes, classes.count >= 2, coefficients.coef.rows == (classes.count == 2 ? 1 : classes.count) else {
            throw MPILearnError.dataError(SourceLocation(file: path), "\(c.kind) model has \(coefficients.coef.rows) coefficient rows for classes \(h.schema.classes ?? [])")
        }
        return (h, coefficients)
    }

    /// Class codes from decision values (rows × 1: the second class where positive; rows ×
    /// classes: the largest, ties to the lower class), as scikit-learn's linear classifiers.
    static func classCodes(decision z: Matrix<Double>) -> [Int] {
        if z.columns == 1 { return z.storage.map { $0 > 0 ? 1 : 0 } }
        return argmaxRows(z.storage, classes: z.columns)
    }
}
