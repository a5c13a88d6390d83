import Foundation
import SwiftMPI

/// A random forest classifier (scikit-learn's `RandomForestClassifier`) over ranks.
///
/// Local (per-shard) training: the `n_estimators` trees are split over the ranks in
/// proportion to their rows (``Partition/proportional(total:weights:)``; a rank with no
/// rows grows none), and each rank grows its trees on its own shard, on `n_jobs` threads.
/// Tree `g` (global index) draws its bootstrap sample and its features from Philox streams
/// keyed by `(random_state, g)`, so a forest does not depend on the thread count, and with
/// one rank it is the serial forest. Class labels, class counts (for `balanced`), feature
/// importances and the out-of-bag score are combined over all ranks by collectives.
///
/// Two ways to fit:
/// - ``fit(_:comm:)`` (the ``Estimator`` contract) returns the whole forest on every rank
///   (the ranks' trees are allgathered), ready to predict, score and save anywhere.
/// - ``fitLocal(_:comm:classNames:target:dataDescription:keepTrees:progress:)`` leaves each
///   rank with the trees it grew: the fast path of the distributed vote
///   (``RandomForestClassifierModel/votes(_:comm:voting:threads:)``), which never moves trees.
///   Such a part refuses to `predict` on its own.
///
/// Parameters are encoded under scikit-learn's names: `n_estimators`, `criterion`,
/// `max_depth`, `min_samples_split`, `min_samples_leaf`, `min_impurity_decrease`,
/// `max_features`, `max_leaf_nodes`, `max_bins`, `bootstrap`, `max_samples`, `class_weight`,
/// `oob_score`, `random_state`, `n_jobs`.
public struct RandomForestClassifier: Estimator, Equatable {
    public var parameters: RandomForestParameters

    public init(_ parameters: RandomForestParameters = .classifier()) { self.parameters = parameters }

    public static let estimatorName = "random-forest-classifier"
    public static let role = EstimatorRole.classifier

    public func validate() throws { try parameters.validate(features: nil, classification: true) }

    /// Collective. Every rank holds the same rows: each grows its share of the trees on
    /// all of them and the trees are allgathered, so the forest equals the one-rank fit tree
    /// for tree (a search's refit on replicated data).
    public func fitReplicated(_ data: Dataset<Double>, comm: any Communicator) throws -> RandomForestClassifierModel {
        RandomForestClassifierModel(forest: try parameters.fitReplicated(data, task: .classification, comm: comm))
    }

    /// Tree g depends only on (random_state, g) and the rows, so the first k trees of a
    /// larger forest are the forest of k trees: a search fits the largest `n_estimators` once.
    public static var nestedParameter: String? { "n_estimators" }
    /// A forest bins its rows and reads values only to bin them: coded columns serve it.
    public static var readsCodedFeatures: Bool { true }

    /// The first `value` trees: the predictions of a fit with `n_estimators = value` (the
    /// header's importances and out-of-bag score stay those of the larger fit).
    public func truncated(_ model: RandomForestClassifierModel, to value: Int) throws -> RandomForestClassifierModel {
        RandomForestClassifierModel(forest: try model.forest.firstTrees(value))
    }

    /// Every prefix's score from one descent of each tree (``ForestPredictor/forEachStage(_:rows:stages:_:)``, one running sum):
    /// the same scores as scoring each truncated forest, for a fraction of the work.
    public func nestedScores(_ model: RandomForestClassifierModel, values: [Int], scoring: Scoring, data: Dataset<Double>, rows: [Int], y: [Double]?,
                             labels: [String], comm: any Communicator) throws -> [Double] {
        let predictor = try model.forest.predictor()
        guard let y, predictor.canStage(values) else {
            return try values.map { try scoring.score(truncated(model, to: $0), data: data, rows: rows, y: y, labels: labels, comm: comm) }
        }
        var scores = [Double](repeating: .nan, count: values.count)
        try predictor.forEachStage(data, rows: rows, stages: values) { j, sums in
            scores[j] = try scoring.score(classSums: sums, count: values[j], modelClasses: model.classes, y: y, labels: labels, comm: comm)
        }
        return scores
    }

