import Foundation
import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// The Pipeline estimator: the conformance suite, `step__param` parameters, spec files and
/// their errors, one model file that loads and predicts bit-identically, and fits that do not
/// depend on the number of ranks.
final class PipelineTests: XCTestCase {
    static var logisticPipeline: Pipeline<LogisticRegression> {
        Pipeline(steps: [PipelineStep(name: "impute", SimpleImputer()), PipelineStep(name: "scale", StandardScaler())],
                 final: LogisticRegression(C: 2), finalName: "model")
    }

    /// make_classification rows with a few NaN (the imputer fills them), sharded by rank.
    static func classification(_ comm: any Communicator) throws -> Dataset<Double> {
        let n = 240
        let rows = Partition.block(count: n, parts: comm.size, index: comm.rank)
        var d = try Generators.makeClassification(nSamples: n, nFeatures: 4, nInformative: 2, nRedundant: 1, randomState: 3, rows: rows)
        d.makeDense()
        for i in 0 ..< d.rowCount where (rows.lowerBound + i) % 17 == 5 { d.matrix[i, (rows.lowerBound + i) % 4] = .nan }
        d.globalRowStart = rows.lowerBound
        d.globalRowCount = n
        return d
    }

    func testPipelineConforms() {
        EstimatorConformance.check(Self.logisticPipeline, data: Self.classification,
                                   invalid: [(["model__C": 0.0], "model__C"), (["model__max_iter": -1], "model__max_iter"),
                                             (["impute__strategy": "mode"], "impute__strategy")],
                                   nanFeatures: .missingValues,
                                   modelDistance: { a, b in
                                       zip(a.final.coefficients.coef.storage, b.final.coefficients.coef.storage).map { abs($0 - $1) }.max() ?? 0
                                   })
    }

    func testParametersAreStepDoubleUnderscoreNames() throws {
        let p = try Self.logisticPipeline.parameters()
        XCTAssertEqual(p["model__C"]?.number, 2)
        XCTAssertEqual(p["scale__with_mean"], .bool(true))
        XCTAssertEqual(p["impute__strategy"], .string("mean"))
        let changed = try Self.logisticPipeline.setting(["scale__with_mean": false, "model__C": 0.5])
        XCTAssertEqual(try changed.parameters()["scale__with_mean"], .bool(false))
        XCTAssertEqual(changed.final.C, 0.5)
        XCTAssertThrowsError(try Self.logisticPipeline.setting(["scale__no_such": 1])) { e in
            XCTAssertTrue("\(e)".contains("scale__no_such"), "\(e)")
        }
    }

    func testSavedPipelinePredictsBitIdentically() throws {
        let data = try Self.classification(LocalCommunicator.solo())
        let model = try Self.logisticPipeline.fit(data, comm: LocalCommunicator.solo())
        let dir = try MPIRun.temporaryDirectory("pipeline")
        let path = dir.appendingPathComponent("p.model").path
        try model.save(to: path)
        let loaded = try XCTUnwrap(ModelRegistry.load(from: path) as? PipelineModel<LogisticRegressionModel>)
        XCTAssertEqual(try loaded.container().encoded(), try model.container().encoded())
        XCTAssertEqual(try loaded.predictProba(data.matrix).storage, try model.predictProba(data.matrix).storage)
        let summary = loaded.summary().map { "\($0.0) \($0.1)" }.joined(separator: "\n")
        XCTAssertTrue(summary.contains("impute: simple-imputer") && summary.contains("scale: standard-scaler"), summary)
    }

