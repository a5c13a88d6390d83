import Foundation
import SwiftMPI

/// What successive halving gives more of in each rung.
public enum HalvingResource: Sendable, Equatable, CustomStringConvertible {
    /// Training rows: each fold's train and test rows are subsampled (stratified for
    /// classifiers, nested across rungs).
    case nSamples
    /// An integer hyper-parameter such as `n_estimators`, set to the rung's resource.
    case parameter(String)

    public init(parsing s: String) { self = s == "n_samples" ? .nSamples : .parameter(s) }
    public var description: String {
        switch self { case .nSamples: return "n_samples"; case .parameter(let p): return p }
    }
}

/// The first rung's resource (scikit-learn's `min_resources`).
public enum MinResources: Sendable, Equatable {
    /// As large as lets the last rung use (about) all of `max_resources` (the default).
    case exhaust
    /// `2 × n_splits` (× classes for a classifier) with n_samples, else 1.
    case smallest
    case count(Int)

    public init(parsing s: String) throws {
        switch s {
        case "exhaust": self = .exhaust
        case "smallest": self = .smallest
        default:
            guard let n = Int(s), n >= 1 else { throw MPILearnError.invalidParameter(name: "min_resources", value: s, allowed: "exhaust, smallest or an integer >= 1") }
            self = .count(n)
        }
    }
}

/// Successive halving with cross-validation (scikit-learn's `HalvingGridSearchCV` and
/// `HalvingRandomSearchCV`, Jamieson and Talwalkar, AISTATS 2016).
///
/// Rung i evaluates the remaining candidates with `min_resources · factor^i` resources and
/// keeps the best `⌈candidates / factor⌉`; the rung count and the first rung's resources
/// follow scikit-learn's rules. Subsamples of rows are drawn from a Philox key per global
/// row, so they are the same on any number of ranks, and a rung's rows contain the rows of
/// every earlier rung.
public struct HalvingSearchCV<E: Estimator> {
    public var estimator: E
    public var candidates: [[String: ParameterValue]]
    public var factor: Double
    public var resource: HalvingResource
    public var minResources: MinResources
    /// The last rung's resource at most: the rows (n_samples), or required for a parameter.
    public var maxResources: Int?
    public var aggressiveElimination: Bool
    /// Seeds the row subsamples.
    public var randomState: UInt64
    public var options: SearchOptions

    static var domain: UInt64 { 0x4A1F_5EED }

    public init(_ estimator: E, candidates: [[String: ParameterValue]], factor: Double = 3, resource: HalvingResource = .nSamples,
                minResources: MinResources = .exhaust, maxResources: Int? = nil, aggressiveElimination: Bool = false,
                randomState: UInt64 = 0, options: SearchOptions = SearchOptions()) {
        self.estimator = estimator
        self.candidates = candidates
        self.factor = factor
        self.resource = resource
        self.minResources = minResources
        self.maxResources = maxResources
        self.aggressiveElimination = aggressiveElimination
        self.randomState = randomState
        self.options = options
    }

    /// The rungs' resources and candidate counts for `n` candidates (scikit-learn's rules).
    public func plan(candidates n: Int, maxResources maxR: Int, nSplits: Int, classes: Int?) throws -> [(resources: Int, candidates: Int)] {
        try require(factor > 1 && factor.isFinite, "factor", factor, "a number > 1")
        var minR: Int
        switch minResources {
        case .count(let c): minR = c
        case .exhaust, .smallest:
            if resource == .nSamples { minR = 2 * nSplits * (classes ?? 1) } else { minR = 1 }
        }
        try require(minR >= 1, "min_resources", minR, "an integer >= 1")
        try require(minR <= maxR, "min_resources", minR, "at most max_resources (\(maxR))")
        func logFloor(_ x: Double) -> Int {
            var k = 0, p = factor
            while p <= x * (1 + 1e-12) { k += 1; p *= factor }
            return k
        }
        let required = 1 + logFloor(Double(n))
        if minResources == .exhaust {
            minR = max(minR, Int((Double(maxR) / pow(factor, Double(required - 1))).rounded(.down)))
        }
        let possible = 1 + logFloor(Double(maxR / minR))
        let rungs = aggressiveElimination ? required : min(possible, required)
        var out: [(Int, Int)] = []
        var left = n
        for i in 0 ..< rungs {
            let power = aggressiveElimination ? max(0, i - required + possible) : i
            let r = min(Int(pow(factor, Double(power)) * Double(minR)), maxR)
            out.append((r, left))
            left = Int((Double(left) / factor).rounded(.up))
        }
        return out
    }

