import Foundation
import SwiftMPI

/// What a failed fit scores (scikit-learn's `error_score`).
public enum ErrorScore: Sendable, Equatable, CustomStringConvertible {
    /// Record NaN for the fold and warn (scikit-learn's default, `np.nan`).
    case nan
    /// Record this value and warn.
    case value(Double)
    /// End the job with the error, naming the candidate and the fold.
    case raise

    /// Parses `nan`, `raise` or a number.
    public init(parsing s: String) throws {
        switch s.lowercased() {
        case "nan": self = .nan
        case "raise": self = .raise
        default:
            guard let v = Double(s) else { throw MPILearnError.invalidParameter(name: "error_score", value: s, allowed: "nan, raise or a number") }
            self = .value(v)
        }
    }

    public var description: String {
        switch self {
        case .nan: return "nan"
        case .raise: return "raise"
        case .value(let v): return "\(v)"
        }
    }
}

/// How the ranks share a search's work.
public enum SearchSchedule: String, Sendable, CaseIterable, Codable {
    /// Every rank holds the whole training set; (candidate, fold) tasks are handed out
    /// dynamically, longest expected first, through a shared counter (no master rank).
    case replicated
    /// The rows are sharded over the ranks; every task is fitted data-parallel by all ranks
    /// in turn (for learners whose fit does not depend on the sharding, such as k-means).
    case sharded
}

/// The rows a search works on.
public enum SearchData {
    /// Every rank holds every row (global row i is row i everywhere).
    case replicated(Dataset<Double>)
    /// Each rank holds its block of rows (`globalRowStart`, `globalRowCount`).
    case sharded(Dataset<Double>)

    var dataset: Dataset<Double> {
        switch self { case .replicated(let d), .sharded(let d): return d }
    }
}

/// Settings shared by every search (scikit-learn's `cv`, `scoring`, `refit`, `error_score`,
/// `return_train_score`).
public struct SearchOptions: Sendable {
    /// The folds; nil is scikit-learn's `cv=5`: stratified 5 folds for a classifier, else 5 folds.
    public var cv: (any CrossValidator)?
    /// nil: the estimator role's default (accuracy, R², negative inertia).
    public var scoring: Scoring?
    public var refit: Bool
    public var errorScore: ErrorScore
    public var returnTrainScore: Bool
    /// A group id per global row, for ``GroupKFold``.
    public var groups: [Int]?
    /// Sharded data: the ranks form this many groups (rank r in group r mod G), the rows are
    /// redistributed so every group holds all of them over its members, and the groups fit
    /// different candidates at once, each fit data-parallel within its group. 1: all ranks
    /// fit every task together.
    public var shardGroups: Int = 1
    /// Called on rank 0 as its tasks finish.
    public var progress: (@Sendable (SearchProgress) -> Void)?
    /// Save the finished (candidate, fold) tasks every so many tasks (or seconds) and on
    /// SIGTERM/SIGUSR1, and resume from saved ones (``Checkpointer``). Grid and randomized
    /// searches; the scores do not depend on the rank count, so a search resumes on any.
    public var checkpoint: CheckpointOptions?
    /// Lines about the checkpoint (rank 0).
    public var log: (@Sendable (String) -> Void)?

    public init(cv: (any CrossValidator)? = nil, scoring: Scoring? = nil, refit: Bool = true, errorScore: ErrorScore = .nan,
                returnTrainScore: Bool = false, groups: [Int]? = nil, progress: (@Sendable (SearchProgress) -> Void)? = nil) {
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.errorScore = errorScore
        self.returnTrainScore = returnTrainScore
        self.groups = groups
        self.progress = progress
    }
}

/// Where a search stands, as rank 0 sees it.
public struct SearchProgress: Sendable {
    /// Tasks handed out over all ranks (including those still running), and in all.
    public var taken: Int
    public var total: Int
    /// Seconds since the tasks started, and a linear estimate of those left.
    public var elapsed: Double
    public var remaining: Double
    /// Halving: the rung.
    public var iteration: Int?
    /// The best fold score rank 0 has seen, its candidate (row) and fold.
    public var bestFoldScore: Double?
    public var bestCandidate: [String: ParameterValue]?
}

