import Foundation
import SwiftMPI

extension KMeans {
    /// Clusters the rows of all ranks. Collective: every rank calls it with its shard.
    ///
    /// Validates the hyper-parameters, measures the mean per-feature variance (to scale `tol`,
    /// and checking every value is finite), then for each of `n_init` runs chooses initial
    /// centres and runs Lloyd iterations; the run with the lowest inertia is kept.
    ///
    /// A Lloyd iteration is one pass over the local rows — GEMM distances in row blocks (with
    /// the default `hamerly` algorithm only for rows whose bounds do not prove their centre),
    /// nearest centre, per-centre sums and counts — and one allreduce of k·(d+1)+3 values
    /// (sums, counts, inertia, changed labels, skipped rows). It stops when no label changes, when the
    /// squared centre shift is at most `tol` × mean variance (then one more assignment pass
    /// makes labels and inertia match the final centres, as scikit-learn), or after
    /// `max_iter` iterations.
    ///
    /// **Empty clusters** are relocated deterministically: the e empty clusters, in
    /// increasing index, take the e rows farthest from their assigned centre over all ranks
    /// (by squared distance, descending; ties to the lower global row index). Each such row
    /// becomes its new cluster's centre and is removed from its old cluster's sum and count;
    /// a cluster left with no rows keeps its previous centre.
    ///
    /// - Parameters:
    ///   - data: this rank's rows (Float64 or Float32); `globalRowStart` keys the random
    ///     streams, so the result does not depend on the number of ranks.
    ///   - comm: the ranks holding the data.
    ///   - dataName: names the data in error messages (a file path).
    ///   - checkpoint: saves the fit's state after Lloyd iterations (see ``Checkpointer``) and
    ///     resumes from a saved one: the resumed fit ends with the same centres, labels,
    ///     inertia and history (but the seconds) as an uninterrupted one. Needs the same
    ///     number of ranks (each rank's labels and bounds are in its file).
    ///   - progress: called on every rank after each Lloyd iteration.
    /// - Returns: the fitted model; its `labels` are this rank's rows'.
    /// - Throws: ``MPILearnError/invalidParameter`` for bad hyper-parameters (k ≤ 0, k > rows,
    ///   ...), ``MPILearnError/dataError`` naming the row and column of a NaN or infinite value.
    public func fit<T: LinearAlgebraScalar & MPIScalar>(_ data: Dataset<T>, comm: any Communicator, dataName: String = "data",
                                                        checkpoint: Checkpointer? = nil,
                                                        progress: ((KMeansIteration) -> Void)? = nil) throws -> KMeansModel {
        // Called from another module, a public generic runs unspecialised (every element
        // through witness tables). Dispatching to concrete types here lets the optimizer
        // specialise the whole engine for Float64 and Float32.
        if T.self == Double.self { return try fitSpecialised(data as! Dataset<Double>, comm: comm, dataName: dataName, checkpoint: checkpoint, progress: progress) }
        if T.self == Float.self { return try fitSpecialised(data as! Dataset<Float>, comm: comm, dataName: dataName, checkpoint: checkpoint, progress: progress) }
        throw MPILearnError.invalidParameter(name: "dtype", value: "\(T.self)", allowed: "Double or Float")
    }

