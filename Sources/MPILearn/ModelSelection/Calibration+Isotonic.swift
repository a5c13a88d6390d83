import Foundation

/// Isotonic calibration of one column of classifier outputs (scikit-learn's
/// `IsotonicRegression(increasing=True, out_of_bounds="clip")`): a non-decreasing, piecewise
/// linear map from a prediction to a probability.
///
/// ``fit(_:_:weights:)`` follows scikit-learn step by step:
///
/// 1. rows are sorted by prediction (then target); predictions within 1e-15 of the first of a
///    run (NumPy's `finfo(float64).resolution`, scikit-learn's `_make_unique`) are one point
///    whose target is the weighted mean of theirs and whose weight is their sum;
/// 2. the pool-adjacent-violators algorithm fits the non-decreasing sequence nearest the
///    points' targets in weighted least squares (``poolAdjacentViolators(_:weights:)``);
/// 3. points that equal both neighbours are dropped (they change no interpolation), leaving
///    scikit-learn's `X_thresholds_` and `y_thresholds_`.
///
/// ``predict(_:)`` clips a prediction to the thresholds' range and interpolates linearly
/// between the two thresholds around it (scipy's `interp1d`, NumPy's `interp`).
///
/// PAV is written here: neither the Swift standard library nor the packages MPILearn uses
/// provide isotonic regression.
public struct IsotonicCalibration: Codable, Equatable, Sendable {
    /// The predictions where the fitted map changes slope, ascending (`X_thresholds_`).
    public var xThresholds: [Double]
    /// The calibrated probability at each threshold, non-decreasing (`y_thresholds_`).
    public var yThresholds: [Double]

    enum CodingKeys: String, CodingKey {
        case xThresholds = "X_thresholds", yThresholds = "y_thresholds"
    }

    public init(xThresholds: [Double], yThresholds: [Double]) {
        self.xThresholds = xThresholds
        self.yThresholds = yThresholds
    }

    /// Fits the map from predictions `x` to targets `y` (1 for the calibrated class, 0 for
    /// the others).
    ///
    /// - Parameters:
    ///   - x: one finite prediction per row.
    ///   - y: the target of each row.
    ///   - weights: a weight per row (nil: 1 each); rows of weight 0 or less are dropped.
    /// - Returns: the thresholds of the fitted map.
    /// - Throws: ``MPILearnError/mismatch(_:)`` for lengths that differ or no row of positive
    ///   weight, ``MPILearnError/numerical(_:)`` for a prediction that is not finite.
    public static func fit(_ x: [Double], _ y: [Double], weights: [Double]? = nil) throws -> IsotonicCalibration {
        guard y.count == x.count, weights.map({ $0.count == x.count }) ?? true else {
            throw MPILearnError.mismatch("isotonic calibration needs one target (and weight) per prediction; got \(x.count) predictions, \(y.count) targets\(weights.map { " and \($0.count) weights" } ?? "")")
        }
        if let bad = x.firstIndex(where: { !$0.isFinite }) {
            throw MPILearnError.numerical("isotonic calibration: prediction \(bad + 1) is \(x[bad]); the classifier's outputs must be finite")
        }
        let w = weights ?? [Double](repeating: 1, count: x.count)
        let order = x.indices.filter { w[$0] > 0 }.sorted { x[$0] != x[$1] ? x[$0] < x[$1] : y[$0] < y[$1] }
        guard let first = order.first else { throw MPILearnError.mismatch("isotonic calibration needs at least one row of positive weight") }

        // 1. One point per run of equal predictions: the weighted mean target.
        var ux: [Double] = [], uy: [Double] = [], uw: [Double] = []
        var runX = x[first], runWY = 0.0, runW = 0.0
        func endRun() {
            ux.append(runX)
            uy.append(runWY / runW)
            uw.append(runW)
        }
        for i in order {
            if x[i] - runX >= Self.tieResolution {
                endRun()
                runX = x[i]
                runWY = 0
                runW = 0
            }
            runWY += y[i] * w[i]
            runW += w[i]
        }
        endRun()

        // 2. The non-decreasing fit.
        let fitted = poolAdjacentViolators(uy, weights: uw)

        // 3. Keep the ends and every point that differs from a neighbour.
        var xs: [Double] = [], ys: [Double] = []
        for i in fitted.indices {
            let interior = i > 0 && i < fitted.count - 1
            if !interior || fitted[i] != fitted[i - 1] || fitted[i] != fitted[i + 1] {
                xs.append(ux[i])
                ys.append(fitted[i])
            }
        }
        return IsotonicCalibration(xThresholds: xs, yThresholds: ys)
    }

    /// Predictions closer than this to the first of a run are ties (NumPy's float64
    /// `resolution`, which scikit-learn's `_make_unique` uses).
    static let tieResolution = 1e-15

    /// The pool-adjacent-violators algorithm: the non-decreasing sequence ŷ minimising
    /// Σ wᵢ·(yᵢ − ŷᵢ)².
    ///
    /// Values are pushed left to right as blocks (weighted sum, weight, length); while the
    /// block before the newest has a mean at least as large, the two are pooled into one
    /// whose mean is their weighted mean. Each value is pooled at most once: O(n).
    ///
    /// Best and Chakravarti, "Active set algorithms for isotonic regression; a unifying
    /// framework", Mathematical Programming 47 (1990).
    ///
    /// - Parameters:
    ///   - y: the values, in the order the fit must not decrease along.
    ///   - weights: a positive weight per value.
    /// - Returns: the fitted values, one per value of `y`.
    public static func poolAdjacentViolators(_ y: [Double], weights: [Double]) -> [Double] {
        precondition(y.count == weights.count, "poolAdjacentViolators: \(y.count) values and \(weights.count) weights")
        var sumWY: [Double] = [], sumW: [Double] = [], length: [Int] = []
        sumWY.reserveCapacity(y.count)
        sumW.reserveCapacity(y.count)
        length.reserveCapacity(y.count)
        for i in y.indices {
            sumWY.append(weights[i] * y[i])
            sumW.append(weights[i])
            length.append(1)
            while sumW.count > 1 {
                let last = sumW.count - 1
                guard sumWY[last - 1] / sumW[last - 1] >= sumWY[last] / sumW[last] else { break }
                sumWY[last - 1] += sumWY[last]
                sumW[last - 1] += sumW[last]
                length[last - 1] += length[last]
                sumWY.removeLast()
                sumW.removeLast()
                length.removeLast()
            }
        }
        var out: [Double] = []
        out.reserveCapacity(y.count)
        for (block, n) in length.enumerated() { out.append(contentsOf: repeatElement(sumWY[block] / sumW[block], count: n)) }
        return out
    }

    /// The calibrated probability of one prediction: clipped to the thresholds' range, then
    /// linear between the two thresholds around it; NaN stays NaN.
    public func predict(_ v: Double) -> Double {
        let n = xThresholds.count
        guard n > 1 else { return n == 1 && !v.isNaN ? yThresholds[0] : .nan }
        if v.isNaN { return .nan }
        let t = min(max(v, xThresholds[0]), xThresholds[n - 1])
        // The first threshold ≥ t, kept in 1 ..< n (scipy's interp1d).
        var lo = 0, hi = n
        while lo < hi {
            let mid = (lo + hi) / 2
            if xThresholds[mid] < t { lo = mid + 1 } else { hi = mid }
        }
        let upper = min(max(lo, 1), n - 1), lower = upper - 1
        let slope = (yThresholds[upper] - yThresholds[lower]) / (xThresholds[upper] - xThresholds[lower])
        return slope * (t - xThresholds[lower]) + yThresholds[lower]
    }
}
