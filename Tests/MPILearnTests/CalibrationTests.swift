import Foundation
@testable import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// CalibratedClassifierCV against scikit-learn's (Tests/Fixtures/calibration/calibration.json,
/// written by make_calibration.py), the calibrators on their own, the model file, the
/// conformance suite, and fits that do not depend on the number of ranks.
final class CalibrationTests: XCTestCase {
    override func setUp() {
        setenv("SOURCE_DATE_EPOCH", "1700000000", 1)   // forests record their fit date
    }

    // MARK: - fixture

    struct Fixture: Decodable {
        struct Table: Decodable {
            var xTrain: [[Double]]
            var yTrain: [Double]
            var xTest: [[Double]]
            enum CodingKeys: String, CodingKey { case xTrain = "x_train", yTrain = "y_train", xTest = "x_test" }
        }
        struct Case: Decodable {
            var data: String
            var base: String
            var baseParams: [String: ParameterValue]
            var method: CalibrationMethod
            var cv: Int
            var ensemble: Bool
            var proba: [[Double]]
            var predict: [Double]
            var calibrators: [[Calibrator]]
            enum CodingKeys: String, CodingKey {
                case data, base, baseParams = "base_params", method, cv, ensemble, proba, predict, calibrators
            }
            var name: String { "\(data) \(base) \(method.rawValue) cv=\(cv) ensemble=\(ensemble)" }
        }
        var sklearnVersion: String
        var data: [String: Table]
        var cases: [Case]
        enum CodingKeys: String, CodingKey { case sklearnVersion = "sklearn_version", data, cases }
    }

