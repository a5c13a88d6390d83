// Plain stochastic gradient descent with scikit-learn's update rules (its `_plain_sgd`: the
// scaled weight vector, the learning-rate schedules, the truncated-gradient L1 penalty,
// averaging and the epoch-end stopping rule), so that one rank without shuffling gives
// scikit-learn's coefficients. Written from scikit-learn's documented algorithm; the state
// of a run is a plain value, so it can be handed from rank to rank (chained training).

import CLinearAlgebra
import Foundation

/// The rows an SGD epoch reads: dense rows (every feature) or CSR rows (their stored entries).
enum SGDRows {
    case dense(Matrix<Double>)
    case sparse(CSRMatrix<Double>)

    var count: Int {
        switch self {
        case .dense(let m): return m.rows
        case .sparse(let s): return s.rows
        }
    }

    var features: Int {
        switch self {
        case .dense(let m): return m.columns
        case .sparse(let s): return s.columns
        }
    }

    /// scikit-learn decays the intercept's updates by 0.01 for sparse input (its
    /// `SPARSE_INTERCEPT_DECAY`), not for dense.
    var interceptDecay: Double {
        if case .sparse = self { return 0.01 }
        return 1
    }
}

/// A loss of SGD: value and derivative in the prediction `p` for target `y`.
public enum SGDLoss: String, Codable, Sendable, CaseIterable {
    case hinge
    case logLoss = "log_loss"
    case modifiedHuber = "modified_huber"
    case squaredHinge = "squared_hinge"
    case perceptron
    case squaredError = "squared_error"
    case huber
    case epsilonInsensitive = "epsilon_insensitive"
    case squaredEpsilonInsensitive = "squared_epsilon_insensitive"

    /// Losses of classifiers (the rest are regressors').
    public var isClassification: Bool {
        switch self {
        case .hinge, .logLoss, .modifiedHuber, .squaredHinge, .perceptron: return true
        default: return false
        }
    }

    /// Targets of a binary fit: {0, 1} for the log loss (scikit-learn's half binomial loss),
    /// {-1, +1} for the other classification losses.
    var negativeLabel: Double { self == .logLoss ? 0 : -1 }

    func loss(_ y: Double, _ p: Double, epsilon: Double) -> Double {
        switch self {
        case .hinge, .perceptron:
            let threshold: Double = self == .hinge ? 1 : 0
            let z = p * y
            return z <= threshold ? threshold - z : 0
        case .squaredHinge:
            let z = 1 - p * y
            return z > 0 ? z * z : 0
        case .modifiedHuber:
            let z = p * y
            if z >= 1 { return 0 }
            if z >= -1 { return (1 - z) * (1 - z) }
            return -4 * z
        case .logLoss:
            return Self.log1pexp(p) - y * p
        case .squaredError:
            return 0.5 * (p - y) * (p - y)
        case .huber:
            let a = abs(y - p)
            return a <= epsilon ? 0.5 * a * a : epsilon * (a - 0.5 * epsilon)
        case .epsilonInsensitive:
            let r = abs(y - p) - epsilon
            return r > 0 ? r : 0
        case .squaredEpsilonInsensitive:
            let r = abs(y - p) - epsilon
            return r > 0 ? r * r : 0
        }
    }

    func derivative(_ y: Double, _ p: Double, epsilon: Double) -> Double {
        switch self {
        case .hinge, .perceptron:
            let threshold: Double = self == .hinge ? 1 : 0
            return p * y <= threshold ? -y : 0
        case .squaredHinge:
            let z = 1 - p * y
            return z > 0 ? -2 * y * z : 0
        case .modifiedHuber:
            let z = p * y
            if z >= 1 { return 0 }
            if z >= -1 { return 2 * (1 - z) * -y }
            return -4 * y
        case .logLoss:
            // expit(p) - y, in the form scikit-learn evaluates it.
            if p > -37 {
                let e = Foundation.exp(-p)
                return ((1 - y) - y * e) / (1 + e)
            }
            return Foundation.exp(p) - y
        case .squaredError:
            return p - y
        case .huber:
            let r = p - y
            return abs(r) <= epsilon ? r : (r >= 0 ? epsilon : -epsilon)
        case .epsilonInsensitive:
            if y - p > epsilon { return -1 }
            if p - y > epsilon { return 1 }
            return 0
        case .squaredEpsilonInsensitive:
            let z = y - p
            if z > epsilon { return -2 * (z - epsilon) }
            if z < -epsilon { return 2 * (-z - epsilon) }
            return 0
        }
    }

