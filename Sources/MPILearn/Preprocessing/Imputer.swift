import Foundation
import SwiftMPI

/// A number or a string: an imputer's `fill_value` and its learned `statistics_`.
///
/// Coded as a bare JSON number or string (a number first, so ``ModelJSON``'s `"nan"` and
/// `"inf"` are numbers).
public enum ImputeValue: Codable, Sendable, Equatable, CustomStringConvertible {
    case number(Double)
    case string(String)

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .string(try c.decode(String.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .number(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        }
    }

    public var description: String {
        switch self {
        case .number(let d): return NumericStep.format(d)
        case .string(let s): return "'\(s)'"
        }
    }
}

/// scikit-learn's `SimpleImputer`: missing values (NaN, or a missing category) replaced by a
/// per-column statistic learned in training, or by a constant.
///
/// Numeric columns take any strategy; categorical columns (named in `columns`) take
/// `most_frequent` or `constant`, and keep their kind: the fill string joins the chunk's
/// dictionary. ``fit(_:comm:)`` learns, over every rank's rows: the mean (one allgather of
/// per-rank moments, Chan's merge), the exact median (a distributed radix select, NumPy's
/// `(a + b) / 2` for an even count), or the most frequent value (counts merged by value —
/// by string for categories — the smallest among ties). Unlike scikit-learn, which drops a
/// column with no value in training, the fit throws, naming the column.
public struct SimpleImputer: TableTransformer, Equatable {
    public static let transformerName = "simple-imputer"

    /// The statistic that fills a column's missing values.
    public enum Strategy: String, Codable, Sendable, CaseIterable {
        case mean, median
        case mostFrequent = "most_frequent"
        case constant
    }

    /// `columns`: the columns to impute; nil (default) for every numeric column.
    public var columns: [String]?
    /// `strategy`: mean (default), median, most_frequent or constant.
    public var strategy: Strategy
    /// `fill_value`: the constant of strategy constant, a number for numeric columns and a
    /// string for categorical ones; nil (default) for 0 and `"missing_value"`.
    public var fillValue: ImputeValue?

    public init(columns: [String]? = nil, strategy: Strategy = .mean, fillValue: ImputeValue? = nil) {
        self.columns = columns
        self.strategy = strategy
        self.fillValue = fillValue
    }

    enum CodingKeys: String, CodingKey { case columns, strategy, fillValue = "fill_value" }

    /// Decodes scikit-learn's parameter names; a missing key takes its default.
    /// - Throws: ``MPILearnError/invalidParameter`` quoting an unknown strategy.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        columns = try c.decodeIfPresent([String].self, forKey: .columns)
        let s = try c.decodeIfPresent(String.self, forKey: .strategy) ?? Strategy.mean.rawValue
        guard let strategy = Strategy(rawValue: s) else {
            throw MPILearnError.invalidParameter(name: "strategy", value: "\"\(s)\"",
                                                 allowed: Strategy.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))
        }
        self.strategy = strategy
        fillValue = try c.decodeIfPresent(ImputeValue.self, forKey: .fillValue)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try NumericStep.encodeOrNull(columns, &c, .columns)
        try c.encode(strategy.rawValue, forKey: .strategy)
        try NumericStep.encodeOrNull(fillValue, &c, .fillValue)
    }

    public func validate() throws { try NumericStep.validateColumns(columns) }

    /// Collective. Learns each column's fill over every rank's rows.
    /// - Throws: ``MPILearnError/invalidParameter`` for an invalid parameter or a `fill_value`
    ///   of the wrong type for a column; ``MPILearnError/mismatch`` naming a missing column, a
    ///   column of a kind the strategy cannot take, or a column with no value in training.
    public func fit(_ table: Table, comm: any Communicator) throws -> SimpleImputerModel {
        try validate()
        let step = Self.transformerName
        let names: [String]
        if let columns {
            names = columns
        } else {
            names = try table.resolvedNumericColumns(nil, for: step)
        }
        // Each column's kind: numeric (true) or categorical (false).
        var numeric: [Bool] = []
        for name in names {
            let values = table.columns[try table.requireColumn(name, for: step)].values
            switch values {
            case .float64, .float32: numeric.append(true)
            case .categorical:
                guard strategy == .mostFrequent || strategy == .constant else {
                    throw MPILearnError.mismatch("\(step): column '\(name)' is categorical; strategy '\(strategy.rawValue)' needs a numeric column (use most_frequent or constant)")
                }
                numeric.append(false)
            case .datetime:
                throw MPILearnError.mismatch("\(step): column '\(name)' is \(values.columnType.rawValue), not numeric or categorical")
            }
        }
        let numericNames = names.indices.filter { numeric[$0] }
        let categoricalNames = names.indices.filter { !numeric[$0] }
        var statistics = [ImputeValue?](repeating: nil, count: names.count)
        if strategy == .constant {
            for j in names.indices {
                switch (numeric[j], fillValue) {
                case (true, nil): statistics[j] = .number(0)
                case (false, nil): statistics[j] = .string("missing_value")
                case (true, .number?), (false, .string?): statistics[j] = fillValue
                case (true, .string(let s)?):
                    throw MPILearnError.invalidParameter(name: "fill_value", value: "\"\(s)\"", allowed: "a number for the numeric column '\(names[j])'")
                case (false, .number(let d)?):
                    throw MPILearnError.invalidParameter(name: "fill_value", value: NumericStep.format(d), allowed: "a string for the categorical column '\(names[j])'")
                }
            }
            return SimpleImputerModel(parameters: self, columns: names, statistics: statistics.map { $0! })
        }
        let data = try numericNames.map { try table.doubles(names[$0], for: step) }
        let hint = "; use strategy 'constant' to fill it"
        switch strategy {
        case .mean:
            let m = try DistributedStatistics.moments(data, comm: comm)
            try NumericStep.requireValues(m.map(\.count), columns: numericNames.map { names[$0] }, step: step, hint: hint)
            for (k, j) in numericNames.enumerated() { statistics[j] = .number(m[k].mean) }
        case .median:
            let n = try DistributedStatistics.counts(data, comm: comm)
            try NumericStep.requireValues(n, columns: numericNames.map { names[$0] }, step: step, hint: hint)
            let med = try DistributedStatistics.medians(data, comm: comm)
            for (k, j) in numericNames.enumerated() { statistics[j] = .number(med[k]) }
        case .mostFrequent:
            let modes = try DistributedStatistics.mostFrequent(data, comm: comm)
            let cats = try DistributedStatistics.mostFrequentCategory(categoricalNames.map { table.columns[try table.requireColumn(names[$0], for: step)].values }, comm: comm)
            for (k, j) in numericNames.enumerated() { statistics[j] = modes[k].map(ImputeValue.number) }
            for (k, j) in categoricalNames.enumerated() { statistics[j] = cats[k].map(ImputeValue.string) }
            if let j = statistics.firstIndex(where: { $0 == nil }) {
                try NumericStep.requireValues([0], columns: [names[j]], step: step, hint: hint)
            }
        case .constant:
            break
        }
        return SimpleImputerModel(parameters: self, columns: names, statistics: statistics.map { $0! })
    }
}