    static let fixture: Fixture = {
        let url = MPIRun.packageRoot.appendingPathComponent("Tests/Fixtures/calibration/calibration.json")
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    /// A fixture table's training rows as rank `index` of `parts`'s shard.
    static func shard(_ t: Fixture.Table, parts: Int, index: Int) -> Dataset<Double> {
        let r = Partition.block(count: t.yTrain.count, parts: parts, index: index)
        return Dataset(features: Matrix(rows: r.count, columns: t.xTrain[0].count, storage: t.xTrain[r].flatMap { $0 }),
                       target: Array(t.yTrain[r]), globalRowStart: r.lowerBound, globalRowCount: t.yTrain.count)
    }

    /// Fits on `p` in-process ranks, checks every rank holds the same model, returns rank 0's.
    func fit<E: Estimator>(_ e: E, _ shard: @escaping (any Communicator) throws -> Dataset<Double>, ranks p: Int,
                           file: StaticString = #filePath, line: UInt = #line) throws -> E.Model {
        let models = try LocalWorld.run(size: p) { comm in try e.fit(try shard(comm), comm: comm) }
        let bytes = try models.map { try $0.container().encoded() }
        XCTAssertTrue(bytes.allSatisfy { $0 == bytes[0] }, "\(E.estimatorName): the ranks hold different models at p = \(p)", file: file, line: line)
        return models[0]
    }

    static func relative(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(1, abs(b)) }

    /// How far our calibrators are from scikit-learn's: the largest relative difference of a
    /// sigmoid's a and b or an isotonic calibrator's thresholds (infinite when the isotonic
    /// threshold counts differ).
    static func calibratorDistance(_ ours: [[Calibrator]], _ theirs: [[Calibrator]]) -> Double {
        guard ours.count == theirs.count else { return .infinity }
        var worst = 0.0
        for (a, b) in zip(ours, theirs) {
            guard a.count == b.count else { return .infinity }
            for (x, y) in zip(a, b) {
                switch (x, y) {
                case let (.sigmoid(s), .sigmoid(t)):
                    worst = max(worst, relative(s.a, t.a), relative(s.b, t.b))
                case let (.isotonic(s), .isotonic(t)):
                    guard s.xThresholds.count == t.xThresholds.count else { return .infinity }
                    for (u, v) in zip(s.xThresholds + s.yThresholds, t.xThresholds + t.yThresholds) { worst = max(worst, relative(u, v)) }
                default:
                    return .infinity
                }
            }
        }
        return worst
    }

    /// Checks a fitted model against a fixture case: probabilities on the held-out rows within
    /// 1e-4, calibrators within `calibratorTolerance`, and the predicted classes where
    /// scikit-learn's top two probabilities are not within 1e-3 of each other.
    func check<M: ClassifierModel>(_ model: CalibratedModel<M>, against c: Fixture.Case, calibratorTolerance: Double,
                                   file: StaticString = #filePath, line: UInt = #line) throws -> (proba: Double, calibrators: Double) {
        let t = Self.fixture.data[c.data]!
        let x = Matrix(t.xTest)
        let p = try model.predictProba(x)
        let want = c.proba.flatMap { $0 }
        XCTAssertEqual(p.storage.count, want.count, c.name, file: file, line: line)
        let probaDistance = zip(p.storage, want).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(probaDistance, 1e-4, "\(c.name): predict_proba differs from scikit-learn's by \(probaDistance)", file: file, line: line)
        let calibrators = Self.calibratorDistance(model.calibratedClassifiers.map(\.calibrators), c.calibrators)
        XCTAssertLessThanOrEqual(calibrators, calibratorTolerance,
                                 "\(c.name): calibrators \(model.calibratedClassifiers.map(\.calibrators)) against scikit-learn's \(c.calibrators)",
                                 file: file, line: line)
        let predicted = try model.predict(x)
        for (i, row) in c.proba.enumerated() {
            let sorted = row.sorted(by: >)
            guard sorted[0] - sorted[1] > 1e-3 else { continue }
            XCTAssertEqual(model.classes[predicted[i]], ClassLabels.name(of: c.predict[i], classNames: nil), "\(c.name): row \(i)", file: file, line: line)
        }
        return (probaDistance, calibrators)
    }

    // MARK: - against scikit-learn

    /// LogisticRegression (converged tightly, as in the fixture) calibrated through its
    /// decision function: binary and three classes, sigmoid and isotonic, ensemble true and
    /// false, decision values beyond 30 (scikit-learn's rescaled sigmoid fit). Our logistic
    /// regression matches scikit-learn's to about 1e-6, so the decision values, the sigmoids'
    /// a and b (Newton to a tight tolerance against scikit-learn's L-BFGS-B) and the
    /// isotonic thresholds agree to about 1e-5, the probabilities to 1e-4.
    func testLogisticRegressionBaseMatchesScikitLearn() throws {
        var worstProba = 0.0, worstCalibrator = 0.0
        for c in Self.fixture.cases where c.base == "logistic-regression" {
            let t = Self.fixture.data[c.data]!
            let base = try LogisticRegression().setting(c.baseParams)
            let e = CalibratedClassifierCV(estimator: base, method: c.method, cv: c.cv, ensemble: c.ensemble)
            let model = try fit(e, { comm in Self.shard(t, parts: comm.size, index: comm.rank) }, ranks: 1)
            XCTAssertEqual(model.response, .decisionFunction)
            XCTAssertEqual(model.calibratedClassifiers.count, c.ensemble ? c.cv : 1, c.name)
            let d = try check(model, against: c, calibratorTolerance: 1e-5)
            (worstProba, worstCalibrator) = (max(worstProba, d.proba), max(worstCalibrator, d.calibrators))
        }
        print("CalibrationTests: logistic base vs scikit-learn \(Self.fixture.sklearnVersion): proba \(worstProba), calibrators \(worstCalibrator)")
    }

    /// The same logistic regression behind a model with probabilities only: the calibrators
    /// read predict_proba (the positive column for two classes, every column otherwise), the
    /// path a random forest takes.
    func testProbabilityOnlyBaseMatchesScikitLearn() throws {
        var worstProba = 0.0, worstCalibrator = 0.0
        for c in Self.fixture.cases where c.base == "proba-only-logistic" {
            let t = Self.fixture.data[c.data]!
            let base = ProbaOnlyLogistic(try LogisticRegression().setting(c.baseParams))
            let e = CalibratedClassifierCV(estimator: base, method: c.method, cv: c.cv, ensemble: c.ensemble)
            let model = try fit(e, { comm in Self.shard(t, parts: comm.size, index: comm.rank) }, ranks: 1)
            XCTAssertEqual(model.response, .predictProba)
            let d = try check(model, against: c, calibratorTolerance: 1e-5)
            (worstProba, worstCalibrator) = (max(worstProba, d.proba), max(worstCalibrator, d.calibrators))
        }
        print("CalibrationTests: probability-only base vs scikit-learn \(Self.fixture.sklearnVersion): proba \(worstProba), calibrators \(worstCalibrator)")
    }

    /// SVC (libsvm's solver, which matches scikit-learn's fits) calibrated through its
    /// decision function, one-vs-rest shaped for three classes.
    func testSVCBaseMatchesScikitLearn() throws {
        var worstProba = 0.0, worstCalibrator = 0.0, cases = 0
        for c in Self.fixture.cases where c.base == "svc" {
            let t = Self.fixture.data[c.data]!
            let e = CalibratedClassifierCV(estimator: try SVC().setting(c.baseParams), method: c.method, cv: c.cv, ensemble: c.ensemble)
            let model = try fit(e, { comm in Self.shard(t, parts: comm.size, index: comm.rank) }, ranks: 1)
            XCTAssertEqual(model.response, .decisionFunction)
            let d = try check(model, against: c, calibratorTolerance: 1e-5)
            (worstProba, worstCalibrator, cases) = (max(worstProba, d.proba), max(worstCalibrator, d.calibrators), cases + 1)
        }
        XCTAssertEqual(cases, 4)
        print("CalibrationTests: SVC base vs scikit-learn \(Self.fixture.sklearnVersion): proba \(worstProba), calibrators \(worstCalibrator)")
    }

    // MARK: - the calibrators alone

    /// scikit-learn's isotonic_regression docstring example, and PAV's contract: non-decreasing,
    /// equal to the input where it already is, weighted means over pooled blocks.
    func testPoolAdjacentViolators() {
        let fitted = IsotonicCalibration.poolAdjacentViolators([5, 3, 1, 2, 8, 10, 7, 9, 6, 4], weights: [Double](repeating: 1, count: 10))
        let want = [2.75, 2.75, 2.75, 2.75] + [Double](repeating: 44.0 / 6, count: 6)
        for (a, b) in zip(fitted, want) { XCTAssertEqual(a, b, accuracy: 1e-12) }
        XCTAssertEqual(IsotonicCalibration.poolAdjacentViolators([1, 2, 3], weights: [1, 1, 1]), [1, 2, 3])
        // Weights: (3·1 + 1·0) / 4 for the pooled pair.
        XCTAssertEqual(IsotonicCalibration.poolAdjacentViolators([1, 0, 2], weights: [3, 1, 1]), [0.75, 0.75, 2])
        XCTAssertEqual(IsotonicCalibration.poolAdjacentViolators([], weights: []), [])
    }

    /// Ties are averaged before PAV, redundant points trimmed, predictions interpolated
    /// linearly and clipped outside the fitted range (scikit-learn's IsotonicRegression with
    /// out_of_bounds="clip").
    func testIsotonicTiesTrimmingAndInterpolation() throws {
        // x = 2 appears three times with targets 1, 0, 0: one point at 1/3.
        let iso = try IsotonicCalibration.fit([0, 1, 2, 2, 2, 3, 4, 5], [0, 0, 1, 0, 0, 1, 1, 1])
        // Points (0,0) (1,0) (2,1/3) (3,1) (4,1) (5,1): (4,1) equals both neighbours and goes.
        XCTAssertEqual(iso.xThresholds, [0, 1, 2, 3, 5])
        XCTAssertEqual(iso.yThresholds.count, 5)
        for (a, b) in zip(iso.yThresholds, [0, 0, 1.0 / 3, 1, 1]) { XCTAssertEqual(a, b, accuracy: 1e-15) }
        XCTAssertEqual(iso.predict(-10), 0)
        XCTAssertEqual(iso.predict(100), 1)
        XCTAssertEqual(iso.predict(2.5), (1.0 / 3 + 1) / 2, accuracy: 1e-15)
        XCTAssertEqual(iso.predict(4), 1)
        XCTAssertEqual(iso.predict(2), 1.0 / 3, accuracy: 1e-15)
        XCTAssertTrue(iso.predict(.nan).isNaN)
        // Decreasing targets pool to one value: a single threshold pair, constant prediction.
        let flat = try IsotonicCalibration.fit([1, 2, 3, 4], [1, 1, 0, 0])
        XCTAssertEqual(flat.xThresholds, [1, 4])
        XCTAssertEqual(flat.yThresholds, [0.5, 0.5])
        XCTAssertEqual(flat.predict(2.2), 0.5)
        // One distinct prediction: one threshold, a constant.
        let one = try IsotonicCalibration.fit([3, 3, 3], [1, 0, 0])
        XCTAssertEqual(one.xThresholds, [3])
        XCTAssertEqual(one.predict(-1), 1.0 / 3, accuracy: 1e-15)
        XCTAssertThrowsError(try IsotonicCalibration.fit([1, .nan], [0, 1]))
    }

    /// Newton's method reaches the optimum of Platt's objective (gradient ~0), the result does
    /// not depend on the scale of the predictions (scikit-learn rescales predictions of 30 or
    /// more), and predictions follow scikit-learn's sign convention p = 1/(1 + exp(a·f + b)).
    func testSigmoidFitIsTheOptimumAtAnyScale() throws {
        var rng = Philox(seed: 3)
        let f = (0 ..< 200).map { _ in rng.uniform() * 8 - 4 }
        let positive = f.map { v in rng.uniform() < 1 / (1 + exp(-1.7 * v + 0.3)) }
        let s = try SigmoidCalibration.fit(f, positive: positive)
        XCTAssertLessThan(s.a, 0, "positives have larger predictions, so a < 0")
        let nPos = Double(positive.filter { $0 }.count), nNeg = Double(f.count) - nPos
        let t = positive.map { $0 ? (nPos + 1) / (nPos + 2) : 1 / (nNeg + 2) }
        let g = PlattObjective(f: f, t: t).evaluate(s.a, s.b)
        XCTAssertLessThan(max(abs(g.ga), abs(g.gb)), 1e-9, "the gradient at the fit")
        XCTAssertEqual(s.predict(2), 1 / (1 + exp(s.a * 2 + s.b)), accuracy: 1e-15)
        // Predictions scaled by 50 (past the rescaling threshold): a scales by 1/50, b stays.
        let scaled = try SigmoidCalibration.fit(f.map { $0 * 50 }, positive: positive)
        XCTAssertEqual(scaled.a * 50, s.a, accuracy: 1e-9 * abs(s.a))
        XCTAssertEqual(scaled.b, s.b, accuracy: 1e-9 * max(1, abs(s.b)))
        // One class only still fits: Platt's targets keep the optimum finite.
        let single = try SigmoidCalibration.fit([0.1, 0.5, 0.9], positive: [true, true, true])
        XCTAssertTrue(single.a.isFinite && single.b.isFinite)
        // Every prediction the same: only a·f + b is determined, and p there is the mean
        // target, (3·4/5 + 1/3) / 4.
        let constant = try SigmoidCalibration.fit([2, 2, 2, 2], positive: [true, false, true, true])
        XCTAssertEqual(constant.predict(2), (3 * 0.8 + 1.0 / 3) / 4, accuracy: 1e-9)
        XCTAssertThrowsError(try SigmoidCalibration.fit([.infinity, 1], positive: [true, false]))
    }

    // MARK: - any classifier: a random forest (predict_proba only)

    static var forest: RandomForestClassifier { ConformanceTests.classifier }
    static var logistic: CalibratedClassifierCV<LogisticRegression> {
        CalibratedClassifierCV(estimator: LogisticRegression(C: 2), method: .sigmoid, cv: 3)
    }

    /// A forest has no decision function: the calibrators read its probabilities. Forests
    /// differ from scikit-learn's, so this checks the contract: rows × classes, rows summing
    /// to 1, predict the argmax, one pair per fold (ensemble) or one, and a saved model that
    /// predicts bit-identically.
    func testRandomForestBaseCalibratesProbabilities() throws {
        let data = try ConformanceTests.classification(LocalCommunicator.solo())
        let x = data.matrix
        for (method, ensemble) in [(CalibrationMethod.isotonic, true), (.sigmoid, false), (.sigmoid, true)] {
            let what = "forest \(method.rawValue) ensemble=\(ensemble)"
            let model = try CalibratedClassifierCV(estimator: Self.forest, method: method, cv: 4, ensemble: ensemble).fit(data, comm: LocalCommunicator.solo())
            XCTAssertEqual(model.response, .predictProba, what)
            XCTAssertEqual(model.classes, ["0", "1", "2"], what)
            XCTAssertEqual(model.calibratedClassifiers.count, ensemble ? 4 : 1, what)
            XCTAssertTrue(model.calibratedClassifiers.allSatisfy { $0.calibrators.count == 3 && $0.calibrators.allSatisfy { $0.method == method } }, what)
            let p = try model.predictProba(x)
            XCTAssertEqual(p.rows, x.rows, what)
            XCTAssertEqual(p.columns, 3, what)
            let labels = try model.predict(x)
            for i in 0 ..< p.rows {
                let row = Array(p.row(i))
                XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-12, "\(what) row \(i)")
                XCTAssertTrue(row.allSatisfy { $0 >= 0 && $0 <= 1 }, "\(what) row \(i): \(row)")
                XCTAssertEqual(labels[i], row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }!, "\(what) row \(i)")
            }
            // Calibrated probabilities are not the forest's own.
            XCTAssertNotEqual(p.storage, try model.calibratedClassifiers[0].estimator.predictProba(x).storage, what)
            let path = try MPIRun.temporaryDirectory("calibration").appendingPathComponent("forest.model").path
            try model.save(to: path)
            let loaded = try XCTUnwrap(CalibratedModels.load(from: path) as? CalibratedModel<RandomForestClassifierModel>, what)
            XCTAssertEqual(try loaded.predictProba(x).storage, p.storage, what)
            XCTAssertEqual(try loaded.container().encoded(), try model.container().encoded(), what)
        }
    }

    /// Two classes through a forest: one calibrator, on the second class's probability.
    func testBinaryForestHasOneCalibratorOnThePositiveClass() throws {
        let data = try Generators.makeClassification(nSamples: 120, nFeatures: 4, nInformative: 2, nRedundant: 1, randomState: 9)
        let model = try CalibratedClassifierCV(estimator: Self.forest, method: .isotonic, cv: 3).fit(data, comm: LocalCommunicator.solo())
        XCTAssertTrue(model.calibratedClassifiers.allSatisfy { $0.calibrators.count == 1 })
        let x = data.matrix
        let p = try model.predictProba(x)
        // p(class 1) is the mean of the calibrated positive-class probabilities; p(class 0) = 1 − it.
        var want = [Double](repeating: 0, count: x.rows)
        for pair in model.calibratedClassifiers {
            let q = try pair.estimator.predictProba(x)
            for i in 0 ..< x.rows { want[i] += pair.calibrators[0].predict(q[i, 1]) / Double(model.calibratedClassifiers.count) }
        }
        for i in 0 ..< x.rows {
            XCTAssertEqual(p[i, 1], want[i], accuracy: 1e-15)
            XCTAssertEqual(p[i, 0] + p[i, 1], 1, accuracy: 1e-15)
        }
    }

    /// A hinge-loss SGD classifier has no probabilities, only a decision function, which
    /// the calibrators read (as scikit-learn calibrates an SVM).
    func testHingeSGDBaseReadsItsDecisionFunction() throws {
        let data = try ConformanceTests.classification(LocalCommunicator.solo())
        var sgd = SGDClassifier(loss: .hinge)
        sgd.parameters.shuffle = false
        XCTAssertThrowsError(try sgd.fit(data, comm: LocalCommunicator.solo()).predictProba(data.matrix), "hinge SGD has no probabilities")
        let model = try CalibratedClassifierCV(estimator: sgd, method: .sigmoid, cv: 3).fit(data, comm: LocalCommunicator.solo())
        XCTAssertEqual(model.response, .decisionFunction)
        let p = try model.predictProba(data.matrix)
        for i in 0 ..< p.rows { XCTAssertEqual(p.row(i).reduce(0, +), 1, accuracy: 1e-12) }
    }

    /// A pipeline is a classifier too: its steps refit on every fold, its parameters reached
    /// as `estimator__step__param`, and the file loads without naming the type (the wrapped
    /// kind `pipeline` is opened through ModelRegistry).
    func testPipelineBase() throws {
        let data = try PipelineTests.classification(LocalCommunicator.solo())
        let e = try CalibratedClassifierCV(estimator: PipelineTests.logisticPipeline, method: .isotonic, cv: 3).setting(["estimator__model__C": 0.5])
        XCTAssertEqual(e.estimator.final.C, 0.5)
        XCTAssertNotNil(try e.parameters()["estimator__scale__with_mean"])
        let model = try e.fit(data, comm: LocalCommunicator.solo())
        XCTAssertEqual(model.calibratedClassifiers.count, 3)
        let path = try MPIRun.temporaryDirectory("calibration").appendingPathComponent("pipeline.model").path
        try model.save(to: path)
        let loaded = try XCTUnwrap(CalibratedModels.load(from: path) as? CalibratedModel<PipelineModel<LogisticRegressionModel>>)
        XCTAssertEqual(try loaded.predictProba(data.matrix).storage, try model.predictProba(data.matrix).storage)
    }

    /// Workflows name the wrapped classifier by its registry name; other estimators are refused.
    func testCalibratedEstimatorsNamesTheWrappedClassifier() throws {
        struct Describe: EstimatorVisitor {
            func visit<E: Estimator>(_ e: E) throws -> String { "\(E.estimatorName) \((try e.parameters())["estimator"]?.description ?? "-")" }
        }
        XCTAssertEqual(try CalibratedEstimators.visit(base: "logistic-regression", Describe()), "calibrated-classifier-cv logistic-regression")
        XCTAssertEqual(try CalibratedEstimators.visit(base: "random-forest", Describe()), "calibrated-classifier-cv random-forest-classifier")
        XCTAssertEqual(try CalibratedEstimators.visit(base: "sgd-classifier", Describe()), "calibrated-classifier-cv sgd-classifier")
        XCTAssertEqual(try CalibratedEstimators.visit(base: "svc", Describe()), "calibrated-classifier-cv svc")
        for name in ["ridge", "kmeans", "no-such-estimator"] {
            XCTAssertThrowsError(try CalibratedEstimators.visit(base: name, Describe()), name) { e in
                guard case .invalidParameter(let parameter, let value, _)? = e as? MPILearnError else { return XCTFail("\(name): \(e)") }
                XCTAssertTrue(["estimator", "--estimator"].contains(parameter), "\(name): \(e)")
                XCTAssertTrue(value.contains(name), "\(name): \(e)")
            }
        }
    }

    // MARK: - the model file

    /// A saved model loads through its type and through CalibratedModels (no MPI, no type
    /// given), predicts bit-identically and re-encodes to the same bytes.
    func testSaveLoadRoundTrip() throws {
        let data = try ConformanceTests.classification(LocalCommunicator.solo())
        let dir = try MPIRun.temporaryDirectory("calibration")
        for e in [Self.logistic, try Self.logistic.setting(["method": "isotonic", "ensemble": false])] {
            let model = try e.fit(data, comm: LocalCommunicator.solo())
            let path = dir.appendingPathComponent("logistic-\(e.method.rawValue)-\(e.ensemble).model").path
            try model.save(to: path)
            let typed = try CalibratedModel<LogisticRegressionModel>.load(from: path)
            let any = try CalibratedModels.load(from: path)
            let untyped = try XCTUnwrap(any as? CalibratedModel<LogisticRegressionModel>, "\(type(of: any))")
            for m in [typed, untyped] {
                XCTAssertEqual(try m.predictProba(data.matrix).storage, try model.predictProba(data.matrix).storage)
                XCTAssertEqual(try m.predict(data.matrix), try model.predict(data.matrix))
                XCTAssertEqual(try m.container().encoded(), try model.container().encoded())
                XCTAssertEqual(m.featureNames, data.featureNames)
                XCTAssertEqual(m.specification, model.specification)
            }
            let summary = model.summary().map { "\($0.0) \($0.1)" }.joined(separator: "\n")
            XCTAssertTrue(summary.contains("method=\(e.method.rawValue)"), summary)
            XCTAssertTrue(summary.contains("decision_function"), summary)
            // The parameters come back as an estimator.
            let again = try ModelJSON.decoder.decode(CalibratedClassifierCV<LogisticRegression>.self, from: Data(model.specification.utf8))
            XCTAssertEqual(try again.parameters(), try e.parameters())
        }
    }

    /// Damaged files give MPILearnError naming the file, never a trap: truncated, a flipped
    /// byte, a header that does not parse or does not fit the sections, a damaged or missing
    /// wrapped model, a wrapped kind that is unknown or of another type.
    func testCorruptFilesGiveClearErrors() throws {
        let data = try ConformanceTests.classification(LocalCommunicator.solo())
        let model = try Self.logistic.fit(data, comm: LocalCommunicator.solo())
        let dir = try MPIRun.temporaryDirectory("calibration")
        let good = try model.container()
        let bytes = good.encoded()

        func expectError(_ what: String, _ file: Data, contains text: String? = nil, line: UInt = #line) throws {
            let path = dir.appendingPathComponent("bad.model").path
            try file.write(to: URL(fileURLWithPath: path))
            for (how, load) in [("typed", { _ = try CalibratedModel<LogisticRegressionModel>.load(from: path) }),
                                ("CalibratedModels", { _ = try CalibratedModels.load(from: path) })] as [(String, () throws -> Void)] {
                XCTAssertThrowsError(try load(), "\(what) via \(how)", line: line) { e in
                    guard let e = e as? MPILearnError else { return XCTFail("\(what) via \(how): \(type(of: e)) \(e)", line: line) }
                    XCTAssertTrue(e.description.contains(path), "\(what) via \(how): \(e.description)", line: line)
                    if let text { XCTAssertTrue(e.description.contains(text), "\(what) via \(how): \(e.description)", line: line) }
                }
            }
        }
        func header(_ edit: (inout [String: Any]) -> Void) throws -> Data {
            var h = try XCTUnwrap(try JSONSerialization.jsonObject(with: good.header) as? [String: Any])
            edit(&h)
            return try JSONSerialization.data(withJSONObject: h, options: [.sortedKeys])
        }
        func container(header: Data? = nil, sections: [(name: String, bytes: Data)]? = nil) -> Data {
            ModelContainer(kind: good.kind, header: header ?? good.header, sections: sections ?? good.sections).encoded()
        }

        try expectError("truncated", bytes.prefix(bytes.count - 9))
        try expectError("truncated to its magic", bytes.prefix(12))
        var flipped = bytes
        flipped[bytes.count / 2] ^= 0x5A
        try expectError("a flipped byte", flipped, contains: "checksum")
        try expectError("a header that is not JSON", container(header: Data("{\"classes\": [".utf8)), contains: "header")
        try expectError("a calibrator missing", container(header: try header { h in
            var c = h["calibrators"] as! [[Any]]
            c[0].removeLast()
            h["calibrators"] = c
        }), contains: "calibrators")
        try expectError("an isotonic calibrator in a sigmoid model", container(header: try header { h in
            var c = h["calibrators"] as! [[Any]]
            c[1][0] = ["X_thresholds": [0.0, 1.0], "y_thresholds": [0.2, 0.8]]
            h["calibrators"] = c
        }), contains: "isotonic")
        try expectError("an unknown method", container(header: try header { $0["method"] = "temperature" }), contains: "header")
        try expectError("one class", container(header: try header { $0["classes"] = ["0"] }))
        try expectError("a wrapped model missing", container(sections: Array(good.sections.dropLast())), contains: "sections")
        var damaged = good.sections
        damaged[0].bytes = damaged[0].bytes.prefix(40)
        try expectError("a damaged wrapped model", container(sections: damaged))
        let forest = try CalibratedClassifierCV(estimator: Self.forest, cv: 3).fit(data, comm: LocalCommunicator.solo()).container()
        let path = dir.appendingPathComponent("forest-inside.model").path
        try ModelContainer(kind: good.kind, header: good.header, sections: forest.sections).write(to: path)
        XCTAssertThrowsError(try CalibratedModel<LogisticRegressionModel>.load(from: path)) { e in
            XCTAssertTrue("\(e)".contains("random-forest-classifier"), "\(e)")
        }
        // A kind the registry does not know (a test-only classifier) is named.
        let probaOnly = try CalibratedClassifierCV(estimator: ProbaOnlyLogistic(LogisticRegression()), cv: 3).fit(data, comm: LocalCommunicator.solo())
        try expectErrorUntyped(probaOnly.container().encoded(), contains: "proba-only-logistic", dir: dir)
        // Another kind altogether.
        let plain = dir.appendingPathComponent("logistic.model").path
        try model.calibratedClassifiers[0].estimator.save(to: plain)
        XCTAssertThrowsError(try CalibratedModels.load(from: plain)) { e in XCTAssertTrue("\(e)".contains("logistic-regression"), "\(e)") }
    }

    func expectErrorUntyped(_ file: Data, contains text: String, dir: URL, line: UInt = #line) throws {
        let path = dir.appendingPathComponent("untyped.model").path
        try file.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try CalibratedModels.load(from: path), line: line) { e in
            XCTAssertTrue(e is MPILearnError && "\(e)".contains(text), "\(e)", line: line)
        }
    }

    // MARK: - conformance

    static let invalid: EstimatorConformance.InvalidParameters = [
        (["cv": 1], "cv"), (["method": "temperature"], "method"), (["estimator": "random-forest-classifier"], "estimator"),
        (["estimator__C": 0.0], "estimator__C"), (["estimator__max_iter": -1], "estimator__max_iter"),
    ]

    /// The shared suite, except persistence through ModelRegistry (below): a calibrated file
    /// loads through ``CalibratedModels`` until the registry knows the kind.
    func testConforms() {
        var checks = Set(EstimatorConformance.Check.allCases)
        checks.remove(.persistence)
        EstimatorConformance.check(Self.logistic, data: ConformanceTests.classification, invalid: Self.invalid, nanFeatures: .dataError, checks: checks)
        EstimatorConformance.check(CalibratedClassifierCV(estimator: Self.forest, method: .isotonic, cv: 3, ensemble: false),
                                   data: ConformanceTests.classification,
                                   invalid: [(["cv": 1], "cv"), (["estimator__n_estimators": 0], "estimator__n_estimators")],
                                   nanFeatures: .missingValues, checks: checks, rankCounts: [1, 3])
    }

    func testConformsPersistenceThroughTheRegistry() throws {
        guard ModelRegistry.kinds.contains(CalibratedModels.kind) else {
            throw XCTSkip("ModelRegistry does not list '\(CalibratedModels.kind)' yet (it is registered when the branch merges)")
        }
        EstimatorConformance.check(Self.logistic, data: ConformanceTests.classification, invalid: [], nanFeatures: .dataError, checks: [.persistence])
        EstimatorConformance.check(CalibratedClassifierCV(estimator: Self.forest, method: .isotonic, cv: 3), data: ConformanceTests.classification,
                                   invalid: [], nanFeatures: .missingValues, checks: [.persistence])
    }

    // MARK: - ranks

    /// The rows are gathered and the folds spread over the ranks (fold f on rank f % size),
    /// each fitted alone: the model file is byte-identical on 1, 2 and 3 ranks, with uneven
    /// and empty shards, and with ranks holding their blocks out of rank order.
    func testSameModelOnOneTwoAndThreeRanks() throws {
        let whole = try ConformanceTests.classification(LocalCommunicator.solo())
        let n = whole.rowCount
        let cases: [(String, (Dataset<Double>, [Range<Int>]) throws -> Data)] = [
            ("logistic sigmoid ensemble", { d, r in try self.bytes(Self.logistic, d, r) }),
            ("logistic isotonic cross-validated", { d, r in try self.bytes(try Self.logistic.setting(["method": "isotonic", "ensemble": false, "cv": 4]), d, r) }),
            ("forest isotonic ensemble", { d, r in try self.bytes(CalibratedClassifierCV(estimator: Self.forest, method: .isotonic, cv: 3), d, r) }),
            ("forest sigmoid cross-validated", { d, r in try self.bytes(CalibratedClassifierCV(estimator: Self.forest, method: .sigmoid, cv: 5, ensemble: false), d, r) }),
        ]
        let layouts: [[Range<Int>]] = [
            [0 ..< n],
            [0 ..< n / 2, n / 2 ..< n],
            [0 ..< 70, 70 ..< 70, 70 ..< n],
            [100 ..< n, 0 ..< 100],                  // rank 0 holds the later rows
            (0 ..< 3).map { Partition.block(count: n, parts: 3, index: $0) },
        ]
        for (what, fit) in cases {
            let one = try fit(whole, layouts[0])
            for layout in layouts.dropFirst() {
                XCTAssertEqual(try fit(whole, layout), one, "\(what): shards \(layout) give another model than one rank")
            }
        }
    }

    /// fitReplicated (every rank holds every row, as a replicated search does) shares the
    /// folds out over the ranks and gives the one-rank model.
    func testFitReplicatedEqualsTheOneRankFit() throws {
        let whole = try ConformanceTests.classification(LocalCommunicator.solo())
        for e in [Self.logistic, try Self.logistic.setting(["ensemble": false, "cv": 4])] {
            let one = try e.fit(whole, comm: LocalCommunicator.solo()).container().encoded()
            for p in [2, 3] {
                let fits = try LocalWorld.run(size: p) { comm in try e.fitReplicated(whole, comm: comm).container().encoded() }
                XCTAssertTrue(fits.allSatisfy { $0 == one }, "ensemble=\(e.ensemble) at \(p) ranks")
            }
        }
    }

    /// Fits with rank r holding rows `ranges[r]`; checks the ranks agree; rank 0's file bytes.
    func bytes<B: Estimator>(_ e: CalibratedClassifierCV<B>, _ whole: Dataset<Double>, _ ranges: [Range<Int>]) throws -> Data {
        try fit(e, { comm in EstimatorConformance.block(whole, ranges[comm.rank]) }, ranks: ranges.count).container().encoded()
    }

    // MARK: - parameters and data errors

    func testParametersAreScikitLearnNamesWithEstimatorPrefix() throws {
        let p = try Self.logistic.parameters()
        XCTAssertEqual(p["method"], "sigmoid")
        XCTAssertEqual(p["cv"], 3)
        XCTAssertEqual(p["ensemble"], true)
        XCTAssertEqual(p["estimator"], "logistic-regression")
        XCTAssertEqual(p["estimator__C"]?.number, 2)
        XCTAssertEqual(p["estimator__penalty"], "l2")
        let changed = try Self.logistic.setting(["estimator__C": 0.25, "method": "isotonic", "ensemble": false])
        XCTAssertEqual(changed.estimator.C, 0.25)
        XCTAssertEqual(changed.method, .isotonic)
        XCTAssertFalse(changed.ensemble)
        XCTAssertThrowsError(try Self.logistic.setting(["estimator__no_such": 1])) { e in XCTAssertTrue("\(e)".contains("estimator__no_such"), "\(e)") }
        XCTAssertThrowsError(try Self.logistic.setting(["method": "temperature"])) { e in
            guard case .invalidParameter(let name, let value, _)? = e as? MPILearnError else { return XCTFail("\(e)") }
            XCTAssertEqual(name, "method")
            XCTAssertTrue(value.contains("temperature"))
        }
        XCTAssertThrowsError(try Self.logistic.setting(["estimator__C": -1.0]).validate()) { e in
            guard case .invalidParameter(let name, _, _)? = e as? MPILearnError else { return XCTFail("\(e)") }
            XCTAssertEqual(name, "estimator__C")
        }
        // Decoding a hand-written specification: method, cv and ensemble default, the wrapped
        // estimator's parameters are all needed.
        var spec = try XCTUnwrap(try JSONSerialization.jsonObject(with: ModelJSON.encoder.encode(Self.logistic)) as? [String: Any])
        spec["method"] = nil
        spec["cv"] = nil
        let decoded = try ModelJSON.decoder.decode(CalibratedClassifierCV<LogisticRegression>.self, from: JSONSerialization.data(withJSONObject: spec))
        XCTAssertEqual(decoded.method, .sigmoid)
        XCTAssertEqual(decoded.cv, 5)
        spec["estimator__tol"] = nil
        XCTAssertThrowsError(try ModelJSON.decoder.decode(CalibratedClassifierCV<LogisticRegression>.self, from: JSONSerialization.data(withJSONObject: spec))) { e in
            XCTAssertTrue("\(e)".contains("estimator__tol"), "\(e)")
        }
    }

    /// scikit-learn refuses a class with fewer rows than folds; so do we, naming the class.
    /// One class, or no target, is an error too.
    func testDataErrors() throws {
        let solo = LocalCommunicator.solo()
        var x: [[Double]] = [], y: [Double] = []
        for i in 0 ..< 30 {
            x.append([Double(i % 7), Double(i % 5) - 2])
            y.append(i < 2 ? 2 : Double(i % 2))                 // class 2 has two rows
        }
        let data = Dataset(features: Matrix(x), target: y, classNames: ["no", "yes", "rare"])
        XCTAssertThrowsError(try Self.logistic.fit(data, comm: solo)) { e in
            guard case .dataError(_, let message)? = e as? MPILearnError else { return XCTFail("\(e)") }
            XCTAssertTrue(message.contains("'rare'") && message.contains("2 rows") && message.contains("cv=3"), message)
        }
        XCTAssertNoThrow(try Self.logistic.setting(["cv": 2]).fit(data, comm: solo))
        // More folds than any class has rows: the least populated class is named.
        XCTAssertThrowsError(try Self.logistic.setting(["cv": 20]).fit(data, comm: solo)) { e in
            XCTAssertTrue("\(e)".contains("class 'rare'") && "\(e)".contains("at most 2"), "\(e)")
        }
        let single = Dataset(features: Matrix(x), target: [Double](repeating: 1, count: 30))
        XCTAssertThrowsError(try Self.logistic.fit(single, comm: solo)) { e in
            guard case .dataError(_, let message)? = e as? MPILearnError else { return XCTFail("\(e)") }
            XCTAssertTrue(message.contains("at least 2 classes"), message)
        }
        XCTAssertThrowsError(try Self.logistic.fit(Dataset(features: Matrix(x)), comm: solo)) { e in
            XCTAssertTrue("\(e)".contains("needs a target"), "\(e)")
        }
        // Every rank throws the same error, whichever rank's fold failed.
        let errors = (try? LocalWorld.run(size: 3) { comm -> String in
            do {
                _ = try Self.logistic.fit(EstimatorConformance.block(data, Partition.block(count: 30, parts: 3, index: comm.rank), globalRowCount: 30), comm: comm)
                return "no error"
            } catch { return "\(error)" }
        }) ?? []
        XCTAssertEqual(errors.count, 3)
        XCTAssertTrue(errors.allSatisfy { $0 == errors[0] && $0.contains("'rare'") }, "\(errors)")
        // A NaN feature fails the folds on the ranks that fit them; the error travels to every
        // rank and names the row by its global number (not its place in a fold).
        var dirty = try ConformanceTests.classification(solo)
        dirty.matrix[17, 2] = .nan
        let nanErrors = (try? LocalWorld.run(size: 3) { comm -> String in
            do {
                _ = try Self.logistic.fit(EstimatorConformance.block(dirty, Partition.block(count: dirty.rowCount, parts: 3, index: comm.rank)), comm: comm)
                return "no error"
            } catch { return "\(error)" }
        }) ?? []
        XCTAssertEqual(nanErrors.count, 3)
        XCTAssertTrue(nanErrors.allSatisfy { $0 == nanErrors[0] && $0.contains("row 18") && $0.contains("column 3") }, "\(nanErrors)")
    }
}