    /// log(1 + exp(x)) by scikit-learn's cases.
    static func log1pexp(_ x: Double) -> Double {
        if x <= -37 { return Foundation.exp(x) }
        if x <= -2 { return Foundation.log1p(Foundation.exp(x)) }
        if x <= 18 { return Foundation.log(1 + Foundation.exp(x)) }
        if x <= 33.3 { return x + Foundation.exp(-x) }
        return x
    }
}

/// SGD's penalty.
public enum SGDPenalty: String, Codable, Sendable, CaseIterable {
    case l2, l1, elasticnet
}

/// SGD's learning-rate schedule.
public enum SGDLearningRate: String, Codable, Sendable, CaseIterable {
    case constant, optimal, invscaling, adaptive
}

/// The settings of one binary (or regression) SGD problem.
struct SGDSettings {
    var loss: SGDLoss
    var penalty: SGDPenalty?
    var alpha: Double
    var l1Ratio: Double
    var fitIntercept: Bool
    var learningRate: SGDLearningRate
    var eta0: Double
    var powerT: Double
    var epsilon: Double
    /// Averaging starts at update `average` (0: no averaging).
    var average: Int
    var weightPositive: Double
    var weightNegative: Double
    var tol: Double?
    var nIterNoChange: Int

    /// The effective l1 ratio: 0 for l2, 1 for l1.
    var ratio: Double {
        switch penalty {
        case .l2?: return 0
        case .l1?: return 1
        case .elasticnet?: return l1Ratio
        case nil: return l1Ratio
        }
    }
}

/// The whole state of an SGD run: the scaled weights and their norms, the averaged weights,
/// the L1 penalty's running totals, the intercepts, the update count `t` and the epoch's
/// running objective. It is a plain value, so a run can move from rank to rank.
struct SGDState {
    var w: [Double]
    var wscale: Double = 1
    var sqNorm: Double
    var l1Norm: Double
    var intercept: Double
    var aw: [Double]?
    var averageA: Double = 0
    var averageB: Double = 1
    var averageIntercept: Double
    var q: [Double]?
    var u: Double = 0
    var t: Double
    /// The epoch's running sums (loss, and loss plus penalty).
    var sumLoss: Double = 0
    var objectiveSum: Double = 0
    /// The schedule's current rate (the `adaptive` schedule lowers it between epochs).
    var eta: Double

    init(coef: [Double], intercept: Double, averageCoef: [Double]?, averageIntercept: Double, t: Double, l1: Bool, eta0: Double) {
        w = coef
        sqNorm = 0
        l1Norm = 0
        self.intercept = intercept
        aw = averageCoef
        self.averageIntercept = averageIntercept
        q = l1 ? [Double](repeating: 0, count: coef.count) : nil
        self.t = t
        eta = eta0
        recomputeNorms()
    }

    /// The norms from the stored weights, as a new scikit-learn weight vector computes them.
    mutating func recomputeNorms() {
        sqNorm = w.reduce(0) { $0 + $1 * $1 }
        l1Norm = w.reduce(0) { $0 + abs($1) }
    }

    /// Folds `wscale` (and the averaging coefficients) into the stored weights.
    mutating func resetScale() {
        var weights = w, averaged = aw ?? []
        w = []
        weights.withUnsafeMutableBufferPointer { wp in
            averaged.withUnsafeMutableBufferPointer { ap in SGDSolver.resetScale(&self, wp, ap) }
        }
        w = weights
        if aw != nil { aw = averaged }
    }

    /// What a new scikit-learn `_plain_sgd` call starts from, given this state's weights: the
    /// scale folded in, norms recomputed, the L1 totals and the rate reset. A `partial_fit`
    /// handed to the next rank starts this way, as the next `partial_fit` call would.
    mutating func beginCall(eta0: Double) {
        resetScale()
        recomputeNorms()
        if q != nil { q = [Double](repeating: 0, count: w.count) }
        u = 0
        eta = eta0
        sumLoss = 0
        objectiveSum = 0
    }

