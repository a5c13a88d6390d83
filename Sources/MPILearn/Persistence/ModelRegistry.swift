import Foundation

/// The model kinds MPILearn can load: a file's kind names its ``FittedModel`` type, so
/// `model inspect` and generic loading work for every learner. A new learner adds its model
/// type to ``types``.
public enum ModelRegistry {
    /// Every persistable model type.
    public static let types: [any FittedModel.Type] = [
        RandomForestClassifierModel.self, RandomForestRegressorModel.self, KMeansModel.self,
        SGDClassifierModel.self, SGDRegressorModel.self, TextClassifierModel.self,
        LinearRegressionModel.self, RidgeModel.self, LogisticRegressionModel.self, SVCModel.self, NuSVCModel.self, SVRModel.self,
    ]

    /// The kinds, in registry order.
    public static var kinds: [String] { types.map { $0.kind } + ["pipeline", CalibratedModels.kind] }

    /// The type of a kind, or nil.
    public static func type(of kind: String) -> (any FittedModel.Type)? { types.first { $0.kind == kind } }

    /// Reads a model file of any registered kind; no MPI needed.
    /// - Throws: ``MPILearnError`` for a missing, corrupt or unknown-kind file.
    public static func load(from path: String) throws -> any FittedModel {
        try decode(ModelContainer.read(from: path), path: path)
    }

    /// The model in a decoded container, by its kind.
    public static func decode(_ c: ModelContainer, path: String) throws -> any FittedModel {
        // A pipeline's type depends on its final model's kind.
        if c.kind == "pipeline" { return try PipelineModels.decode(c, path: path) }
        // A calibrated classifier's type depends on the classifier it wraps.
        if c.kind == CalibratedModels.kind { return try CalibratedModels.decode(c, path: path) }
        guard let t = type(of: c.kind) else {
            throw MPILearnError.dataError(SourceLocation(file: path), "unknown model kind '\(c.kind)' (this MPILearn reads \(kinds.joined(separator: ", ")))")
        }
        return try t.decode(c, path: path)
    }
}
