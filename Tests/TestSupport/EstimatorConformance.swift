import Foundation
import MPILearn
import SwiftMPI
import XCTest

/// The shared estimator conformance suite (scikit-learn's `check_estimator`): every learner's
/// tests run it, so every ``Estimator`` keeps the same contract.
///
/// ``check(_:data:invalid:nanFeatures:modelDistance:checks:rankCounts:tolerance:file:line:)``
/// runs these checks; each failure is an `XCTFail` that names the estimator and the check:
///
/// 1. **parameters**: `setting(parameters())` encodes to the same bytes; an unknown name throws
///    ``MPILearnError/unknownParameter`` listing the valid names; a string given for a number
///    or boolean parameter throws naming that parameter; each `invalid` entry makes `setting`,
///    `validate()` or `fit` throw `invalidParameter` quoting the parameter and its value.
/// 2. **shapes**: one prediction per row; a classifier's probabilities are rows × classes,
///    sum to 1 and their argmax is `predict`; cluster labels lie in `0..<n_clusters`; a wrong
///    feature count throws ``MPILearnError/mismatch``; zero rows give zero predictions.
/// 3. **persistence**: save then load, through the type and through ``ModelRegistry``,
///    predicts bit-identically and re-encodes to the same bytes; the registry knows the kind;
///    `summary()` has lines.
/// 4. **rank invariance**: at each of `rankCounts` in-process ranks (``LocalWorld``) the
///    model's container is byte-identical on every rank. An estimator whose
///    `fitsShardedData` is true gives the same model (predictions and `modelDistance` within
///    `tolerance`) at every rank count; any other gives a bit-identical model on 1 and 2
///    threads (its `n_jobs` or `threads` parameter).
/// 5. **empty shards**: at 3 ranks, the middle one holding no rows, the fit succeeds, the
///    model is whole (it predicts and saves) and identical on every rank (and, for
///    `fitsShardedData`, equal to the 1-rank fit within `tolerance`).
/// 6. **NaN**: a NaN feature either fits and predicts (``NaNFeatures/missingValues``) or throws
///    ``MPILearnError/dataError`` naming its row and column (``NaNFeatures/dataError``), at 1
///    and 2 ranks; for a classifier or regressor a NaN target throws `dataError` naming its row.
///
/// The committed model files of ``writeFixture(_:data:rows:directory:)`` and
/// ``checkFixture(_:directory:file:line:)`` keep old files loading and predicting as recorded.
///
/// Set `SOURCE_DATE_EPOCH` in the calling test's `setUp` when a model records its fit date.
public enum EstimatorConformance {
    /// Makes the calling rank's shard of the data set: rank `r` of `p` gets its block of rows,
    /// with `globalRowStart` and `globalRowCount` set. With a one-rank communicator it returns
    /// the whole data set (the checks shard that themselves for empty shards and NaN).
    public typealias ShardMaker = (any Communicator) throws -> Dataset<Double>

    /// Out-of-range parameters: `params` are passed to `setting`, and `name` is the parameter
    /// the error must name (its value in `params` must be quoted too).
    public typealias InvalidParameters = [(params: [String: ParameterValue], name: String)]

    /// What an estimator documents for a NaN feature value.
    public enum NaNFeatures: Sendable {
        /// NaN is a missing value: the fit succeeds and rows with NaN predict.
        case missingValues
        /// The fit throws ``MPILearnError/dataError`` naming the row and column.
        case dataError
    }

    /// The checks, to run a subset.
    public enum Check: String, CaseIterable, Sendable {
        case parameters, shapes, persistence, rankInvariance = "rank invariance", emptyShards = "empty shards", nan = "NaN"
    }