    /// Collective. Fits the forest on every rank's shard and returns the whole forest on
    /// every rank (see ``fitLocal(_:comm:classNames:target:dataDescription:keepTrees:progress:)``).
    public func fit(_ data: Dataset<Double>, comm: any Communicator) throws -> RandomForestClassifierModel {
        RandomForestClassifierModel(forest: try parameters.fitWhole(data, task: .classification, comm: comm))
    }

    public func expectedCost(rows: Int) -> Double { parameters.expectedCost(rows: rows) }

    /// Collective. Fits on rows `rows` of `data`; on one rank, with a cache, the rows are
    /// binned once per `max_bins` for every fit sharing the cache (the same forest).
    public func fit(_ data: Dataset<Double>, rows: [Int], cache: FitCache?, comm: any Communicator) throws -> RandomForestClassifierModel {
        RandomForestClassifierModel(forest: try parameters.fitRows(data, rows: rows, cache: cache, task: .classification, comm: comm))
    }

    /// Collective. Fits the forest; each rank keeps the trees it grew.
    ///
    /// The fit owns `data`: pass it with `consume` (or as a temporary) and, unless the
    /// out-of-bag score needs them, the raw features are freed as soon as they are binned
    /// (the one-byte codes are an eighth of their size). Features given as columns (a CSV
    /// table's, as ``TrainingData/loadTrain(path:target:categorical:features:classification:comm:note:)``
    /// returns them) are binned column by column, so the shard is never also held as a
    /// row-major matrix; the forest is the same as from the dense rows.
    /// - Parameters:
    ///   - data: this rank's rows; `target` holds class labels as numbers (codes of a
    ///     categorical target, or numeric labels). Missing targets (NaN) are an error.
    ///   - comm: the ranks holding the shards.
    ///   - classNames: display names of the labels, indexed by the label value (e.g. the
    ///     target's category dictionary); by default the labels as numbers.
    ///   - target: the target's name, saved in the header.
    ///   - dataDescription: what the data was (saved as provenance).
    ///   - keepTrees: keep the full ``Tree``s (needed to save, gather or allgather the model).
    ///     With false the model keeps only each tree's compact predictor
    ///     (``BinnedPackedTree``, about 8 bytes a node against 57) and predicts exactly the
    ///     same, but cannot be saved or assembled across ranks.
    ///   - progress: called on rank 0 as its trees finish.
    /// - Returns: the fitted model holding this rank's trees.
    /// - Throws: ``MPILearnError/invalidParameter`` for a bad hyper-parameter,
    ///   ``MPILearnError/dataError`` for a missing target.
    public func fitLocal(_ data: consuming Dataset<Double>, comm: any Communicator, classNames: [String]? = nil, target: String = "target",
                         dataDescription: String = "", keepTrees: Bool = true, progress: ForestProgress? = nil,
                         checkpoint: Checkpointer? = nil) throws -> RandomForestClassifierModel {
        let forest = try ForestTrainer.fit(TrainingShard(consume data), task: .classification, parameters: parameters, comm: comm, classNames: classNames,
                                           target: target, dataDescription: dataDescription, keepTrees: keepTrees, progress: progress, checkpoint: checkpoint)
        return RandomForestClassifierModel(forest: forest)
    }

    public init(from decoder: Decoder) throws {
        parameters = try RandomForestParameters(flat: decoder, classification: true)
    }

    public func encode(to encoder: Encoder) throws { try parameters.encodeFlat(to: encoder, classification: true) }
}

/// A random forest regressor (scikit-learn's `RandomForestRegressor`) over ranks; trained
/// like ``RandomForestClassifier``, predictions are the mean over trees. Its parameters are
/// the classifier's but `class_weight`.
public struct RandomForestRegressor: Estimator, Equatable {
    public var parameters: RandomForestParameters

    public init(_ parameters: RandomForestParameters = .regressor()) { self.parameters = parameters }

    public static let estimatorName = "random-forest-regressor"
    public static let role = EstimatorRole.regressor

    public func validate() throws { try parameters.validate(features: nil, classification: false) }