    func testTablePipelineWithCategoriesAndDatesAtOneToFourRanks() throws {
        // carrier in messy case, a timestamp, numbers with a gap: fitted state and predictions
        // are the same at any rank count, and each rank's dictionary is its own.
        let n = 60
        let carriers = ["UA", "ua ", "AA", "Aa", "DL", "dl"]
        func table(_ rows: Range<Int>) -> Table {
            let local = rows.map { carriers[$0 % 6] }
            let dict = CategoryDictionary(local)
            return Table(columns: [
                Column(name: "carrier", values: .categorical(local.map { dict.code(of: $0)! }, dict)),
                Column(name: "when", values: .datetime(rows.map { Int64(1_356_998_400 + $0 * 7_777) })),
                Column(name: "dist", values: .float64(rows.map { $0 % 11 == 3 ? .nan : Double($0 * 13 % 29) })),
            ], rowCount: rows.count, globalRowStart: rows.lowerBound, globalRowCount: n)
        }
        let y = (0 ..< n).map { Double(($0 * 7 + $0 / 5) % 2) }
        let pipe = Pipeline(steps: [
            PipelineStep(name: "time", try AnyTableTransformer.decode(kind: "datetime-features", json: Data(#"{"columns":["when"],"features":["hour","dayofweek"]}"#.utf8)).base),
            PipelineStep(name: "lower", try AnyTableTransformer.decode(kind: "normalize-strings", json: Data(#"{"columns":["carrier"]}"#.utf8)).base),
            PipelineStep(name: "impute", SimpleImputer(strategy: .median)),
            PipelineStep(name: "scale", StandardScaler()),
            PipelineStep(name: "onehot", OneHotEncoder(columns: ["carrier"], handleUnknown: "ignore")),
        ], final: LogisticRegression(), finalName: "model")
        var reference: Data? = nil
        var scale1: StandardScalerModel? = nil
        for p in 1 ... 4 {
            let models = try LocalWorld.run(size: p) { comm in
                let rows = Partition.block(count: n, parts: p, index: comm.rank)
                return try pipe.fit(table: table(rows), target: Array(y[rows]), targetName: "y", classNames: ["0", "1"], comm: comm)
            }
            // Exact steps (dates, strings, medians, categories) bit for bit; the scaler's moments
            // are merged with Chan's formula, equal to rounding.
            let steps = try models[0].steps.filter { $0.name != "scale" }.map { try $0.step.fittedJSON() }.reduce(Data(), +)
            if let reference { XCTAssertEqual(String(decoding: steps, as: UTF8.self), String(decoding: reference, as: UTF8.self), "fitted steps differ at p = \(p)") } else { reference = steps }
            let scale = try XCTUnwrap(models[0].steps.first { $0.name == "scale" }?.step.base as? StandardScalerModel)
            if let s1 = scale1 {
                for (a, b) in zip((scale.mean ?? []) + (scale.scale ?? []), (s1.mean ?? []) + (s1.scale ?? [])) { XCTAssertEqual(a, b, accuracy: 1e-12 * max(1, abs(b))) }
            } else { scale1 = scale }
            XCTAssertEqual(models[0].finalFeatures.featureNames,
                           ["carrier_aa", "carrier_dl", "carrier_ua", "when_hour", "when_dayofweek", "dist"])
        }
    }

    func testSpecFileErrorsNameFileLineAndColumn() throws {
        let bad = """
        steps:
          - {name: scale, kind: standard-scaler}
          - {name: enc, kind: one-hot-encoderr}
          - {name: model, kind: logistic-regression}
        """
        XCTAssertThrowsError(try PipelineSpec.parse(bad, path: "pipe.yaml")) { e in
            XCTAssertTrue("\(e)".contains("pipe.yaml:3:") && "\(e)".contains("one-hot-encoderr"), "\(e)")
        }
        let param = """
        steps:
          - name: scale
            kind: standard-scaler
            with_meen: false
          - {name: model, kind: logistic-regression}
        """
        XCTAssertThrowsError(try PipelineSpec.parse(param, path: "pipe.yaml")) { e in
            XCTAssertTrue("\(e)".contains("pipe.yaml:4:") && "\(e)".contains("with_meen") && "\(e)".contains("with_mean"), "\(e)")
        }
        let finalParam = """
        steps:
          - {name: model, kind: logistic-regression, CC: 1}
        """
        XCTAssertThrowsError(try PipelineSpec.parse(finalParam, path: "p.yaml").visit(EchoVisitor())) { e in
            XCTAssertTrue("\(e)".contains("p.yaml:2:") && "\(e)".contains("CC"), "\(e)")
        }
        let notLast = """
        steps:
          - {name: model, kind: logistic-regression}
          - {name: scale, kind: standard-scaler}
        """
        XCTAssertThrowsError(try PipelineSpec.parse(notLast, path: "p.yaml")) { e in
            XCTAssertTrue("\(e)".contains("p.yaml:2:") && "\(e)".contains("only the last step may be one"), "\(e)")
        }
        let good = try PipelineSpec.parse("steps:\n  - {kind: standard-scaler}\n  - {name: m, kind: logistic-regression, C: 0.5}\n", path: "p.yaml")
        XCTAssertEqual(try good.visit(EchoVisitor()), "pipeline: standard-scaler → logistic-regression")
    }

    struct EchoVisitor: PipelineVisitor {
        func visit<E: Estimator>(_ pipeline: Pipeline<E>) throws -> String {
            "pipeline: " + (pipeline.steps.map(\.transformer.kind) + [E.estimatorName]).joined(separator: " → ")
        }
    }
}
