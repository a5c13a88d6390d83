import Foundation
import SwiftMPI

// scikit-learn's CalibratedClassifierCV: a wrapper estimator that fits any classifier on
// cross-validation folds and maps its held-out outputs to calibrated probabilities (Platt's
// sigmoid or isotonic regression, one-vs-rest for several classes). Like Pipeline it is an
// `Estimator` itself, its wrapped estimator's parameters named `estimator__param`, and its
// fitted model is one file that embeds the wrapped models' own containers.

/// How held-out classifier outputs become probabilities (scikit-learn's `method`).
public enum CalibrationMethod: String, Codable, Sendable, CaseIterable {
    /// Platt's sigmoid, 1 / (1 + exp(a·f + b)) (``SigmoidCalibration``).
    case sigmoid
    /// A non-decreasing piecewise-linear map (``IsotonicCalibration``); needs more rows than
    /// the sigmoid not to overfit.
    case isotonic
}

/// Which output of the wrapped classifier the calibrators read: its `decision_function` when
/// the model has one (``DecisionFunctionModel``), else its probabilities, as scikit-learn.
public enum CalibrationResponse: String, Codable, Sendable {
    /// ``DecisionFunctionModel/decisionFunction(_:)``.
    case decisionFunction = "decision_function"
    /// ``ClassifierModel/predictProba(_:)`` (the second class's column for two classes).
    case predictProba = "predict_proba"

    /// The output models of type `M` give.
    public static func of<M: ClassifierModel>(_: M.Type) -> CalibrationResponse {
        M.self is any DecisionFunctionModel.Type ? .decisionFunction : .predictProba
    }

    /// Local. The values the calibrators read: the decision function (rows × 1 for two
    /// classes, rows × classes otherwise), or the probabilities, of which only the second
    /// class's column for two classes.
    public static func values<M: ClassifierModel>(_ model: M, _ x: Matrix<Double>) throws -> Matrix<Double> {
        if let d = model as? any DecisionFunctionModel { return try d.decisionFunction(x) }
        let p = try model.predictProba(x)
        guard p.columns == 2 else { return p }
        return Matrix(rows: p.rows, columns: 1, storage: (0 ..< p.rows).map { p[$0, 1] })
    }
}

/// scikit-learn's `CalibratedClassifierCV`: probability calibration of any classifier by
/// cross-validation.
///
/// ```swift
/// let calibrated = CalibratedClassifierCV(estimator: RandomForestClassifier(), method: .isotonic, cv: 5)
/// let model = try calibrated.fit(data, comm: comm)      // a CalibratedModel<RandomForestClassifierModel>
/// let p = try model.predictProba(x)
/// ```
///
/// The rows are split by ``StratifiedKFold`` (`cv` folds, no shuffling: scikit-learn's folds).
/// On each fold the wrapped estimator is fitted on the training rows and its outputs on the
/// held-out rows (``CalibrationResponse``: the decision function when the model has one, else
/// the probabilities) train one calibrator per class (one for two classes: the second class's),
/// each on whether a row is of its class.
///
/// - `ensemble` true (the default): every fold's model and its calibrators are kept;
///   `predictProba` averages their calibrated probabilities.
/// - `ensemble` false: the held-out outputs of every fold together (scikit-learn's
///   `cross_val_predict`) train the calibrators, and the estimator is refitted on all rows.
///
/// A model's calibrated probabilities are normalised as scikit-learn's: for two classes the
/// first is one minus the second; otherwise each row is divided by its sum (a row of zeros
/// becomes uniform). `predict` is the most probable class (the lower among equals).
///
/// Parameters are scikit-learn's names, `method`, `cv`, `ensemble`, and the wrapped
/// estimator's as `estimator__NAME` (`estimator__C`), so ``Estimator/setting(_:)`` and search
/// grids reach it; `estimator` names the wrapped estimator (it cannot be changed by setting).
///
/// Fitting is collective: the rows are gathered on every rank (in global row order), fold f is
/// fitted on rank f % size with a one-rank communicator, and the fitted models and
/// calibrators are shared as model-file bytes, so the model is identical on every rank and for
/// any number of ranks. Unlike scikit-learn, `cv` is only a number of stratified folds (no
/// splitter object or prefit estimator), `method` has no `temperature`, and there are no
/// sample weights.
public struct CalibratedClassifierCV<Base: Estimator>: Estimator where Base.Model: ClassifierModel {
    public typealias Model = CalibratedModel<Base.Model>
    public static var estimatorName: String { "calibrated-classifier-cv" }
    public static var role: EstimatorRole { .classifier }