// MARK: - helpers

/// LogisticRegression whose model has no decision function, so calibration reads its
/// probabilities (the fixture's `proba-only-logistic`).
struct ProbaOnlyLogistic: Estimator {
    var inner: LogisticRegression
    static var estimatorName: String { "proba-only-logistic" }
    static var role: EstimatorRole { .classifier }

    init(_ inner: LogisticRegression) { self.inner = inner }
    init(from decoder: Decoder) throws { inner = try LogisticRegression(from: decoder) }
    func encode(to encoder: Encoder) throws { try inner.encode(to: encoder) }
    func validate() throws { try inner.validate() }
    func fit(_ data: Dataset<Double>, comm: any Communicator) throws -> ProbaOnlyModel { ProbaOnlyModel(inner: try inner.fit(data, comm: comm)) }
}

struct ProbaOnlyModel: ClassifierModel {
    var inner: LogisticRegressionModel
    static var kind: String { "proba-only-logistic" }
    var featureNames: [String] { inner.featureNames }
    var classes: [String] { inner.classes }
    func predictProba(_ x: Matrix<Double>) throws -> Matrix<Double> { try inner.predictProba(x) }
    func predict(_ x: Matrix<Double>) throws -> [Int] { try inner.predict(x) }
    func container() throws -> ModelContainer {
        let c = try inner.container()
        return ModelContainer(kind: Self.kind, header: c.header, sections: c.sections)
    }
    static func decode(_ c: ModelContainer, path: String) throws -> ProbaOnlyModel {
        ProbaOnlyModel(inner: try LogisticRegressionModel.decode(ModelContainer(kind: LogisticRegressionModel.kind, header: c.header, sections: c.sections), path: path))
    }
    func summary() -> [(String, String)] { inner.summary() }
}