/// How the tasks went: the schedule's quality, for reports and benchmarks.
public struct SearchScheduleReport: Sendable, Codable {
    public var schedule: SearchSchedule
    public var ranks: Int
    /// (candidate, fold) evaluations.
    public var tasks: Int
    /// Fits made: fewer than tasks when candidates share a fit (a forest's n_estimators).
    public var fits: Int
    /// Wall seconds from the first task to the last rank's last task.
    public var makespan: Double
    /// Sum of all fits' seconds (each with its scoring).
    public var totalTaskSeconds: Double
    /// The longest fit with its scoring.
    public var longestTask: Double
    /// Seconds each rank spent in tasks.
    public var busyPerRank: [Double]
    /// max(total / ranks, longest): no schedule finishes sooner.
    public var lowerBound: Double { max(totalTaskSeconds / Double(max(1, ranks)), longestTask) }
}

/// A finished search: scikit-learn's `cv_results_`, `best_params_`, `best_score_`,
/// `best_index_` and `best_estimator_`.
public struct SearchResult<E: Estimator> {
    public var cvResults: CVResults
    public var bestIndex: Int
    public var bestParams: [String: ParameterValue]
    public var bestScore: Double
    /// The estimator with the best parameters.
    public var bestEstimator: E
    /// The best estimator refitted on all rows (with `refit`), whole on every rank.
    public var bestModel: E.Model?
    public var scoring: Scoring
    public var scheduleReport: SearchScheduleReport
    /// Failed fits (with `error_score` other than raise): "candidate i {…}, fold k: message".
    public var warnings: [String]
    /// Seconds of the refit.
    public var refitTime: Double
}

/// A task's outcome handed from the worker thread to rank 0's main thread.
final class TaskBox: @unchecked Sendable {
    var result: Result<[ModelSearch.TaskOutcome], Error>?
}

/// The engine behind ``GridSearchCV``, ``RandomizedSearchCV`` and ``HalvingSearchCV``:
/// evaluates candidates on folds across the ranks and returns the same `cv_results` on any
/// number of ranks.
public enum ModelSearch {
    /// One (candidate, fold) evaluation, as sent between ranks.
    /// A search checkpoint: the finished tasks' outcomes (binary property list: scores may be NaN).
    struct SearchCheckpoint: Codable {
        var outcomes: [TaskOutcome]
        var unitSeconds: [Double]
    }

    struct TaskOutcome: Codable {
        var task: Int
        var test: Double
        var train: Double?
        var fitTime: Double
        var scoreTime: Double
        var error: String?
        var start: Double
        var end: Double
    }

    /// The problem the candidates are scored on: labels and per-row codes for classifiers.
    struct Problem {
        var data: Dataset<Double>
        var role: EstimatorRole
        var scoring: Scoring
        /// Classifier: class names in label order; the data's targets are indices into them.
        var labels: [String]
        /// Global labels (class indices) and groups, for the splitters.
        var globalY: [Int]?
        var globalRows: Int
    }