    /// The classifier to calibrate (scikit-learn's `estimator`).
    public var estimator: Base
    /// Sigmoid or isotonic calibration (`method`).
    public var method: CalibrationMethod
    /// The number of stratified folds, ≥ 2 (`cv`); every class needs at least this many rows.
    public var cv: Int
    /// Keep every fold's model (true) or refit one on all rows (false) (`ensemble`).
    public var ensemble: Bool

    public init(estimator: Base, method: CalibrationMethod = .sigmoid, cv: Int = 5, ensemble: Bool = true) {
        self.estimator = estimator
        self.method = method
        self.cv = cv
        self.ensemble = ensemble
    }

    public func validate() throws {
        try require(cv >= 2, "cv", cv, "an integer >= 2 (the number of stratified folds)")
        do { try estimator.validate() } catch let e as MPILearnError {
            throw Pipeline<Base>.named(e, step: "estimator", keys: Set((try? estimator.parameterNames()) ?? []))
        }
    }

    /// The wrapped estimator's cost, once per fold and once more for the refit when
    /// `ensemble` is false.
    public func expectedCost(rows: Int) -> Double {
        let train = rows - rows / max(cv, 1)
        return Double(cv) * estimator.expectedCost(rows: train) + (ensemble ? 0 : estimator.expectedCost(rows: rows))
    }

    // MARK: coding: method, cv, ensemble, estimator and `estimator__param` scalars

    typealias Key = NamedCodingKey

