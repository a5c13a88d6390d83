import Foundation

/// A fitted ``CalibratedClassifierCV``: the wrapped classifier's fitted models `M` (one per
/// fold with `ensemble`, else one fitted on all rows), each with its calibrators.
///
/// Saved as one model file of kind `calibrated-classifier`: a JSON header (classes, method,
/// the output the calibrators read, every calibrator's parameters, the estimator's
/// parameters) and one section per wrapped model holding that model's own container, as a
/// pipeline holds its final model. ``CalibratedModels/decode(_:path:)`` opens a file whatever
/// the wrapped kind.
public struct CalibratedModel<M: ClassifierModel>: ClassifierModel {
    public static var kind: String { "calibrated-classifier" }

    /// One fitted classifier and its calibrators (scikit-learn's `_CalibratedClassifier`).
    public struct Pair: Sendable {
        /// The wrapped classifier, fitted on a fold's training rows (or on all rows).
        public var estimator: M
        /// One per class, or one (the second class's) for two classes.
        public var calibrators: [Calibrator]

        public init(estimator: M, calibrators: [Calibrator]) {
            self.estimator = estimator
            self.calibrators = calibrators
        }

        /// Local. Calibrated, normalised probabilities, rows × `k`: for two classes 1 − p and
        /// p; otherwise each row divided by its sum (uniform when the sum is 0); values just
        /// above 1 (by at most 1e-5) are set to 1, as scikit-learn does.
        func probabilities(_ x: Matrix<Double>, classes k: Int) throws -> Matrix<Double> {
            let outputs = try CalibrationResponse.values(estimator, x)
            guard outputs.columns == calibrators.count, outputs.rows == x.rows else {
                throw MPILearnError.mismatch("calibrated model: \(M.kind) gives \(outputs.columns) output column(s) for \(calibrators.count) calibrator(s)")
            }
            var p = Matrix<Double>(rows: x.rows, columns: k)
            p.storage.withUnsafeMutableBufferPointer { pp in
                for i in 0 ..< x.rows {
                    let row = pp.baseAddress! + i * k
                    if k == 2 {
                        let positive = calibrators[0].predict(outputs[i, 0])
                        row[1] = positive
                        row[0] = 1 - positive
                    } else {
                        var sum = 0.0
                        for j in 0 ..< k {
                            row[j] = calibrators[j].predict(outputs[i, j])
                            sum += row[j]
                        }
                        for j in 0 ..< k { row[j] = sum != 0 ? row[j] / sum : 1 / Double(k) }
                    }
                    for j in 0 ..< k where row[j] > 1 && row[j] <= 1 + 1e-5 { row[j] = 1 }
                }
            }
            return p
        }
    }

    /// Class names, in code order (`classes_`).
    public var classes: [String]
    /// How the calibrators map outputs to probabilities.
    public var method: CalibrationMethod
    /// Whether the pairs are the folds' (true) or one refitted on all rows (false).
    public var ensemble: Bool
    /// The fitted classifiers and their calibrators (`calibrated_classifiers_`).
    public var calibratedClassifiers: [Pair]
    /// The estimator's parameters (JSON of ``CalibratedClassifierCV``'s coding).
    public var specification: String

    public init(classes: [String], method: CalibrationMethod, ensemble: Bool, calibratedClassifiers: [Pair], specification: String) {
        self.classes = classes
        self.method = method
        self.ensemble = ensemble
        self.calibratedClassifiers = calibratedClassifiers
        self.specification = specification
    }

    /// The output of `M` the calibrators read.
    public var response: CalibrationResponse { .of(M.self) }

    public var featureNames: [String] { calibratedClassifiers.first?.estimator.featureNames ?? [] }

    /// Local. The mean over ``calibratedClassifiers`` of their calibrated probabilities,
    /// rows × classes.
    public func predictProba(_ x: Matrix<Double>) throws -> Matrix<Double> {
        try checkFeatures(x.columns)
        let k = classes.count
        var mean = Matrix<Double>(rows: x.rows, columns: k)
        for pair in calibratedClassifiers {
            let p = try pair.probabilities(x, classes: k)
            for i in mean.storage.indices { mean.storage[i] += p.storage[i] }
        }
        let count = Double(calibratedClassifiers.count)
        for i in mean.storage.indices { mean.storage[i] /= count }
        return mean
    }

    /// Local. The most probable class of each row (the lower class among equals).
    public func predict(_ x: Matrix<Double>) throws -> [Int] {
        argmaxRows(try predictProba(x).storage, classes: classes.count)
    }

    // MARK: persistence

    struct Header: Codable {
        var classes: [String]
        var method: CalibrationMethod
        var ensemble: Bool
        var response: CalibrationResponse
        var estimatorKind: String
        /// Per pair, its calibrators.
        var calibrators: [[Calibrator]]
        var specification: String
        var mpilearnVersion: String
    }

    public func container() throws -> ModelContainer {
        let h = Header(classes: classes, method: method, ensemble: ensemble, response: response, estimatorKind: M.kind,
                       calibrators: calibratedClassifiers.map(\.calibrators), specification: specification,
                       mpilearnVersion: MPILearnVersion.string)
        let sections = try calibratedClassifiers.enumerated().map { i, pair in ("estimator.\(i)", try pair.estimator.container().encoded()) }
        return ModelContainer(kind: Self.kind, header: try ModelJSON.encoder.encode(h), sections: sections)
    }