    func fitSpecialised<T: KMeansScalar>(_ data: Dataset<T>, comm: any Communicator, dataName: String, checkpoint: Checkpointer?,
                                                            progress: ((KMeansIteration) -> Void)?) throws -> KMeansModel {
        let start = monotonicSeconds()
        try data.requireDense(for: "k-means")
        try validate(rows: data.globalRowCount, features: data.featureCount, dataName: dataName)
        guard data.globalRowStart >= 0, data.globalRowStart + data.rowCount <= data.globalRowCount else {
            throw MPILearnError.mismatch("\(dataName): rank \(comm.rank) holds rows \(data.globalRowStart)..<\(data.globalRowStart + data.rowCount) of \(data.globalRowCount)")
        }
        let blasThreads = BLASInfo.threads
        if threads > 1 { BLASInfo.setThreads(1) }
        defer { if threads > 1 { BLASInfo.setThreads(blasThreads) } }

        return try data.matrix.storage.withUnsafeBufferPointer { xs in
            let engine = KMeansEngine<T>(x: xs.baseAddress, rows: data.rowCount, features: data.featureCount,
                                         globalStart: data.globalRowStart, globalCount: data.globalRowCount, comm: comm, threads: threads,
                                         bounded: algorithm == .hamerly)
            var report = KMeansFitReport()
            let variance = try engine.meanVariance(dataName: dataName, featureNames: data.featureNames)
            report.absoluteTolerance = tol * variance
            var best: KMeansCheckpoint.Best?
            var labels: [Int32] = []
            // A resumed fit starts inside the run it was saved in, after the saved iteration.
            var resumed: (run: Int, initial: KMeansCheckpoint.Initial, lloyd: LloydState)?
            var done = 0
            if let checkpoint, let state = try checkpoint.restore() {
                let path = checkpoint.options.directory
                let saved = try CheckpointJSON.decode(KMeansCheckpoint.self, from: state.header, path: path)
                guard saved.best.map({ $0.centres.count == nClusters * data.featureCount }) ?? true,
                      saved.lloyd.centres.count == nClusters * data.featureCount else {
                    throw MPILearnError.dataError(SourceLocation(file: path), "checkpoint holds centres of another shape; it is damaged")
                }
                best = saved.best
                labels = try state.section("best_labels", in: path).flatArray(of: Int32.self, path: path)
                try engine.restore(state, path: path)
                report.warnings = saved.warnings
                report.initSeconds = saved.initSeconds
                report.lloydSeconds = saved.lloydSeconds
                resumed = (saved.run, saved.initial, saved.lloyd)
                done = saved.done
            }
            checkpoint?.totalUnits = maxIter * effectiveNInit
            for run in (resumed?.run ?? 0) ..< effectiveNInit {
                var runRNG = Philox(seed: randomState, domain: KMeansDomain.runSeed.rawValue, stream: UInt64(run))
                let seed = run == 0 ? randomState : runRNG.next()
                let t0 = monotonicSeconds()
                let initial: KMeansInitResult
                var from: LloydState? = nil
                if let r = resumed, r.run == run {
                    initial = KMeansInitResult(centres: r.initial.centres, candidates: r.initial.candidates)
                    from = r.lloyd
                } else {
                    initial = try initialCentres(engine, seed: seed)
                    report.warnings += initial.warnings
                }
                let t1 = monotonicSeconds()
                report.initSeconds += t1 - t0
                // At the end of each Lloyd iteration: save the whole fit's state when due.
                let bestSoFar = best, labelsSoFar = labels, reportSoFar = report
                let save: ((LloydState) throws -> Void)? = checkpoint.map { checkpoint in { state in
                    done += 1
                    try checkpoint.boundary(done: done) {
                        let header = KMeansCheckpoint(run: run, initial: .init(centres: initial.centres, candidates: initial.candidates),
                                                      lloyd: state, best: bestSoFar, warnings: reportSoFar.warnings,
                                                      initSeconds: reportSoFar.initSeconds,
                                                      lloydSeconds: reportSoFar.lloydSeconds + monotonicSeconds() - t1, done: done)
                        return CheckpointState(step: done, header: try CheckpointJSON.encode(header),
                                               sections: engine.checkpointSections() + [("best_labels", Data(flat: labelsSoFar))])
                    }
                } }
                let result = try lloyd(engine, from: initial.centres, guess: initial.guess, tolerance: report.absoluteTolerance,
                                       run: run, resume: from, save: save, progress: progress)
                report.lloydSeconds += monotonicSeconds() - t1
                if best == nil || result.inertia < best!.inertia {
                    best = .init(run: run, centres: result.centres, initial: initial.centres, inertia: result.inertia, nIter: result.nIter,
                                 history: result.history, candidates: initial.candidates)
                    labels = Array(UnsafeBufferPointer(start: engine.labels, count: data.rowCount))
                }
            }
            // The last save's files are named in the manifest before the fit returns.
            try checkpoint?.finish()
            var b = best!
            // Iteration times differ between ranks: keep rank 0's, so the model (and its
            // file) is identical on every rank.
            var seconds = b.history.map(\.seconds)
            try comm.broadcast(&seconds, root: 0)
            for (i, t) in seconds.enumerated() where i < b.history.count { b.history[i].seconds = t }
            report.bestRun = b.run
            report.candidates = b.candidates
            report.communicationSeconds = engine.communicationSeconds
            report.totalSeconds = monotonicSeconds() - start
            let k = nClusters, d = data.featureCount
            return KMeansModel(configuration: self, clusterCenters: Matrix(rows: k, columns: d, storage: b.centres),
                               featureNames: data.featureNames, labels: labels, inertia: b.inertia, nIter: b.nIter,
                               history: b.history, initialCenters: Matrix(rows: k, columns: d, storage: b.initial), report: report)
        }
    }

