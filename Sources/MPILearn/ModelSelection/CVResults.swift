import Foundation

/// scikit-learn's `cv_results_`: one row per evaluated candidate (per rung for halving).
///
/// Everything but the timing columns is a pure function of the data, the estimator, the
/// candidates, the folds and the seeds, so with replicated data it is identical for any
/// number of ranks; with sharded data (data-parallel fits) scores agree to the rounding of
/// sums taken in another order.
public struct CVResults: Sendable, Codable, Equatable {
    /// Every parameter name that occurs in a candidate, sorted.
    public var parameterNames: [String]
    /// The candidate of each row.
    public var params: [[String: ParameterValue]]
    /// Test score per row and fold (NaN for a failed fit with `error_score` nan).
    public var splitTestScores: [[Double]]
    /// Train score per row and fold, when asked for.
    public var splitTrainScores: [[Double]]?
    public var fitTimes: [[Double]]
    public var scoreTimes: [[Double]]
    /// Halving: the rung of each row and the resource it was evaluated with.
    public var iteration: [Int]?
    public var nResources: [Int]?

    public init(parameterNames: [String], params: [[String: ParameterValue]], splitTestScores: [[Double]], splitTrainScores: [[Double]]?,
                fitTimes: [[Double]], scoreTimes: [[Double]], iteration: [Int]? = nil, nResources: [Int]? = nil) {
        self.parameterNames = parameterNames
        self.params = params
        self.splitTestScores = splitTestScores
        self.splitTrainScores = splitTrainScores
        self.fitTimes = fitTimes
        self.scoreTimes = scoreTimes
        self.iteration = iteration
        self.nResources = nResources
    }

    public var count: Int { params.count }
    public var nSplits: Int { splitTestScores.first?.count ?? 0 }

    public var meanTestScore: [Double] { splitTestScores.map(Self.mean) }
    public var stdTestScore: [Double] { splitTestScores.map(Self.std) }
    public var meanTrainScore: [Double]? { splitTrainScores?.map(Self.mean) }
    public var stdTrainScore: [Double]? { splitTrainScores?.map(Self.std) }
    public var meanFitTime: [Double] { fitTimes.map(Self.mean) }
    public var stdFitTime: [Double] { fitTimes.map(Self.std) }
    public var meanScoreTime: [Double] { scoreTimes.map(Self.mean) }
    public var stdScoreTime: [Double] { scoreTimes.map(Self.std) }

    /// scikit-learn's `rank_test_score`: 1 for the best mean test score, ties share the
    /// lowest rank ("min" method), NaN scores rank last. With halving, rows of later rungs
    /// rank before rows of earlier ones.
    public var rankTestScore: [Int] {
        let m = meanTestScore, it = iteration ?? Array(repeating: 0, count: count)
        func key(_ i: Int) -> (Int, Double) { (-it[i], m[i].isNaN ? -.infinity : m[i]) }
        func better(_ a: Int, _ b: Int) -> Bool {
            let (ia, sa) = key(a), (ib, sb) = key(b)
            return ia != ib ? ia < ib : sa > sb
        }
        let order = (0 ..< count).sorted { better($0, $1) || (!better($1, $0) && $0 < $1) }
        var rank = [Int](repeating: 0, count: count)
        for (pos, i) in order.enumerated() {
            if pos > 0, !better(order[pos - 1], i) { rank[i] = rank[order[pos - 1]] } else { rank[i] = pos + 1 }
        }
        return rank
    }

    /// The row of the best candidate (scikit-learn's `best_index_`): rank 1, the first such row.
    public var bestIndex: Int { rankTestScore.firstIndex(of: 1) ?? 0 }

    static func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }
    static func std(_ v: [Double]) -> Double {
        guard !v.isEmpty else { return .nan }
        let m = mean(v)
        return (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count)).squareRoot()
    }

    /// The column names in scikit-learn's order.
    public func columns(times: Bool = true) -> [String] {
        var c: [String] = times ? ["mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time"] : []
        c += parameterNames.map { "param_" + $0 }
        c.append("params")
        c += (0 ..< nSplits).map { "split\($0)_test_score" }
        c += ["mean_test_score", "std_test_score", "rank_test_score"]
        if splitTrainScores != nil {
            c += (0 ..< nSplits).map { "split\($0)_train_score" }
            c += ["mean_train_score", "std_train_score"]
        }
        if iteration != nil { c += ["iter", "n_resources"] }
        return c
    }

    /// The table as CSV, scikit-learn's columns (``columns(times:)``), one row per candidate
    /// in evaluation order. Numbers are written in their shortest round-trip form.
    public func csv(times: Bool = true) -> String {
        func num(_ v: Double) -> String { v.isNaN ? "nan" : (v.isInfinite ? (v > 0 ? "inf" : "-inf") : "\(v)") }
        func field(_ s: String) -> String {
            s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        let mt = meanTestScore, st = stdTestScore, rk = rankTestScore
        let mf = meanFitTime, sf = stdFitTime, ms = meanScoreTime, ss = stdScoreTime
        let mtr = meanTrainScore, str = stdTrainScore
        var out = columns(times: times).joined(separator: ",") + "\n"
        for i in 0 ..< count {
            var row: [String] = times ? [num(mf[i]), num(sf[i]), num(ms[i]), num(ss[i])] : []
            row += parameterNames.map { params[i][$0].map { field($0.description) } ?? "" }
            row.append(field(pythonDict(params[i])))
            row += splitTestScores[i].map(num)
            row += [num(mt[i]), num(st[i]), String(rk[i])]
            if let tr = splitTrainScores, let mtr, let str {
                row += tr[i].map(num)
                row += [num(mtr[i]), num(str[i])]
            }
            if let it = iteration, let nr = nResources { row += [String(it[i]), String(nr[i])] }
            out += row.joined(separator: ",") + "\n"
        }
        return out
    }

    /// A short table of the best `top` rows by rank, for the terminal.
    /// - Parameter rest: where the rows not shown are (`in cv_results.csv`), said after the table.
    public func summaryTable(top: Int = 10, rest: String = "not shown") -> String {
        let rk = rankTestScore, mt = meanTestScore, st = stdTestScore, mf = meanFitTime
        let order = (0 ..< count).sorted { rk[$0] != rk[$1] ? rk[$0] < rk[$1] : $0 < $1 }
        var lines = ["rank  mean       std       fit s     params"]
        for i in order.prefix(top) {
            let res = iteration.map { " iter \($0[i]), n_resources \(nResources![i])" } ?? ""
            lines.append(String(format: "%-5d %-10.6f %-9.6f %-9.3f ", rk[i], mt[i], st[i], mf[i]) + pythonDict(params[i]) + res)
        }
        if count > top { lines.append("… \(count - top) more rows \(rest)") }
        return lines.joined(separator: "\n")
    }
}