/// A fitted ``SimpleImputer``.
public struct SimpleImputerModel: FittedTableTransformer, Equatable {
    public var parameters: SimpleImputer
    /// The imputed columns, in order (`feature_names_in_`).
    public var columns: [String]
    /// `statistics_`: each column's fill, a number for a numeric column and a string for a categorical one.
    public var statistics: [ImputeValue]

    public init(parameters: SimpleImputer, columns: [String], statistics: [ImputeValue]) {
        precondition(columns.count == statistics.count, "SimpleImputerModel: \(columns.count) columns but \(statistics.count) statistics")
        self.parameters = parameters
        self.columns = columns
        self.statistics = statistics
    }

    enum CodingKeys: String, CodingKey { case parameters, columns = "feature_names_in_", statistics = "statistics_" }

    /// Local: each fitted column with its missing values replaced by its fill. Numeric columns
    /// come out float64; a categorical column stays categorical, its dictionary holding the
    /// fill (codes renumbered if the fill was not in it).
    /// - Throws: ``MPILearnError/mismatch`` naming a missing column or one whose kind differs
    ///   from training.
    public func transform(_ table: Table, context: TransformContext) throws -> Table {
        let step = SimpleImputer.transformerName
        var t = table
        for (j, name) in columns.enumerated() {
            let values = table.columns[try table.requireColumn(name, for: step)].values
            switch (statistics[j], values) {
            case (.number(let fill), .float64), (.number(let fill), .float32):
                let x = try table.doubles(name, for: step)
                let y = [Double](unsafeUninitializedCapacity: x.count) { y, n in
                    x.withUnsafeBufferPointer { x in
                        for i in 0 ..< x.count { y[i] = x[i].isNaN ? fill : x[i] }
                    }
                    n = x.count
                }
                t = t.replacing(name, with: .float64(y))
            case (.string(let fill), .categorical(let codes, let dictionary)):
                t = t.replacing(name, with: Self.fill(codes, dictionary, with: fill))
            default:
                throw MPILearnError.mismatch("\(step): column '\(name)' is \(values.columnType.rawValue), but it was \(statistics[j].isNumber ? "numeric" : "categorical") in training")
            }
        }
        return t
    }

    /// A categorical column with missing codes (−1) replaced by the code of `fill`, added to
    /// the dictionary (and the other codes renumbered) if absent.
    static func fill(_ codes: [Int32], _ dictionary: CategoryDictionary, with fill: String) -> ColumnValues {
        var dict = dictionary
        var remap: [Int32]? = nil
        if dict.code(of: fill) == nil {
            dict = CategoryDictionary(dictionary.values + [fill])
            remap = dictionary.values.map { dict.code(of: $0)! }
        }
        let f = dict.code(of: fill)!
        let out = [Int32](unsafeUninitializedCapacity: codes.count) { y, n in
            codes.withUnsafeBufferPointer { c in
                if let remap {
                    remap.withUnsafeBufferPointer { r in
                        for i in 0 ..< c.count { y[i] = c[i] < 0 ? f : r[Int(c[i])] }
                    }
                } else {
                    for i in 0 ..< c.count { y[i] = c[i] < 0 ? f : c[i] }
                }
            }
            n = codes.count
        }
        return .categorical(out, dict)
    }

    public func summary() -> [String] {
        columns.enumerated().map { j, name in "\(name): fill \(statistics[j]) (\(parameters.strategy.rawValue))" }
    }
}

extension ImputeValue {
    var isNumber: Bool { if case .number = self { return true }; return false }
}