    /// The initial centres of one run, k × d.
    func initialCentres<T>(_ engine: KMeansEngine<T>, seed: UInt64) throws -> KMeansInitResult {
        switch initialization {
        case .kMeansParallel:
            return try engine.kMeansParallel(k: nClusters, oversampling: effectiveOversampling, rounds: initMaxIter, seed: seed)
        case .kMeansPlusPlus:
            return try engine.kMeansPlusPlus(k: nClusters, seed: seed)
        case .random:
            return try engine.randomRows(k: nClusters, seed: seed)
        case .centers(let c):
            return KMeansInitResult(centres: c.storage)
        }
    }

    /// Lloyd iterations from `centres`; leaves the final labels in the engine. With the
    /// `hamerly` algorithm the first pass starts from `guess` (what the initialisation left
    /// in the engine), and each pass is ``KMeansEngine/assignBounded(_:)``.
    /// With `resume`, continues a run saved after one of its iterations (the engine's labels
    /// and bounds already restored); `save` is called after every iteration with the run's state.
    func lloyd<T>(_ e: KMeansEngine<T>, from centres: [Double], guess: KMeansStartingGuess?, tolerance: Double, run: Int,
                  resume: LloydState? = nil, save: ((LloydState) throws -> Void)? = nil,
                  progress: ((KMeansIteration) -> Void)?) throws -> (centres: [Double], inertia: Double, nIter: Int, history: [KMeansIteration]) {
        let k = nClusters, d = e.d, bounded = algorithm == .hamerly
        var centres = centres
        var history: [KMeansIteration] = []
        var inertia = 0.0, iteration = 0, labelsMatchCentres = false
        // A bounded pass that skips few rows costs more than a plain one (the direct distance
        // and the test come on top of the GEMM), so after one that skipped under 3/4 of the
        // rows the run makes plain passes and retries a bounded one every 4th iteration. A
        // plain pass that moves a row from centre a to b leaves its stored bound covering every
        // centre but a (b included, a not), so plain passes drop the stored bounds
        // (`boundsCentres` = nil): the retried pass proves rows from the centres' separation
        // alone, and sets new bounds for the rest. The decision uses the allreduced count, so
        // every rank takes the same branch.
        var useBounds = bounded, plainPasses = 0
        // One E-step with `current`: sums, counts, inertia, changed labels, skipped rows.
        func pass(_ current: KMeansEngine<T>.Centres) -> [Double] {
            if useBounds { return e.assignBounded(current) }
            e.boundsCentres = nil
            return e.assign(current, distances: false) + [0]
        }
        if let r = resume {
            (centres, history, iteration, useBounds, plainPasses) = (r.centres, r.history, r.iteration, r.useBounds, r.plainPasses)
            inertia = history.last?.inertia ?? 0
        } else if !bounded {
            for i in 0 ..< e.n { e.labels[i] = -1 }
        }
        // The stopping tests of the iteration just done (also those of a resumed one).
        func stops(_ record: KMeansIteration) -> Bool {
            if record.changed == 0 && record.relocated == 0 { labelsMatchCentres = true; return true }
            return record.shift <= tolerance
        }
        var finished = false
        if let r = resume, let last = r.history.last { finished = stops(last) }
        while !finished && iteration < maxIter {
            let t0 = monotonicSeconds()
            iteration += 1
            // E-step and local M-step sums, then the one allreduce of the iteration.
            let current = KMeansEngine<T>.Centres(centres, d: d)
            if bounded && iteration == 1 { e.seedBounds(guess, centres: current) }
            var acc = pass(current)
            try e.allreduceSum(&acc)
            inertia = acc[k * (d + 1)]
            // The first pass has no previous labels to compare with (a bounded pass starts
            // from guessed ones): every row counts as changed.
            let changed = iteration == 1 ? e.globalCount : Int(acc[k * (d + 1) + 1])
            let skipped = Int(acc[k * (d + 1) + 2])
            if bounded {
                if useBounds {
                    useBounds = 4 * skipped >= 3 * e.globalCount
                    plainPasses = 0
                } else {
                    plainPasses += 1
                    useBounds = plainPasses >= 3
                }
            }
            let relocated = try relocateEmptyClusters(e, &acc, k: k, centres: current)
            var next = centres, shift = 0.0
            for j in 0 ..< k {
                let count = acc[k * d + j]
                if count > 0 { for f in 0 ..< d { next[j * d + f] = acc[j * d + f] / count } }
                for f in 0 ..< d { let delta = next[j * d + f] - centres[j * d + f]; shift += delta * delta }
            }
            centres = next
            let record = KMeansIteration(run: run, iteration: iteration, inertia: inertia, shift: shift, changed: changed,
                                         relocated: relocated, seconds: monotonicSeconds() - t0, skipped: skipped)
            history.append(record)
            progress?(record)
            try save?(LloydState(centres: centres, history: history, iteration: iteration, useBounds: useBounds, plainPasses: plainPasses))
            // No label changed: the update reproduced the same centres (strict convergence).
            if stops(record) { break }
        }
        if !labelsMatchCentres {
            // Labels and inertia for the final centres (scikit-learn does the same E-step).
            let current = KMeansEngine<T>.Centres(centres, d: d)
            let acc = useBounds ? e.assignBounded(current) : e.assign(current)
            var total = [acc[k * (d + 1)]]
            try e.allreduceSum(&total)
            inertia = total[0]
        }
        return (centres, inertia, iteration, history)
    }