    /// Collective. Checks the estimator and every candidate, prepares labels and folds.
    static func prepare<E: Estimator>(_ base: E, candidates: [[String: ParameterValue]], data: SearchData, options: SearchOptions,
                                      comm: any Communicator) throws -> (estimators: [E], problem: Problem, folds: [Fold]) {
        guard !candidates.isEmpty else {
            throw MPILearnError.invalidParameter(name: "param_grid", value: "no candidates", allowed: "at least one candidate")
        }
        // Dense rows, or dictionary-coded columns for a learner that reads them.
        let coded: Bool = { if case .coded = data.dataset.features { return true }; return false }()
        if !(coded && E.readsCodedFeatures) { try data.dataset.requireDense(for: "a search of \(E.estimatorName)") }
        // Every candidate is built and validated before any work, on every rank alike.
        let estimators = try candidates.map { c -> E in
            let e = try base.setting(c)
            try e.validate()
            return e
        }
        let role = E.role
        guard let scoring = options.scoring ?? Scoring.defaultScoring(for: role) else {
            throw MPILearnError.invalidParameter(name: "scoring", value: "none", allowed: "a scoring rule (a \(role.rawValue) has no default)")
        }
        var d = data.dataset
        if case .sharded = data, !E.fitsShardedData {
            throw MPILearnError.invalidParameter(name: "schedule", value: "sharded",
                                                 allowed: "replicated for \(E.estimatorName): its fit depends on how rows are sharded, so every rank must hold every row")
        }
        let sharded: Bool = { if case .sharded = data { return true }; return false }()
        let globalRows = sharded ? Int(try comm.allreduce(Int64(d.rowCount), op: .sum)) : d.rowCount
        var labels: [String] = [], y: [Double]? = nil, globalY: [Int]? = nil
        if role == .classifier || role == .regressor {
            guard let t = d.target else { throw MPILearnError.mismatch("a \(role.rawValue) search needs a target, and the data has none") }
            if let i = t.firstIndex(where: { !$0.isFinite }) {
                throw MPILearnError.dataError(SourceLocation(file: d.targetName, line: d.globalRowStart + i + 1), "target is missing or not finite")
            }
            if role == .classifier {
                let local = Array(Set(t)).sorted()
                let values = sharded ? Array(Set(try comm.allgatherv(local).values)).sorted() : local
                labels = values.map { d.labelName($0) }
                let codes = t.map { v -> Int in
                    var lo = 0, hi = values.count - 1
                    while lo < hi { let m = (lo + hi) / 2; if values[m] < v { lo = m + 1 } else { hi = m } }
                    return lo
                }
                y = codes.map(Double.init)
                globalY = sharded ? try comm.allgatherv(codes.map { Int64($0) }).values.map { Int($0) } : codes
            } else {
                y = t
            }
        }
        try scoring.check(role: role, classes: role == .classifier ? labels.count : nil)
        let cv: any CrossValidator = options.cv ?? (role == .classifier ? StratifiedKFold(nSplits: 5) : KFold(nSplits: 5))
        if cv.needsLabels && globalY == nil {
            throw MPILearnError.invalidParameter(name: "cv", value: "\(type(of: cv))", allowed: "a splitter without labels for a \(role.rawValue) (stratified folds need classes)")
        }
        if let g = options.groups, g.count != globalRows {
            throw MPILearnError.mismatch("groups has \(g.count) values for \(globalRows) rows")
        }
        let folds = try cv.split(nSamples: globalRows, y: globalY, groups: options.groups)
        d.target = y ?? d.target
        // The targets are now indices into `labels`, which name them.
        if role == .classifier { d.classNames = labels }
        return (estimators, Problem(data: d, role: role, scoring: scoring, labels: labels, globalY: globalY, globalRows: globalRows), folds)
    }