    /// Collective. The regressor on rows every rank holds (see the classifier's).
    public func fitReplicated(_ data: Dataset<Double>, comm: any Communicator) throws -> RandomForestRegressorModel {
        RandomForestRegressorModel(forest: try parameters.fitReplicated(data, task: .regression, comm: comm))
    }

    /// As the classifier's: the first k trees of a larger forest are the forest of k trees.
    public static var nestedParameter: String? { "n_estimators" }
    /// A forest bins its rows and reads values only to bin them: coded columns serve it.
    public static var readsCodedFeatures: Bool { true }

    public func truncated(_ model: RandomForestRegressorModel, to value: Int) throws -> RandomForestRegressorModel {
        RandomForestRegressorModel(forest: try model.forest.firstTrees(value))
    }

    /// Collective. Fits the forest and returns the whole forest on every rank.
    public func fit(_ data: Dataset<Double>, comm: any Communicator) throws -> RandomForestRegressorModel {
        RandomForestRegressorModel(forest: try parameters.fitWhole(data, task: .regression, comm: comm))
    }

    public func expectedCost(rows: Int) -> Double { parameters.expectedCost(rows: rows) }

    /// Collective. Fits on rows `rows` of `data`, binned once per cache (see the classifier's).
    public func fit(_ data: Dataset<Double>, rows: [Int], cache: FitCache?, comm: any Communicator) throws -> RandomForestRegressorModel {
        RandomForestRegressorModel(forest: try parameters.fitRows(data, rows: rows, cache: cache, task: .regression, comm: comm))
    }

    /// Collective. Fits the forest; each rank keeps the trees it grew (see
    /// ``RandomForestClassifier/fitLocal(_:comm:classNames:target:dataDescription:keepTrees:progress:)``).
    public func fitLocal(_ data: consuming Dataset<Double>, comm: any Communicator, target: String = "target",
                         dataDescription: String = "", keepTrees: Bool = true, progress: ForestProgress? = nil,
                         checkpoint: Checkpointer? = nil) throws -> RandomForestRegressorModel {
        let forest = try ForestTrainer.fit(TrainingShard(consume data), task: .regression, parameters: parameters, comm: comm, classNames: nil,
                                           target: target, dataDescription: dataDescription, keepTrees: keepTrees, progress: progress, checkpoint: checkpoint)
        return RandomForestRegressorModel(forest: forest)
    }

    public init(from decoder: Decoder) throws {
        parameters = try RandomForestParameters(flat: decoder, classification: false)
    }

    public func encode(to encoder: Encoder) throws { try parameters.encodeFlat(to: encoder, classification: false) }
}

// MARK: - scikit-learn's flat parameter names

private enum FlatForestKey: String, CodingKey, CaseIterable {
    case nEstimators = "n_estimators", criterion, maxDepth = "max_depth", minSamplesSplit = "min_samples_split"
    case minSamplesLeaf = "min_samples_leaf", minImpurityDecrease = "min_impurity_decrease", maxFeatures = "max_features"
    case maxLeafNodes = "max_leaf_nodes", maxBins = "max_bins", bootstrap, maxSamples = "max_samples", classWeight = "class_weight"
    case oobScore = "oob_score", randomState = "random_state", nJobs = "n_jobs", mode
}

extension RandomForestParameters {
    /// Collective. The forest of every rank's rows, whole on every rank (the ranks' trees allgathered).
    func fitWhole(_ data: Dataset<Double>, task: ForestHeader.Task, comm: any Communicator) throws -> ForestModel {
        let local = try fit(TrainingShard(data), task: task, comm: comm)
        return comm.size == 1 ? local : try local.allgathered(comm)
    }

    /// Collective. The forest of rows `rows` of `data`; on one rank with a cache, the rows are
    /// binned once per `max_bins` for every fit sharing the cache (the same forest, from dense or coded rows).
    func fitRows(_ data: Dataset<Double>, rows: [Int], cache: FitCache?, task: ForestHeader.Task, comm: any Communicator) throws -> ForestModel {
        try data.refuseSparse(for: task == .classification ? "a random forest classifier" : "a random forest regressor")
        guard let cache, comm.size == 1, !oobScore else { return try fitWhole(data.rows(rows), task: task, comm: comm) }
        return try fit(TrainingShard(data, rows: rows, maxBins: tree.maxBins, cache: cache), task: task, comm: comm)
    }