    /// The state as numbers (to send to another rank) and back.
    func flattened() -> [Double] {
        var out: [Double] = [wscale, sqNorm, l1Norm, intercept, averageA, averageB, averageIntercept, u, t, sumLoss, objectiveSum, eta]
        out += w
        if let aw { out += aw }
        if let q { out += q }
        return out
    }

    mutating func restore(_ v: [Double]) {
        (wscale, sqNorm, l1Norm, intercept) = (v[0], v[1], v[2], v[3])
        (averageA, averageB, averageIntercept, u, t) = (v[4], v[5], v[6], v[7], v[8])
        (sumLoss, objectiveSum, eta) = (v[9], v[10], v[11])
        let d = w.count
        var at = 12
        w = Array(v[at ..< at + d]); at += d
        if aw != nil { aw = Array(v[at ..< at + d]); at += d }
        if q != nil { q = Array(v[at ..< at + d]) }
    }
}

enum SGDSolver {
    /// scikit-learn's clip of the loss derivative.
    static let maxDLoss = 1e12

    /// The `optimal` schedule's offset: the first update's rate is scikit-learn's heuristic
    /// eta0 for this loss and alpha.
    static func optimalInit(_ s: SGDSettings) -> Double {
        let typw = (1.0 / s.alpha.squareRoot()).squareRoot()
        let initialEta0 = typw / max(1.0, s.loss.derivative(1.0, -typw, epsilon: s.epsilon))
        return 1.0 / (initialEta0 * s.alpha)
    }

    /// One pass over `order` (row positions of `rows`) with targets `y` (already ±1 / 0-1 for
    /// classification) and weights `sampleWeight`, updating `st` as scikit-learn's inner loop does.
    static func pass(_ st: inout SGDState, rows: SGDRows, order: [Int], y: [Double], sampleWeight: [Double]?, settings s: SGDSettings,
                     optimalInit: Double) {
        let ratio = s.ratio
        let penalised = s.penalty != nil
        let l2 = s.penalty == .l2 || s.penalty == .elasticnet
        let l1 = s.penalty == .l1 || s.penalty == .elasticnet
        let decay = rows.interceptDecay
        let d = rows.features
        var denseIndex: [Int32] = []
        if case .dense = rows { denseIndex = (0 ..< Int32(d)).map { $0 } }
        // The weight vectors move out of the state for the pass (the loop updates the state's
        // other fields while it writes them) and back at the end.
        var weights = st.w, averaged = st.aw ?? [], totals = st.q ?? []
        st.w = []
        defer {
            st.w = weights
            if st.aw != nil { st.aw = averaged }
            if st.q != nil { st.q = totals }
        }
        weights.withUnsafeMutableBufferPointer { w in
        averaged.withUnsafeMutableBufferPointer { aw in
        totals.withUnsafeMutableBufferPointer { q in
            for i in order {
                let yi = y[i]
                let sw = sampleWeight?[i] ?? 1
                withRow(rows, i, denseIndex) { x, idx, nnz in
                    // p = w·x + intercept (w scaled by wscale)
                    var inner = 0.0
                    for j in 0 ..< nnz { inner += w[Int(idx[j])] * x[j] }
                    let p = inner * st.wscale + st.intercept
                    switch s.learningRate {
                    case .optimal: st.eta = 1.0 / (s.alpha * (optimalInit + st.t - 1))
                    case .invscaling: st.eta = s.eta0 / Foundation.pow(st.t, s.powerT)
                    case .constant, .adaptive: break
                    }
                    let cur = s.loss.loss(yi, p, epsilon: s.epsilon)
                    st.sumLoss += cur
                    st.objectiveSum += cur
                    if penalised {
                        let norm = st.sqNorm.squareRoot()
                        st.objectiveSum += s.alpha * ((1 - ratio) * 0.5 * (norm * norm) + ratio * st.l1Norm)
                    }
                    let classWeight = yi > 0 ? s.weightPositive : s.weightNegative
                    var dloss = s.loss.derivative(yi, p, epsilon: s.epsilon)
                    if dloss < -maxDLoss { dloss = -maxDLoss } else if dloss > maxDLoss { dloss = maxDLoss }
                    var update = -st.eta * dloss
                    update *= classWeight * sw
                    if l2 {
                        // Never scale to negative values: the weights become zero instead.
                        let c = max(0, 1.0 - ((1.0 - ratio) * st.eta * s.alpha))
                        st.wscale *= c
                        st.sqNorm *= c * c
                        st.l1Norm *= abs(c)
                        if st.wscale < 1e-9 { resetScale(&st, w, aw) }
                    }
                    if update != 0 {
                        let scale = update / st.wscale
                        var l2acc = 0.0, l1acc = 0.0
                        for j in 0 ..< nnz {
                            let k = Int(idx[j])
                            w[k] += x[j] * scale
                            l2acc += w[k] * w[k]
                            l1acc += abs(w[k])
                        }
                        st.sqNorm = l2acc * (st.wscale * st.wscale)
                        st.l1Norm = l1acc * st.wscale
                    }
                    if s.fitIntercept, update != 0 { st.intercept += update * decay }
                    if s.average > 0, Double(s.average) <= st.t {
                        let numIter = st.t - Double(s.average) + 1
                        let mu = 1.0 / numIter
                        let a = st.averageA, scale = -update / st.wscale
                        for j in 0 ..< nnz { aw[Int(idx[j])] += a * x[j] * scale }
                        if numIter > 1 { st.averageB /= (1.0 - mu) }
                        st.averageA += mu * st.averageB * st.wscale
                        st.averageIntercept += (st.intercept - st.averageIntercept) / numIter
                    }
                    if l1 {
                        st.u += ratio * st.eta * s.alpha
                        let wscale = st.wscale, u = st.u
                        for j in 0 ..< nnz {
                            let k = Int(idx[j])
                            let z = w[k]
                            if wscale * z > 0 {
                                w[k] = max(0, w[k] - ((u + q[k]) / wscale))
                            } else if wscale * z < 0 {
                                w[k] = min(0, w[k] + ((u - q[k]) / wscale))
                            }
                            q[k] += wscale * (w[k] - z)
                        }
                    }
                    st.t += 1
                }
            }
        }
        }
        }
    }