    /// Collective. Evaluates `estimators[c]` on `folds[k]` for every task and returns the
    /// scores (row c, column k) on every rank, with the schedule's report.
    static func evaluate<E: Estimator>(_ estimators: [E], folds: [[Fold]], problem: Problem, sharded: Bool, options: SearchOptions,
                                       iteration: Int? = nil, comm: any Communicator) throws
        -> (test: [[Double]], train: [[Double]]?, fit: [[Double]], score: [[Double]], warnings: [String], report: SearchScheduleReport) {
        let nC = estimators.count, nK = folds.first?.count ?? 0
        // Sharded data in groups of ranks: each group holds every row over its members.
        try require(options.shardGroups >= 1 && options.shardGroups <= comm.size, "shard_groups", options.shardGroups,
                    "an integer in 1...\(comm.size) (the number of ranks)")
        let grouped = sharded && options.shardGroups > 1
        var groupComm: (any Communicator)? = nil
        var data = problem.data
        if grouped { (groupComm, data) = try regroup(problem.data, groups: options.shardGroups, comm: comm) }
        let solo = LocalCommunicator.solo()
        let t0 = monotonicSeconds()
        var mine: [TaskOutcome] = []
        var best: (Double, Int)? = nil

        // One cache per fold: the candidates' fits on a fold's rows share its binned rows.
        let caches = (0 ..< nK).map { _ in FitCache() }
        // Work units: one fit on one fold, scored for one candidate, or (nested parameter, such
        // as a forest's n_estimators) for every candidate that differs only in it: the
        // largest is fitted and the smaller ones are its prefixes, the same models their own
        // fits would give.
        let groups = try nestedGroups(estimators, sharded: sharded)
        let units = groups.flatMap { g in (0 ..< nK).map { (members: g.members, values: g.values, fold: $0) } }
        let total = units.count

        /// "candidate c {changed parameters}[, iteration i], fold k", for messages.
        func describe(_ c: Int, fold k: Int) -> String {
            "candidate \(c) \(pythonDict(estimators[c].changedParameters(from: estimators)))" + (iteration.map { ", iteration \($0)" } ?? "") + ", fold \(k)"
        }
        func run(_ u: Int, comm runComm: any Communicator) throws -> [TaskOutcome] {
            let unit = units[u], k = unit.fold
            let fold = folds[unit.members[0]][k]
            let start = monotonicSeconds() - t0
            let (trainRows, testRows, trainStart, _) = localRows(fold, data: data, sharded: sharded)
            var outs = unit.members.map { TaskOutcome(task: $0 * nK + k, test: .nan, train: nil, fitTime: 0, scoreTime: 0, error: nil, start: start, end: start) }
            var member = 0
            do {
                let f0 = monotonicSeconds()
                let fitted: E.Model
                let largest = unit.members.last!
                if sharded {
                    // Every rank's rows of the fold, with their place in the fold's global order.
                    var train = data.rows(trainRows)
                    train.globalRowStart = trainStart
                    train.globalRowCount = fold.train.count
                    fitted = try estimators[largest].fit(train, comm: runComm)
                } else {
                    fitted = try estimators[largest].fit(data, rows: trainRows, cache: caches[k], comm: runComm)
                }
                let fitTime = monotonicSeconds() - f0
                let y = data.target
                let yTest = y.map { t in testRows.map { t[$0] } }
                let yTrain = options.returnTrainScore ? y.map { t in trainRows.map { t[$0] } } : nil
                // A shared fit's time is apportioned by the nested parameter (trees).
                let fitTimes = unit.values.map { v in v.map { fitTime * Double($0) / Double(max(1, v.last!)) } } ?? [fitTime]
                // Nested candidates: every prefix scored in one pass where the learner can; the
                // pass's time is apportioned like the fit's.
                let ns0 = monotonicSeconds()
                let nested = options.returnTrainScore ? nil : try unit.values.map {
                    try estimators[largest].nestedScores(fitted, values: $0, scoring: problem.scoring, data: data, rows: testRows, y: yTest,
                                                         labels: problem.labels, comm: runComm)
                }
                let nestedTime = monotonicSeconds() - ns0
                for (i, c) in unit.members.enumerated() {
                    member = i
                    outs[i].fitTime = fitTimes[i]
                    if let nested, let values = unit.values {
                        outs[i].scoreTime = nestedTime * Double(values[i]) / Double(max(1, values.reduce(0, +)))
                        outs[i].test = nested[i]
                        continue
                    }
                    let model = try unit.values.map { try estimators[c].truncated(fitted, to: $0[i]) } ?? fitted
                    let s0 = monotonicSeconds()
                    outs[i].test = try problem.scoring.score(model, data: data, rows: testRows, y: yTest, labels: problem.labels, comm: runComm)
                    outs[i].scoreTime = monotonicSeconds() - s0
                    if options.returnTrainScore {
                        outs[i].train = try problem.scoring.score(model, data: data, rows: trainRows, y: yTrain, labels: problem.labels, comm: runComm)
                    }
                }
            } catch {
                let what = describe(unit.members[member], fold: k)
                let message = (error as? MPILearnError)?.description ?? "\(error)"
                if options.errorScore == .raise {
                    // The error keeps its class (and the job its exit code), with where it happened.
                    throw (error as? MPILearnError)?.prefixed("fit failed for \(what) (error_score=raise)")
                        ?? MPILearnError.mismatch("fit failed for \(what): \(message) (error_score=raise)")
                }
                for i in member ..< outs.count {
                    outs[i].error = "\(describe(unit.members[i], fold: k)): \(message)"
                    outs[i].test = .nan
                    if case .value(let v) = options.errorScore { outs[i].test = v; if options.returnTrainScore { outs[i].train = v } } else if options.returnTrainScore { outs[i].train = .nan }
                }
            }
            let end = monotonicSeconds() - t0
            for i in outs.indices { outs[i].end = end }
            return outs
        }

        var unitSeconds: [Double] = []
        func record(_ o: [TaskOutcome], taken: Int) {
            mine += o
            unitSeconds.append((o.first?.end ?? 0) - (o.first?.start ?? 0))
            if comm.rank == 0, let progress = options.progress {
                for x in o where x.error == nil && (best == nil || x.test > best!.0) { best = (x.test, x.task) }
                progress(progressReport(taken: taken, total: total, t0: t0, iteration: iteration, best: best, estimators: estimators, nK: nK))
            }
        }
        // With a checkpoint the units run in windows (positions in the schedule's order), each
        // ending at a checkpoint boundary; a window's units are still handed out dynamically.
        let checkpoint = try options.checkpoint.map { c in
            try Checkpointer(c, kind: "search", unit: "tasks", identity: [
                ("candidates", estimators.map { pythonDict($0.changedParameters(from: estimators)) }.joined(separator: "; ")),
                ("folds", folds.map { f in f.map { "\($0.train.count)/\($0.test.count)" }.joined(separator: ",") }.joined(separator: "; ")),
                ("scoring", problem.scoring.rawValue), ("data", "\(problem.data.globalRowCount) rows × \(problem.data.featureCount) features"),
                ("iteration", iteration.map(String.init) ?? "none"),
            ], comm: comm)
        }
        // Every rank holds every outcome (sharded, one group) or each outcome is on the rank that ran it.
        let replicatedOutcomes = sharded && !grouped
        var position = 0
        if let checkpoint {
            if comm.rank == 0 { options.log?(checkpoint.plan) }
            if let state = try checkpoint.restore(rebalances: true) {
                let path = checkpoint.options.directory
                let saved: SearchCheckpoint
                do { saved = try PropertyListDecoder().decode(SearchCheckpoint.self, from: try state.section("outcomes", in: path)) } catch {
                    throw MPILearnError.dataError(SourceLocation(file: path), "checkpoint's task results cannot be read (\(error)); it is damaged")
                }
                guard state.step <= total, saved.outcomes.allSatisfy({ $0.task >= 0 && $0.task < nC * nK }) else {
                    throw MPILearnError.dataError(SourceLocation(file: path), "checkpoint holds tasks of another search; it is damaged")
                }
                if comm.rank == 0 || replicatedOutcomes { mine = saved.outcomes; unitSeconds = saved.unitSeconds }
                position = state.step
            }
            checkpoint.totalUnits = total
        }
        var window = max(1, total)
        if let checkpoint {
            // Every N tasks, or (time or signal only) windows of two tasks per rank.
            if case let .units(n)? = checkpoint.options.every { window = n } else { window = 2 * comm.size }
        }
        // Longest expected first (replicated schedule).
        let cost = units.map { u in estimators[u.members.last!].expectedCost(rows: folds[u.members[0]][u.fold].train.count) * (1 + 0.1 * Double(u.members.count - 1)) }
        let order = (0 ..< total).sorted { cost[$0] != cost[$1] ? cost[$0] > cost[$1] : $0 < $1 }
        while position < total {
            let from = position, end = min(total, position + window)
            if let sub = groupComm {
                // Groups take units through the shared counter: each group's first rank draws,
                // its members fit the unit together, and the first rank keeps the outcome.
                let counter = try comm.makeSharedCounter(initial: from)
                while true {
                    let drawn = sub.rank == 0 ? try counter.fetchAndAdd(1) : 0
                    let next = Int(try sub.broadcast(Int64(drawn), root: 0))
                    if next >= end { break }
                    let o = try run(next, comm: sub)
                    if sub.rank == 0 { record(o, taken: next + 1) }
                }
                try counter.free()
            } else if sharded {
                // Every unit by all ranks, data-parallel, in order.
                for u in from ..< end { record(try run(u, comm: comm), taken: u + 1) }
            } else {
                // A shared counter hands the next unit (in `order`) to whichever rank asks.
                let counter = try comm.makeSharedCounter(initial: from)
                // Rank 0 hosts the counter. Some MPI transports progress one-sided operations
                // only inside MPI calls of the target, so while rank 0 fits, its main thread keeps
                // calling MPI (a fetch-and-add of 0, every millisecond) and the fit runs on a
                // worker thread; the other ranks never wait for rank 0's fit to take a unit.
                let host = comm.rank == 0 && comm.size > 1
                while true {
                    let next = try counter.fetchAndAdd(1)
                    if next >= end { break }
                    let o: [TaskOutcome]
                    if host {
                        let box = TaskBox()
                        let done = DispatchSemaphore(value: 0)
                        let unit = order[next]
                        let work = UncheckedSendable(run)
                        let thread = Thread {
                            box.result = Result { try work.value(unit, solo) }
                            done.signal()
                        }
                        thread.stackSize = 64 << 20   // as deep as a main thread's: tree growth recurses
                        thread.start()
                        while done.wait(timeout: .now() + .milliseconds(1)) == .timedOut { _ = try counter.fetchAndAdd(0) }
                        o = try box.result!.get()
                    } else {
                        o = try run(order[next], comm: solo)
                    }
                    record(o, taken: next + 1)
                }
                try counter.free()
            }
            position = end
            guard let checkpoint else { continue }
            try checkpoint.boundary(done: position) {
                // Every finished task, on rank 0 (only its file is read back).
                var outcomes = mine, seconds = unitSeconds
                if !replicatedOutcomes {
                    let gathered = try comm.gatherObject(SearchCheckpoint(outcomes: mine, unitSeconds: unitSeconds), root: 0)
                    outcomes = gathered?.flatMap(\.outcomes).sorted { $0.task < $1.task } ?? []
                    seconds = gathered?.flatMap(\.unitSeconds) ?? []
                }
                let bytes = try PropertyListEncoder.binary.encode(SearchCheckpoint(outcomes: comm.rank == 0 ? outcomes : [], unitSeconds: comm.rank == 0 ? seconds : []))
                return CheckpointState(step: position, header: Data("{}".utf8), sections: [("outcomes", bytes)])
            }
        }
        try checkpoint?.finish()
        if let checkpoint, comm.rank == 0 { options.log?(checkpoint.summary) }

        // Scores to every rank, in task order.
        let tasks = nC * nK
        var all: [TaskOutcome]
        var busy: [Double], durations: [Double]
        if replicatedOutcomes {
            all = mine
            busy = [Double](repeating: unitSeconds.reduce(0, +), count: comm.size)
            durations = unitSeconds
        } else {
            let gathered = try comm.allgatherObject(mine)
            let seconds = try comm.allgatherObject(unitSeconds)
            busy = seconds.map { $0.reduce(0, +) }
            durations = seconds.flatMap { $0 }
            all = gathered.flatMap { $0 }
            all.sort { $0.task < $1.task }
            guard all.count == tasks, all.enumerated().allSatisfy({ $0.offset == $0.element.task }) else {
                throw MPILearnError.mismatch("search: the ranks returned \(all.count) of \(tasks) task results")
            }
        }
        let makespan = try comm.allreduce(monotonicSeconds() - t0, op: .max)
        func table(_ f: (TaskOutcome) -> Double) -> [[Double]] { (0 ..< nC).map { c in (0 ..< nK).map { f(all[c * nK + $0]) } } }
        // Sharded data: every fit uses all ranks, so the schedule is one worker's.
        let workers = grouped ? options.shardGroups : (sharded ? 1 : comm.size)
        let report = SearchScheduleReport(schedule: sharded ? .sharded : .replicated, ranks: workers, tasks: tasks, fits: total, makespan: makespan,
                                          totalTaskSeconds: durations.reduce(0, +), longestTask: durations.max() ?? 0, busyPerRank: busy)
        return (table(\.test), options.returnTrainScore ? table { $0.train ?? .nan } : nil, table(\.fitTime), table(\.scoreTime),
                all.compactMap(\.error), report)
    }