    /// Collective. Every rank holds the same rows: each grows its share of the trees on all of
    /// them and the trees are allgathered, so the forest equals the one-rank fit tree for tree.
    func fitReplicated(_ data: Dataset<Double>, task: ForestHeader.Task, comm: any Communicator) throws -> ForestModel {
        // A global forest on replicated rows is the one-rank global forest, grown by each rank.
        guard comm.size > 1, !oobScore, mode == .local else { return try fitWhole(data, task: task, comm: LocalCommunicator.solo()) }
        return try fit(TrainingShard(data), task: task, comm: comm, replicated: true).allgathered(comm)
    }

    /// Collective. `shard`'s forest, with its dataset's names (class names, target, source).
    private func fit(_ shard: consuming TrainingShard, task: ForestHeader.Task, comm: any Communicator, replicated: Bool = false) throws -> ForestModel {
        // The names only: a copy of the dataset would keep the features the fit frees.
        let classNames = shard.dataset.classNames, target = shard.dataset.targetName, source = shard.dataset.source
        return try ForestTrainer.fit(shard, task: task, parameters: self, comm: comm, classNames: task == .classification ? classNames : nil,
                                     target: target, dataDescription: source, keepTrees: true, progress: nil, replicated: replicated)
    }

    /// A relative fit cost: trees × rows × a depth factor (log2 of the rows, capped by `max_depth`).
    func expectedCost(rows: Int) -> Double {
        let n = Double(max(rows, 2))
        let depth = min(Double(tree.maxDepth ?? 64), log2(n))
        return Double(nEstimators) * n * max(1, depth)
    }

    /// Decodes scikit-learn's flat parameters; missing ones take the defaults.
    init(flat decoder: Decoder, classification: Bool) throws {
        let c = try decoder.container(keyedBy: FlatForestKey.self)
        var p: RandomForestParameters = classification ? .classifier() : .regressor()
        if !classification, c.contains(.classWeight), try !c.decodeNil(forKey: .classWeight) {
            throw MPILearnError.invalidParameter(name: "class_weight", value: "\(try c.decode(ParameterValue.self, forKey: .classWeight))",
                                                 allowed: "none for a regressor")
        }
        func value(_ k: FlatForestKey) throws -> ParameterValue? {
            guard c.contains(k) else { return nil }
            return try c.decode(ParameterValue.self, forKey: k)
        }
        func int(_ k: FlatForestKey, optional: Bool = false) throws -> Int?? {
            guard let v = try value(k) else { return nil }
            switch v {
            case .int(let i): return .some(i)
            case .double(let d) where d == d.rounded() && abs(d) < 1e15: return .some(Int(d))
            case .none where optional: return .some(nil)
            default:
                throw MPILearnError.invalidParameter(name: k.rawValue, value: v.description, allowed: optional ? "an integer or none" : "an integer")
            }
        }
        func bool(_ k: FlatForestKey) throws -> Bool? {
            guard let v = try value(k) else { return nil }
            guard case .bool(let b) = v else { throw MPILearnError.invalidParameter(name: k.rawValue, value: v.description, allowed: "true or false") }
            return b
        }
        if let v = try int(.nEstimators) { p.nEstimators = v! }
        if let v = try value(.criterion) {
            guard case .string(let s) = v, let cr = Criterion(rawValue: s) else {
                throw MPILearnError.invalidParameter(name: "criterion", value: v.description,
                                                     allowed: classification ? "gini or entropy" : "squared_error")
            }
            p.tree.criterion = cr
        }
        if let v = try int(.maxDepth, optional: true) { p.tree.maxDepth = v }
        if let v = try int(.minSamplesSplit) { p.tree.minSamplesSplit = v! }
        if let v = try int(.minSamplesLeaf) { p.tree.minSamplesLeaf = v! }
        if let v = try value(.minImpurityDecrease) {
            guard let d = v.number else { throw MPILearnError.invalidParameter(name: "min_impurity_decrease", value: v.description, allowed: "a number >= 0") }
            p.tree.minImpurityDecrease = d
        }
        if let v = try value(.maxFeatures) {
            switch v {
            case .none: p.tree.maxFeatures = .all
            case .int(let i): p.tree.maxFeatures = .count(i)
            case .double(let d): p.tree.maxFeatures = d == 1 ? .all : .fraction(d)
            case .string(let s): p.tree.maxFeatures = try MaxFeatures(parsing: s)
            case .bool: throw MPILearnError.invalidParameter(name: "max_features", value: v.description, allowed: "sqrt, log2, none, a fraction in (0, 1] or a count >= 1")
            }
        }
        if let v = try int(.maxLeafNodes, optional: true) { p.tree.maxLeafNodes = v }
        if let v = try int(.maxBins) { p.tree.maxBins = v! }
        if let v = try bool(.bootstrap) { p.bootstrap = v }
        if let v = try value(.maxSamples) {
            switch v {
            case .none: p.maxSamples = nil
            case .int(let i): p.maxSamples = .count(i)
            case .double(let d): p.maxSamples = .fraction(d)
            default: throw MPILearnError.invalidParameter(name: "max_samples", value: v.description, allowed: "none, a fraction in (0, 1] or a row count >= 1")
            }
        }
        if classification, let v = try value(.classWeight) {
            switch v {
            case .none: p.classWeight = nil
            case .string(let s) where ClassWeight(rawValue: s) != nil: p.classWeight = ClassWeight(rawValue: s)
            default: throw MPILearnError.invalidParameter(name: "class_weight", value: v.description, allowed: "none, balanced or balanced_subsample")
            }
        }
        if let v = try bool(.oobScore) { p.oobScore = v }
        if let v = try int(.randomState) {
            guard v! >= 0 else { throw MPILearnError.invalidParameter(name: "random_state", value: "\(v!)", allowed: "an integer >= 0") }
            p.randomState = UInt64(v!)
        }
        if let v = try int(.nJobs) { p.threads = v! }
        if let v = try value(.mode) {
            guard case .string(let s) = v, let m = ForestMode(rawValue: s) else {
                throw MPILearnError.invalidParameter(name: "mode", value: v.description, allowed: "local or global")
            }
            p.mode = m
        }
        self = p
    }