    /// The model in a decoded container of kind `calibrated-classifier` whose wrapped models
    /// are of kind `M.kind`.
    /// - Throws: ``MPILearnError/dataError`` naming `path` for a header that does not parse or
    ///   does not fit together (calibrator counts, thresholds, classes), a missing section, or
    ///   a wrapped model of another kind; the wrapped models' own decoding errors.
    public static func decode(_ c: ModelContainer, path: String) throws -> CalibratedModel<M> {
        func bad(_ msg: String) -> MPILearnError { .dataError(SourceLocation(file: path), "calibrated model: \(msg); the file is corrupt") }
        let h: Header
        do { h = try ModelJSON.decoder.decode(Header.self, from: c.header) } catch { throw bad("the header is not valid (\(error))") }
        guard h.estimatorKind == M.kind else {
            throw MPILearnError.dataError(SourceLocation(file: path), "the calibrated classifier wraps a '\(h.estimatorKind)', not a '\(M.kind)'")
        }
        guard h.response == .of(M.self) else { throw bad("its calibrators read \(h.response.rawValue), but a \(M.kind) gives \(CalibrationResponse.of(M.self).rawValue)") }
        let k = h.classes.count
        guard k >= 2 else { throw bad("\(k) classes") }
        guard !h.calibrators.isEmpty, h.ensemble || h.calibrators.count == 1 else {
            throw bad("\(h.calibrators.count) calibrated classifiers with ensemble=\(h.ensemble)")
        }
        guard c.sections.map(\.name) == h.calibrators.indices.map({ "estimator.\($0)" }) else {
            throw bad("sections \(c.sections.map(\.name)) do not match its \(h.calibrators.count) calibrated classifier(s)")
        }
        var pairs: [Pair] = []
        for (i, calibrators) in h.calibrators.enumerated() {
            guard calibrators.count == (k == 2 ? 1 : k) else { throw bad("classifier \(i + 1) has \(calibrators.count) calibrators for \(k) classes") }
            for cal in calibrators {
                guard cal.method == h.method else { throw bad("a \(cal.method.rawValue) calibrator in a \(h.method.rawValue) model") }
                switch cal {
                case .sigmoid(let s):
                    guard s.a.isFinite && s.b.isFinite else { throw bad("a sigmoid calibrator with a=\(s.a), b=\(s.b)") }
                case .isotonic(let t):
                    let x = t.xThresholds, y = t.yThresholds
                    guard !x.isEmpty, x.count == y.count, x.allSatisfy(\.isFinite), y.allSatisfy(\.isFinite), zip(x, x.dropFirst()).allSatisfy({ $0 < $1 }) else {
                        throw bad("an isotonic calibrator with \(x.count) X thresholds (ascending and finite expected) and \(y.count) y thresholds")
                    }
                }
            }
            let inner = try ModelContainer.decode(try c.section("estimator.\(i)", in: path), path: path, expectedKinds: [M.kind])
            let estimator = try M.decode(inner, path: path)
            guard estimator.classes == h.classes else { throw bad("classifier \(i + 1) has classes \(listPreview(estimator.classes)), the header \(listPreview(h.classes))") }
            if let first = pairs.first, first.estimator.featureNames != estimator.featureNames {
                throw bad("classifier \(i + 1) reads other features than classifier 1")
            }
            pairs.append(Pair(estimator: estimator, calibrators: calibrators))
        }
        return CalibratedModel(classes: h.classes, method: h.method, ensemble: h.ensemble, calibratedClassifiers: pairs, specification: h.specification)
    }

    public func summary() -> [(String, String)] {
        var out: [(String, String)] = [
            ("classes", "\(classes.count) (\(listPreview(classes)))"),
            ("calibration", "method=\(method.rawValue) ensemble=\(ensemble ? "True" : "False"): \(calibratedClassifiers.count) calibrated \(M.kind) model\(calibratedClassifiers.count == 1 ? "" : "s") reading \(response.rawValue)"),
        ]
        for (i, pair) in calibratedClassifiers.enumerated() {
            let described = pair.calibrators.map { cal -> String in
                switch cal {
                case .sigmoid(let s): return "a=\(s.a) b=\(s.b)"
                case .isotonic(let t): return "\(t.xThresholds.count) thresholds"
                }
            }
            out.append(("calibrators \(i + 1)", described.joined(separator: "; ")))
        }
        if let first = calibratedClassifiers.first {
            for (k, v) in first.estimator.summary() { out.append(("  estimator.\(k)", v)) }
        }
        return out
    }
}

/// Decoding a calibrated-classifier file of any wrapped kind.
public enum CalibratedModels {
    /// The model-file kind.
    public static var kind: String { "calibrated-classifier" }

    /// The calibrated model in `c` (kind `calibrated-classifier`), whatever classifier it wraps:
    /// the first wrapped model's kind, looked up through ``ModelRegistry``, fixes the type.
    /// - Throws: ``MPILearnError/dataError`` for another kind, a wrapped kind that is unknown
    ///   or not a classifier, or a corrupt file.
    public static func decode(_ c: ModelContainer, path: String) throws -> any FittedModel {
        guard c.kind == kind else { throw MPILearnError.dataError(SourceLocation(file: path), "this is a '\(c.kind)' model; expected '\(kind)'") }
        let inner = try ModelContainer.decode(try c.section("estimator.0", in: path), path: path)
        let first = try ModelRegistry.decode(inner, path: path)
        guard let classifier = first as? any ClassifierModel else {
            throw MPILearnError.dataError(SourceLocation(file: path), "the calibrated model wraps a '\(inner.kind)', which is not a classifier")
        }
        return try open(classifier, c, path: path)
    }

    /// Reads a calibrated-classifier file; no MPI needed.
    public static func load(from path: String) throws -> any FittedModel {
        try decode(ModelContainer.read(from: path, expectedKinds: [kind]), path: path)
    }

    static func open<M: ClassifierModel>(_: M, _ c: ModelContainer, path: String) throws -> any FittedModel {
        try CalibratedModel<M>.decode(c, path: path)
    }
}