    static var prefix: String { "estimator__" }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(method.rawValue, forKey: Key("method"))
        try c.encode(cv, forKey: Key("cv"))
        try c.encode(ensemble, forKey: Key("ensemble"))
        try c.encode(Base.estimatorName, forKey: Key("estimator"))
        for (name, value) in try estimator.parameters() { try c.encode(value, forKey: Key(Self.prefix + name)) }
    }

    /// Decodes the parameters; `method`, `cv` and `ensemble` default to scikit-learn's
    /// (sigmoid, 5, true), the wrapped estimator needs every one of its parameters.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let methodName = try c.decodeIfPresent(String.self, forKey: Key("method")) ?? CalibrationMethod.sigmoid.rawValue
        guard let m = CalibrationMethod(rawValue: methodName) else {
            throw MPILearnError.invalidParameter(name: "method", value: "'\(methodName)'",
                                                 allowed: "'sigmoid' or 'isotonic' (scikit-learn's 'temperature' is not implemented)")
        }
        method = m
        cv = try c.decodeIfPresent(Int.self, forKey: Key("cv")) ?? 5
        ensemble = try c.decodeIfPresent(Bool.self, forKey: Key("ensemble")) ?? true
        if let name = try c.decodeIfPresent(String.self, forKey: Key("estimator")), name != Base.estimatorName {
            throw MPILearnError.invalidParameter(name: "estimator", value: "'\(name)'",
                                                 allowed: "'\(Base.estimatorName)': the wrapped estimator's type is fixed; calibrate another estimator with a CalibratedClassifierCV of it")
        }
        var inner: [String: ParameterValue] = [:]
        for key in c.allKeys where !["method", "cv", "ensemble", "estimator"].contains(key.stringValue) {
            guard key.stringValue.hasPrefix(Self.prefix) else {
                throw MPILearnError.unknownParameter(name: key.stringValue, estimator: Self.estimatorName,
                                                     valid: ["cv", "ensemble", "estimator", "method", "\(Self.prefix)… (the \(Base.estimatorName)'s parameters)"])
            }
            inner[String(key.stringValue.dropFirst(Self.prefix.count))] = try c.decode(ParameterValue.self, forKey: key)
        }
        do {
            estimator = try ModelJSON.decoder.decode(Base.self, from: ModelJSON.encoder.encode(inner))
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            let key = context.codingPath.first?.stringValue ?? "?"
            throw MPILearnError.invalidParameter(name: Self.prefix + key, value: inner[key]?.description ?? "none",
                                                 allowed: "a value of type \(ParameterValue.typeName(type))")
        } catch let DecodingError.keyNotFound(key, _) {
            throw MPILearnError.invalidParameter(name: Self.prefix + key.stringValue, value: "none",
                                                 allowed: "a value: every parameter of the wrapped \(Base.estimatorName) must be given")
        } catch let DecodingError.dataCorrupted(context) {
            let key = context.codingPath.first?.stringValue ?? "?"
            throw MPILearnError.invalidParameter(name: Self.prefix + key, value: inner[key]?.description ?? "?", allowed: context.debugDescription)
        } catch let e as MPILearnError {
            throw Pipeline<Base>.named(e, step: "estimator", keys: Set(inner.keys))
        }
    }

    // MARK: fit

    /// Collective. Gathers every rank's rows, then fits as ``fitReplicated(_:comm:)``.
    /// - Throws: ``MPILearnError/invalidParameter`` for bad parameters (the wrapped
    ///   estimator's named `estimator__NAME`); ``MPILearnError/dataError`` for a missing or
    ///   non-finite target, fewer than two classes, or a class with fewer rows than `cv`
    ///   (naming it); the wrapped estimator's errors.
    public func fit(_ data: Dataset<Double>, comm: any Communicator) throws -> Model {
        try validate()
        let all = try CalibrationRows.gathered(data, comm: comm, learner: Self.estimatorName)
        return try fitAll(all, comm: comm)
    }

    /// Collective. Every rank holds every row: the folds are shared out over the ranks (fold
    /// f on rank f % size, the refit of `ensemble` false on rank cv % size), each fitted with
    /// a one-rank communicator, and the results exchanged, so every rank returns the model
    /// one rank would.
    public func fitReplicated(_ data: Dataset<Double>, comm: any Communicator) throws -> Model {
        try validate()
        try data.refuseSparse(for: Self.estimatorName)
        var all = data
        all.makeDense()
        return try fitAll(all, comm: comm)
    }

    /// Collective. The fit on `all` (every row, dense, the same on every rank).
    func fitAll(_ all: Dataset<Double>, comm: any Communicator) throws -> Model {
        let labels = try CalibrationLabels(all, cv: cv, learner: Self.estimatorName)
        let folds = try StratifiedKFold(nSplits: cv).split(nSamples: all.rowCount, y: labels.codes)
        // Tasks 0 ..< cv are the folds; task cv (ensemble false) is the refit on all rows.
        let taskCount = cv + (ensemble ? 0 : 1)
        var mine: [CalibrationTask] = []
        for t in stride(from: comm.rank, to: taskCount, by: comm.size) {
            mine.append(run(task: t, folds: folds, all: all, labels: labels))
        }
        let tasks = try CalibrationTask.exchange(mine, count: taskCount, comm: comm)
        if let e = tasks.lazy.compactMap(\.error).first { throw e }

        func model(_ t: CalibrationTask) throws -> Base.Model {
            guard let bytes = t.model else { throw MPILearnError.mismatch("calibration task \(t.task) returned no model") }
            return try Base.Model.decode(ModelContainer.decode(bytes, path: "calibration fold \(t.task + 1)", expectedKinds: [Base.Model.kind]),
                                         path: "calibration fold \(t.task + 1)")
        }
        var pairs: [Model.Pair] = []
        if ensemble {
            for t in tasks { pairs.append(Model.Pair(estimator: try model(t), calibrators: t.calibrators ?? [])) }
        } else {
            // Every row's held-out output (cross_val_predict), then the calibrators on all of them.
            let width = tasks[0].predictions?.columns ?? 0
            var heldOut = Matrix<Double>(rows: all.rowCount, columns: width)
            for (f, fold) in folds.enumerated() {
                guard let p = tasks[f].predictions, p.columns == width, p.rows == fold.test.count else {
                    throw MPILearnError.mismatch("calibration fold \(f + 1) returned outputs of another shape than fold 1's (\(width) columns)")
                }
                for (r, i) in fold.test.enumerated() { for j in 0 ..< width { heldOut[i, j] = p[r, j] } }
            }
            let calibrators = try Calibrator.fit(method, outputs: heldOut, codes: labels.codes, classes: labels.names.count)
            pairs.append(Model.Pair(estimator: try model(tasks[cv]), calibrators: calibrators))
        }
        return Model(classes: labels.names, method: method, ensemble: ensemble, calibratedClassifiers: pairs,
                     specification: String(decoding: try ModelJSON.encoder.encode(self), as: UTF8.self))
    }

    /// Local. One task: fold t's fit and held-out outputs (and, with `ensemble`, its
    /// calibrators), or the refit on all rows. Errors are returned, not thrown, so every rank
    /// reaches the exchange and throws the same error.
    func run(task t: Int, folds: [Fold], all: Dataset<Double>, labels: CalibrationLabels) -> CalibrationTask {
        let solo = LocalCommunicator.solo()
        var out = CalibrationTask(task: t)
        do {
            if t == folds.count {
                let m = try fitted(all, labels: labels, what: "all rows", comm: solo)
                out.model = try m.container().encoded()
                return out
            }
            let fold = folds[t]
            let m = try fitted(all.rows(fold.train), labels: labels, what: "the training rows of fold \(t + 1)", comm: solo)
            let outputs = try CalibrationResponse.values(m, all.rows(fold.test).matrix)
            if let bad = outputs.storage.firstIndex(where: { !$0.isFinite }) {
                let row = all.globalRowStart + fold.test[bad / max(outputs.columns, 1)] + 1
                throw MPILearnError.dataError(SourceLocation(file: all.source.isEmpty ? "data" : all.source),
                    "row \(row): \(Base.estimatorName) fitted on fold \(t + 1) gives \(outputs.storage[bad]) as its \(CalibrationResponse.of(Base.Model.self).rawValue); calibration needs finite outputs")
            }
            if ensemble {
                out.model = try m.container().encoded()
                out.calibrators = try Calibrator.fit(method, outputs: outputs, codes: fold.test.map { labels.codes[$0] }, classes: labels.names.count)
            } else {
                out.predictions = outputs
            }
        } catch let e as MPILearnError {
            out.error = e
            // A data error on a fold's rows names the row by its place in the fold (or, for
            // a held-out row, only its output); the fit on all rows names it by its global row
            // and says what is wrong with it.
            if case .dataError = e, t < folds.count {
                do { _ = try estimator.fit(all, comm: solo) } catch let whole as MPILearnError {
                    out.error = whole.prefixed("\(Self.estimatorName): \(Base.estimatorName)")
                } catch {}
            }
        } catch {
            out.error = .mismatch("\(Self.estimatorName): \(Base.estimatorName) on fold \(t + 1) failed: \(error)")
        }
        return out
    }

    /// The wrapped estimator fitted on `data`, checked to know every class.
    func fitted(_ data: Dataset<Double>, labels: CalibrationLabels, what: String, comm: any Communicator) throws -> Base.Model {
        let m = try estimator.fit(data, comm: comm)
        guard m.classes == labels.names else {
            throw MPILearnError.mismatch("\(Base.estimatorName) fitted on \(what) has classes \(listPreview(m.classes)), not the data's \(listPreview(labels.names)); calibration needs every class in every training fold")
        }
        return m
    }
}

