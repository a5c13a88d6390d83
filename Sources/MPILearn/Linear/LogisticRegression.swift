import CKernels
import Foundation
import SwiftMPI

/// Logistic regression over rows spread across ranks (scikit-learn's `LogisticRegression`
/// with the `lbfgs` solver): binary (one coefficient row, the logistic loss) or, for three
/// or more classes, multinomial (one row per class, the softmax cross-entropy).
///
/// It minimises scikit-learn's objective, scaled as scikit-learn scales it for L-BFGS:
///
///     (1/S)·Σᵢ sᵢ·lossᵢ + (1 / (2·C·S))·‖coef‖²
///
/// where sᵢ is row i's class weight (1, or n / (n_classes · n_class) for `balanced`) and S =
/// Σᵢ sᵢ: the same optimum as C·Σᵢ sᵢ·lossᵢ + ½‖coef‖². The intercept is not penalised.
///
/// Each evaluation of the objective is one pass over the rank's rows and one allreduce of the
/// loss and the gradient. Sparse rows go through one C kernel that computes a row's logit,
/// loss, residual and gradient contribution while its entries are in cache, over only the
/// columns some row stores an entry in (the others keep coefficient 0: most of a hashed text
/// matrix's); dense rows through two GEMMs. L-BFGS (``LBFGS``, run as scipy's L-BFGS-B, so
/// the fit follows scikit-learn's iterates) then runs identically on every rank, so the
/// iterates, the iteration count and the model are the same on every rank, and across rank
/// counts up to the order of floating-point summation.
public struct LogisticRegression: Estimator, Equatable {
    /// `l2` or nil (scikit-learn's `None`: no penalty).
    public var penalty: String?
    /// Inverse penalty strength (`C`), > 0.
    public var C: Double
    /// Stop when the largest gradient component is at most `tol`.
    public var tol: Double
    /// L-BFGS iterations at most (`max_iter`).
    public var maxIter: Int
    /// Fit an unpenalised intercept (`fit_intercept`).
    public var fitIntercept: Bool
    /// nil (every row weighs 1) or `balanced` (n / (n_classes · n_class)).
    public var classWeight: String?

    public init(penalty: String? = "l2", C: Double = 1, tol: Double = 1e-4, maxIter: Int = 100, fitIntercept: Bool = true,
                classWeight: String? = nil) {
        self.penalty = penalty
        self.C = C
        self.tol = tol
        self.maxIter = maxIter
        self.fitIntercept = fitIntercept
        self.classWeight = classWeight
    }

    enum CodingKeys: String, CodingKey {
        case penalty, C, tol, maxIter = "max_iter", fitIntercept = "fit_intercept", classWeight = "class_weight"
    }

