import Foundation

/// A fitted ``SVC``: scikit-learn's fitted attributes (`support_`, `support_vectors_`,
/// `n_support_`, `dual_coef_`, `intercept_`, `classes_`, `probA_`, `probB_`, `n_iter_`) and
/// its `decision_function`, `predict` and `predict_proba`.
///
/// Internally the model keeps libsvm's orientation (``svCoef``, ``rho``); the accessors give
/// scikit-learn's (which flips the sign of both for two classes).
public struct SVCModel: DecisionFunctionModel, FeatureSchemaModel, Equatable {
    public var configuration: SVC
    /// Feature names (for a precomputed kernel: one per training row) and classes.
    public var schema: FeatureSchema
    /// The kernel as fitted (gamma resolved: scikit-learn's `_gamma`).
    public var kernel: KernelParameters
    /// `support_`: training rows (global, 0-based) of the support vectors, grouped by class.
    public var support: [Int]
    /// `support_vectors_`, nSV × features (nSV × 0 for a precomputed kernel).
    public var supportVectors: Matrix<Double>
    /// `n_support_`: support vectors per class.
    public var nSupport: [Int]
    /// libsvm's `sv_coef`: (classes − 1) × nSV.
    public var svCoef: Matrix<Double>
    /// libsvm's `rho`, one per pair of classes (i < j).
    public var rho: [Double]
    public var probA: [Double]?
    public var probB: [Double]?
    /// SMO iterations per pair (`n_iter_`).
    public var nIter: [Int]
    /// The dual objective per pair.
    public var objectives: [Double]
    /// Rows the model was trained on (a precomputed kernel's test matrix must be this wide).
    public var nTrainingRows: Int
    /// Set when `max_iter` stopped a solve (scikit-learn's ConvergenceWarning; not saved).
    public var warning: String?
    /// Timings and counts of the fit (not saved).
    public var statistics = SVMFitStatistics()

    public static let kind = "svc"

    public static func == (a: Self, b: Self) -> Bool {
        a.configuration == b.configuration && a.schema == b.schema && a.kernel == b.kernel && a.support == b.support
            && a.supportVectors == b.supportVectors && a.nSupport == b.nSupport && a.svCoef == b.svCoef && a.rho == b.rho
            && a.probA == b.probA && a.probB == b.probB && a.nIter == b.nIter && a.objectives == b.objectives
            && a.nTrainingRows == b.nTrainingRows
    }

    init(configuration: SVC, data d: SVMData, gamma: Double, libsvm m: LibSVMModel, statistics: SVMFitStatistics) throws {
        self.configuration = configuration
        schema = d.schema
        schema.classes = d.classes
        kernel = KernelParameters(kernel: configuration.kernelKind, degree: configuration.degree, gamma: gamma, coef0: configuration.coef0)
        // libsvm's labels are this problem's class codes; a class with no rows here (a
        // cascade's subset) has none.
        guard m.labels == Array(0 ..< d.classes.count) else {
            throw MPILearnError.mismatch("SVC: the fitted labels \(m.labels) are not the classes 0..<\(d.classes.count)")
        }
        support = m.support.map { d.globalRowStart + $0 }
        let width = configuration.kernelKind == .precomputed ? 0 : d.x.columns
        var sv = [Double]()
        sv.reserveCapacity(m.support.count * width)
        if width > 0 { for r in m.support { sv += d.x.row(r) } }
        supportVectors = Matrix(rows: m.support.count, columns: width, storage: sv)
        nSupport = m.nSupport
        svCoef = Matrix(rows: d.classes.count - 1, columns: m.support.count, storage: m.svCoef)
        rho = m.rho
        probA = m.probA
        probB = m.probB
        nIter = m.iterations
        objectives = m.objectives
        nTrainingRows = d.x.rows
        warning = m.hitMaxIter ? "Solver terminated early (max_iter=\(configuration.maxIter)). Consider pre-processing your data with StandardScaler or MinMaxScaler." : nil
        self.statistics = statistics
    }

