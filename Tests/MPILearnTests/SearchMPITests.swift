import Foundation
@testable import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// `mpilearn search` under real `mpirun`: cv_results byte-identical (but for timings) at
/// p = 1...4 for grid, random and halving searches, the refitted model, and bad inputs that
/// end every rank with a clear message.
final class SearchMPITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try MPIRun.temporaryDirectory("search-mpi")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// The results CSV without its four timing columns.
    func withoutTimes(_ name: String) throws -> String {
        try String(contentsOfFile: path(name), encoding: .utf8).split(separator: "\n")
            .map { line -> String in
                // The timing columns are plain numbers: cut the first four fields.
                var rest = Substring(line)
                for _ in 0 ..< 4 { rest = rest[rest.index(after: rest.firstIndex(of: ",")!)...] }
                return String(rest)
            }.joined(separator: "\n")
    }

    /// A small CSV with a numeric target, a categorical feature and a categorical label.
    func writeCSV(_ name: String, rows: Int = 400) throws {
        var text = "a,b,colour,label,amount\n"
        var rng = Philox(seed: 9, domain: 1, stream: 0)
        for i in 0 ..< rows {
            let a = rng.uniform() * 10, b = rng.uniform() * 4
            let colour = ["red", "green", "blue"][i % 3]
            let label = a + (colour == "red" ? 2 : 0) > 6 ? "yes" : "no"
            text += String(format: "%.4f,%.4f,%@,%@,%d\n", a, b, colour, label, Int(a * 37) % 613 - 300)
        }
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
    }

    func testGridRandomAndHalvingResultsAreIdenticalAtOneToFourRanks() throws {
        try writeCSV("train.csv")
        let common = ["--estimator", "random-forest-classifier", "--train", path("train.csv"), "--target", "label", "--categorical", "colour", "--cv", "3",
                      "--random-state", "4"]
        let searches: [(String, [String])] = [
            ("grid", ["search", "grid", "--param", "n_estimators=2,5", "--param", "max_depth=2,none", "--stratified"]),
            ("random", ["search", "random", "--param", "max_depth=randint(2,8)", "--param", "max_features=uniform(0.3,1)", "--n-iter", "5", "--shuffle"]),
            ("halving", ["search", "halving", "--param", "max_depth=1,2,3,4,none", "--param", "n_estimators=2,4", "--scoring", "balanced_accuracy"]),
        ]
        for (name, args) in searches {
            var reference: String? = nil
            for np in 1 ... 4 {
                let out = try MPIRun.mpirun(np: np, "mpilearn", args + common + ["--results", path("\(name)\(np).csv"), "--output-model", path("\(name)\(np).model")],
                                            timeout: 180)
                XCTAssertEqual(out.status, 0, "\(name) np=\(np): \(out)")
                XCTAssertTrue(out.stdout.contains("best: {"), "\(out)")
                XCTAssertTrue(out.stdout.contains("schedule: replicated over \(np) rank(s)"), "\(out)")
                let csv = try withoutTimes("\(name)\(np).csv")
                if let reference { XCTAssertEqual(csv, reference, "\(name): np=\(np) differs from np=1") } else { reference = csv }
                // The refitted model is the same file on any number of ranks (but its provenance date).
                let model = try RandomForestClassifierModel.load(from: path("\(name)\(np).model"))
                XCTAssertEqual(model.classes, ["no", "yes"])
                XCTAssertEqual(model.forest.trees.count, model.forest.header.nEstimators)
            }
            XCTAssertTrue(reference!.hasPrefix("param_"), reference!)
            if name == "halving" { XCTAssertTrue(reference!.split(separator: "\n")[0].hasSuffix(",iter,n_resources")) }
        }
    }

    func testKMeansSearchShardedAndReplicatedAgree() throws {
        var text = "x,y\n"
        var rng = Philox(seed: 3, domain: 1, stream: 0)
        for i in 0 ..< 600 { text += String(format: "%.5f,%.5f\n", Double(i % 3) * 8 + rng.normal(), Double(i % 3) * -5 + rng.normal()) }
        try text.write(toFile: path("blobs.csv"), atomically: true, encoding: .utf8)
        var scores: [[Double]] = []
        // Last: 4 ranks in 2 groups, each group holding every row and fitting its own candidates.
        for (np, schedule, groups) in [(1, "replicated", 1), (3, "sharded", 1), (2, "replicated", 1), (4, "sharded", 2)] {
            let out = try MPIRun.mpirun(np: np, "mpilearn", ["search", "grid", "--estimator", "kmeans", "--train", path("blobs.csv"), "--param", "n_clusters=2,3,4",
                                                            "--cv", "3", "--schedule", schedule, "--shard-groups", String(groups),
                                                            "--results", path("k\(np).csv")], timeout: 120)
            XCTAssertEqual(out.status, 0, "\(out)")
            XCTAssertTrue(out.stdout.contains("schedule: \(schedule)"), "\(out)")
            XCTAssertTrue(out.stdout.contains("best: {'n_clusters': "), "\(out)")
            let rows = try String(contentsOfFile: path("k\(np).csv"), encoding: .utf8).split(separator: "\n").dropFirst()
            scores.append(rows.flatMap { $0.split(separator: ",")[7 ... 9].map { Double($0)! } })
        }
        for s in scores.dropFirst() { for (a, b) in zip(s, scores[0]) { XCTAssertEqual(a, b, accuracy: 1e-9 * abs(b)) } }
        // The forest cannot search sharded data: its fit depends on the sharding.
        let out = try MPIRun.mpirun(np: 2, "mpilearn", ["search", "grid", "--estimator", "random-forest-classifier", "--train", "classification:200,4",
                                                       "--param", "max_depth=2", "--schedule", "sharded"], timeout: 60)
        XCTAssertNotEqual(out.status, 0)
        XCTAssertTrue(out.stderr.contains("--schedule") && out.stderr.contains("replicated"), "\(out)")
    }

    /// Each bad input ends every rank with the message on stderr, exit non-zero, fast.
    func testBadInputsEndEveryRankWithAClearMessage() throws {
        try writeCSV("train.csv")
        try "n_estimators: [2, 4\nmax_depth: [3]\n".write(toFile: path("bad.yaml"), atomically: true, encoding: .utf8)
        let base = ["search", "grid", "--train", path("train.csv"), "--target", "label", "--categorical", "colour"]
        let cases: [(args: [String], expect: [String])] = [
            (base + ["--estimator", "svm", "--param", "C=1"], ["--estimator", "random-forest-classifier", "kmeans"]),
            (base + ["--estimator", "random-forest", "--param", "max_dept=2,3"], ["max_dept", "max_depth", "n_estimators"]),
            (base + ["--estimator", "random-forest", "--param", "n_estimators=two"], ["n_estimators", "two"]),
            (base + ["--estimator", "random-forest", "--param", "n_estimators=0,2"], ["n_estimators", ">= 1"]),
            (base + ["--estimator", "random-forest", "--param", "n_estimators="], ["--param"]),
            (base + ["--estimator", "random-forest", "--param", "max_depth=2", "--cv", "1"], ["cv", ">= 2"]),
            (base + ["--estimator", "random-forest", "--param", "max_depth=2", "--cv", "300", "--stratified"], ["cv"]),
            (base + ["--estimator", "random-forest", "--param", "max_depth=2", "--scoring", "r2"], ["scoring", "accuracy"]),
            (base + ["--estimator", "random-forest", "--param-grid", path("bad.yaml")], ["bad.yaml:"]),
            (base + ["--estimator", "random-forest", "--param", "max_depth=2", "--param-grid", path("bad.yaml")], ["--param-grid"]),
            (["search", "grid", "--train", path("train.csv"), "--target", "amount", "--estimator", "random-forest", "--param", "max_depth=2"],
             ["--task regression", "amount"]),
            (base + ["--estimator", "random-forest", "--param", "max_features=2,9", "--error-score", "raise"], ["candidate", "fold", "error_score=raise"]),
            (base + ["--estimator", "random-forest", "--param", "max_depth=2", "--shard-groups", "2"], ["--shard-groups", "sharded"]),
        ]
        for (args, expect) in cases {
            let out = try MPIRun.mpirun(np: 2, "mpilearn", args, timeout: 60)
            XCTAssertNotEqual(out.status, 0, "\(args): \(out)")
            XCTAssertFalse(out.timedOut, "\(args) hung: \(out)")
            XCTAssertTrue(out.stderr.contains("error:"), "\(args): \(out)")
            for e in expect { XCTAssertTrue(out.stderr.contains(e), "\(args): expected '\(e)' in\n\(out.stderr)") }
        }
        // error_score nan (the default) warns and goes on.
        let out = try MPIRun.mpirun(np: 2, "mpilearn", base + ["--estimator", "random-forest", "--param", "max_features=2,9", "--cv", "3"], timeout: 60)
        XCTAssertEqual(out.status, 0, "\(out)")
        XCTAssertTrue(out.stdout.contains("warning: fit failed") && out.stdout.contains("best: {'max_features': 2}"), "\(out)")
    }

    /// The report: a numeric target with hundreds of values under the default task
    /// stops before fitting, in `forest run` too, suggesting a regression.
    func testNumericTargetWithManyValuesSuggestsRegression() throws {
        try writeCSV("train.csv")
        let out = try MPIRun.mpirun(np: 2, "mpilearn", ["forest", "fit", "--train", path("train.csv"), "--target", "amount", "--n-estimators", "2", "--model", path("m.model")], timeout: 60)
        XCTAssertNotEqual(out.status, 0)
        XCTAssertTrue(out.stderr.contains("--task regression") && out.stderr.contains("… and "), "\(out)")
        let line = out.stderr.split(separator: "\n").first { $0.contains("error:") } ?? ""
        XCTAssertLessThan(line.count, 600, "the message lists at most 20 values: \(line)")
        let reg = try MPIRun.mpirun(np: 2, "mpilearn", ["forest", "fit", "--train", path("train.csv"), "--target", "amount", "--task", "regression",
                                                       "--n-estimators", "2", "--model", path("r.model")], timeout: 60)
        XCTAssertEqual(reg.status, 0, "\(reg)")
    }
}
