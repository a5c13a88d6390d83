// SGDClassifier and SGDRegressor: scikit-learn's linear models by stochastic gradient descent,
// trained across ranks in one of two ways (`training`):
//   chained   the model passes from rank to rank: rank r updates on its rows and hands the
//             whole SGD state to r+1, epoch after epoch; without shuffling this is exactly one
//             process's fit over the rows in global order, on any number of ranks;
//   averaged  every rank fits on its own rows and the coefficients are averaged, weighted by
//             rows (one-shot parameter averaging: an approximation of the one-process fit).

import Foundation
import SwiftMPI

/// How an SGD model is trained over several ranks.
public enum SGDTraining: String, Codable, Sendable, CaseIterable {
    case chained, averaged
}

/// The hyper-parameters shared by ``SGDClassifier`` and ``SGDRegressor``, under
/// scikit-learn's names.
public struct SGDParameters: Codable, Equatable, Sendable {
    public var loss: SGDLoss
    /// nil is scikit-learn's `penalty=None`.
    public var penalty: SGDPenalty?
    public var alpha: Double = 1e-4
    public var l1Ratio: Double = 0.15
    public var fitIntercept = true
    public var maxIter = 1000
    /// nil is `tol=None`: every epoch runs.
    public var tol: Double? = 1e-3
    public var shuffle = true
    public var epsilon: Double = 0.1
    public var randomState = 0
    public var learningRate: SGDLearningRate
    public var eta0: Double = 0.01
    public var powerT: Double
    public var nIterNoChange = 5
    /// Classifiers only: nil or `balanced`.
    public var classWeight: String?
    /// 0 (false): no averaging; 1 (true): average from the first update; n: from update n.
    public var average = 0
    /// How ranks share the training (not a scikit-learn parameter).
    public var training: SGDTraining = .chained

    enum CodingKeys: String, CodingKey {
        case loss, penalty, alpha, l1Ratio = "l1_ratio", fitIntercept = "fit_intercept", maxIter = "max_iter", tol, shuffle, epsilon
        case randomState = "random_state", learningRate = "learning_rate", eta0, powerT = "power_t", nIterNoChange = "n_iter_no_change"
        case classWeight = "class_weight", average, training
    }

    init(loss: SGDLoss, learningRate: SGDLearningRate, powerT: Double) {
        self.loss = loss
        penalty = .l2
        self.learningRate = learningRate
        self.powerT = powerT
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        loss = try c.decode(SGDLoss.self, forKey: .loss)
        penalty = try c.decodeIfPresent(SGDPenalty.self, forKey: .penalty)
        alpha = try c.decode(Double.self, forKey: .alpha)
        l1Ratio = try c.decode(Double.self, forKey: .l1Ratio)
        fitIntercept = try c.decode(Bool.self, forKey: .fitIntercept)
        maxIter = try c.decode(Int.self, forKey: .maxIter)
        tol = try c.decodeIfPresent(Double.self, forKey: .tol)
        shuffle = try c.decode(Bool.self, forKey: .shuffle)
        epsilon = try c.decode(Double.self, forKey: .epsilon)
        randomState = try c.decode(Int.self, forKey: .randomState)
        learningRate = try c.decode(SGDLearningRate.self, forKey: .learningRate)
        eta0 = try c.decode(Double.self, forKey: .eta0)
        powerT = try c.decode(Double.self, forKey: .powerT)
        nIterNoChange = try c.decode(Int.self, forKey: .nIterNoChange)
        classWeight = try c.decodeIfPresent(String.self, forKey: .classWeight)
        // scikit-learn's average is a bool or an int.
        if let b = try? c.decode(Bool.self, forKey: .average) { average = b ? 1 : 0 } else { average = try c.decode(Int.self, forKey: .average) }
        training = try c.decodeIfPresent(SGDTraining.self, forKey: .training) ?? .chained
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(loss, forKey: .loss)
        try c.encode(penalty, forKey: .penalty)
        try c.encode(alpha, forKey: .alpha)
        try c.encode(l1Ratio, forKey: .l1Ratio)
        try c.encode(fitIntercept, forKey: .fitIntercept)
        try c.encode(maxIter, forKey: .maxIter)
        try c.encode(tol, forKey: .tol)
        try c.encode(shuffle, forKey: .shuffle)
        try c.encode(epsilon, forKey: .epsilon)
        try c.encode(randomState, forKey: .randomState)
        try c.encode(learningRate, forKey: .learningRate)
        try c.encode(eta0, forKey: .eta0)
        try c.encode(powerT, forKey: .powerT)
        try c.encode(nIterNoChange, forKey: .nIterNoChange)
        try c.encode(classWeight, forKey: .classWeight)
        try c.encode(average, forKey: .average)
        try c.encode(training, forKey: .training)
    }