    /// Runs the conformance checks on `estimator`.
    /// - Parameters:
    ///   - estimator: hyper-parameters that fit `data` quickly (a few trees, a few clusters).
    ///   - data: the shard maker (see ``ShardMaker``); the data needs at least 6 rows.
    ///   - invalid: out-of-range parameter sets, each with the parameter its error must name.
    ///   - nanFeatures: what the estimator documents for NaN features.
    ///   - modelDistance: for `fitsShardedData` estimators, the largest difference between two
    ///     fitted models (k-means: between centres), checked against `tolerance` across rank
    ///     counts; predictions are compared in any case.
    ///   - checks: which checks to run (all by default).
    ///   - rankCounts: the rank counts of the rank-invariance check.
    ///   - tolerance: allowed relative difference of fits at different rank counts.
    public static func check<E: Estimator>(
        _ estimator: E, data: @escaping ShardMaker, invalid: InvalidParameters, nanFeatures: NaNFeatures,
        modelDistance: ((E.Model, E.Model) -> Double)? = nil, checks: Set<Check> = Set(Check.allCases), rankCounts: [Int] = [1, 2, 3, 4],
        tolerance: Double = 1e-9, predictFollowsProba: Bool = true, file: StaticString = #filePath, line: UInt = #line
    ) {
        let whole: Dataset<Double>
        do { whole = try data(LocalCommunicator.solo()) } catch {
            return XCTFail("[\(E.estimatorName)] the data maker threw on one rank: \(error)", file: file, line: line)
        }
        guard whole.rowCount >= 6 else { return XCTFail("[\(E.estimatorName)] the conformance data needs at least 6 rows", file: file, line: line) }
        let s = Subject(estimator: estimator, data: data, whole: whole, modelDistance: modelDistance, tolerance: tolerance, file: file, line: line)
        s.predictFollowsProba = predictFollowsProba
        for c in Check.allCases where checks.contains(c) {
            s.current = c
            do {
                switch c {
                case .parameters: try s.checkParameters(invalid)
                case .shapes: try s.checkShapes()
                case .persistence: try s.checkPersistence()
                case .rankInvariance: try s.checkRankInvariance(rankCounts)
                case .emptyShards: try s.checkEmptyShards()
                case .nan: try s.checkNaN(nanFeatures)
                }
            } catch {
                s.fail("unexpected error: \(error)")
            }
        }
    }

    // MARK: committed fixtures

    /// A committed model's recorded predictions (`<kind>-predictions.json`).
    public struct RecordedPredictions: Codable, Equatable {
        public var kind: String
        public var rows: [[Double]]
        public var outputs: Outputs
    }

    /// The model file and recorded predictions of a kind in `directory`.
    public static func fixturePaths(kind: String, directory: URL) -> (model: URL, predictions: URL) {
        (directory.appendingPathComponent("\(kind).model"), directory.appendingPathComponent("\(kind)-predictions.json"))
    }

    /// The folder of the committed conformance fixtures, `Tests/Fixtures/conformance`.
    public static var fixtureDirectory: URL { MPIRun.packageRoot.appendingPathComponent("Tests/Fixtures/conformance") }

    /// Fits `estimator` on the whole data (one rank) and writes `<kind>.model` and
    /// `<kind>-predictions.json` (the model's outputs on `rows`) into `directory`.
    public static func writeFixture<E: Estimator>(_ estimator: E, data: ShardMaker, rows: Matrix<Double>, directory: URL = fixtureDirectory) throws {
        let solo = LocalCommunicator.solo()
        let model = try estimator.fit(try data(solo), comm: solo)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let paths = fixturePaths(kind: E.Model.kind, directory: directory)
        try model.save(to: paths.model.path)
        let rec = RecordedPredictions(kind: E.Model.kind, rows: (0 ..< rows.rows).map { Array(rows.row($0)) }, outputs: try outputs(model, rows))
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try e.encode(rec).write(to: paths.predictions)
    }

    /// Loads the committed `<kind>.model` (through the type and through ``ModelRegistry``) and
    /// checks it predicts exactly as recorded (a clusterer's score within 1e-9, relative: it
    /// goes through BLAS, whose summation order depends on the CPU).
    /// - Parameter tolerance: 0 (bit-identical) unless the model's arithmetic depends on the
    ///   CPU (an SVC's RBF kernel goes through glibc's vector exp on AVX2, within a few ulp).
    public static func checkFixture<M: FittedModel>(_ type: M.Type, directory: URL = fixtureDirectory, tolerance: Double = 0,
                                                    file: StaticString = #filePath, line: UInt = #line) {
        let paths = fixturePaths(kind: M.kind, directory: directory)
        do {
            let d = JSONDecoder()
            d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            let rec = try d.decode(RecordedPredictions.self, from: Data(contentsOf: paths.predictions))
            XCTAssertEqual(rec.kind, M.kind, "\(paths.predictions.path): recorded for another kind", file: file, line: line)
            let x = Matrix(rec.rows)
            let viaType = try M.load(from: paths.model.path)
            let any = try ModelRegistry.load(from: paths.model.path)
            guard let viaRegistry = any as? M else {
                return XCTFail("[\(M.kind)] fixture: ModelRegistry.load gave a \(Swift.type(of: any)), not a \(M.self)", file: file, line: line)
            }
            for (how, m) in [("\(M.self).load", viaType), ("ModelRegistry.load", viaRegistry)] {
                var got = try outputs(m, x), want = rec.outputs
                if let a = got.score, let b = want.score {
                    XCTAssertLessThanOrEqual(abs(a - b), 1e-9 * max(1, abs(b)), "[\(M.kind)] fixture via \(how): score \(a), recorded \(b)", file: file, line: line)
                    got.score = nil
                    want.score = nil
                }
                if let diff = got.firstDifference(from: want, tolerance: tolerance) {
                    XCTFail("[\(M.kind)] fixture \(paths.model.lastPathComponent) via \(how) no longer predicts as recorded: \(diff)", file: file, line: line)
                }
            }
        } catch {
            XCTFail("[\(M.kind)] fixture \(paths.model.path): \(error)", file: file, line: line)
        }
    }