    /// Encodes scikit-learn's flat parameters, every one (unset ones as null).
    func encodeFlat(to encoder: Encoder, classification: Bool) throws {
        var c = encoder.container(keyedBy: FlatForestKey.self)
        try c.encode(nEstimators, forKey: .nEstimators)
        try c.encode(tree.criterion.rawValue, forKey: .criterion)
        try c.encode(tree.maxDepth, forKey: .maxDepth)
        try c.encode(tree.minSamplesSplit, forKey: .minSamplesSplit)
        try c.encode(tree.minSamplesLeaf, forKey: .minSamplesLeaf)
        try c.encode(tree.minImpurityDecrease, forKey: .minImpurityDecrease)
        switch tree.maxFeatures {
        case .all: try c.encodeNil(forKey: .maxFeatures)
        case .sqrt: try c.encode("sqrt", forKey: .maxFeatures)
        case .log2: try c.encode("log2", forKey: .maxFeatures)
        case .count(let n): try c.encode(n, forKey: .maxFeatures)
        case .fraction(let f): try c.encode(f, forKey: .maxFeatures)
        }
        try c.encode(tree.maxLeafNodes, forKey: .maxLeafNodes)
        try c.encode(tree.maxBins, forKey: .maxBins)
        try c.encode(bootstrap, forKey: .bootstrap)
        switch maxSamples {
        case nil: try c.encodeNil(forKey: .maxSamples)
        case .count(let n)?: try c.encode(n, forKey: .maxSamples)
        case .fraction(let f)?: try c.encode(f, forKey: .maxSamples)
        }
        if classification { try c.encode(classWeight?.rawValue, forKey: .classWeight) }
        try c.encode(oobScore, forKey: .oobScore)
        try c.encode(randomState, forKey: .randomState)
        try c.encode(threads, forKey: .nJobs)
        try c.encode(mode.rawValue, forKey: .mode)
    }
}

// MARK: - fitted models