    /// Encodes every parameter, nil ones as null (the names ``setting(_:)`` accepts).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(penalty, forKey: .penalty)
        try c.encode(C, forKey: .C)
        try c.encode(tol, forKey: .tol)
        try c.encode(maxIter, forKey: .maxIter)
        try c.encode(fitIntercept, forKey: .fitIntercept)
        try c.encode(classWeight, forKey: .classWeight)
    }

    public static let estimatorName = "logistic-regression"
    public static let role = EstimatorRole.classifier
    public static var fitsShardedData: Bool { true }

    /// Whether the L2 penalty applies (`penalty` is `l2`).
    public var penalised: Bool { penalty == "l2" }

    public func validate() throws {
        try require(penalty == nil || penalty == "l2" || penalty == "none", "penalty", penalty ?? "None", "'l2' or None")
        try require(C > 0 && C.isFinite, "C", C, "a finite number > 0")
        try require(tol >= 0 && tol.isFinite, "tol", tol, "a finite number >= 0")
        try require(maxIter >= 0, "max_iter", maxIter, "an integer >= 0")
        try require(classWeight == nil || classWeight == "balanced", "class_weight", classWeight ?? "None", "'balanced' or None")
    }

    public func expectedCost(rows: Int) -> Double { Double(rows) * Double(maxIter) }

    /// Collective. Fits every rank's rows; the model is identical on every rank.
    /// - Throws: ``MPILearnError/invalidParameter`` for bad parameters,
    ///   ``MPILearnError/dataError`` for a non-finite feature or target or fewer than two classes.
    public func fit(_ data: Dataset<Double>, comm: any Communicator) throws -> LogisticRegressionModel {
        try validate()
        let learner = "logistic regression"
        var design = try linearDesign(data, learner: learner)
        let y = try linearTarget(data, learner: learner)
        // Classes: the sorted union of every rank's labels, as scikit-learn's `classes_`.
        let classValues = Array(Set(try comm.allgatherv(Array(Set(y)).sorted()).values)).sorted()
        let k = classValues.count
        guard k >= 2 else {
            throw MPILearnError.dataError(SourceLocation(file: data.source.isEmpty ? "data" : data.source),
                                          "logistic regression needs samples of at least 2 classes; the data has \(k) (\(classValues.map { data.labelName($0) }))")
        }
        let codes: [Int32] = y.map { v in Int32(classValues.firstIndex(of: v)!) }
        var counts = [Double](repeating: 0, count: k)
        for c in codes { counts[Int(c)] += 1 }
        try comm.allreduce(&counts, op: .sum)
        let total = counts.reduce(0, +)
        var classWeights = [Double](repeating: 1, count: k)
        if classWeight == "balanced" { for c in 0 ..< k { classWeights[c] = total / (Double(k) * counts[c]) } }
        let weightSum = zip(counts, classWeights).reduce(0) { $0 + $1.0 * $1.1 }
        // Sparse rows (hashed text): optimise over the columns some row stores an entry in.
        let columns = design.columns
        var kept: [Int32]? = nil
        if let sparse = design as? SparseDesign, let compact = try sparse.compacted(comm: comm) {
            design = compact.design
            kept = compact.columns
        }
        let objective = LogisticObjective(design: design, codes: codes, classWeights: classWeights, weightSum: weightSum,
                                          targets: k == 2 ? 1 : k, fitIntercept: fitIntercept,
                                          l2: penalised ? 1 / (C * weightSum) : 0, comm: comm)
        // L-BFGS runs on this rank's block of the parameters (see ``LBFGS``).
        let mine = Partition.block(count: objective.parameterCount, parts: comm.size, index: comm.rank)
        var solver = LBFGS(maxIter: maxIter, gtol: tol, ftol: 64 * Double.ulpOfOne)
        if comm.size > 1 { solver.reduce = { values, op in try comm.allreduce(&values, op: op) } }
        // A checkpointed fit (`linear fit --checkpoint`): saves after iterations, resumes from a saved one.
        let checkpoint = Checkpointer.active(for: comm)
        if let checkpoint {
            let path = checkpoint.options.directory
            checkpoint.totalUnits = maxIter
            if let state = try checkpoint.restore() {
                (solver.resume, objective.evaluations) = try LinearCheckpoint.lbfgs(state, path: path)
            }
            solver.afterIteration = { iteration, state in
                try checkpoint.boundary(done: iteration) { try LinearCheckpoint.state(objectiveEvaluations: objective.evaluations, state()) }
            }
        }
        let result = try solver.minimize([Double](repeating: 0, count: mine.count)) { x, g in try objective.evaluate(block: x, mine, &g) }
        try checkpoint?.finish()
        let theta = comm.size > 1 ? try comm.allgatherv(result.x).values : result.x
        let coef = objective.coefficients(theta, kept: kept, columns: columns)
        var schema = data.schema
        schema.classes = classValues.map { data.labelName($0) }
        return LogisticRegressionModel(configuration: self, coefficients: coef, schema: schema, nIter: result.nIter,
                                       objective: result.f, evaluations: objective.evaluations, warning: result.warning)
    }
}

/// The scaled objective and its gradient over the ranks' rows: one fused pass and one
/// allreduce per evaluation, into buffers allocated once per fit.
///
/// The parameters are the coefficients feature-major (feature j's `targets` weights
/// together, the layout the products take without a transpose), then the intercepts.
final class LogisticObjective {
    let design: any LinearDesign
    let codes: [Int32]
    let classWeights: [Double]
    let weightSum: Double
    /// Coefficient rows: 1 (binary) or the number of classes.
    let targets: Int
    let fitIntercept: Bool
    let l2: Double
    let comm: any Communicator
    /// Dense rows: logits, then the weighted residuals, rows × targets.
    private var z: [Double]
    /// What the ranks sum: the loss, the coefficient gradient, the intercept gradient.
    private var buffer: [Double]
    /// Evaluations so far (set when a fit resumes from a checkpoint).
    var evaluations = 0
    /// The whole gradient, of which a rank hands its block to the optimiser.
    private var fullGradient: [Double] = []
    /// Sparse rows: no row stores a column twice (the kernel's faster gradient scatter).
    private let distinctColumns: Bool