// MARK: - calibrators

/// One fitted calibrator: a map from one column of classifier outputs to the probability of
/// one class. Encodes as its parameters alone, `{"a", "b"}` or `{"X_thresholds",
/// "y_thresholds"}` (scikit-learn's attribute names).
public enum Calibrator: Codable, Equatable, Sendable {
    /// Platt's sigmoid.
    case sigmoid(SigmoidCalibration)
    /// Isotonic regression.
    case isotonic(IsotonicCalibration)

    /// The calibrated probability of one output.
    public func predict(_ v: Double) -> Double {
        switch self {
        case .sigmoid(let s): return s.predict(v)
        case .isotonic(let i): return i.predict(v)
        }
    }

    /// The method that fitted it.
    public var method: CalibrationMethod {
        switch self {
        case .sigmoid: return .sigmoid
        case .isotonic: return .isotonic
        }
    }

    enum Keys: String, CodingKey { case a }

    public init(from decoder: Decoder) throws {
        if try decoder.container(keyedBy: Keys.self).contains(.a) {
            self = .sigmoid(try SigmoidCalibration(from: decoder))
        } else {
            self = .isotonic(try IsotonicCalibration(from: decoder))
        }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .sigmoid(let s): try s.encode(to: encoder)
        case .isotonic(let i): try i.encode(to: encoder)
        }
    }

    /// Fits the calibrators of held-out outputs: one on column 0 for the second class when
    /// there are two classes, else one per class on its column (one-vs-rest).
    /// - Parameters:
    ///   - outputs: rows × 1 (two classes) or rows × classes.
    ///   - codes: each row's class, `0 ..< classes`.
    static func fit(_ method: CalibrationMethod, outputs: Matrix<Double>, codes: [Int], classes k: Int) throws -> [Calibrator] {
        let calibrated = k == 2 ? [1] : Array(0 ..< k)
        guard outputs.columns == calibrated.count, outputs.rows == codes.count else {
            throw MPILearnError.mismatch("calibration: the classifier gives \(outputs.columns) output column(s) for \(k) classes; expected \(calibrated.count)")
        }
        return try calibrated.enumerated().map { j, c in
            let column = (0 ..< outputs.rows).map { outputs[$0, j] }
            switch method {
            case .sigmoid: return .sigmoid(try SigmoidCalibration.fit(column, positive: codes.map { $0 == c }))
            case .isotonic: return .isotonic(try IsotonicCalibration.fit(column, codes.map { $0 == c ? 1 : 0 }))
            }
        }
    }
}