    /// Collective. Runs the rungs and refits the best candidate of the last one.
    public func fit(_ data: SearchData, comm: any Communicator) throws -> SearchResult<E> {
        if options.checkpoint != nil {
            // Each rung's candidates come from the previous rung's scores; saving a rung at a
            // time is not done yet.
            throw MPILearnError.invalidParameter(name: "--checkpoint", value: options.checkpoint!.directory,
                                                 allowed: "a grid or randomized search (a halving search does not checkpoint yet)")
        }
        let (estimators0, problem, folds) = try ModelSearch.prepare(estimator, candidates: candidates, data: data, options: options, comm: comm)
        let sharded: Bool = { if case .sharded = data { return true }; return false }()
        let maxR: Int
        switch resource {
        case .nSamples:
            maxR = min(maxResources ?? problem.globalRows, problem.globalRows)
        case .parameter(let name):
            guard let m = maxResources else {
                throw MPILearnError.invalidParameter(name: "max_resources", value: "none", allowed: "an integer >= 1 when the resource is the parameter \(name)")
            }
            maxR = m
            guard (try estimator.parameterNames()).contains(name) else {
                throw MPILearnError.invalidParameter(name: "resource", value: name,
                                                     allowed: "n_samples or an integer parameter of \(E.estimatorName): \(try estimator.parameterNames().joined(separator: ", "))")
            }
            if candidates.contains(where: { $0[name] != nil }) {
                throw MPILearnError.invalidParameter(name: "resource", value: name, allowed: "a parameter that is not also searched")
            }
        }
        let rungs = try plan(candidates: estimators0.count, maxResources: maxR, nSplits: folds.count,
                             classes: problem.role == .classifier ? problem.labels.count : nil)

        var alive = Array(0 ..< candidates.count)
        var params: [[String: ParameterValue]] = [], test: [[Double]] = [], train: [[Double]] = [], fit: [[Double]] = [], score: [[Double]] = []
        var iters: [Int] = [], resources: [Int] = [], warnings: [String] = []
        var report: SearchScheduleReport? = nil
        for (i, rung) in rungs.enumerated() {
            var rungCandidates = alive.map { candidates[$0] }
            var rungFolds = folds
            switch resource {
            case .nSamples:
                let fraction = Double(rung.resources) / Double(problem.globalRows)
                rungFolds = folds.map { f in
                    Fold(train: subsample(f.train, count: Int(fraction * Double(f.train.count)), y: problem.globalY),
                         test: subsample(f.test, count: Int(fraction * Double(f.test.count)), y: problem.globalY))
                }
            case .parameter(let name):
                rungCandidates = rungCandidates.map { var c = $0; c[name] = .int(rung.resources); return c }
            }
            let estimators = try rungCandidates.map { try estimator.setting($0) }
            let r = try ModelSearch.evaluate(estimators, folds: Array(repeating: rungFolds, count: estimators.count), problem: problem,
                                             sharded: sharded, options: options, iteration: i, comm: comm)
            params += rungCandidates; test += r.test; fit += r.fit; score += r.score
            if let t = r.train { train += t }
            iters += Array(repeating: i, count: estimators.count)
            resources += Array(repeating: rung.resources, count: estimators.count)
            warnings += r.warnings
            if var rep = report {
                rep.makespan += r.report.makespan; rep.tasks += r.report.tasks; rep.fits += r.report.fits
                rep.totalTaskSeconds += r.report.totalTaskSeconds
                rep.longestTask = max(rep.longestTask, r.report.longestTask)
                rep.busyPerRank = zip(rep.busyPerRank, r.report.busyPerRank).map { $0 + $1 }
                report = rep
            } else { report = r.report }
            // Keep the best ⌈n / factor⌉ (ties to the earlier candidate), in candidate order.
            let keep = Int((Double(alive.count) / factor).rounded(.up))
            let means = r.test.map(CVResults.mean)
            let ranked = alive.indices.sorted { a, b in
                let x = means[a].isNaN ? -Double.infinity : means[a], y = means[b].isNaN ? -Double.infinity : means[b]
                return x != y ? x > y : a < b
            }
            if i < rungs.count - 1 { alive = ranked.prefix(keep).sorted().map { alive[$0] } }
        }
        let names = Array(Set(params.flatMap(\.keys))).sorted()
        let cv = CVResults(parameterNames: names, params: params, splitTestScores: test, splitTrainScores: options.returnTrainScore ? train : nil,
                           fitTimes: fit, scoreTimes: score, iteration: iters, nResources: resources)
        return try ModelSearch.finish(estimator, cv: cv, estimators: estimators0, problem: problem, sharded: sharded, options: options,
                                      report: report!, warnings: warnings, comm: comm)
    }

    /// The first `count` rows of `rows` in a fixed order drawn from a key per global row:
    /// stratified by `y` (each class's rows spread evenly through the order), and nested (a
    /// larger count takes a superset). Sorted.
    func subsample(_ rows: [Int], count: Int, y: [Int]?) -> [Int] {
        if count >= rows.count { return rows }
        // Each row's key is drawn once (not in the sort's comparisons).
        func keyed(_ members: [Int]) -> [Int] {
            members.map { r -> (UInt64, Int) in var g = Philox(seed: randomState, domain: Self.domain, stream: UInt64(r)); return (g.next(), r) }
                .sorted { $0 < $1 }.map(\.1)
        }
        var order: [(Double, Int, Int)] = []   // (position, class, row)
        order.reserveCapacity(rows.count)
        if let y {
            var byClass: [Int: [Int]] = [:]
            for r in rows { byClass[y[r], default: []].append(r) }
            for (c, members) in byClass {
                let sorted = keyed(members)
                for (j, r) in sorted.enumerated() { order.append(((Double(j) + 0.5) / Double(sorted.count), c, r)) }
            }
        } else {
            for (j, r) in keyed(rows).enumerated() { order.append((Double(j), 0, r)) }
        }
        order.sort { ($0.0, $0.1, $0.2) < ($1.0, $1.1, $1.2) }
        return order.prefix(max(0, count)).map(\.2).sorted()
    }
}
