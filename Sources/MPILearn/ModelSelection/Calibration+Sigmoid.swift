import Foundation

/// Platt's sigmoid calibration of one column of classifier outputs (scikit-learn's
/// `_SigmoidCalibration`): the probability of the positive class is
///
///     p(f) = 1 / (1 + exp(a·f + b))
///
/// (scikit-learn's sign convention: `expit(-(a·f + b))`, so a useful fit has a < 0).
///
/// ``fit(_:positive:)`` minimises the log-loss of p against Platt's prior-corrected targets
/// (T = (n₊ + 1)/(n₊ + 2) for a positive row, 1/(n₋ + 2) for a negative one), the objective
/// scikit-learn minimises with L-BFGS-B, by Newton's method with a backtracking line search
/// (Lin, Lin and Weng's version of Platt's algorithm, as libsvm solves it), to a gradient
/// far below scikit-learn's tolerance, so `a` and `b` agree with scikit-learn's to its
/// tolerance rather than to the path of an optimiser.
///
/// Platt, "Probabilistic outputs for support vector machines and comparisons to regularized
/// likelihood methods" (1999); Lin, Lin and Weng, "A note on Platt's probabilistic outputs for
/// support vector machines", Machine Learning 68 (2007).
public struct SigmoidCalibration: Codable, Equatable, Sendable {
    /// The slope (scikit-learn's `a_`).
    public var a: Double
    /// The intercept (scikit-learn's `b_`).
    public var b: Double

    public init(a: Double, b: Double) {
        self.a = a
        self.b = b
    }

    /// Predictions at least this large in absolute value are divided by the largest before the
    /// fit (and `a` multiplied back after), as scikit-learn does: the same optimum, better
    /// conditioned.
    static let rescaleThreshold = 30.0

    /// Fits `a` and `b` on predictions and whether each row is of the positive class.
    ///
    /// - Parameters:
    ///   - predictions: one finite value per row (a decision value or a probability).
    ///   - positive: whether each row belongs to the class being calibrated.
    /// - Returns: the minimiser of the prior-corrected log-loss, its gradient below
    ///   1e-10 · rows (or as small as rounding lets Newton's method make it).
    /// - Throws: ``MPILearnError/mismatch(_:)`` for no rows or lengths that differ,
    ///   ``MPILearnError/numerical(_:)`` for a prediction that is not finite.
    public static func fit(_ predictions: [Double], positive: [Bool]) throws -> SigmoidCalibration {
        let n = predictions.count
        guard n > 0, positive.count == n else {
            throw MPILearnError.mismatch("sigmoid calibration needs one class flag per prediction and at least one row; got \(n) predictions and \(positive.count) flags")
        }
        if let bad = predictions.firstIndex(where: { !$0.isFinite }) {
            throw MPILearnError.numerical("sigmoid calibration: prediction \(bad + 1) is \(predictions[bad]); the classifier's outputs must be finite")
        }
        let largest = predictions.reduce(0) { max($0, abs($1)) }
        let scale = largest >= rescaleThreshold ? largest : 1
        let f = scale == 1 ? predictions : predictions.map { $0 / scale }
        let nPositive = Double(positive.lazy.filter { $0 }.count), nNegative = Double(n) - nPositive
        // Platt's targets: the labels pulled towards the prior (his section 2.2).
        let high = (nPositive + 1) / (nPositive + 2), low = 1 / (nNegative + 2)
        let t = positive.map { $0 ? high : low }
        let objective = PlattObjective(f: f, t: t)

        var a = 0.0, b = log((nNegative + 1) / (nPositive + 1))
        var current = objective.evaluate(a, b)
        let tolerance = 1e-10 * Double(n)
        for _ in 0 ..< 100 {
            let gradientNorm = max(abs(current.ga), abs(current.gb))
            if gradientNorm <= tolerance { break }
            // Newton's direction, (H + σI)·d = −g; σ keeps H invertible when the rows'
            // probabilities saturate (H → 0) or every prediction is the same (H singular).
            let sigma = 1e-12 * max(1, current.haa + current.hbb)
            let haa = current.haa + sigma, hbb = current.hbb + sigma, hab = current.hab
            let det = haa * hbb - hab * hab
            var da = -(hbb * current.ga - hab * current.gb) / det
            var db = -(haa * current.gb - hab * current.ga) / det
            var slope = current.ga * da + current.gb * db
            if !(slope < 0) || !da.isFinite || !db.isFinite {
                (da, db) = (-current.ga, -current.gb)
                slope = -(current.ga * current.ga + current.gb * current.gb)
            }
            // Backtracking (Armijo). Where the predicted decrease is below the loss's rounding
            // the loss cannot tell steps apart; the full Newton step is then taken if it
            // shrinks the gradient.
            let flat = -slope <= 1e-12 * max(1, abs(current.loss))
            var step = 1.0
            var accepted: PlattObjective.Value? = nil
            while step >= 1e-10 {
                let trial = objective.evaluate(a + step * da, b + step * db)
                if trial.loss <= current.loss + 1e-4 * step * slope
                    || (flat && step == 1 && max(abs(trial.ga), abs(trial.gb)) < gradientNorm) {
                    accepted = trial
                    break
                }
                step /= 2
            }
            guard let next = accepted else { break }   // no decrease left at double precision
            a += step * da
            b += step * db
            current = next
        }
        return SigmoidCalibration(a: a / scale, b: b)
    }

    /// The calibrated probability of one prediction, 1 / (1 + exp(a·f + b)); NaN stays NaN.
    public func predict(_ f: Double) -> Double {
        let z = a * f + b
        if z >= 0 {
            let e = exp(-z)
            return e / (1 + e)
        }
        return 1 / (1 + exp(z))
    }
}

/// The prior-corrected log-loss of Platt's sigmoid over all rows, with its gradient and
/// Hessian in (a, b).
///
/// With z = a·f + b and p = 1/(1 + eᶻ), a row's loss is −T·log p − (1 − T)·log(1 − p)
/// = T·z + log(1 + e⁻ᶻ) (z ≥ 0) or (T − 1)·z + log(1 + eᶻ) (z < 0), written so neither
/// exponential overflows; ∂loss/∂z = T − p and ∂²loss/∂z² = p·(1 − p).
struct PlattObjective {
    let f: [Double]
    let t: [Double]

    struct Value {
        var loss: Double
        var ga: Double, gb: Double
        var haa: Double, hab: Double, hbb: Double
    }

    func evaluate(_ a: Double, _ b: Double) -> Value {
        var v = Value(loss: 0, ga: 0, gb: 0, haa: 0, hab: 0, hbb: 0)
        f.withUnsafeBufferPointer { fp in
            t.withUnsafeBufferPointer { tp in
                for i in 0 ..< fp.count {
                    let fi = fp[i], ti = tp[i]
                    let z = a * fi + b
                    let p: Double
                    if z >= 0 {
                        let e = exp(-z)
                        v.loss += ti * z + log1p(e)
                        p = e / (1 + e)
                    } else {
                        let e = exp(z)
                        v.loss += (ti - 1) * z + log1p(e)
                        p = 1 / (1 + e)
                    }
                    let g = ti - p, h = p * (1 - p)
                    v.ga += g * fi
                    v.gb += g
                    v.haa += h * fi * fi
                    v.hab += h * fi
                    v.hbb += h
                }
            }
        }
        return v
    }
}