    init(configuration: SVC, schema: FeatureSchema, kernel: KernelParameters, support: [Int], supportVectors: Matrix<Double>, nSupport: [Int],
         svCoef: Matrix<Double>, rho: [Double], probA: [Double]?, probB: [Double]?, nIter: [Int], objectives: [Double], nTrainingRows: Int) {
        self.configuration = configuration
        self.schema = schema
        self.kernel = kernel
        self.support = support
        self.supportVectors = supportVectors
        self.nSupport = nSupport
        self.svCoef = svCoef
        self.rho = rho
        self.probA = probA
        self.probB = probB
        self.nIter = nIter
        self.objectives = objectives
        self.nTrainingRows = nTrainingRows
    }

    public var featureNames: [String] { schema.featureNames }
    public var classes: [String] { schema.classes ?? [] }
    /// Pairs of classes (k(k−1)/2).
    public var pairCount: Int { classes.count * (classes.count - 1) / 2 }
    /// The sum of the pairs' dual objectives.
    public var objective: Double { objectives.reduce(0, +) }

    /// `dual_coef_`: (classes − 1) × nSV, negated for two classes as scikit-learn does.
    public var dualCoef: Matrix<Double> {
        classes.count == 2 ? Matrix(rows: svCoef.rows, columns: svCoef.columns, storage: svCoef.storage.map { -$0 }) : svCoef
    }

    /// `intercept_`: −rho per pair, negated for two classes as scikit-learn does.
    public var intercept: [Double] { classes.count == 2 ? rho.map { $0 == 0 ? 0 : $0 } : rho.map { $0 == 0 ? 0 : -$0 } }

    /// Kernel values a prediction holds at once (32 K doubles, 256 KB: a tile that stays in a
    /// core's cache; ``KernelBlock/product(a:m:b:n:d:kernel:w:c:into:add:tileValues:)``), so
    /// memory does not grow with the rows × support vectors product.
    public static let predictionBlockValues = 1 << 15

    /// libsvm's decision values (rows × pairs, positive for the pair's first class), computed
    /// block by block of rows (`blockValues` kernel values at a time). Local.
    public func pairwiseDecision(_ x: Matrix<Double>, blockValues: Int = predictionBlockValues) throws -> Matrix<Double> {
        if kernel.kernel != .precomputed { try checkFeatures(x.columns) }
        let m = x.rows, n = support.count, k = classes.count, pairs = pairCount
        // The pairs' coefficients (nSV × pairs, zero outside the pair's two classes).
        var w = Matrix<Double>(rows: n, columns: pairs)
        var start = [Int](repeating: 0, count: k)
        for i in 1 ..< k { start[i] = start[i - 1] + nSupport[i - 1] }
        var p = 0
        for i in 0 ..< k {
            for j in i + 1 ..< k {
                for t in start[i] ..< start[i] + nSupport[i] { w[t, p] = svCoef[j - 1, t] }
                for t in start[j] ..< start[j] + nSupport[j] { w[t, p] = svCoef[i, t] }
                p += 1
            }
        }
        var dec = try KernelBlock.decisionValues(x, kernel: kernel, supportVectors: supportVectors, support: support, nTrainingRows: nTrainingRows,
                                                 featureCount: featureNames.count, coefficients: w, blockValues: blockValues,
                                                 threads: configuration.threads)
        for i in 0 ..< m { for q in 0 ..< pairs { dec[i, q] -= rho[q] } }
        return dec
    }

    /// scikit-learn's `decision_function`: rows × 1 for two classes (positive: the second
    /// class); rows × classes for `ovr` (votes plus scaled confidences), rows × pairs for
    /// `ovo`. Local.
    public func decisionFunction(_ x: Matrix<Double>) throws -> Matrix<Double> {
        let dec = try pairwiseDecision(x)
        let k = classes.count
        if k == 2 { return Matrix(rows: dec.rows, columns: 1, storage: dec.storage.map { -$0 }) }
        if configuration.decisionFunctionShape == "ovo" { return dec }
        return Self.ovr(dec, classes: k)
    }

