import Foundation
import SwiftMPI

// scikit-learn's StandardScaler, MinMaxScaler and RobustScaler on the numeric columns of a
// Table. Each fit is one or a few collectives over every rank's rows (DistributedStatistics);
// each transform is local and keeps NaN as NaN. Output columns are float64, with the same
// names at the same positions; other columns pass through untouched.

// MARK: - shared helpers

extension Table {
    /// The numeric columns a column-wise step works on: `names`, each checked to exist and be
    /// numeric, or every numeric column when `names` is nil.
    /// - Throws: ``MPILearnError/mismatch`` naming a missing or non-numeric column, or when
    ///   `names` is nil and the table has no numeric column.
    func resolvedNumericColumns(_ names: [String]?, for step: String) throws -> [String] {
        guard let names else {
            let all = numericColumnNames
            guard !all.isEmpty else {
                throw MPILearnError.mismatch("\(step): the input has no numeric column (columns: \(listPreview(columnNames))); name the columns with 'columns'")
            }
            return all
        }
        for name in names { _ = try doubles(name, for: step) }
        return names
    }

    /// This table with each column of `names` replaced by `body(j, values)`, as float64.
    /// - Throws: ``MPILearnError/mismatch`` naming a missing or non-numeric column.
    func mappingNumeric(_ names: [String], for step: String,
                        _ body: (_ j: Int, _ x: UnsafeBufferPointer<Double>, _ y: UnsafeMutableBufferPointer<Double>) -> Void) throws -> Table {
        var t = self
        for (j, name) in names.enumerated() {
            let x = try doubles(name, for: step)
            let y = [Double](unsafeUninitializedCapacity: x.count) { y, n in
                x.withUnsafeBufferPointer { body(j, $0, y) }
                n = x.count
            }
            t = t.replacing(name, with: .float64(y))
        }
        return t
    }
}

/// Helpers shared by the numeric steps (scalers and the imputer).
enum NumericStep {
    /// Checks a `columns` parameter: nil, or a non-empty list without repeats.
    static func validateColumns(_ columns: [String]?) throws {
        guard let columns else { return }
        try require(!columns.isEmpty, "columns", "[]", "a non-empty list of column names, or null for every numeric column")
        if let dup = Dictionary(grouping: columns, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw MPILearnError.invalidParameter(name: "columns", value: "'\(dup)' twice", allowed: "each column at most once")
        }
    }

    /// Checks that every column has a value in the training data.
    /// - Throws: ``MPILearnError/mismatch`` naming the first column whose every row is missing.
    static func requireValues(_ counts: [Int], columns: [String], step: String, hint: String = "") throws {
        if let j = counts.firstIndex(of: 0) {
            throw MPILearnError.mismatch("\(step): column '\(columns[j])' has no value in the training data (every row is missing, or there are no rows)\(hint)")
        }
    }

    /// scikit-learn's `_handle_zeros_in_scale`: 1 where the scale is below 10ε (or, with a
    /// mask, where the mask says the feature is constant).
    static func handleZerosInScale(_ scale: [Double], constant: [Bool]? = nil) -> [Double] {
        scale.enumerated().map { j, s in
            let isConstant = constant?[j] ?? (s < 10 * Double.ulpOfOne)
            return isConstant ? 1 : s
        }
    }

    /// Encodes an optional as its value or JSON null.
    static func encodeOrNull<T: Encodable, K: CodingKey>(_ value: T?, _ c: inout KeyedEncodingContainer<K>, _ key: K) throws {
        if let value { try c.encode(value, forKey: key) } else { try c.encodeNil(forKey: key) }
    }

    /// A short rendering of a statistic for `summary()`.
    static func format(_ x: Double) -> String { String(format: "%.6g", x) }
}

// MARK: - StandardScaler

