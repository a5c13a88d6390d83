import Foundation
import MPILearn
import SwiftMPI
import XCTest

/// The forest workflow called as a library (what `mpilearn forest fit|predict|score|run`
/// call), over in-process ranks.
final class ForestWorkflowTests: XCTestCase {
    override func setUp() {
        setenv("SOURCE_DATE_EPOCH", "1700000000", 1)
    }

    func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("workflow-\(getpid())-\(name)").path
    }

    /// This rank's block of generated test rows (rows from 10 000 on, disjoint from training).
    static func testShard(_ comm: any Communicator, rows: Int, features: Int) throws -> Dataset<Double> {
        let block = Partition.block(count: rows, parts: comm.size, index: comm.rank)
        return try Generators.makeClassification(nSamples: 10_000 + rows, nFeatures: features, nInformative: 3, nRedundant: 2,
                                                 randomState: 0, rows: (10_000 + block.lowerBound) ..< (10_000 + block.upperBound))
    }

    /// Fit and save on 2 ranks, load on 3 and predict to one file in small chunks: the file
    /// has a header and one line per test row in row order, and the score's accuracy equals
    /// `Metrics.accuracy` of the file's predictions.
    func testFitPredictToFileAndScore() throws {
        let model = temporaryPath("forest.model"), output = temporaryPath("predictions.csv")
        defer { for p in [model, output] { try? FileManager.default.removeItem(atPath: p) } }
        let source = ForestWorkflow.TrainingSource(path: "classification:800,6,0")
        var parameters = RandomForestParameters.classifier(nEstimators: 10)
        parameters.randomState = 3
        let summaries = try LocalWorld.run(size: 2) { comm in
            try ForestWorkflow.fitAndSave(source, task: .classification, parameters: parameters, model: model, comm: comm)
        }
        XCTAssertNil(summaries[1])
        let summary = try XCTUnwrap(summaries[0])
        XCTAssertEqual(summary.trees, 10)
        XCTAssertEqual(summary.trainRows, 800)
        XCTAssertEqual(summary.text.components(separatedBy: "\n").last, "model written to \(model)")

        let testRows = 250
        let results = try LocalWorld.run(size: 3) { comm -> (ForestWorkflow.Report, [Double], [String]) in
            let forest = try ForestModel.load(from: model, comm: comm)
            let test = try Self.testShard(comm, rows: testRows, features: 6)
            var options = ForestWorkflow.PredictOptions(output: output)
            options.proba = true
            options.chunkRows = 7
            try ForestWorkflow.predictToFile(forest, features: test.matrix, options: options, comm: comm)
            let report = try ForestWorkflow.score(forest, features: test.matrix, target: test.target!, comm: comm)
            return (report, test.target!, forest.header.classes)
        }
        let classes = results[0].2
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines.first, "prediction" + classes.map { ",proba_\($0)" }.joined())
        XCTAssertEqual(lines.last, "")
        let rows = lines.dropFirst().dropLast()
        XCTAssertEqual(rows.count, testRows)
        var predicted: [Int] = []
        for row in rows {
            let fields = row.split(separator: ",").map(String.init)
            XCTAssertEqual(fields.count, 1 + classes.count, row)
            predicted.append(try XCTUnwrap(classes.firstIndex(of: fields[0]), row))
            XCTAssertEqual(fields.dropFirst().compactMap(Double.init).reduce(0, +), 1, accuracy: 1e-9, row)
        }
        let truth = results.flatMap { $0.1 }.map { Int($0) }
        let accuracy = try Metrics.accuracy(yTrue: truth, yPred: predicted, comm: LocalCommunicator.solo())
        for (report, _, _) in results {
            guard case let .classification(r) = report else { return XCTFail("a classifier's report is a classification report") }
            XCTAssertEqual(r.testRows, testRows)
            XCTAssertEqual(r.accuracy, accuracy)
            XCTAssertEqual(r.confusion.flatMap { $0 }.reduce(0, +), testRows)
            XCTAssertTrue(r.text.hasPrefix("test rows: \(testRows)\naccuracy: "), r.text)
        }
    }

    /// `run` with broadcast-test and broadcast-model gives the same report; the log has the
    /// `train:` line, the report and the peak-memory line, on rank 0 only.
    func testRunStrategiesAgree() throws {
        var options = ForestWorkflow.RunOptions(source: ForestWorkflow.TrainingSource(path: "classification:600,5,1"), task: .classification,
                                                parameters: .classifier(nEstimators: 8), test: "classification:200,5,1")
        var accuracies: [Double] = []
        for strategy in ForestWorkflow.PredictionStrategy.allCases {
            options.prediction = strategy
            let logs = try LocalWorld.run(size: 2) { comm -> ([String], ForestWorkflow.RunResult) in
                var lines: [String] = []
                let result = try ForestWorkflow.run(options, comm: comm) { lines.append($0) }
                return (lines, result)
            }
            XCTAssertEqual(logs[1].0, [], "only rank 0 logs")
            let lines = logs[0].0
            XCTAssertEqual(lines.first, "train: 600 rows × 5 features on 2 rank(s); growing 8 trees")
            XCTAssertTrue(lines.last!.hasPrefix("peak memory per rank: "), lines.last!)
            guard case let .classification(r)? = logs[0].1.report else { return XCTFail("rank 0 reports") }
            XCTAssertTrue(lines.contains(r.text))
            XCTAssertEqual(r.testRows, 200)
            accuracies.append(r.accuracy)
        }
        XCTAssertEqual(accuracies[0], accuracies[1])
    }

    /// A regressor's `run --predictions` writes a `prediction` per test row (the trees' mean),
    /// the same values under both strategies (up to rounding), which give the report's R².
    func testRegressionRunWritesItsPredictions() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mpilearn-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var options = ForestWorkflow.RunOptions(source: ForestWorkflow.TrainingSource(path: "regression:500,4,2"), task: .regression,
                                                parameters: .regressor(nEstimators: 6), test: "regression:150,4,2")
        var files: [[Double]] = []
        for strategy in ForestWorkflow.PredictionStrategy.allCases {
            options.prediction = strategy
            options.predictions = dir.appendingPathComponent("\(strategy.rawValue).csv").path
            let results = try LocalWorld.run(size: 2) { comm in try ForestWorkflow.run(options, comm: comm) { _ in } }
            let text = try String(contentsOfFile: options.predictions!, encoding: .utf8)
            let lines = text.split(separator: "\n").map(String.init)
            XCTAssertEqual(lines.first, "prediction")
            XCTAssertEqual(lines.count, 151, "a prediction per test row")
            let values = lines.dropFirst().compactMap(Double.init)
            XCTAssertEqual(values.count, 150)
            guard case let .regression(r)? = results[0].report else { return XCTFail("rank 0 reports") }
            let truth = try TrainingData.generated("regression:150,4,2", comm: LocalCommunicator.solo(), test: true)!.target!
            XCTAssertEqual(try Metrics.r2(yTrue: truth, yPred: values, comm: LocalCommunicator.solo()), r.r2, accuracy: 1e-12)
            files.append(values)
        }
        // The strategies sum the trees in different orders (per rank then allreduced, or all
        // on one rank): the same values up to rounding.
        for (a, b) in zip(files[0], files[1]) { XCTAssertEqual(a, b, accuracy: 1e-12 * max(1, abs(a))) }
    }
}