/// A fitted random forest classifier: the whole forest (from ``RandomForestClassifier/fit(_:comm:)``
/// or a model file), or one rank's part of it (from `fitLocal`), which only votes across ranks.
public struct RandomForestClassifierModel: ClassifierModel {
    public var forest: ForestModel

    public init(forest: ForestModel) { self.forest = forest }

    public static let kind = ForestModel.classifierKind
    public var classes: [String] { forest.header.classes }
    public var featureNames: [String] { forest.header.featureNames }
    public var featureImportances: [Double] { forest.header.featureImportances }
    public var oobScore: Double? { forest.header.oobScore }

    public func container() throws -> ModelContainer { try forest.container() }

    public static func decode(_ container: ModelContainer, path: String) throws -> RandomForestClassifierModel {
        let f = try ForestModel.decode(container, path: path)
        guard f.header.task == .classification else {
            throw MPILearnError.dataError(SourceLocation(file: path), "\(path) is a random forest regressor, not a classifier")
        }
        return RandomForestClassifierModel(forest: f)
    }

    public func summary() -> [(String, String)] { forest.summary() }

    /// Collective. The ranks' votes for every row of `x`, which every rank holds in full
    /// (the broadcast-test-set path): each rank adds up its own trees' votes (class
    /// fractions for soft voting, one vote per tree for hard voting), then one allreduce of
    /// the `rows × classes` sums gives every rank the exact votes of the whole forest. The
    /// message size depends on rows and classes, not on trees or ranks.
    /// - Returns: per row and class, summed fractions (soft) or tree counts (hard).
    public func votes(_ x: Matrix<Double>, comm: any Communicator, voting: Voting = .soft, threads: Int = 1) throws -> [Double] {
        var v = try forest.sumOutputs(x, hard: voting == .hard, threads: threads)
        try comm.allreduce(&v, op: .sum)
        return v
    }

    /// Class probabilities, rows × classes: the mean of the trees' class fractions.
    /// - Throws: ``MPILearnError/mismatch`` for a part of a forest (use ``votes(_:comm:voting:threads:)``).
    public func predictProba(_ x: Matrix<Double>) throws -> Matrix<Double> { try predictProba(x, threads: forest.header.parameters.threads) }

    /// Class probabilities on `threads` threads.
    public func predictProba(_ x: Matrix<Double>, threads: Int) throws -> Matrix<Double> {
        try forest.requireComplete("predict")
        let n = Double(max(1, forest.treeCount))
        return Matrix(rows: x.rows, columns: classes.count, storage: try forest.sumOutputs(x, threads: threads).map { $0 / n })
    }

    /// Predicted class codes (indices into ``classes``), soft voting.
    public func predict(_ x: Matrix<Double>) throws -> [Int] { try predict(x, voting: .soft, threads: forest.header.parameters.threads) }

    /// Predicted class codes with the given voting rule.
    public func predict(_ x: Matrix<Double>, voting: Voting, threads: Int = 1) throws -> [Int] {
        try forest.requireComplete("predict")
        return argmaxRows(try forest.sumOutputs(x, hard: voting == .hard, threads: threads), classes: forest.header.outputs)
    }
}

/// A fitted random forest regressor (whole, or one rank's part from `fitLocal`).
public struct RandomForestRegressorModel: RegressorModel {
    public var forest: ForestModel

    public init(forest: ForestModel) { self.forest = forest }

    public static let kind = ForestModel.regressorKind
    public var featureNames: [String] { forest.header.featureNames }
    public var featureImportances: [Double] { forest.header.featureImportances }
    public var oobScore: Double? { forest.header.oobScore }

    public func container() throws -> ModelContainer { try forest.container() }

    public static func decode(_ container: ModelContainer, path: String) throws -> RandomForestRegressorModel {
        let f = try ForestModel.decode(container, path: path)
        guard f.header.task == .regression else {
            throw MPILearnError.dataError(SourceLocation(file: path), "\(path) is a random forest classifier, not a regressor")
        }
        return RandomForestRegressorModel(forest: f)
    }

    public func summary() -> [(String, String)] { forest.summary() }