    /// Collective. Splits the ranks into `groups` groups (rank r in group r mod groups, in
    /// rank order) and moves the rows so that each group holds every row, in blocks over its
    /// members in global row order (an all-to-all of features and targets).
    /// - Returns: the group's communicator and this rank's block.
    static func regroup(_ data: Dataset<Double>, groups g: Int, comm: any Communicator) throws -> (any Communicator, Dataset<Double>) {
        let p = comm.size, n = data.globalRowCount, d = data.featureCount
        guard let sub = try comm.split(color: comm.rank % g, key: comm.rank) else {
            throw MPILearnError.mismatch("regroup: rank \(comm.rank) got no group")
        }
        func block(_ r: Int) -> Range<Int> { Partition.block(count: n, parts: (p - r % g + g - 1) / g, index: r / g) }
        let lo = data.globalRowStart, hi = lo + data.rowCount
        var rows = [Int](repeating: 0, count: p), features: [Double] = [], target: [Double] = []
        for r in 0 ..< p {
            let b = block(r), s = max(lo, b.lowerBound), e = min(hi, b.upperBound)
            guard s < e else { continue }
            rows[r] = e - s
            features += data.matrix.storage[((s - lo) * d) ..< ((e - lo) * d)]
            if let t = data.target { target += t[(s - lo) ..< (e - lo)] }
        }
        let mine = block(comm.rank)
        let (x, _) = try comm.alltoallv(features, sendCounts: rows.map { $0 * d })
        guard x.count == mine.count * d else { throw MPILearnError.mismatch("regroup: received \(x.count / max(1, d)) rows for a block of \(mine.count)") }
        var out = data
        out.matrix = Matrix(rows: mine.count, columns: d, storage: x)
        if data.target != nil { out.target = try comm.alltoallv(target, sendCounts: rows).values }
        out.globalRowStart = mine.lowerBound
        out.globalRowCount = n
        return (sub, out)
    }