    /// Checks every parameter, quoting the value and what is allowed.
    func validate(classification: Bool) throws {
        try require(loss.isClassification == classification, "loss", loss.rawValue,
                    classification ? "hinge, log_loss, modified_huber, squared_hinge or perceptron"
                                   : "squared_error, huber, epsilon_insensitive or squared_epsilon_insensitive")
        try require(alpha >= 0 && alpha.isFinite, "alpha", alpha, "a finite number >= 0")
        try require(learningRate != .optimal || alpha > 0, "alpha", alpha, "a number > 0 with learning_rate='optimal'")
        try require(l1Ratio >= 0 && l1Ratio <= 1, "l1_ratio", l1Ratio, "a number in [0, 1]")
        try require(maxIter >= 1, "max_iter", maxIter, "an integer >= 1")
        try require(tol.map { $0.isFinite } ?? true, "tol", tol.map { "\($0)" } ?? "None", "a finite number or None")
        try require(epsilon >= 0 && epsilon.isFinite, "epsilon", epsilon, "a finite number >= 0")
        try require(learningRate == .optimal || (eta0 > 0 && eta0.isFinite), "eta0", eta0, "a number > 0 with learning_rate='\(learningRate.rawValue)'")
        try require(powerT.isFinite, "power_t", powerT, "a finite number")
        try require(nIterNoChange >= 1, "n_iter_no_change", nIterNoChange, "an integer >= 1")
        try require(average >= 0, "average", average, "false, true or an integer >= 1")
        try require(randomState >= 0, "random_state", randomState, "an integer >= 0")
        if let w = classWeight {
            try require(classification && w == "balanced", "class_weight", w, classification ? "None or balanced" : "None (a regressor has no classes)")
        }
    }

    func settings(positive: Double = 1, negative: Double = 1) -> SGDSettings {
        SGDSettings(loss: loss, penalty: penalty, alpha: alpha, l1Ratio: l1Ratio, fitIntercept: fitIntercept, learningRate: learningRate,
                    eta0: eta0, powerT: powerT, epsilon: epsilon, average: average, weightPositive: positive, weightNegative: negative,
                    tol: tol, nIterNoChange: nIterNoChange)
    }
}

/// What a training run of one binary (or regression) problem gives.
struct SGDRun: Codable {
    var coef: [Double]
    var intercept: Double
    /// The unaveraged weights when averaging (to continue with `partial_fit`).
    var standardCoef: [Double]?
    var standardIntercept: Double?
    var averageIntercept: Double
    var nIter: Int
}