    init(design: any LinearDesign, codes: [Int32], classWeights: [Double], weightSum: Double, targets: Int,
         fitIntercept: Bool, l2: Double, comm: any Communicator) {
        self.design = design
        self.codes = codes
        self.classWeights = classWeights
        self.weightSum = weightSum
        self.targets = targets
        self.fitIntercept = fitIntercept
        self.l2 = l2
        self.comm = comm
        z = design is SparseDesign ? [] : [Double](repeating: 0, count: design.rows * targets)
        distinctColumns = (design as? SparseDesign)?.x.hasDistinctColumnsInRows() ?? false
        buffer = [Double](repeating: 0, count: 1 + targets * design.columns + (fitIntercept ? targets : 0))
    }

    var parameterCount: Int { targets * design.columns + (fitIntercept ? targets : 0) }

    /// The parameters as coefficients (rows × `columns` features) and intercepts, where the
    /// design's column j is feature `kept[j]` (nil: the identity) and every other feature's
    /// coefficient is 0.
    func coefficients(_ theta: [Double], kept: [Int32]?, columns: Int) -> LinearCoefficients {
        let d = design.columns, t = targets
        var w = Matrix<Double>(rows: t, columns: columns)
        for j in 0 ..< d {
            let feature = kept.map { Int($0[j]) } ?? j
            for c in 0 ..< t { w.storage[c * columns + feature] = theta[j * t + c] }
        }
        let b = fitIntercept ? Array(theta[t * d ..< t * d + t]) : [Double](repeating: 0, count: t)
        return LinearCoefficients(coef: w, intercept: b)
    }

    /// Collective. The objective at the parameters whose block `range` this rank holds
    /// (`values`), and that block of its gradient written into `grad`.
    func evaluate(block values: [Double], _ range: Range<Int>, _ grad: inout [Double]) throws -> Double {
        let theta = comm.size > 1 ? try comm.allgatherv(values).values : values
        if fullGradient.count != parameterCount { fullGradient = [Double](repeating: 0, count: parameterCount) }
        let f = try evaluate(theta, &fullGradient)
        grad.withUnsafeMutableBufferPointer { gp in
            fullGradient.withUnsafeBufferPointer { fp in
                for j in 0 ..< gp.count { gp[j] = fp[range.lowerBound + j] }
            }
        }
        return f
    }

    /// Collective. The objective at `theta`, its gradient written into `grad`; identical on
    /// every rank.
    func evaluate(_ theta: [Double], _ grad: inout [Double]) throws -> Double {
        evaluations += 1
        let d = design.columns, t = targets
        if let sparse = design as? SparseDesign {
            sparsePass(sparse.x, theta)
        } else {
            densePasses(theta)
        }
        try comm.allreduce(&buffer, op: .sum)
        var f = buffer[0]
        let penalised = t * d
        buffer.withUnsafeBufferPointer { bp in
            theta.withUnsafeBufferPointer { tp in
                grad.withUnsafeMutableBufferPointer { gp in
                    var sq = 0.0
                    for j in 0 ..< gp.count { gp[j] = bp[1 + j] }
                    if l2 > 0 {
                        for j in 0 ..< penalised {
                            sq += tp[j] * tp[j]
                            gp[j] += l2 * tp[j]
                        }
                    }
                    f += 0.5 * l2 * sq
                }
            }
        }
        return f
    }