    // MARK: outputs

    /// What a model predicts for some rows, by role: class codes and probabilities
    /// (classifier), values (regressor; a transformer's rows, flattened), cluster labels and
    /// score (clusterer).
    public struct Outputs: Codable, Equatable {
        public var labels: [Int]?
        public var values: [Double]?
        public var proba: [Double]?
        public var score: Double?

        /// The first difference from `other`, or nil: numbers within `tolerance` (relative to
        /// max(1, |value|)); with 0, bit-identical (NaN equals NaN).
        public func firstDifference(from other: Outputs, tolerance: Double) -> String? {
            if labels != other.labels {
                guard let a = labels, let b = other.labels, a.count == b.count else {
                    return "labels: \(labels.map { "\($0.count)" } ?? "none") against \(other.labels.map { "\($0.count)" } ?? "none") values"
                }
                let i = a.indices.first { a[$0] != b[$0] }!
                return "label of row \(i): \(a[i]) against \(b[i]) (\(zip(a, b).filter { $0 != $1 }.count) rows differ)"
            }
            for (what, a, b) in [("values", values, other.values), ("probabilities", proba, other.proba), ("score", score.map { [$0] }, other.score.map { [$0] })] {
                guard let a, let b else {
                    if (a == nil) != (b == nil) { return "\(what): present in one output only" }
                    continue
                }
                guard a.count == b.count else { return "\(what): \(a.count) against \(b.count) values" }
                for i in a.indices where !same(a[i], b[i], tolerance) {
                    return "\(what)[\(i)]: \(a[i]) against \(b[i]) (difference \(a[i] - b[i]))"
                }
            }
            return nil
        }
    }

    /// The model's outputs on `x`.
    public static func outputs(_ model: any FittedModel, _ x: Matrix<Double>) throws -> Outputs {
        var o = Outputs()
        switch model {
        case let m as any ClassifierModel:
            o.labels = try m.predict(x)
            o.proba = try m.predictProba(x).storage
        case let m as any RegressorModel:
            o.values = try m.predict(x)
        case let m as any ClustererModel:
            o.labels = try m.predict(x)
            o.score = try m.score(x)
        case let m as any TransformerModel:
            o.values = try m.transform(x).storage
        default:
            throw MPILearnError.mismatch("\(type(of: model)) has no role protocol (ClassifierModel, RegressorModel, ClustererModel, TransformerModel)")
        }
        return o
    }

    static func same(_ a: Double, _ b: Double, _ tolerance: Double) -> Bool {
        if a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) { return true }
        return tolerance > 0 && abs(a - b) <= tolerance * max(1, abs(a), abs(b))
    }

    /// Rows `range` of `whole` as one rank's shard of a data set of `globalRowCount` rows
    /// (default: all of `whole`'s), keyed by their global rows.
    public static func block(_ whole: Dataset<Double>, _ range: Range<Int>, globalRowCount: Int? = nil) -> Dataset<Double> {
        var d = whole.rows(Array(range))
        d.globalRowStart = range.lowerBound
        d.globalRowCount = globalRowCount ?? whole.rowCount
        return d
    }

    /// Fits on `size` in-process ranks, each with `shard(comm)`; every rank's model and its
    /// encoded container.
    public static func fitOnRanks<E: Estimator>(_ estimator: E, size: Int, _ shard: @escaping ShardMaker) throws -> [(model: E.Model, bytes: Data)] {
        try LocalWorld.run(size: size) { comm -> (model: E.Model, bytes: Data) in
            let m = try estimator.fit(try shard(comm), comm: comm)
            return (m, try m.container().encoded())
        }
    }
}