    /// Folds `wscale` (and the averaging coefficients) into the weights `w` and averages `aw`
    /// of `st` (held outside it while borrowed), as scikit-learn's `reset_wscale`.
    static func resetScale(_ st: inout SGDState, _ w: UnsafeMutableBufferPointer<Double>, _ aw: UnsafeMutableBufferPointer<Double>) {
        let n = Int32(w.count)
        if st.aw != nil {
            cblas_daxpy(n, st.averageA, w.baseAddress, 1, aw.baseAddress, 1)
            cblas_dscal(n, 1.0 / st.averageB, aw.baseAddress, 1)
            st.averageA = 0
            st.averageB = 1
        }
        cblas_dscal(n, st.wscale, w.baseAddress, 1)
        st.wscale = 1
    }

    @inline(__always)
    static func withRow(_ rows: SGDRows, _ i: Int, _ denseIndex: [Int32], _ body: (UnsafePointer<Double>, UnsafePointer<Int32>, Int) -> Void) {
        switch rows {
        case .dense(let m):
            let d = m.columns
            m.storage.withUnsafeBufferPointer { xs in
                denseIndex.withUnsafeBufferPointer { ix in body(xs.baseAddress! + i * d, ix.baseAddress!, d) }
            }
        case .sparse(let s):
            let r = s.range(ofRow: i)
            s.data.withUnsafeBufferPointer { xs in
                s.indices.withUnsafeBufferPointer { ix in
                    body(xs.baseAddress! + r.lowerBound, ix.baseAddress! + r.lowerBound, r.count)
                }
            }
        }
    }

    /// The epoch-end rule: whether to stop, given the epoch's objective over `trainCount`
    /// rows (scikit-learn's: `n_iter_no_change` epochs without improving the best objective
    /// by `tol` stop the run, or, with the adaptive schedule, divide the rate by 5).
    struct Stopping {
        var best = Double.infinity
        var noImprovement = 0

        mutating func shouldStop(objective: Double, trainCount: Int, state st: inout SGDState, settings s: SGDSettings) -> Bool {
            let mean = objective / Double(trainCount)
            if let tol = s.tol, mean > best - tol { noImprovement += 1 } else { noImprovement = 0 }
            if mean < best { best = mean }
            guard noImprovement >= s.nIterNoChange else { return false }
            if s.learningRate == .adaptive && st.eta > 1e-6 {
                st.eta /= 5
                noImprovement = 0
                return false
            }
            return true
        }
    }
}