/// scikit-learn's `StandardScaler`: each column centred on its mean and divided by its
/// standard deviation.
///
/// ``fit(_:comm:)`` computes each column's count, mean and population variance (ddof 0) of
/// its non-missing values over every rank (``DistributedStatistics/moments(_:comm:)``: one
/// allgather, Chan's merge in rank order). `scale_` is `sqrt(var_)`, or 1 for a constant
/// column (scikit-learn's test `var ≤ n·ε·var + (n·mean·ε)²`). Transform: `(x − mean_) / scale_`.
public struct StandardScaler: TableTransformer, Equatable {
    public static let transformerName = "standard-scaler"
    /// `columns`: the columns to scale; nil (default) for every numeric column.
    public var columns: [String]?
    /// `with_mean`: subtract the mean. Default true.
    public var withMean: Bool
    /// `with_std`: divide by the standard deviation. Default true.
    public var withStd: Bool

    public init(columns: [String]? = nil, withMean: Bool = true, withStd: Bool = true) {
        self.columns = columns
        self.withMean = withMean
        self.withStd = withStd
    }

    enum CodingKeys: String, CodingKey { case columns, withMean = "with_mean", withStd = "with_std" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        columns = try c.decodeIfPresent([String].self, forKey: .columns)
        withMean = try c.decodeIfPresent(Bool.self, forKey: .withMean) ?? true
        withStd = try c.decodeIfPresent(Bool.self, forKey: .withStd) ?? true
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try NumericStep.encodeOrNull(columns, &c, .columns)
        try c.encode(withMean, forKey: .withMean)
        try c.encode(withStd, forKey: .withStd)
    }

    public func validate() throws { try NumericStep.validateColumns(columns) }

    /// Collective. Learns each column's mean and variance over every rank's rows.
    /// - Throws: ``MPILearnError/invalidParameter`` for an invalid parameter;
    ///   ``MPILearnError/mismatch`` naming a missing or non-numeric column, or a column with
    ///   no value in the training data.
    public func fit(_ table: Table, comm: any Communicator) throws -> StandardScalerModel {
        try validate()
        let step = Self.transformerName
        let names = try table.resolvedNumericColumns(columns, for: step)
        let m = try DistributedStatistics.moments(try names.map { try table.doubles($0, for: step) }, comm: comm)
        try NumericStep.requireValues(m.map(\.count), columns: names, step: step)
        let variance = m.map(\.variance)
        let eps = Double.ulpOfOne
        let constant = m.map { s -> Bool in
            let n = Double(s.count)
            return s.variance <= n * eps * s.variance + (n * s.mean * eps) * (n * s.mean * eps)
        }
        return StandardScalerModel(parameters: self, columns: names,
                                   mean: withMean || withStd ? m.map(\.mean) : nil,
                                   variance: withStd ? variance : nil,
                                   scale: withStd ? NumericStep.handleZerosInScale(variance.map { $0.squareRoot() }, constant: constant) : nil,
                                   nSamplesSeen: m.map(\.count))
    }
}

/// A fitted ``StandardScaler``.
public struct StandardScalerModel: FittedTableTransformer, Equatable {
    public var parameters: StandardScaler
    /// The scaled columns, in order (`feature_names_in_`).
    public var columns: [String]
    /// `mean_`: each column's mean (nil when neither centring nor scaling).
    public var mean: [Double]?
    /// `var_`: each column's population variance (nil without `with_std`).
    public var variance: [Double]?
    /// `scale_`: each column's divisor (nil without `with_std`).
    public var scale: [Double]?
    /// `n_samples_seen_`: each column's count of non-missing training values.
    public var nSamplesSeen: [Int]

    public init(parameters: StandardScaler, columns: [String], mean: [Double]?, variance: [Double]?, scale: [Double]?, nSamplesSeen: [Int]) {
        self.parameters = parameters
        self.columns = columns
        self.mean = mean
        self.variance = variance
        self.scale = scale
        self.nSamplesSeen = nSamplesSeen
    }

    enum CodingKeys: String, CodingKey {
        case parameters, columns = "feature_names_in_", mean = "mean_", variance = "var_", scale = "scale_", nSamplesSeen = "n_samples_seen_"
    }