    /// Candidates grouped for shared fits: those that differ only in the estimator's nested
    /// parameter form one group (ascending in it); without one, or on sharded data, one
    /// group per candidate.
    static func nestedGroups<E: Estimator>(_ estimators: [E], sharded: Bool) throws -> [(members: [Int], values: [Int]?)] {
        guard let name = E.nestedParameter, !sharded else { return estimators.indices.map { ([$0], nil) } }
        var order: [String] = [], byKey: [String: [(Int, Int)]] = [:]
        for (c, e) in estimators.enumerated() {
            var p = try e.parameters()
            guard case .int(let v)? = p.removeValue(forKey: name) else { return estimators.indices.map { ([$0], nil) } }
            let key = pythonDict(p)
            if byKey[key] == nil { order.append(key) }
            byKey[key, default: []].append((v, c))
        }
        return order.map { key in
            let m = byKey[key]!.sorted { $0 < $1 }
            return (m.map(\.1), m.count > 1 ? m.map(\.0) : nil)
        }
    }

    static func progressReport<E: Estimator>(taken: Int, total: Int, t0: Double, iteration: Int?, best: (Double, Int)?,
                                             estimators: [E], nK: Int) -> SearchProgress {
        let elapsed = monotonicSeconds() - t0
        let remaining = taken > 0 ? elapsed * Double(total - taken) / Double(taken) : .nan
        return SearchProgress(taken: taken, total: total, elapsed: elapsed, remaining: remaining, iteration: iteration, bestFoldScore: best?.0,
                              bestCandidate: best.map { estimators[$0.1 / nK].changedParameters(from: estimators) })
    }