enum SGDTrainer {
    /// Collective. Trains one problem: every rank's rows `rows` with targets `y`, from the
    /// starting coefficients, for at most `epochs` epochs (`partial_fit` is one epoch with no
    /// stopping rule). `t0` is the update count before this call (scikit-learn's `t_`).
    ///
    /// With `checkpoint` (a `fit` run by a checkpointed workflow) each epoch that goes on ends
    /// at a checkpoint boundary saving this rank's state, and a resumed run continues from
    /// the saved epoch of problem `problem`.
    static func train(rows: SGDRows, y: [Double], start: SGDRun?, features d: Int, t0: Double, epochs: Int, stopping: Bool,
                      settings s: SGDSettings, parameters p: SGDParameters, globalRowStart: Int, globalRows: Int, comm: any Communicator,
                      checkpoint: SGDCheckpointing? = nil, problem: Int = 0) throws -> SGDRun {
        let l1 = s.penalty == .l1 || s.penalty == .elasticnet
        var st = SGDState(coef: start?.standardCoef ?? start?.coef ?? [Double](repeating: 0, count: d),
                          intercept: start?.standardIntercept ?? start?.intercept ?? 0,
                          averageCoef: s.average > 0 ? (start?.standardCoef != nil ? start!.coef : [Double](repeating: 0, count: d)) : nil,
                          averageIntercept: start?.averageIntercept ?? 0, t: t0, l1: l1, eta0: s.eta0)
        let optimalInit = s.learningRate == .optimal ? SGDSolver.optimalInit(s) : 0
        var stop = SGDSolver.Stopping()
        let chained = p.training == .chained && comm.size > 1
        let trainCount = chained ? globalRows : rows.count
        var epochsRun = 0
        var first = 0
        if let saved = checkpoint?.resumeEpoch(problem: problem) {
            st.restore(saved.state)
            stop.best = saved.best
            stop.noImprovement = saved.noImprovement
            first = saved.epoch
            epochsRun = saved.epoch
            // Chained: the next epoch starts on rank 0 with the last rank's state.
            if chained && comm.rank == comm.size - 1 { try comm.send(st.flattened(), to: 0, tag: 71) }
        }
        func boundary(_ epoch: Int) throws {
            try checkpoint?.boundary(problem: problem, epochs: epochs, epoch: epoch, state: st, stopping: stop)
        }
        for epoch in first ..< epochs {
            epochsRun = epoch + 1
            var order = Array(0 ..< rows.count)
            if p.shuffle { order = shuffled(order, seed: UInt64(p.randomState), epoch: epoch, globalRowStart: globalRowStart) }
            if chained {
                // Rank r waits for the state from r-1 (rank 0, after the first epoch, from the
                // last rank), updates on its rows, and hands it on.
                let last = comm.size - 1
                if comm.rank > 0 || epoch > 0 {
                    let (v, _) = try comm.receive(Double.self, from: comm.rank == 0 ? last : comm.rank - 1, tag: 71)
                    st.restore(v)
                    // partial_fit: each rank's part is the next partial_fit call on its chunk.
                    if !stopping { st.beginCall(eta0: s.eta0) }
                }
                SGDSolver.pass(&st, rows: rows, order: order, y: y, sampleWeight: nil, settings: s, optimalInit: optimalInit)
                if comm.rank < last { try comm.send(st.flattened(), to: comm.rank + 1, tag: 71) }
                // The last rank decides whether the run goes on; everyone learns its decision.
                var verdict = [0.0, 0.0]   // [stop, non-finite]
                if comm.rank == last {
                    let finite = st.intercept.isFinite && st.w.allSatisfy(\.isFinite)
                    let done = !finite || (stopping && stop.shouldStop(objective: st.objectiveSum, trainCount: trainCount, state: &st, settings: s))
                    verdict = [done ? 1 : 0, finite ? 0 : 1]
                    st.sumLoss = 0
                    st.objectiveSum = 0
                }
                try comm.broadcast(&verdict, root: last)
                if verdict[1] == 1 { throw overflow(epoch + 1) }
                if verdict[0] == 1 || epoch == epochs - 1 {
                    var v = comm.rank == last ? st.flattened() : []
                    try comm.broadcast(&v, root: last)
                    st.restore(v)
                    break
                }
                try boundary(epoch + 1)
                if comm.rank == last { try comm.send(st.flattened(), to: 0, tag: 71) }
            } else {
                SGDSolver.pass(&st, rows: rows, order: order, y: y, sampleWeight: nil, settings: s, optimalInit: optimalInit)
                guard st.intercept.isFinite && st.w.allSatisfy(\.isFinite) else { throw overflow(epoch + 1) }
                let done = stopping && stop.shouldStop(objective: st.objectiveSum, trainCount: trainCount, state: &st, settings: s)
                st.sumLoss = 0
                st.objectiveSum = 0
                if done { break }
                if epoch + 1 < epochs { try boundary(epoch + 1) }
            }
        }
        st.resetScale()
        let t = t0 + Double(epochsRun) * Double(chained ? globalRows : rows.count)
        var run = SGDRun(coef: st.w, intercept: st.intercept, standardCoef: nil, standardIntercept: nil, averageIntercept: st.averageIntercept, nIter: epochsRun)
        if s.average > 0 {
            run.standardCoef = st.w
            run.standardIntercept = st.intercept
            if Double(s.average) <= t - 1 {
                run.coef = st.aw!
                run.intercept = st.averageIntercept
            }
        }
        if p.training == .averaged && comm.size > 1 {
            // Row-weighted mean of every rank's coefficients.
            let weight = Double(rows.count) / Double(max(1, globalRows))
            var v = (run.coef + [run.intercept] + (run.standardCoef ?? []) + (run.standardIntercept.map { [$0] } ?? [])).map { $0 * weight }
            try comm.allreduce(&v, op: .sum)
            run.coef = Array(v[0 ..< d])
            run.intercept = v[d]
            if run.standardCoef != nil {
                run.standardCoef = Array(v[(d + 1) ..< (2 * d + 1)])
                run.standardIntercept = v[2 * d + 1]
            }
            run.nIter = Int(try comm.allreduce(Double(run.nIter), op: .max))
        }
        return run
    }

    static func overflow(_ epoch: Int) -> MPILearnError {
        .numerical("floating-point overflow in SGD at epoch \(epoch): scale the features (StandardScaler or MinMaxScaler) or lower eta0/alpha")
    }

