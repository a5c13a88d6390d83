import Foundation
import MPILearn
import TestSupport
import XCTest

/// The example programs under real mpirun: they build, run on generated and CSV data, and
/// write files the library reads back.
final class ExampleTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try MPIRun.temporaryDirectory("example")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// The `best parameters: {...}` line the example prints, and the forest its model file holds.
    func checkSearchOutcome(_ out: MPIRun.Outcome, model path: String) throws {
        XCTAssertEqual(out.status, 0, "\(out)")
        let line = try XCTUnwrap(out.stdout.split(separator: "\n").first { $0.hasPrefix("best parameters: {'max_depth': ") }, "\(out)")
        // Printed once, by rank 0.
        XCTAssertEqual(out.stdout.components(separatedBy: "best parameters:").count, 2, "\(out)")
        func value(_ name: String) -> Int? {
            guard let r = line.range(of: "'\(name)': ") else { return nil }
            return Int(line[r.upperBound...].prefix { $0.isNumber })
        }
        let depth = try XCTUnwrap(value("max_depth"), String(line)), trees = try XCTUnwrap(value("n_estimators"), String(line))
        XCTAssertTrue([2, 4, 6, 8, 10].contains(depth) && [2, 4, 6, 8, 10].contains(trees), String(line))

        // The saved model is the refitted best candidate, and loads by its kind.
        let loaded = try ModelRegistry.load(from: path)
        let forest = try XCTUnwrap(loaded as? RandomForestClassifierModel, "loaded a \(type(of: loaded).kind)")
        XCTAssertEqual(forest.forest.header.nEstimators, trees)
        XCTAssertEqual(forest.forest.treeCount, trees)
        XCTAssertEqual(forest.forest.header.parameters.tree.maxDepth, depth)
        XCTAssertEqual(forest.forest.header.parameters.randomState, 10)
    }

    /// No arguments: generated data, the model in the working directory.
    func testSearchExampleOnGeneratedDataAtTwoRanks() throws {
        let out = try MPIRun.mpirun(np: 2, MPIRun.executable("mpilearn-example-search"), [], timeout: 300, currentDirectory: dir)
        try checkSearchOutcome(out, model: dir.appendingPathComponent("search-best.model").path)
        XCTAssertTrue(out.stdout.contains("best model saved to search-best.model"), "\(out)")
    }

    /// A CSV with a text target (and a text column it leaves out, with a note).
    func testSearchExampleOnACSVAtTwoRanks() throws {
        var csv = "a,b,city,label\n"
        for i in 0 ..< 600 {
            let a = Double(i % 17), b = Double((i * 7) % 13)
            csv += "\(a),\(b),\(["X", "Y", "Z"][i % 3]),\(a + b > 14 ? "late" : "ontime")\n"
        }
        let data = dir.appendingPathComponent("train.csv").path, model = dir.appendingPathComponent("best.model").path
        try csv.write(toFile: data, atomically: true, encoding: .utf8)
        let out = try MPIRun.mpirun(np: 2, MPIRun.executable("mpilearn-example-search"), [data, "label", model], timeout: 300)
        try checkSearchOutcome(out, model: model)
        XCTAssertTrue(out.stdout.contains("note: ignoring non-numeric columns city"), "\(out)")
        let forest = try XCTUnwrap(try ModelRegistry.load(from: model) as? RandomForestClassifierModel)
        XCTAssertEqual(forest.classes, ["late", "ontime"])
        XCTAssertEqual(forest.featureNames, ["a", "b"])
    }
}