    /// scikit-learn's `_ovr_decision_function` from libsvm's pairwise values.
    static func ovr(_ dec: Matrix<Double>, classes k: Int) -> Matrix<Double> {
        var out = Matrix<Double>(rows: dec.rows, columns: k)
        for r in 0 ..< dec.rows {
            var votes = [Double](repeating: 0, count: k), conf = [Double](repeating: 0, count: k)
            var p = 0
            for i in 0 ..< k {
                for j in i + 1 ..< k {
                    let v = dec[r, p]
                    conf[i] -= -v
                    conf[j] += -v
                    if v < 0 { votes[j] += 1 } else { votes[i] += 1 }
                    p += 1
                }
            }
            for c in 0 ..< k { out[r, c] = votes[c] + conf[c] / (3 * (abs(conf[c]) + 1)) }
        }
        return out
    }

    /// Class codes: libsvm's one-vs-one vote (ties to the lower class), or with `break_ties`
    /// (ovr, three or more classes) the largest decision value. Local.
    public func predict(_ x: Matrix<Double>) throws -> [Int] {
        let k = classes.count
        if configuration.breakTies && configuration.decisionFunctionShape == "ovr" && k > 2 {
            return argmaxRows(try decisionFunction(x).storage, classes: k)
        }
        let dec = try pairwiseDecision(x)
        return (0 ..< dec.rows).map { r in
            var votes = [Int](repeating: 0, count: k)
            var p = 0
            for i in 0 ..< k {
                for j in i + 1 ..< k {
                    if dec[r, p] > 0 { votes[i] += 1 } else { votes[j] += 1 }
                    p += 1
                }
            }
            var best = 0
            for c in 1 ..< k where votes[c] > votes[best] { best = c }
            return best
        }
    }

    /// libsvm's `predict_probability`: each pair's Platt sigmoid (clipped to [1e-7, 1 − 1e-7]),
    /// coupled over the classes. Local.
    /// - Throws: ``MPILearnError/invalidParameter`` when the model was fitted without `probability`.
    public func predictProba(_ x: Matrix<Double>) throws -> Matrix<Double> {
        guard let probA, let probB else {
            throw MPILearnError.invalidParameter(name: "probability", value: "False",
                                                 allowed: "True to predict probabilities (refit with probability=True, or calibrate with CalibratedClassifierCV)")
        }
        let dec = try pairwiseDecision(x)
        let k = classes.count
        var out = Matrix<Double>(rows: dec.rows, columns: k)
        let minProb = 1e-7
        for row in 0 ..< dec.rows {
            var r = [Double](repeating: 0, count: k * k)
            var p = 0
            for i in 0 ..< k {
                for j in i + 1 ..< k {
                    let v = min(max(PlattScaling.predict(dec[row, p], probA[p], probB[p]), minProb), 1 - minProb)
                    r[i * k + j] = v
                    r[j * k + i] = 1 - v
                    p += 1
                }
            }
            let probs = PlattScaling.coupled(k, r)
            for c in 0 ..< k { out[row, c] = probs[c] }
        }
        return out
    }

    /// Mean accuracy on rows `x` with class codes `y` (scikit-learn's `score`). Local.
    public func score(_ x: Matrix<Double>, y: [Int]) throws -> Double {
        let p = try predict(x)
        guard !y.isEmpty else { return .nan }
        return Double(zip(p, y).filter { $0 == $1 }.count) / Double(y.count)
    }

    // MARK: - model file

    struct Header: Codable {
        var parameters: SVC
        var schema: FeatureSchema
        var kernel: KernelParameters
        var support: [Int]
        var nSupport: [Int]
        var nFeatures: Int
        var rho: [Double]
        var probA: [Double]?
        var probB: [Double]?
        var nIter: [Int]
        var objectives: [Double]
        var nTrainingRows: Int
        var mpilearnVersion: String

        enum CodingKeys: String, CodingKey {
            case parameters, schema, kernel, support, nSupport = "n_support", nFeatures = "n_features", rho
            case probA = "prob_a", probB = "prob_b", nIter = "n_iter", objectives, nTrainingRows = "n_training_rows"
            case mpilearnVersion = "mpilearn_version"
        }
    }