// MARK: - the checks

extension EstimatorConformance {
    /// One estimator under test; reports failures with its name and the current check.
    final class Subject<E: Estimator> {
        let estimator: E
        let data: ShardMaker
        let modelDistance: ((E.Model, E.Model) -> Double)?
        let tolerance: Double
        let file: StaticString
        let line: UInt
        var current = Check.parameters
        /// Whether `predict` is the argmax of `predictProba` (false for an SVC, whose Platt
        /// probabilities come from separate cross-validated fits, as in scikit-learn).
        var predictFollowsProba = true
        /// The whole data set (the shard maker's answer on one rank).
        let whole: Dataset<Double>
        let solo = LocalCommunicator.solo()

        init(estimator: E, data: @escaping ShardMaker, whole: Dataset<Double>, modelDistance: ((E.Model, E.Model) -> Double)?, tolerance: Double,
             file: StaticString, line: UInt) {
            self.estimator = estimator
            self.data = data
            self.whole = whole
            self.modelDistance = modelDistance
            self.tolerance = tolerance
            self.file = file
            self.line = line
        }

        func fail(_ message: String) {
            XCTFail("[\(E.estimatorName)] \(current.rawValue): \(message)", file: file, line: line)
        }

        func encoded(_ e: E) throws -> Data { try ModelJSON.encoder.encode(e) }

        /// Runs `body`, which must throw an ``MPILearnError``; returns it (nil after failing).
        func expectError(_ what: String, _ body: () throws -> Void) -> MPILearnError? {
            do {
                try body()
                fail("\(what) did not throw")
            } catch let e as MPILearnError {
                return e
            } catch {
                fail("\(what) threw \(type(of: error)) \(error), not an MPILearnError")
            }
            return nil
        }

        // 1. parameters

        func checkParameters(_ invalid: InvalidParameters) throws {
            try estimator.validate()
            let params = try estimator.parameters()
            if params.isEmpty { fail("parameters() is empty") }
            let again = try estimator.setting(params)
            if try encoded(again) != encoded(estimator) {
                fail("setting(parameters()) changed the estimator: \(String(decoding: try encoded(estimator), as: UTF8.self)) became \(String(decoding: try encoded(again), as: UTF8.self))")
            }
            if try again.parameters() != params { fail("parameters() after setting(parameters()) differ") }

            // An unknown name lists the valid ones.
            if let e = expectError("setting([\"no_such_param\": 1])", { _ = try estimator.setting(["no_such_param": 1]) }) {
                if case .unknownParameter(let name, _, _) = e, name == "no_such_param" {
                    let missing = params.keys.sorted().filter { !e.description.contains($0) }
                    if !missing.isEmpty { fail("the unknown-parameter message does not list \(missing): \(e.description)") }
                } else {
                    fail("setting an unknown parameter threw \(e), not unknownParameter naming no_such_param")
                }
            }

            // A string where a number or a boolean belongs names the parameter.
            for (name, value) in params.sorted(by: { $0.key < $1.key }) {
                switch value {
                case .int, .double, .bool: break
                default: continue
                }
                guard let e = expectError("setting([\"\(name)\": \"not-a-value\"]) (was \(value))", { _ = try estimator.setting([name: "not-a-value"]) }) else { continue }
                if case .invalidParameter(let n, _, _) = e, n == name { continue }
                fail("a string for \(name) threw \(e.description), which is not invalidParameter naming \(name)")
            }

            // Out-of-range values are refused by setting, validate or fit, quoting name and value.
            for (changes, name) in invalid {
                let bad = changes[name]
                let what = "\(pythonDict(changes))"
                guard let e = expectError("setting, validate() or fit with \(what)", {
                    let e = try estimator.setting(changes)
                    try e.validate()
                    _ = try e.fit(whole, comm: solo)
                }) else { continue }
                switch e {
                case .invalidParameter, .unknownParameter: break
                default: fail("\(what) threw \(e.description), not invalidParameter or unknownParameter"); continue
                }
                if !e.description.contains(name) { fail("the error for \(what) does not name \(name): \(e.description)") }
                if let bad, !Self.spellings(bad).contains(where: { e.description.contains($0) }) {
                    fail("the error for \(what) does not quote the value \(bad): \(e.description)")
                }
            }
        }