// MARK: - rows, labels and the exchange of fold results

/// Gathering every rank's rows for a fit that needs them all.
enum CalibrationRows {
    /// Collective. Every rank's rows, in global row order (ranks ordered by their
    /// `globalRowStart`), with dense features, on every rank.
    /// - Throws: ``MPILearnError/invalidParameter`` for sparse features,
    ///   ``MPILearnError/mismatch`` for no target or ranks with different feature counts.
    static func gathered(_ data: Dataset<Double>, comm: any Communicator, learner: String) throws -> Dataset<Double> {
        try data.refuseSparse(for: learner)
        guard let y = data.target, y.count == data.rowCount else {
            throw MPILearnError.mismatch("\(learner) needs a target: the data has \(data.target?.count ?? 0) target values for \(data.rowCount) rows")
        }
        var local = data
        local.makeDense()
        guard comm.size > 1 else { return local }
        let d = data.featureCount
        let widths = try comm.allgather(Int64(d))
        if let r = widths.firstIndex(where: { $0 != Int64(d) }) {
            throw MPILearnError.mismatch("\(learner): rank \(r) has \(widths[r]) features and rank \(comm.rank) has \(d); every rank must hold the same columns")
        }
        let starts = try comm.allgather(Int64(data.globalRowStart))
        let (values, _) = try comm.allgatherv(local.matrix.storage)
        let (targets, layout) = try comm.allgatherv(y)
        let order = (0 ..< comm.size).sorted { starts[$0] != starts[$1] ? starts[$0] < starts[$1] : $0 < $1 }
        var x: [Double], t: [Double]
        if order == Array(0 ..< comm.size) {
            (x, t) = (values, targets)
        } else {
            x = []
            t = []
            x.reserveCapacity(values.count)
            t.reserveCapacity(targets.count)
            for r in order {
                let rows = layout.range(of: r)
                x.append(contentsOf: values[rows.lowerBound * d ..< rows.upperBound * d])
                t.append(contentsOf: targets[rows])
            }
        }
        let n = t.count
        let first = order.first { layout.counts[$0] > 0 }.map { Int(starts[$0]) } ?? 0
        return Dataset(features: .dense(Matrix(rows: n, columns: d, storage: x)), target: t, featureNames: data.featureNames,
                       categories: data.categories, globalRowStart: first, globalRowCount: n, targetName: data.targetName,
                       classNames: data.classNames, source: data.source)
    }
}

/// The classes of every row's target: sorted values, their names, each row's class index.
struct CalibrationLabels {
    var values: [Double]
    var names: [String]
    var codes: [Int]