    /// The model file; `n_jobs` (an execution setting) is saved as 1, so the file is the same
    /// for any thread count.
    public func container() throws -> ModelContainer {
        var parameters = configuration
        parameters.threads = 1
        let h = Header(parameters: parameters, schema: schema, kernel: kernel, support: support, nSupport: nSupport,
                       nFeatures: supportVectors.columns, rho: rho, probA: probA, probB: probB, nIter: nIter, objectives: objectives,
                       nTrainingRows: nTrainingRows, mpilearnVersion: MPILearnVersion.string)
        return ModelContainer(kind: Self.kind, header: try ModelJSON.encoder.encode(h),
                              sections: [("support_vectors", Data(flat: supportVectors.storage)), ("sv_coef", Data(flat: svCoef.storage))])
    }

    public static func decode(_ c: ModelContainer, path: String) throws -> SVCModel {
        func bad(_ msg: String) -> MPILearnError { .dataError(SourceLocation(file: path), "svc model: \(msg)") }
        let h: Header
        do { h = try ModelJSON.decoder.decode(Header.self, from: c.header) } catch { throw bad("the header is not valid: \(error)") }
        do { try h.parameters.validate() } catch { throw bad("its parameters are not valid: \(error)") }
        let k = h.schema.classes?.count ?? 0
        let n = h.support.count
        guard k >= 2, h.nSupport.count == k, h.nSupport.allSatisfy({ $0 >= 0 }), h.nSupport.reduce(0, +) == n,
              h.rho.count == k * (k - 1) / 2, h.nIter.count == h.rho.count, h.nFeatures >= 0, h.nTrainingRows >= 0,
              h.support.allSatisfy({ $0 >= 0 && $0 < max(h.nTrainingRows, 1) }),
              (h.probA == nil) == (h.probB == nil), h.probA.map({ $0.count == h.rho.count }) ?? true, h.probB.map({ $0.count == h.rho.count }) ?? true
        else { throw bad("the header's shapes do not agree (\(k) classes, \(n) support vectors, n_support \(h.nSupport), \(h.rho.count) intercepts)") }
        let sv = try c.section("support_vectors", in: path).flatArray(of: Double.self, path: path)
        let coef = try c.section("sv_coef", in: path).flatArray(of: Double.self, path: path)
        guard sv.count == n * h.nFeatures, coef.count == (k - 1) * n else {
            throw bad("\(sv.count) support-vector values and \(coef.count) coefficients; expected \(n) × \(h.nFeatures) and \(k - 1) × \(n)")
        }
        guard sv.allSatisfy(\.isFinite), coef.allSatisfy(\.isFinite), h.rho.allSatisfy(\.isFinite) else { throw bad("non-finite values") }
        if h.kernel.kernel != .precomputed && h.schema.featureNames.count != h.nFeatures {
            throw bad("\(h.schema.featureNames.count) feature names for \(h.nFeatures) features")
        }
        return SVCModel(configuration: h.parameters, schema: h.schema, kernel: h.kernel, support: h.support,
                        supportVectors: Matrix(rows: n, columns: h.nFeatures, storage: sv), nSupport: h.nSupport,
                        svCoef: Matrix(rows: k - 1, columns: n, storage: coef), rho: h.rho, probA: h.probA, probB: h.probB,
                        nIter: h.nIter, objectives: h.objectives, nTrainingRows: h.nTrainingRows)
    }

    /// `model inspect` lines.
    public func summary() -> [(String, String)] {
        let p = configuration
        return [
            ("classes", "\(classes.count) (\(listPreview(classes)))"),
            ("kernel", "\(kernel.kernel.rawValue) gamma=\(kernel.gamma) degree=\(kernel.degree) coef0=\(kernel.coef0)"),
            ("parameters", "C=\(p.C) tol=\(p.tol) shrinking=\(p.shrinking) probability=\(p.probability) class_weight=\(p.classWeight ?? "None") training=\(p.training)"),
            ("support vectors", "\(support.count) (per class \(nSupport.map(String.init).joined(separator: ", ")))"),
            ("features", kernel.kernel == .precomputed ? "precomputed kernel over \(nTrainingRows) training rows" : "\(featureNames.count) (\(listPreview(featureNames)))"),
            ("iterations", nIter.map(String.init).joined(separator: ", ")),
            ("dual objective", "\(objective)"),
        ]
    }
}