    /// Local: `(x − mean_) / scale_` on each fitted column (NaN stays NaN).
    /// - Throws: ``MPILearnError/mismatch`` naming a missing or non-numeric column.
    public func transform(_ table: Table, context: TransformContext) throws -> Table {
        let center = parameters.withMean ? mean : nil
        return try table.mappingNumeric(columns, for: StandardScaler.transformerName) { j, x, y in
            let m = center?[j] ?? 0, s = scale?[j] ?? 1
            for i in 0 ..< x.count { y[i] = (x[i] - m) / s }
        }
    }

    public func summary() -> [String] {
        columns.enumerated().map { j, name in
            "\(name): mean \(mean.map { NumericStep.format($0[j]) } ?? "-"), scale \(scale.map { NumericStep.format($0[j]) } ?? "-"), \(nSamplesSeen[j]) values"
        }
    }
}

// MARK: - MinMaxScaler

/// scikit-learn's `MinMaxScaler`: each column mapped linearly so that its training minimum
/// and maximum land on `feature_range`.
///
/// ``fit(_:comm:)`` takes each column's minimum and maximum over every rank (allreduce;
/// exact). `scale_ = (hi − lo) / (data_max_ − data_min_)` (a range below 10ε counts as 1) and
/// `min_ = lo − data_min_·scale_`. Transform: `x·scale_ + min_`, clipped to the range with `clip`.
public struct MinMaxScaler: TableTransformer, Equatable {
    public static let transformerName = "min-max-scaler"
    /// `columns`: the columns to scale; nil (default) for every numeric column.
    public var columns: [String]?
    /// `feature_range`: the output range `[lo, hi]`, `lo < hi`. Default [0, 1].
    public var featureRange: [Double]
    /// `clip`: clip transformed values to `feature_range`. Default false.
    public var clip: Bool

    public init(columns: [String]? = nil, featureRange: [Double] = [0, 1], clip: Bool = false) {
        self.columns = columns
        self.featureRange = featureRange
        self.clip = clip
    }

    enum CodingKeys: String, CodingKey { case columns, featureRange = "feature_range", clip }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        columns = try c.decodeIfPresent([String].self, forKey: .columns)
        featureRange = try c.decodeIfPresent([Double].self, forKey: .featureRange) ?? [0, 1]
        clip = try c.decodeIfPresent(Bool.self, forKey: .clip) ?? false
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try NumericStep.encodeOrNull(columns, &c, .columns)
        try c.encode(featureRange, forKey: .featureRange)
        try c.encode(clip, forKey: .clip)
    }

    public func validate() throws {
        try NumericStep.validateColumns(columns)
        try require(featureRange.count == 2 && featureRange.allSatisfy(\.isFinite) && featureRange[0] < featureRange[1],
                    "feature_range", featureRange, "two finite numbers [min, max] with min < max")
    }

    /// Collective. Learns each column's minimum and maximum over every rank's rows.
    /// - Throws: ``MPILearnError/invalidParameter`` for an invalid parameter;
    ///   ``MPILearnError/mismatch`` naming a missing or non-numeric column, or a column with
    ///   no value in the training data.
    public func fit(_ table: Table, comm: any Communicator) throws -> MinMaxScalerModel {
        try validate()
        let step = Self.transformerName
        let names = try table.resolvedNumericColumns(columns, for: step)
        let e = try DistributedStatistics.extrema(try names.map { try table.doubles($0, for: step) }, comm: comm)
        try NumericStep.requireValues(e.map(\.count), columns: names, step: step)
        let range = NumericStep.handleZerosInScale(e.map { $0.max - $0.min })
        let scale = range.map { (featureRange[1] - featureRange[0]) / $0 }
        return MinMaxScalerModel(parameters: self, columns: names, dataMin: e.map(\.min), dataMax: e.map(\.max), scale: scale,
                                 min: zip(e, scale).map { featureRange[0] - $0.min * $1 })
    }
}