    /// Moves each empty cluster to one of the rows farthest from their centres (see
    /// ``fit(_:comm:dataName:progress:)``), adjusting the allreduced sums and counts in `acc`
    /// the same way on every rank. Returns how many clusters were relocated.
    ///
    /// Relocation reads each row's distance (`mind2`), which Lloyd passes skip: when a cluster
    /// is empty, the same pass runs again with `centres` (the same labels) to fill it.
    func relocateEmptyClusters<T>(_ e: KMeansEngine<T>, _ acc: inout [Double], k: Int,
                                  centres: KMeansEngine<T>.Centres) throws -> Int {
        let d = e.d
        let empty = (0 ..< k).filter { acc[k * d + $0] == 0 }
        guard !empty.isEmpty else { return 0 }
        _ = e.assign(centres)
        let far = try e.globalFarthest(empty.count)
        for (j, rec) in zip(empty, far) {
            let donor = rec.label
            if donor >= 0 && donor < k && acc[k * d + donor] > 0 {
                for f in 0 ..< d { acc[donor * d + f] -= rec.row[f] }
                acc[k * d + donor] -= 1
            }
            for f in 0 ..< d { acc[j * d + f] = rec.row[f] }
            acc[k * d + j] = 1
        }
        return min(empty.count, far.count)
    }
}

/// A run's Lloyd state after an iteration (what a checkpoint needs besides the engine's rows).
struct LloydState: Codable {
    var centres: [Double]
    var history: [KMeansIteration]
    var iteration: Int
    var useBounds: Bool
    var plainPasses: Int
}

/// The JSON part of a k-means checkpoint (the rows' labels and bounds are binary sections).
struct KMeansCheckpoint: Codable {
    struct Initial: Codable { var centres: [Double]; var candidates: Int? }
    struct Best: Codable {
        var run: Int
        var centres: [Double]
        var initial: [Double]
        var inertia: Double
        var nIter: Int
        var history: [KMeansIteration]
        var candidates: Int?
    }
    var run: Int
    var initial: Initial
    var lloyd: LloydState
    var best: Best?
    var warnings: [String]
    var initSeconds: Double
    var lloydSeconds: Double
    var done: Int
}

extension KMeansEngine {
    /// This rank's per-row state as checkpoint sections: labels, and the Hamerly bounds with
    /// the centres they refer to (when a bounded pass has set them).
    func checkpointSections() -> [(name: String, bytes: Data)] {
        // One copy of each array, straight from the engine's buffers.
        var out: [(name: String, bytes: Data)] = [("labels", Data(bytes: labels, count: n * MemoryLayout<Int32>.stride))]
        if let lower, let boundsCentres {
            out.append(("lower", Data(bytes: lower, count: n * MemoryLayout<Double>.stride)))
            out.append(("bounds_centres", Data(flat: boundsCentres)))
        }
        return out
    }

    /// Restores what ``checkpointSections()`` saved, checking each section's length.
    func restore(_ state: CheckpointState, path: String) throws {
        let l = try state.section("labels", in: path).flatArray(of: Int32.self, path: path)
        guard l.count == n else {
            throw MPILearnError.dataError(SourceLocation(file: path), "checkpoint holds \(l.count) labels for this rank's \(n) rows: it was written for other data")
        }
        for i in 0 ..< n { labels[i] = l[i] }
        if state.sections.contains(where: { $0.name == "lower" }) {
            let lo = try state.section("lower", in: path).flatArray(of: Double.self, path: path)
            guard lo.count == n else { throw MPILearnError.dataError(SourceLocation(file: path), "checkpoint bounds do not match this rank's rows") }
            let p = boundsStorage()
            for i in 0 ..< n { p[i] = lo[i] }
            boundsCentres = try state.section("bounds_centres", in: path).flatArray(of: Double.self, path: path)
        } else {
            boundsCentres = nil
        }
    }
}