        /// How a message may spell a value.
        static func spellings(_ v: ParameterValue) -> [String] {
            switch v {
            case .int(let i): return [String(i)]
            case .double(let d): return [v.description, "\(d)", String(format: "%g", d)]
            case .bool(let b): return [v.description, "\(b)"]
            case .string(let s): return [s]
            case .none: return ["None", "none", "nil", "null"]
            }
        }

        // 2. shapes

        func checkShapes() throws {
            let model = try estimator.fit(whole, comm: solo)
            let x = whole.matrix
            let n = x.rows
            if model.featureNames != whole.featureNames { fail("featureNames \(model.featureNames), the data's are \(whole.featureNames)") }
            if E.Model.role != E.role { fail("the model's role \(E.Model.role) is not the estimator's \(E.role)") }
            let o = try outputs(model, x)
            switch model {
            case let m as any ClassifierModel:
                let k = m.classes.count
                if k < 2 { fail("\(k) classes: \(m.classes)") }
                if o.labels!.count != n { fail("predict gave \(o.labels!.count) values for \(n) rows") }
                if o.proba!.count != n * k { fail("predictProba gave \(o.proba!.count) values for \(n) rows × \(k) classes") }
                let p = try m.predictProba(x)
                if p.rows != n || p.columns != k { fail("predictProba is \(p.rows) × \(p.columns), not \(n) × \(k)") }
                for i in 0 ..< min(n, p.rows) {
                    let row = Array(p.row(i))
                    let sum = row.reduce(0, +)
                    if abs(sum - 1) > 1e-12 || row.contains(where: { !($0 >= 0 && $0 <= 1) }) {
                        fail("predictProba row \(i) is \(row) (sum \(sum)); expected probabilities summing to 1 ± 1e-12"); break
                    }
                    var best = 0
                    for c in 1 ..< row.count where row[c] > row[best] { best = c }
                    if predictFollowsProba && o.labels![i] != best { fail("predict gives \(o.labels![i]) for row \(i) but the argmax of predictProba \(row) is \(best)"); break }
                }
            case is any RegressorModel:
                if o.values!.count != n { fail("predict gave \(o.values!.count) values for \(n) rows") }
                if let i = o.values!.firstIndex(where: { !$0.isFinite }) { fail("prediction \(i) is \(o.values![i])") }
            case is any ClustererModel:
                let labels = o.labels!
                if labels.count != n { fail("predict gave \(labels.count) labels for \(n) rows") }
                let k: Int? = { if case .int(let k)? = try? estimator.parameters()["n_clusters"] { return k } else { return nil } }()
                if let bad = labels.first(where: { $0 < 0 || $0 >= (k ?? Int.max) }) { fail("label \(bad) is not in 0..<\(k.map(String.init) ?? "∞")") }
                if let s = o.score, !(s.isFinite && s <= 0) { fail("score \(s): expected the opposite of an inertia, finite and <= 0") }
            default:
                if let v = o.values, v.count % max(1, n) != 0 { fail("transform gave \(v.count) values for \(n) rows") }
            }
            // A wrong number of features is a mismatch, not a crash or a wrong answer.
            let wide = Matrix(rows: 2, columns: x.columns + 1, storage: [Double](repeating: 0.5, count: 2 * (x.columns + 1)))
            if let e = expectError("predicting rows with \(x.columns + 1) features (fitted on \(x.columns))", { _ = try outputs(model, wide) }) {
                if case .mismatch = e {} else { fail("a wrong feature count threw \(e.description), not mismatch") }
            }
            // Zero rows predict nothing.
            let none = try outputs(model, Matrix(rows: 0, columns: x.columns))
            if (none.labels?.count ?? 0) + (none.values?.count ?? 0) + (none.proba?.count ?? 0) != 0 { fail("zero rows gave predictions: \(none)") }
        }

        // 3. persistence