    /// - Throws: ``MPILearnError/dataError`` for a target that is not finite (naming the
    ///   row), fewer than two classes, or a class with fewer rows than `cv` (naming it).
    init(_ all: Dataset<Double>, cv: Int, learner: String) throws {
        let y = all.target ?? []
        let location = SourceLocation(file: all.source.isEmpty ? "data" : all.source)
        if let bad = y.firstIndex(where: { !$0.isFinite }) {
            throw MPILearnError.dataError(location, "row \(all.globalRowStart + bad + 1): the target \(all.targetName) is \(y[bad]); \(learner) needs a class for every row")
        }
        values = Array(Set(y)).sorted()
        names = values.map { all.labelName($0) }
        guard values.count >= 2 else {
            throw MPILearnError.dataError(location, "\(learner) needs rows of at least 2 classes; the target \(all.targetName) has \(values.count) (\(listPreview(names)))")
        }
        var index: [Double: Int] = [:]
        for (c, v) in values.enumerated() { index[v] = c }
        codes = y.map { index[$0]! }
        var counts = [Int](repeating: 0, count: values.count)
        for c in codes { counts[c] += 1 }
        // The least populated class (the first among equals) names the problem.
        let c = counts.indices.min { counts[$0] < counts[$1] }!
        if counts[c] < cv {
            throw MPILearnError.dataError(location,
                "class '\(names[c])' of \(all.targetName) has \(counts[c]) row\(counts[c] == 1 ? "" : "s"), fewer than the cv=\(cv) folds, so a fold would lack it "
                    + "(scikit-learn: \"Requesting \(cv)-fold cross-validation but provided less than \(cv) examples for at least one class\"); "
                    + "lower cv to at most \(counts[c]) or add rows of the class")
        }
    }
}

/// What one task sends the other ranks: a fitted model's container bytes, a fold's
/// calibrators or held-out outputs, or the error that stopped it.
struct CalibrationTask {
    var task: Int
    var model: Data?
    var calibrators: [Calibrator]?
    var predictions: Matrix<Double>?
    var error: MPILearnError?

    init(task: Int) { self.task = task }

    /// The JSON part of a task; model bytes and outputs travel as container sections.
    struct Record: Codable {
        var task: Int
        var calibrators: [Calibrator]?
        var predictionShape: [Int]?
        var error: SharedError?
    }

    /// Collective. Every rank's tasks on every rank, in task order: each rank's tasks as one
    /// model container (``ModelContainer``: a JSON header and byte sections, checksummed),
    /// exchanged with one allgatherv of bytes. Every rank, the fitting one included, then
    /// reads the same bytes, so every rank builds the same model.
    static func exchange(_ mine: [CalibrationTask], count: Int, comm: any Communicator) throws -> [CalibrationTask] {
        var sections: [(name: String, bytes: Data)] = []
        var records: [Record] = []
        for t in mine {
            records.append(Record(task: t.task, calibrators: t.calibrators, predictionShape: t.predictions.map { [$0.rows, $0.columns] },
                                  error: t.error.map(SharedError.init)))
            if let m = t.model { sections.append(("model.\(t.task)", m)) }
            if let p = t.predictions { sections.append(("predictions.\(t.task)", Data(flat: p.storage))) }
        }
        let bytes = ModelContainer(kind: "calibration-tasks", header: try ModelJSON.encoder.encode(records), sections: sections).encoded()
        let (all, layout) = try comm.allgatherv([UInt8](bytes))
        var tasks = [CalibrationTask?](repeating: nil, count: count)
        for r in 0 ..< comm.size {
            let path = "calibration tasks of rank \(r)"
            let c = try ModelContainer.decode(Data(all[layout.range(of: r)]), path: path, expectedKinds: ["calibration-tasks"])
            for rec in try ModelJSON.decoder.decode([Record].self, from: c.header) {
                guard rec.task >= 0 && rec.task < count else { throw MPILearnError.mismatch("\(path): task \(rec.task) is not one of 0 ..< \(count)") }
                var t = CalibrationTask(task: rec.task)
                t.calibrators = rec.calibrators
                t.error = rec.error?.error
                if let m = c.sections.first(where: { $0.name == "model.\(rec.task)" }) { t.model = Data(m.bytes) }
                if let shape = rec.predictionShape, shape.count == 2 {
                    let values = try c.section("predictions.\(rec.task)", in: path).flatArray(of: Double.self, path: path)
                    guard values.count == shape[0] * shape[1] else { throw MPILearnError.mismatch("\(path): task \(rec.task)'s outputs have \(values.count) values, not \(shape[0]) × \(shape[1])") }
                    t.predictions = Matrix(rows: shape[0], columns: shape[1], storage: values)
                }
                tasks[rec.task] = t
            }
        }
        return try tasks.enumerated().map { i, t in
            guard let t else { throw MPILearnError.mismatch("calibration task \(i) was run by no rank") }
            return t
        }
    }
}