    /// Collective. The whole forest's mean prediction for every row of `x` (held in full
    /// by every rank): an allreduce of the ranks' per-row sums, divided by `n_estimators`.
    public func predict(_ x: Matrix<Double>, comm: any Communicator, threads: Int = 1) throws -> [Double] {
        var v = try forest.sumOutputs(x, threads: threads)
        try comm.allreduce(&v, op: .sum)
        let n = Double(forest.header.nEstimators)
        return v.map { $0 / n }
    }

    /// The mean prediction of the trees.
    /// - Throws: ``MPILearnError/mismatch`` for a part of a forest (use ``predict(_:comm:threads:)``).
    public func predict(_ x: Matrix<Double>) throws -> [Double] { try predict(x, threads: forest.header.parameters.threads) }

    /// The mean prediction of the trees, on `threads` threads.
    public func predict(_ x: Matrix<Double>, threads: Int) throws -> [Double] {
        try forest.requireComplete("predict")
        let n = Double(max(1, forest.treeCount))
        return try forest.sumOutputs(x, threads: threads).map { $0 / n }
    }
}

extension ForestModel {
    /// The forest of its first `count` trees (global indices 0..<count), whole.
    /// - Throws: ``MPILearnError/mismatch`` unless this is a whole forest of at least `count` full trees.
    func firstTrees(_ count: Int) throws -> ForestModel {
        try requireComplete("truncate the forest")
        try requireFullTrees("truncate the forest")
        guard count >= 1, count <= trees.count, treeIndices == Array(0 ..< trees.count) else {
            throw MPILearnError.mismatch("cannot cut \(count) trees from a forest of \(trees.count)")
        }
        var m = ForestModel(header: header, trees: Array(trees.prefix(count)), treeIndices: Array(0 ..< count))
        m.header.nEstimators = count
        m.header.parameters.nEstimators = count
        if header.provenance.ranks == 1 { m.header.provenance.treesPerRank = [count] }
        m.bins = bins
        return m
    }

    /// Throws unless every tree is here: a rank's part of a forest must not predict alone.
    func requireComplete(_ action: String) throws {
        guard isComplete else {
            throw MPILearnError.mismatch("cannot \(action) with \(treeCount) of the forest's \(header.nEstimators) trees (one rank's part after fitLocal); "
                + "combine the ranks' votes (votes(_:comm:)) or assemble the forest (allgathered(_:)) first")
        }
    }

    /// `model inspect`'s lines for a forest.
    func summary() -> [(String, String)] {
        let h = header, p = h.parameters
        let depths = trees.map(\.depth), leaves = trees.map(\.leafCount)
        func stats(_ v: [Int]) -> String {
            String(format: "min %d, mean %.1f, max %d", v.min() ?? 0, v.isEmpty ? 0 : Double(v.reduce(0, +)) / Double(v.count), v.max() ?? 0)
        }
        var lines: [(String, String)] = [
            ("trees", "\(trees.count) (\(trees.reduce(0) { $0 + $1.nodeCount }) nodes)"),
            ("depth", stats(depths)),
            ("leaves", stats(leaves)),
            ("target", h.target + (h.task == .classification ? "   classes: \(listPreview(h.classes))" : "")),
            ("parameters", "n_estimators=\(p.nEstimators) criterion=\(p.tree.criterion.rawValue) max_depth=\(p.tree.maxDepth.map(String.init) ?? "none") "
                + "min_samples_split=\(p.tree.minSamplesSplit) min_samples_leaf=\(p.tree.minSamplesLeaf) max_features=\(p.tree.maxFeatures) "
                + "max_leaf_nodes=\(p.tree.maxLeafNodes.map(String.init) ?? "none") max_bins=\(p.tree.maxBins) bootstrap=\(p.bootstrap) "
                + "max_samples=\(p.maxSamples?.description ?? "none") class_weight=\(p.classWeight?.rawValue ?? "none") random_state=\(p.randomState)"),
        ]
        if let o = h.oobScore { lines.append(("oob score", String(format: "%.4f", o))) }
        let pr = h.provenance
        lines.append(("trained", "\(pr.date) on \(pr.ranks) rank(s), \(pr.trainRows) rows from \(pr.data) (MPILearn \(pr.mpilearn))"))
        return lines
    }
}
