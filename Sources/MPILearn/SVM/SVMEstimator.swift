/// What the `mpilearn svm` workflows (``SVMWorkflow``) need of a kernel SVM: ``SVC``,
/// ``NuSVC`` and ``SVR``.
public protocol SVMEstimator: Estimator where Model: SVMFittedModel {
    var kernel: String { get }
    var gamma: ParameterValue { get }
    var degree: Int { get }
    var coef0: Double { get }
    /// The penalty as scikit-learn prints it: `C=1.0` (SVC, SVR) or `nu=0.5` (NuSVC).
    var penaltyText: String { get }
    /// Threads per rank (`n_jobs`).
    var threads: Int { get set }
    /// How the ranks train: `direct` or `cascade` (an SVR: always `direct`).
    var trainingMode: String { get }
    /// scikit-learn's class name (`SVC`, `SVR`).
    static var className: String { get }
    /// The estimator's own parameters, as scikit-learn prints them, for the fit's lines
    /// (`class_weight=balanced`, `probability=True`, `epsilon=0.1`).
    var ownParameterText: [String] { get }
}

/// A fitted kernel SVM, as the workflows report and predict with it.
public protocol SVMFittedModel: FittedModel, FeatureSchemaModel {
    /// The kernel as fitted (gamma resolved).
    var kernel: KernelParameters { get }
    /// Support vectors per class (an SVR: one count).
    var supportCounts: [Int] { get }
    /// SMO iterations per solve (an SVC: per pair of classes).
    var iterations: [Int] { get }
    /// The dual objective (an SVC: summed over its pairs).
    var objective: Double { get }
    /// Rows the model was trained on (a precomputed kernel's test matrix must be this wide).
    var nTrainingRows: Int { get }
    /// Set when `max_iter` stopped a solve.
    var warning: String? { get }
    /// Timings and counts of the fit.
    var statistics: SVMFitStatistics { get }
    /// Threads per rank for prediction (`n_jobs`; the outputs do not depend on it).
    var threads: Int { get set }
}

extension SVC: SVMEstimator {
    public var penaltyText: String { "C=\(ParameterValue.double(C))" }
    public var trainingMode: String { training }
    public static let className = "SVC"
    public var ownParameterText: [String] {
        var p: [String] = []
        if let w = classWeight { p.append("class_weight=\(w)") }
        if probability { p.append("probability=True") }
        return p
    }
}

extension NuSVC: SVMEstimator {
    public var penaltyText: String { "nu=\(ParameterValue.double(nu))" }
    public var trainingMode: String { "direct" }
    public static let className = "NuSVC"
    public var ownParameterText: [String] { probability ? ["probability=True"] : [] }
}

extension SVR: SVMEstimator {
    public var penaltyText: String { "C=\(ParameterValue.double(C))" }
    public var trainingMode: String { "direct" }
    public static let className = "SVR"
    public var ownParameterText: [String] { ["epsilon=\(ParameterValue.double(epsilon))"] }
}

extension SVCModel: SVMFittedModel {
    public var supportCounts: [Int] { nSupport }
    public var iterations: [Int] { nIter }
    public var threads: Int {
        get { configuration.threads }
        set { configuration.threads = newValue }
    }
}

extension NuSVCModel: SVMFittedModel {
    public var kernel: KernelParameters { fitted.kernel }
    public var supportCounts: [Int] { fitted.nSupport }
    public var iterations: [Int] { fitted.nIter }
    public var objective: Double { fitted.objective }
    public var nTrainingRows: Int { fitted.nTrainingRows }
    public var warning: String? { fitted.warning }
    public var statistics: SVMFitStatistics { fitted.statistics }
    public var threads: Int {
        get { configuration.threads }
        set {
            configuration.threads = newValue
            fitted.configuration.threads = newValue
        }
    }
}

extension SVRModel: SVMFittedModel {
    public var supportCounts: [Int] { [support.count] }
    public var iterations: [Int] { [nIter] }
    public var threads: Int {
        get { configuration.threads }
        set { configuration.threads = newValue }
    }
}