        func checkPersistence() throws {
            let model = try estimator.fit(whole, comm: solo)
            let x = whole.matrix
            let want = try outputs(model, x)
            let bytes = try model.container().encoded()
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("conformance-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let path = dir.appendingPathComponent("model.\(E.Model.kind)").path
            try model.save(to: path)
            if let onDisk = FileManager.default.contents(atPath: path), onDisk != bytes { fail("the saved file is not container().encoded()") }

            if !ModelRegistry.kinds.contains(E.Model.kind) { fail("ModelRegistry does not know the kind \(E.Model.kind) (kinds: \(ModelRegistry.kinds))") }
            if let t = ModelRegistry.type(of: E.Model.kind), ObjectIdentifier(t) != ObjectIdentifier(E.Model.self) { fail("ModelRegistry maps \(E.Model.kind) to \(t), not \(E.Model.self)") }

            var loaded: [(String, E.Model)] = [("\(E.Model.self).load", try E.Model.load(from: path))]
            let any = try ModelRegistry.load(from: path)
            if let m = any as? E.Model { loaded.append(("ModelRegistry.load", m)) } else { fail("ModelRegistry.load gave a \(type(of: any)), not a \(E.Model.self)") }
            for (how, m) in loaded {
                if let d = try outputs(m, x).firstDifference(from: want, tolerance: 0) { fail("after save and \(how) the predictions differ: \(d)") }
                if try m.container().encoded() != bytes { fail("after save and \(how) container().encoded() is not byte-identical") }
                if m.featureNames != model.featureNames { fail("after \(how) featureNames are \(m.featureNames), not \(model.featureNames)") }
            }
            let summary = model.summary()
            if summary.isEmpty || summary.contains(where: { $0.0.isEmpty || $0.1.isEmpty }) { fail("summary() is empty or has an empty line: \(summary)") }
        }

        // 4. rank invariance

        /// Checks every rank holds the same model; returns rank 0's.
        @discardableResult
        func identicalOnRanks(_ fits: [(model: E.Model, bytes: Data)], _ what: String) -> E.Model? {
            for r in fits.indices.dropFirst() where fits[r].bytes != fits[0].bytes {
                fail("\(what): rank \(r)'s model differs from rank 0's (container bytes; \(firstDifference(fits[0].bytes, fits[r].bytes)))")
                break
            }
            return fits.first?.model
        }

        /// Where two containers first differ (header text or section name).
        func firstDifference(_ a: Data, _ b: Data) -> String {
            guard let ca = try? ModelContainer.decode(a, path: "a"), let cb = try? ModelContainer.decode(b, path: "b") else { return "undecodable" }
            if ca.header != cb.header {
                let ha = Array(String(decoding: ca.header, as: UTF8.self)), hb = Array(String(decoding: cb.header, as: UTF8.self))
                let i = (0 ..< min(ha.count, hb.count)).first { ha[$0] != hb[$0] } ?? min(ha.count, hb.count)
                let around = { (h: [Character]) in String(h[max(0, i - 40) ..< min(h.count, i + 40)]) }
                return "headers differ at character \(i): …\(around(ha))… against …\(around(hb))…"
            }
            for (sa, sb) in zip(ca.sections, cb.sections) where sa != sb { return "section \(sa.name)" }
            return "section list"
        }

        /// Compares two fits of a data-parallel estimator within the tolerance.
        func compareSharded(_ a: E.Model, _ b: E.Model, _ what: String) throws {
            if let d = try outputs(b, whole.matrix).firstDifference(from: try outputs(a, whole.matrix), tolerance: tolerance) {
                fail("\(what): predictions differ from the 1-rank fit: \(d)")
            }
            if let dist = modelDistance?(a, b), !(dist <= tolerance) { fail("\(what): models differ from the 1-rank fit by \(dist) (tolerance \(tolerance))") }
        }

        func checkRankInvariance(_ rankCounts: [Int]) throws {
            var first: E.Model?
            for p in rankCounts {
                guard let m = identicalOnRanks(try fitOnRanks(estimator, size: p, data), "\(p) ranks") else { continue }
                if E.fitsShardedData {
                    if let first { try compareSharded(first, m, "\(p) ranks") } else { first = m }
                }
            }
            if E.fitsShardedData { return }
            // A fit that depends on the sharding must not depend on the thread count.
            let params = try estimator.parameters()
            guard let knob = ["n_jobs", "threads"].first(where: { params[$0] != nil }) else { return }
            let fits = try [1, 2].map { t -> E.Model in try estimator.setting([knob: .int(t)]).fit(whole, comm: solo) }
            let (a, b) = (try fits[0].container(), try fits[1].container())
            if a.sections.map(\.name) != b.sections.map(\.name) || zip(a.sections, b.sections).contains(where: { $0.bytes != $1.bytes }) {
                fail("\(knob)=1 and \(knob)=2 give different models (container sections)")
            }
            if try Self.header(a.header, without: knob) != Self.header(b.header, without: knob) {
                fail("\(knob)=1 and \(knob)=2 give different model headers (besides \(knob)): \(firstDifference(a.encoded(), b.encoded()))")
            }
            if let d = try outputs(fits[1], whole.matrix).firstDifference(from: try outputs(fits[0], whole.matrix), tolerance: 0) {
                fail("\(knob)=1 and \(knob)=2 predict differently: \(d)")
            }
        }

        /// A JSON header with every `key` removed (at any depth), re-encoded with sorted keys.
        static func header(_ json: Data, without key: String) throws -> Data {
            func strip(_ v: Any) -> Any {
                if let d = v as? [String: Any] { return d.filter { $0.key != key }.mapValues(strip) }
                if let a = v as? [Any] { return a.map(strip) }
                return v
            }
            return try JSONSerialization.data(withJSONObject: strip(try JSONSerialization.jsonObject(with: json, options: [.fragmentsAllowed])),
                                              options: [.sortedKeys, .fragmentsAllowed])
        }

        // 5. empty shards

        func checkEmptyShards() throws {
            let n = whole.rowCount, h = n / 2
            let ranges = [0 ..< h, h ..< h, h ..< n]
            let w = whole
            let fits = try fitOnRanks(estimator, size: 3) { comm in EstimatorConformance.block(w, ranges[comm.rank]) }
            guard let m = identicalOnRanks(fits, "3 ranks, rank 1 empty") else { return }
            for (r, f) in fits.enumerated() {
                do { _ = try outputs(f.model, whole.matrix) } catch { fail("rank \(r)'s model does not predict (is it whole?): \(error)") }
            }
            if E.fitsShardedData { try compareSharded(try estimator.fit(whole, comm: solo), m, "3 ranks, rank 1 empty") }
        }

        // 6. NaN

        func checkNaN(_ policy: NaNFeatures) throws {
            let n = whole.rowCount, d = whole.featureCount
            let row = n - 2, column = min(1, d - 1)
            var dirty = whole
            dirty.matrix[row, column] = .nan
            for p in [1, 2] {
                let w = dirty
                let shard: ShardMaker = { comm in EstimatorConformance.block(w, Partition.block(count: n, parts: comm.size, index: comm.rank)) }
                let what = "a NaN at row \(row + 1), column \(column + 1) on \(p) rank(s)"
                switch policy {
                case .missingValues:
                    let fits: [(model: E.Model, bytes: Data)]
                    do { fits = try fitOnRanks(estimator, size: p, shard) } catch { fail("\(what): fit threw \(error); the estimator documents NaN as missing"); continue }
                    guard let m = identicalOnRanks(fits, what) else { continue }
                    var x = whole.matrix
                    for f in 0 ..< d { x[f % n, f] = .nan }
                    let o = try outputs(m, x)
                    let v = (o.values ?? []) + (o.proba ?? [])
                    if let i = v.firstIndex(where: { !$0.isFinite }) { fail("\(what): predicting rows with NaN gave \(v[i])") }
                case .dataError:
                    guard let e = expectError("fit with \(what)", { _ = try fitOnRanks(estimator, size: p, shard) }) else { continue }
                    guard case .dataError = e else { fail("\(what) threw \(e.description), not dataError"); continue }
                    if !e.description.contains("row \(row + 1)") || !e.description.contains("column \(column + 1)") {
                        fail("the error for \(what) does not name row \(row + 1) and column \(column + 1): \(e.description)")
                    }
                }
            }
            // A NaN target is an error for a learner that reads the target.
            guard E.role == .classifier || E.role == .regressor else { return }
            var noTarget = whole
            noTarget.target?[row] = .nan
            for p in [1, 2] {
                let w = noTarget
                let shard: ShardMaker = { comm in EstimatorConformance.block(w, Partition.block(count: n, parts: comm.size, index: comm.rank)) }
                let what = "a NaN target in row \(row + 1) on \(p) rank(s)"
                guard let e = expectError("fit with \(what)", { _ = try fitOnRanks(estimator, size: p, shard) }) else { continue }
                guard case .dataError = e else { fail("\(what) threw \(e.description), not dataError"); continue }
                if !e.description.contains("row \(row + 1)") { fail("the error for \(what) does not name row \(row + 1): \(e.description)") }
            }
        }
    }
}