/// A fitted ``MinMaxScaler``.
public struct MinMaxScalerModel: FittedTableTransformer, Equatable {
    public var parameters: MinMaxScaler
    /// The scaled columns, in order (`feature_names_in_`).
    public var columns: [String]
    /// `data_min_`: each column's training minimum.
    public var dataMin: [Double]
    /// `data_max_`: each column's training maximum.
    public var dataMax: [Double]
    /// `scale_`: each column's factor.
    public var scale: [Double]
    /// `min_`: each column's offset.
    public var min: [Double]

    public init(parameters: MinMaxScaler, columns: [String], dataMin: [Double], dataMax: [Double], scale: [Double], min: [Double]) {
        self.parameters = parameters
        self.columns = columns
        self.dataMin = dataMin
        self.dataMax = dataMax
        self.scale = scale
        self.min = min
    }

    enum CodingKeys: String, CodingKey {
        case parameters, columns = "feature_names_in_", dataMin = "data_min_", dataMax = "data_max_", scale = "scale_", min = "min_"
    }

    /// Local: `x·scale_ + min_` on each fitted column, clipped with `clip` (NaN stays NaN).
    /// - Throws: ``MPILearnError/mismatch`` naming a missing or non-numeric column.
    public func transform(_ table: Table, context: TransformContext) throws -> Table {
        let lo = parameters.featureRange[0], hi = parameters.featureRange[1], clip = parameters.clip
        return try table.mappingNumeric(columns, for: MinMaxScaler.transformerName) { j, x, y in
            let s = scale[j], m = min[j]
            for i in 0 ..< x.count {
                var v = x[i] * s + m
                if clip { v = v < lo ? lo : (v > hi ? hi : v) }
                y[i] = v
            }
        }
    }

    public func summary() -> [String] {
        columns.enumerated().map { j, name in "\(name): min \(NumericStep.format(dataMin[j])), max \(NumericStep.format(dataMax[j]))" }
    }
}

// MARK: - RobustScaler

/// scikit-learn's `RobustScaler`: each column centred on its median and divided by its
/// interquartile range (or another `quantile_range`).
///
/// ``fit(_:comm:)`` finds the medians and quantiles exactly over every rank's rows by a
/// distributed radix select (``DistributedStatistics/medians(_:comm:)``,
/// ``DistributedStatistics/quantiles(_:q:comm:)``, NumPy's `nanmedian` and linear
/// `nanpercentile`), so the fit is bit for bit the same at any rank count. `scale_` is
/// `q_max − q_min` (1 if zero), divided by `Φ⁻¹(q_max) − Φ⁻¹(q_min)` with `unit_variance`.
/// Transform: `(x − center_) / scale_`.
public struct RobustScaler: TableTransformer, Equatable {
    public static let transformerName = "robust-scaler"
    /// `columns`: the columns to scale; nil (default) for every numeric column.
    public var columns: [String]?
    /// `with_centering`: subtract the median. Default true.
    public var withCentering: Bool
    /// `with_scaling`: divide by the quantile range. Default true.
    public var withScaling: Bool
    /// `quantile_range`: the percentiles `[q_min, q_max]`, `0 ≤ q_min ≤ q_max ≤ 100`. Default [25, 75].
    public var quantileRange: [Double]
    /// `unit_variance`: scale so that normally distributed data gets variance 1. Default false.
    public var unitVariance: Bool

    public init(columns: [String]? = nil, withCentering: Bool = true, withScaling: Bool = true,
                quantileRange: [Double] = [25, 75], unitVariance: Bool = false) {
        self.columns = columns
        self.withCentering = withCentering
        self.withScaling = withScaling
        self.quantileRange = quantileRange
        self.unitVariance = unitVariance
    }