    /// This rank's rows in the epoch's order: sorted by a Philox draw keyed by
    /// (random_state, epoch, global row index), so a row's place never depends on the ranks.
    static func shuffled(_ order: [Int], seed: UInt64, epoch: Int, globalRowStart: Int) -> [Int] {
        let keys = order.map { i -> UInt64 in
            var r = Philox(seed: seed, domain: RandomDomains.sgdEpochBase &+ UInt64(epoch), stream: UInt64(globalRowStart + i))
            return r.next()
        }
        return order.sorted { keys[$0] < keys[$1] || (keys[$0] == keys[$1] && $0 < $1) }
    }

    /// Collective. The rows and targets of `data`, checked: every feature and target finite
    /// on every rank (one rank's bad row stops every rank with the same message).
    static func rows(_ data: Dataset<Double>, estimator: String, comm: any Communicator) throws -> (SGDRows, [Double]) {
        let rows: SGDRows
        let d = data.featureCount
        // The first bad value as one number (global row × (features + 1) + column; column d
        // is the target), so every rank names the same one.
        var bad = Int64.max
        switch data.features {
        case .dense(let m):
            rows = .dense(m)
            if let k = m.storage.firstIndex(where: { !$0.isFinite }) { bad = Int64(data.globalRowStart + k / max(1, d)) * Int64(d + 1) + Int64(k % max(1, d)) }
        case .sparse(let csr):
            rows = .sparse(csr)
            if let k = csr.data.firstIndex(where: { !$0.isFinite }) {
                let r = (csr.indptr.firstIndex { Int($0) > k } ?? csr.rows + 1) - 1
                bad = Int64(data.globalRowStart + r) * Int64(d + 1) + Int64(csr.indices[k])
            }
        default:
            try data.requireDense(for: estimator)
            fatalError("unreachable")
        }
        guard let y = data.target else { throw MPILearnError.mismatch("\(estimator) needs a target, and the data has none") }
        if let k = y.firstIndex(where: { !$0.isFinite }) { bad = min(bad, Int64(data.globalRowStart + k) * Int64(d + 1) + Int64(d)) }
        let first = try comm.allreduce(bad, op: .min)
        if first != Int64.max {
            let row = Int(first / Int64(d + 1)) + 1, column = Int(first % Int64(d + 1))
            let what = column == d ? "the target is missing or not finite" : "feature \(data.featureNames[column]) (column \(column + 1)) is missing or not finite"
            throw MPILearnError.dataError(SourceLocation(file: data.source.isEmpty ? "data" : data.source, line: row),
                                          "row \(row), column \(column + 1): \(what); \(estimator) needs finite numbers")
        }
        return (rows, y)
    }
}

/// Checkpoints of an SGD fit (`linear fit --checkpoint` with an SGD learner): after each epoch
/// that goes on, this rank's ``SGDState`` (exact, as bits), the stopping rule's state, and the
/// runs of the problems already finished (one-vs-rest classes).
final class SGDCheckpointing {
    let checkpointer: Checkpointer
    /// Finished problems' runs, in order.
    var finished: [SGDRun] = []
    private var saved: Saved?

    struct Header: Codable {
        var problem: Int
        var epoch: Int
        var bestBits: UInt64
        var noImprovement: Int
        var finished: [SGDRun]
    }

    struct Saved {
        var problem: Int, epoch: Int, best: Double, noImprovement: Int, state: [Double]
    }

    /// The active checkpointer's, when it checkpoints this communicator's fit. Collective.
    init?(comm: any Communicator) throws {
        guard let c = Checkpointer.active(for: comm) else { return nil }
        checkpointer = c
        if let state = try c.restore() {
            let path = c.options.directory
            let h = try CheckpointJSON.decode(Header.self, from: state.header, path: path)
            let v = try state.section("state", in: path).flatArray(of: Double.self, path: path)
            finished = h.finished
            saved = Saved(problem: h.problem, epoch: h.epoch, best: Double(bitPattern: h.bestBits), noImprovement: h.noImprovement, state: v)
        }
    }

    /// The run of problem `j` if a resumed fit had finished it.
    func finishedRun(_ j: Int) -> SGDRun? { j < finished.count ? finished[j] : nil }

    /// Where problem `j` resumes (once).
    func resumeEpoch(problem j: Int) -> Saved? {
        guard let s = saved, s.problem == j else { return nil }
        saved = nil
        return s
    }

    func boundary(problem j: Int, epochs: Int, epoch: Int, state st: SGDState, stopping: SGDSolver.Stopping) throws {
        let done = j * epochs + epoch
        try checkpointer.boundary(done: done) {
            let h = Header(problem: j, epoch: epoch, bestBits: stopping.best.bitPattern, noImprovement: stopping.noImprovement, finished: finished)
            return CheckpointState(step: done, header: try CheckpointJSON.encode(h), sections: [("state", Data(flat: st.flattened()))])
        }
    }
}