    /// A fold's rows held here: local positions, and where this rank's rows start within
    /// the fold's train and test lists (sharded data; rows are sorted by global index).
    static func localRows(_ fold: Fold, data: Dataset<Double>, sharded: Bool) -> (train: [Int], test: [Int], trainStart: Int, testStart: Int) {
        guard sharded else { return (fold.train, fold.test, 0, 0) }
        let lo = data.globalRowStart, hi = lo + data.rowCount
        func pick(_ rows: [Int]) -> ([Int], Int) {
            let first = lowerBound(rows, lo), last = lowerBound(rows, hi)
            return (rows[first ..< last].map { $0 - lo }, first)
        }
        let (tr, ts) = pick(fold.train), (te, es) = pick(fold.test)
        return (tr, te, ts, es)
    }

    static func lowerBound(_ a: [Int], _ v: Int) -> Int {
        var lo = 0, hi = a.count
        while lo < hi { let m = (lo + hi) / 2; if a[m] < v { lo = m + 1 } else { hi = m } }
        return lo
    }

    /// Collective. Refits the best estimator on every row; the model is whole on every rank.
    static func refit<E: Estimator>(_ e: E, problem: Problem, sharded: Bool, comm: any Communicator) throws -> (E.Model, Double) {
        let t0 = monotonicSeconds()
        // Replicated data: the one-rank model, its work shared over the ranks where the
        // learner can (a forest's trees), else fitted by every rank alike.
        let model = sharded ? try e.fit(problem.data, comm: comm) : try e.fitReplicated(problem.data, comm: comm)
        return (model, monotonicSeconds() - t0)
    }