    /// Sparse rows: the loss and the gradient in one pass over the stored entries
    /// (`CKernels/logistic.c`), into `buffer`.
    private func sparsePass(_ x: CSRMatrix<Double>, _ theta: [Double]) {
        let d = design.columns, t = targets, scale = 1 / weightSum
        let theta = theta.isEmpty ? [0] : theta   // no parameters at all: the kernels read none
        buffer.withUnsafeMutableBufferPointer { bp in
            let out = bp.baseAddress!
            out.update(repeating: 0, count: bp.count)
            theta.withUnsafeBufferPointer { tp in
                codes.withUnsafeBufferPointer { cp in
                    classWeights.withUnsafeBufferPointer { wp in
                        x.indptr.withUnsafeBufferPointer { ip in
                            x.indices.withUnsafeBufferPointer { ix in
                                x.data.withUnsafeBufferPointer { dp in
                                    let w = tp.baseAddress!, g = out + 1
                                    let gb: UnsafeMutablePointer<Double>? = fitIntercept ? g + t * d : nil
                                    let loss: Double
                                    if t == 1 {
                                        loss = mpl_logistic_csr_binary_f64(ip.baseAddress!, ix.baseAddress, dp.baseAddress, 0, x.rows, w,
                                                                           fitIntercept ? w[d] : 0, cp.baseAddress, wp.baseAddress,
                                                                           scale, distinctColumns ? 1 : 0, g, gb)
                                    } else {
                                        var scratch = [Double](repeating: 0, count: t)
                                        loss = scratch.withUnsafeMutableBufferPointer { sp in
                                            mpl_logistic_csr_multinomial_f64(ip.baseAddress!, ix.baseAddress, dp.baseAddress, 0, x.rows, w,
                                                                             fitIntercept ? w + t * d : nil, t, cp.baseAddress, wp.baseAddress,
                                                                             scale, g, gb, sp.baseAddress!)
                                        }
                                    }
                                    out[0] = loss * scale
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Dense rows: the logits with one GEMM, the loss and residuals, the gradient with a
    /// second GEMM, into `buffer`.
    private func densePasses(_ theta: [Double]) {
        let n = design.rows, d = design.columns, t = targets
        let scale = 1 / weightSum
        var loss = 0.0
        z.withUnsafeMutableBufferPointer { zp in
            guard let zb = zp.baseAddress else { return }
            theta.withUnsafeBufferPointer { tp in
                if let w = tp.baseAddress, d > 0 {
                    design.multiply(featureMajor: w, outputs: t, intercept: fitIntercept ? w + t * d : nil, into: zb)
                } else {
                    for i in 0 ..< n * t { zb[i] = fitIntercept ? tp[t * d + i % t] : 0 }
                }
            }
            // The loss, and the residuals (p − y)·sᵢ/S overwrite the logits.
            codes.withUnsafeBufferPointer { cp in
                classWeights.withUnsafeBufferPointer { wp in
                    if t == 1 {
                        for i in 0 ..< n {
                            let v = zb[i], yi: Double = cp[i] == 1 ? 1 : 0, s = wp[Int(cp[i])]
                            // log(1 + e^v) − y·v, stably.
                            loss += s * (max(v, 0) + log1p(exp(-abs(v))) - yi * v)
                            let p = v >= 0 ? 1 / (1 + exp(-v)) : exp(v) / (1 + exp(v))
                            zb[i] = s * scale * (p - yi)
                        }
                    } else {
                        for i in 0 ..< n {
                            let row = zb + i * t
                            var m = -Double.infinity
                            for j in 0 ..< t { m = max(m, row[j]) }
                            var sum = 0.0
                            for j in 0 ..< t { sum += exp(row[j] - m) }
                            let lse = m + log(sum), yi = Int(cp[i]), s = wp[yi]
                            loss += s * (lse - row[yi])
                            for j in 0 ..< t { row[j] = s * scale * (exp(row[j] - lse) - (j == yi ? 1 : 0)) }
                        }
                    }
                }
            }
        }
        buffer.withUnsafeMutableBufferPointer { bp in
            z.withUnsafeBufferPointer { zp in
                bp[0] = loss * scale
                if d > 0, let r = zp.baseAddress {
                    design.transposeMultiply(r, outputs: t, into: bp.baseAddress! + 1)
                } else {
                    (bp.baseAddress! + 1).update(repeating: 0, count: t * d)
                }
                if fitIntercept {
                    for j in 0 ..< t {
                        var s = 0.0
                        for i in 0 ..< n { s += zp[i * t + j] }
                        bp[1 + t * d + j] = s
                    }
                }
            }
        }
    }
}

// MARK: - fitted model

/// A fitted ``LogisticRegression``: `coef_` (1 × features for two classes, classes ×
/// features otherwise), `intercept_`, `classes_`, `n_iter_`.
public struct LogisticRegressionModel: DecisionFunctionModel, Equatable {
    public var configuration: LogisticRegression
    public var coefficients: LinearCoefficients
    /// Feature names and category dictionaries, the target and the class names (`classes_`).
    public var schema: FeatureSchema
    /// L-BFGS iterations (`n_iter_`).
    public var nIter: Int
    /// The scaled objective at the solution (not saved: NaN for a loaded model).
    public var objective: Double = .nan
    /// Objective evaluations (one pass over the rows and one allreduce each) the fit made,
    /// line searches included (not saved: 0 for a loaded model).
    public var evaluations = 0
    /// Set when the fit stopped before converging (max_iter reached); print it on rank 0.
    public var warning: String?

    public static let kind = "logistic-regression"

    public var featureNames: [String] { schema.featureNames }
    /// `classes_`: the class names, in code order.
    public var classes: [String] { schema.classes ?? [] }

    public var coef: Matrix<Double> { coefficients.coef }
    public var intercept: [Double] { coefficients.intercept }

    public static func == (a: Self, b: Self) -> Bool {
        a.configuration == b.configuration && a.coefficients == b.coefficients && a.schema == b.schema && a.nIter == b.nIter
    }

    /// Scores, rows × 1 for two classes (positive: the second class), rows × classes
    /// otherwise (scikit-learn's `decision_function`). Local.
    public func decisionFunction(_ x: Matrix<Double>) throws -> Matrix<Double> {
        try checkFeatures(x.columns)
        return try coefficients.decision(x)
    }

    public func predictProba(_ x: Matrix<Double>) throws -> Matrix<Double> {
        Self.probabilities(decision: try decisionFunction(x), classes: classes.count)
    }

    /// Class probabilities from decision values: rows × 1 (two classes: the logistic
    /// function of the second class's score) or rows × classes (the softmax).
    static func probabilities(decision z: Matrix<Double>, classes k: Int) -> Matrix<Double> {
        var p = Matrix<Double>(rows: z.rows, columns: k)
        for i in 0 ..< z.rows {
            if z.columns == 1 {
                let v = z.storage[i]
                let p1 = v >= 0 ? 1 / (1 + exp(-v)) : exp(v) / (1 + exp(v))
                p[i, 0] = 1 - p1
                p[i, 1] = p1
            } else {
                var m = -Double.infinity
                for j in 0 ..< k { m = max(m, z[i, j]) }
                var sum = 0.0
                for j in 0 ..< k { sum += exp(z[i, j] - m) }
                for j in 0 ..< k { p[i, j] = exp(z[i, j] - m) / sum }
            }
        }
        return p
    }

    /// Class codes: the largest decision value (ties to the lower class), as scikit-learn.
    public func predict(_ x: Matrix<Double>) throws -> [Int] {
        LinearCoefficients.classCodes(decision: try decisionFunction(x))
    }

    public func container() throws -> ModelContainer {
        try coefficients.container(kind: Self.kind, parameters: configuration, schema: schema, nIter: nIter, rank: nil)
    }

    public static func decode(_ container: ModelContainer, path: String) throws -> LogisticRegressionModel {
        let (h, c) = try LinearCoefficients.decodeClassifier(container, path: path, as: LogisticRegression.self)
        return LogisticRegressionModel(configuration: h.parameters, coefficients: c, schema: h.schema, nIter: h.nIter ?? 0)
    }

    public func summary() -> [(String, String)] {
        let p = configuration
        return [("classes", "\(classes.count) (\(listPreview(classes)))")]
            + linearSummary(coefficients, featureNames: featureNames,
                            parameters: "penalty=\(p.penalty ?? "None") C=\(p.C) tol=\(p.tol) max_iter=\(p.maxIter) "
                                + "fit_intercept=\(p.fitIntercept) class_weight=\(p.classWeight ?? "None")")
            + [("n_iter", "\(nIter)")]
    }
}

/// A logistic regression checkpoint: the L-BFGS state of this rank's block of the parameters
/// (the vectors as binary sections, the scalars in the JSON header, the objective as bits).
struct LinearCheckpoint: Codable {
    var objectiveEvaluations: Int
    var fBits: UInt64
    var head: Int, count: Int, iter: Int, evaluations: Int

    static func state(objectiveEvaluations: Int, _ st: LBFGS.State) throws -> CheckpointState {
        let h = LinearCheckpoint(objectiveEvaluations: objectiveEvaluations, fBits: st.f.bitPattern, head: st.head, count: st.count,
                                 iter: st.iter, evaluations: st.evaluations)
        return CheckpointState(step: st.iter, header: try CheckpointJSON.encode(h),
                               sections: [("x", Data(flat: st.x)), ("g", Data(flat: st.g)), ("s", Data(flat: st.s)),
                                          ("y", Data(flat: st.y)), ("rho", Data(flat: st.rho))])
    }

    static func lbfgs(_ state: CheckpointState, path: String) throws -> (LBFGS.State, objectiveEvaluations: Int) {
        let h = try CheckpointJSON.decode(LinearCheckpoint.self, from: state.header, path: path)
        func v(_ k: String) throws -> [Double] { try state.section(k, in: path).flatArray(of: Double.self, path: path) }
        return (LBFGS.State(x: try v("x"), g: try v("g"), f: Double(bitPattern: h.fBits), s: try v("s"), y: try v("y"), rho: try v("rho"),
                            head: h.head, count: h.count, iter: h.iter, evaluations: h.evaluations), h.objectiveEvaluations)
    }
}