/// An ``MPILearnError`` as it travels between ranks, so every rank throws the same error (and
/// the job ends with the same exit code).
struct SharedError: Codable {
    var kind: String
    var fields: [String]
    var list: [String]?
    var line: Int?
    var column: Int?

    init(_ e: MPILearnError) {
        switch e {
        case let .invalidParameter(name, value, allowed): (kind, fields) = ("invalidParameter", [name, value, allowed])
        case let .dataError(location, message):
            (kind, fields, line, column) = ("dataError", [location.file, message], location.line, location.column)
        case let .cannotRead(path, reason): (kind, fields) = ("cannotRead", [path, reason])
        case let .cannotWrite(path, reason): (kind, fields) = ("cannotWrite", [path, reason])
        case let .mismatch(message): (kind, fields) = ("mismatch", [message])
        case let .numerical(message): (kind, fields) = ("numerical", [message])
        case let .unknownParameter(name, estimator, valid): (kind, fields, list) = ("unknownParameter", [name, estimator], valid)
        }
    }

    var error: MPILearnError {
        func field(_ i: Int) -> String { i < fields.count ? fields[i] : "" }
        switch kind {
        case "invalidParameter": return .invalidParameter(name: field(0), value: field(1), allowed: field(2))
        case "dataError": return .dataError(SourceLocation(file: field(0), line: line, column: column), field(1))
        case "cannotRead": return .cannotRead(path: field(0), reason: field(1))
        case "cannotWrite": return .cannotWrite(path: field(0), reason: field(1))
        case "numerical": return .numerical(field(0))
        case "unknownParameter": return .unknownParameter(name: field(0), estimator: field(1), valid: list ?? [])
        default: return .mismatch(fields.joined(separator: ": "))
        }
    }
}

// MARK: - naming the wrapped estimator

/// An estimator whose models are classifiers, so a ``CalibratedClassifierCV`` can wrap it
/// when a workflow names it (``CalibratedEstimators/visit(base:task:_:)``).
public protocol CalibratableEstimator: Estimator {
    /// Visits a ``CalibratedClassifierCV`` wrapping this estimator, with default calibration
    /// parameters.
    func visitCalibrated<V: EstimatorVisitor>(_ visitor: V) throws -> V.Result
}

extension CalibratableEstimator where Model: ClassifierModel {
    public func visitCalibrated<V: EstimatorVisitor>(_ visitor: V) throws -> V.Result {
        try visitor.visit(CalibratedClassifierCV(estimator: self))
    }
}

extension RandomForestClassifier: CalibratableEstimator {}
extension SGDClassifier: CalibratableEstimator {}
extension LogisticRegression: CalibratableEstimator {}
extension SVC: CalibratableEstimator {}

/// ``CalibratedClassifierCV`` for workflows that name estimators (search, the CLI).
public enum CalibratedEstimators {
    /// Visits a ``CalibratedClassifierCV`` (default `method`, `cv` and `ensemble`) wrapping
    /// the classifier ``EstimatorRegistry`` calls `base`, with its default parameters.
    /// - Throws: ``MPILearnError/invalidParameter`` naming `estimator` when `base` is not an
    ///   estimator name or not a classifier.
    public static func visit<V: EstimatorVisitor>(base: String, task: String = "classification", _ visitor: V) throws -> V.Result {
        try EstimatorRegistry.visit(base, task: task, Opener(visitor: visitor))
    }

    struct Opener<V: EstimatorVisitor>: EstimatorVisitor {
        let visitor: V
        func visit<E: Estimator>(_ e: E) throws -> V.Result {
            guard let c = e as? any CalibratableEstimator else {
                throw MPILearnError.invalidParameter(name: "estimator", value: "'\(E.estimatorName)'",
                                                     allowed: "a classifier to calibrate: \(RandomForestClassifier.estimatorName), \(SGDClassifier.estimatorName), \(LogisticRegression.estimatorName) or \(SVC.estimatorName)")
            }
            return try c.visitCalibrated(visitor)
        }
    }
}