    /// Collective. Runs a search over explicit candidates (the grid or the sampled ones).
    public static func run<E: Estimator>(_ base: E, candidates: [[String: ParameterValue]], data: SearchData, options: SearchOptions,
                                         comm: any Communicator) throws -> SearchResult<E> {
        let (estimators, problem, folds) = try prepare(base, candidates: candidates, data: data, options: options, comm: comm)
        let sharded: Bool = { if case .sharded = data { return true }; return false }()
        let r = try evaluate(estimators, folds: Array(repeating: folds, count: estimators.count), problem: problem, sharded: sharded,
                             options: options, comm: comm)
        let names = Array(Set(candidates.flatMap(\.keys))).sorted()
        let cv = CVResults(parameterNames: names, params: candidates, splitTestScores: r.test, splitTrainScores: r.train,
                           fitTimes: r.fit, scoreTimes: r.score)
        return try finish(base, cv: cv, estimators: estimators, problem: problem, sharded: sharded, options: options, report: r.report,
                          warnings: r.warnings, comm: comm)
    }

    static func finish<E: Estimator>(_ base: E, cv: CVResults, estimators: [E], problem: Problem, sharded: Bool, options: SearchOptions,
                                     report: SearchScheduleReport, warnings: [String], comm: any Communicator) throws -> SearchResult<E> {
        let best = cv.bestIndex
        let bestEstimator = try base.setting(cv.params[best])
        var model: E.Model? = nil, refitTime = 0.0
        if options.refit {
            if cv.meanTestScore[best].isNaN {
                throw MPILearnError.mismatch("every candidate failed to fit (error_score=\(options.errorScore)); nothing to refit: \(warnings.first ?? "")")
            }
            (model, refitTime) = try refit(bestEstimator, problem: problem, sharded: sharded, comm: comm)
        }
        return SearchResult(cvResults: cv, bestIndex: best, bestParams: cv.params[best], bestScore: cv.meanTestScore[best], bestEstimator: bestEstimator,
                            bestModel: model, scoring: problem.scoring, scheduleReport: report, warnings: warnings, refitTime: refitTime)
    }
}

extension Estimator {
    /// The parameters of this candidate that differ among `all` (for messages).
    func changedParameters(from all: [Self]) -> [String: ParameterValue] {
        guard let mine = try? parameters() else { return [:] }
        let others = all.compactMap { try? $0.parameters() }
        return mine.filter { k, v in others.contains { $0[k] != v } }
    }
}

/// An exhaustive search over a grid with cross-validation (scikit-learn's `GridSearchCV`).
public struct GridSearchCV<E: Estimator> {
    public var estimator: E
    public var grid: ParameterGrid
    public var options: SearchOptions

    public init(_ estimator: E, grid: ParameterGrid, options: SearchOptions = SearchOptions()) {
        self.estimator = estimator
        self.grid = grid
        self.options = options
    }

    /// Collective. Evaluates every candidate on every fold and refits the best.
    public func fit(_ data: SearchData, comm: any Communicator) throws -> SearchResult<E> {
        try grid.validate()
        return try ModelSearch.run(estimator, candidates: grid.candidates, data: data, options: options, comm: comm)
    }
}

/// A search over sampled candidates (scikit-learn's `RandomizedSearchCV`).
public struct RandomizedSearchCV<E: Estimator> {
    public var estimator: E
    public var sampler: ParameterSampler
    public var options: SearchOptions

    public init(_ estimator: E, sampler: ParameterSampler, options: SearchOptions = SearchOptions()) {
        self.estimator = estimator
        self.sampler = sampler
        self.options = options
    }

    /// Collective.
    public func fit(_ data: SearchData, comm: any Communicator) throws -> SearchResult<E> {
        try sampler.validate()
        return try ModelSearch.run(estimator, candidates: sampler.candidates, data: data, options: options, comm: comm)
    }
}

extension PropertyListEncoder {
    /// A binary property-list encoder (keeps NaN and infinities, unlike JSON).
    static var binary: PropertyListEncoder {
        let e = PropertyListEncoder()
        e.outputFormat = .binary
        return e
    }
}
