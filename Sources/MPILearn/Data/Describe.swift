import Foundation
import SwiftMPI

/// Summary statistics of one column over all ranks (pandas' `describe`, plus missing counts).
public struct ColumnSummary: Codable, Sendable, Equatable {
    public var name: String
    public var type: ColumnType
    /// Non-missing values.
    public var count: Int
    public var missing: Int
    /// Mean and sample standard deviation (n − 1), min and max of numeric values; for a
    /// datetime column in seconds since the epoch; nil for categorical columns or no values.
    public var mean: Double?
    public var std: Double?
    public var min: Double?
    public var max: Double?
    /// Categorical columns: number of categories in the dictionary and the most frequent
    /// values with their counts (ties to the lower code).
    public var categories: Int?
    public var top: [String]?
    public var topCounts: [Int]?
}

/// Column statistics computed where the data lives and merged with collectives.
///
/// Each rank computes count, mean and the sum of squared deviations `M2` of its values in two
/// passes; the ranks allgather these triples and every rank merges them in rank order with
/// the pairwise update of Chan, Golub and LeVeque ("Updating formulae and a pairwise
/// algorithm for computing sample variances", 1979):
/// `n = nA + nB`, `δ = meanB − meanA`, `mean = meanA + δ·nB/n`, `M2 = M2A + M2B + δ²·nA·nB/n`.
/// No rows are sent anywhere. Categorical counts are an allreduce of per-code counts.
public enum Describe {
    /// Collective. Summaries of `table`'s columns (all, or those named).
    public static func summarize(_ table: Table, columns names: [String]? = nil, top: Int = 5, comm: any Communicator) throws -> [ColumnSummary] {
        let cols = try (names ?? table.columnNames).map { try table.column(named: $0) }
        // Local moments: [n, mean, M2, min, max, missing] per column.
        var local: [Double] = []
        for c in cols {
            var n = 0.0, sum = 0.0, lo = Double.infinity, hi = -Double.infinity, missing = 0.0
            let values = c.values
            let isNumeric = values.columnType != .categorical
            if isNumeric {
                for i in 0 ..< values.count {
                    let v = values.double(at: i)
                    if v.isNaN { missing += 1; continue }
                    n += 1
                    sum += v
                    lo = Swift.min(lo, v)
                    hi = Swift.max(hi, v)
                }
            } else {
                missing = Double(values.missingCount)
                n = Double(values.count) - missing
            }
            let mean = n > 0 && isNumeric ? sum / n : 0
            var m2 = 0.0
            if isNumeric && n > 0 {
                for i in 0 ..< values.count {
                    let v = values.double(at: i)
                    if !v.isNaN { m2 += (v - mean) * (v - mean) }
                }
            }
            local += [n, mean, m2, lo, hi, missing]
        }
        let all = try comm.allgatherv(local).values
        let k = cols.count
        var out: [ColumnSummary] = []
        for (j, c) in cols.enumerated() {
            var n = 0.0, mean = 0.0, m2 = 0.0, lo = Double.infinity, hi = -Double.infinity, missing = 0.0
            for r in 0 ..< comm.size {
                let b = (r * k + j) * 6
                let nb = all[b], mb = all[b + 1], m2b = all[b + 2]
                missing += all[b + 5]
                lo = Swift.min(lo, all[b + 3])
                hi = Swift.max(hi, all[b + 4])
                guard nb > 0 else { continue }
                let total = n + nb
                let delta = mb - mean
                mean += delta * nb / total
                m2 += m2b + delta * delta * n * nb / total
                n = total
            }
            var s = ColumnSummary(name: c.name, type: c.values.columnType, count: Int(n), missing: Int(missing))
            if case .categorical(let codes, let dict) = c.values {
                var counts = [Int64](repeating: 0, count: dict.count)
                for code in codes where code >= 0 { counts[Int(code)] += 1 }
                if !counts.isEmpty { try comm.allreduce(&counts, op: .sum) }
                let order = counts.indices.sorted { counts[$0] != counts[$1] ? counts[$0] > counts[$1] : $0 < $1 }.prefix(top)
                s.categories = dict.count
                s.top = order.map { dict.values[$0] }
                s.topCounts = order.map { Int(counts[$0]) }
            } else if n > 0 {
                s.mean = mean
                s.std = n > 1 ? (m2 / (n - 1)).squareRoot() : .nan
                s.min = lo
                s.max = hi
            }
            out.append(s)
        }
        return out
    }

    /// The summaries as a fixed-width text table, one line per column.
    public static func format(_ summaries: [ColumnSummary], rows: Int) -> String {
        func num(_ v: Double?) -> String {
            guard let v else { return "" }
            if v.isNaN { return "NaN" }
            return String(format: "%.6g", v)
        }
        func date(_ v: Double?) -> String {
            guard let v, v.isFinite else { return "" }
            return ISODatetime.format(Int64(v.rounded(.down)))
        }
        let width = max(6, summaries.map(\.name.count).max() ?? 0)
        func pad(_ s: String, _ w: Int, left: Bool = false) -> String {
            s.count >= w ? s : left ? s + String(repeating: " ", count: w - s.count) : String(repeating: " ", count: w - s.count) + s
        }
        var lines = ["rows: \(rows)",
                     pad("column", width, left: true) + "  " + pad("type", 11, left: true) + pad("count", 10) + pad("missing", 9)
                         + pad("mean", 14) + pad("std", 14) + pad("min", 22) + pad("max", 22) + "  top"]
        for s in summaries {
            var line = pad(s.name, width, left: true) + "  " + pad(s.type.rawValue, 11, left: true) + pad("\(s.count)", 10) + pad("\(s.missing)", 9)
            switch s.type {
            case .categorical:
                let top = zip(s.top ?? [], s.topCounts ?? []).map { "\($0) (\($1))" }.joined(separator: ", ")
                line += pad("", 14) + pad("", 14) + pad("", 22) + pad("", 22) + "  \(s.categories ?? 0) categories: \(top)"
            case .datetime:
                line += pad(date(s.mean), 14 + 14) + pad(date(s.min), 22) + pad(date(s.max), 22)
            default:
                line += pad(num(s.mean), 14) + pad(num(s.std), 14) + pad(num(s.min), 22) + pad(num(s.max), 22)
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