    enum CodingKeys: String, CodingKey {
        case columns, withCentering = "with_centering", withScaling = "with_scaling", quantileRange = "quantile_range", unitVariance = "unit_variance"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        columns = try c.decodeIfPresent([String].self, forKey: .columns)
        withCentering = try c.decodeIfPresent(Bool.self, forKey: .withCentering) ?? true
        withScaling = try c.decodeIfPresent(Bool.self, forKey: .withScaling) ?? true
        quantileRange = try c.decodeIfPresent([Double].self, forKey: .quantileRange) ?? [25, 75]
        unitVariance = try c.decodeIfPresent(Bool.self, forKey: .unitVariance) ?? false
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try NumericStep.encodeOrNull(columns, &c, .columns)
        try c.encode(withCentering, forKey: .withCentering)
        try c.encode(withScaling, forKey: .withScaling)
        try c.encode(quantileRange, forKey: .quantileRange)
        try c.encode(unitVariance, forKey: .unitVariance)
    }

    public func validate() throws {
        try NumericStep.validateColumns(columns)
        let q = quantileRange
        try require(q.count == 2 && 0 <= q[0] && q[0] <= q[1] && q[1] <= 100, "quantile_range", q,
                    "two percentiles [q_min, q_max] with 0 <= q_min <= q_max <= 100")
        if unitVariance, withScaling {
            try require(q[0] > 0 && q[1] < 100, "quantile_range", q,
                        "percentiles strictly between 0 and 100 with unit_variance (the normal quantile of 0 or 100 is infinite)")
        }
    }

    /// Collective. Learns each column's median and quantile range over every rank's rows, exactly.
    /// - Throws: ``MPILearnError/invalidParameter`` for an invalid parameter;
    ///   ``MPILearnError/mismatch`` naming a missing or non-numeric column, or a column with
    ///   no value in the training data.
    public func fit(_ table: Table, comm: any Communicator) throws -> RobustScalerModel {
        try validate()
        let step = Self.transformerName
        let names = try table.resolvedNumericColumns(columns, for: step)
        let data = try names.map { try table.doubles($0, for: step) }
        try NumericStep.requireValues(try DistributedStatistics.counts(data, comm: comm), columns: names, step: step)
        let center = withCentering ? try DistributedStatistics.medians(data, comm: comm) : nil
        var scale: [Double]?
        if withScaling {
            let q = try DistributedStatistics.quantiles(data, q: quantileRange.map { $0 / 100 }, comm: comm)
            scale = NumericStep.handleZerosInScale(q.map { $0[1] - $0[0] })
            if unitVariance {
                let adjust = DistributedStatistics.normalQuantile(quantileRange[1] / 100) - DistributedStatistics.normalQuantile(quantileRange[0] / 100)
                scale = scale!.map { $0 / adjust }
            }
        }
        return RobustScalerModel(parameters: self, columns: names, center: center, scale: scale)
    }
}

/// A fitted ``RobustScaler``.
public struct RobustScalerModel: FittedTableTransformer, Equatable {
    public var parameters: RobustScaler
    /// The scaled columns, in order (`feature_names_in_`).
    public var columns: [String]
    /// `center_`: each column's median (nil without `with_centering`).
    public var center: [Double]?
    /// `scale_`: each column's quantile range (nil without `with_scaling`).
    public var scale: [Double]?

    public init(parameters: RobustScaler, columns: [String], center: [Double]?, scale: [Double]?) {
        self.parameters = parameters
        self.columns = columns
        self.center = center
        self.scale = scale
    }

    enum CodingKeys: String, CodingKey { case parameters, columns = "feature_names_in_", center = "center_", scale = "scale_" }

    /// Local: `(x − center_) / scale_` on each fitted column (NaN stays NaN).
    /// - Throws: ``MPILearnError/mismatch`` naming a missing or non-numeric column.
    public func transform(_ table: Table, context: TransformContext) throws -> Table {
        try table.mappingNumeric(columns, for: RobustScaler.transformerName) { j, x, y in
            let m = center?[j] ?? 0, s = scale?[j] ?? 1
            for i in 0 ..< x.count { y[i] = (x[i] - m) / s }
        }
    }

    public func summary() -> [String] {
        columns.enumerated().map { j, name in
            "\(name): center \(center.map { NumericStep.format($0[j]) } ?? "-"), scale \(scale.map { NumericStep.format($0[j]) } ?? "-")"
        }
    }
}
