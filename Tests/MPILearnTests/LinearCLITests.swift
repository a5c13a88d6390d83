import Foundation
import TestSupport
import XCTest

/// `mpilearn linear` under real mpirun: fit, score and predict on generated data and on a
/// CSV with a categorical feature and text labels, and a flag the estimator lacks.
final class LinearCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try MPIRun.temporaryDirectory("linear-cli")
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func run(_ np: Int, _ args: [String], timeout: Double = 90) throws -> MPIRun.Outcome {
        try MPIRun.mpirun(np: np, "mpilearn", ["linear"] + args, timeout: timeout)
    }

    /// The probabilities column by column of a `predict --proba` CSV.
    func probabilities(_ file: String) throws -> [[Double]] {
        try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",").dropFirst().map { Double($0)! } }
    }

    /// Logistic regression fitted on 2 ranks predicts as the 1-rank fit (probabilities
    /// within 1e-9: the ranks' partial sums are added in another order), and scores.
    func testLogisticRegressionFitsAndScoresOnTwoRanks() throws {
        for np in [1, 2] {
            let fit = try run(np, ["fit", "--estimator", "logistic-regression", "--train", "classification:2000,5", "--C", "0.5",
                                   "--max-iter", "200", "--model", path("m\(np).model")])
            XCTAssertEqual(fit.status, 0, "\(fit)")
            XCTAssertTrue(fit.stdout.contains("fitted logistic-regression on 2000 rows × 5 features over \(np) rank(s)"), "\(fit)")
            let score = try run(np, ["score", "--model", path("m\(np).model"), "--test", "classification:500,5"])
            XCTAssertEqual(score.status, 0, "\(score)")
            XCTAssertTrue(score.stdout.contains("test rows: 500"), "\(score)")
            XCTAssertTrue(score.stdout.contains("accuracy:"), "\(score)")
            let predict = try run(np, ["predict", "--model", path("m\(np).model"), "--test", "classification:300,5", "--proba", "--output", path("p\(np).csv")])
            XCTAssertEqual(predict.status, 0, "\(predict)")
        }
        let one = try probabilities(path("p1.csv")), two = try probabilities(path("p2.csv"))
        XCTAssertEqual(one.count, 300)
        for (a, b) in zip(one, two) { for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-9) } }
    }

    /// `linear run` is fit then score in one launch: its report equals `score`'s on the model
    /// `fit` writes, at 1 and 3 ranks, and it prints the phases.
    func testRunIsFitThenScore() throws {
        let fit = try run(2, ["fit", "--estimator", "logistic-regression", "--train", "classification:1500,5", "--model", path("r.model")])
        XCTAssertEqual(fit.status, 0, "\(fit)")
        let score = try run(2, ["score", "--model", path("r.model"), "--test", "classification:400,5"])
        XCTAssertEqual(score.status, 0, "\(score)")
        let report = score.stdout.split(separator: "\n").filter { $0.hasPrefix("accuracy:") || $0.hasPrefix("log loss:") }
        XCTAssertEqual(report.count, 2, score.stdout)
        for np in [1, 3] {
            let out = try run(np, ["run", "--estimator", "logistic-regression", "--train", "classification:1500,5", "--test", "classification:400,5",
                                   "--model", path("run\(np).model")])
            XCTAssertEqual(out.status, 0, "\(out)")
            XCTAssertTrue(out.stdout.contains("fitted logistic-regression on 1500 rows × 5 features over \(np) rank(s)"), out.stdout)
            XCTAssertTrue(out.stdout.contains("test rows: 400"), out.stdout)
            for line in report { XCTAssertTrue(out.stdout.contains(line), "np=\(np): \(line) not in\n\(out.stdout)") }
            XCTAssertTrue(out.stdout.contains("score") && out.stdout.contains("read test"), out.stdout)
            XCTAssertTrue(FileManager.default.fileExists(atPath: path("run\(np).model")))
        }
        let ridge = try run(2, ["run", "--estimator", "ridge", "--train", "regression:800,4", "--test", "regression:200,4"])
        XCTAssertEqual(ridge.status, 0, "\(ridge)")
        XCTAssertTrue(ridge.stdout.contains("R²: "), ridge.stdout)
    }

    func testRidgeAndLinearRegressionScoreR2() throws {
        for (estimator, extra) in [("ridge", ["--alpha", "2", "--no-fit-intercept"]), ("linear-regression", []),
                                   ("ridge", ["--solver", "sparse_cg", "--tol", "1e-10", "--max-iter", "50"])] {
            let model = path("\(estimator)\(extra.count).model")
            let fit = try run(2, ["fit", "--estimator", estimator, "--train", "regression:2000,5", "--model", model] + extra)
            XCTAssertEqual(fit.status, 0, "\(fit)")
            let score = try run(2, ["score", "--model", model, "--test", "regression:500,5"])
            XCTAssertEqual(score.status, 0, "\(score)")
            let r2 = score.stdout.components(separatedBy: "R²: ").dropFirst().first.flatMap { Double($0.prefix(6)) }
            XCTAssertNotNil(r2, "\(score)")
            XCTAssertGreaterThan(r2 ?? 0, 0.99, "\(score)")   // the generator's target is linear plus unit noise
        }
    }

    /// A CSV with a categorical feature (entering as its codes) and text labels: the
    /// probability columns are named by the labels, and a balanced fit runs.
    func testCSVWithCategoricalFeatureAndTextLabels() throws {
        var s = "a,b,city,label\n"
        for i in 0 ..< 400 {
            let a = Double(i % 17), b = Double((i * 7) % 13)
            s += "\(a),\(b),\(["X", "Y", "Z"][i % 3]),\(a + b > 20 ? "late" : "ontime")\n"
        }
        try s.write(toFile: path("t.csv"), atomically: true, encoding: .utf8)
        let fit = try run(2, ["fit", "--estimator", "logistic-regression", "--train", path("t.csv"), "--target", "label", "--categorical", "city",
                              "--class-weight", "balanced", "--model", path("c.model")])
        XCTAssertEqual(fit.status, 0, "\(fit)")
        let predict = try run(2, ["predict", "--model", path("c.model"), "--test", path("t.csv"), "--proba", "--output", path("c.csv")])
        XCTAssertEqual(predict.status, 0, "\(predict)")
        let text = try String(contentsOfFile: path("c.csv"), encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("prediction,proba_late,proba_ontime\n"), text)
        XCTAssertEqual(text.split(separator: "\n").count, 401)
        let score = try run(2, ["score", "--model", path("c.model"), "--test", path("t.csv")])
        XCTAssertEqual(score.status, 0, "\(score)")
        XCTAssertTrue(score.stdout.contains("accuracy:"), "\(score)")
    }

    func testFlagTheEstimatorLacksEndsTheJob() throws {
        let out = try run(2, ["fit", "--estimator", "logistic-regression", "--train", "classification:100,3", "--alpha", "1", "--model", path("x.model")])
        XCTAssertNotEqual(out.status, 0, "\(out)")
        XCTAssertTrue((out.stdout + out.stderr).contains("logistic-regression has no parameter alpha"), "\(out)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.model")))
        let bad = try run(1, ["fit", "--estimator", "lasso", "--train", "classification:100,3", "--model", path("y.model")])
        XCTAssertNotEqual(bad.status, 0, "\(bad)")
        XCTAssertTrue((bad.stdout + bad.stderr).contains("--estimator"), "\(bad)")
        let solver = try run(2, ["fit", "--estimator", "ridge", "--train", "regression:100,3", "--solver", "svd", "--model", path("z.model")])
        XCTAssertEqual(solver.status, 64, "\(solver)")
        XCTAssertTrue(solver.stderr.contains("solver") && solver.stderr.contains("'svd'") && solver.stderr.contains("sparse_cg"), "\(solver)")
    }

    /// SGD through `linear`: chained training gives the same model on 1 and 3 ranks (the same
    /// probabilities, bit for bit), the regressor fits, and hinge models score without
    /// probabilities.
    func testSGDChainedIsTheSameOnOneAndThreeRanks() throws {
        for np in [1, 3] {
            let fit = try run(np, ["fit", "--estimator", "sgd-classifier", "--train", "classification:1500,5", "--loss", "log_loss",
                                   "--shuffle", "false", "--model", path("s\(np).model")])
            XCTAssertEqual(fit.status, 0, "\(fit)")
            let predict = try run(2, ["predict", "--model", path("s\(np).model"), "--test", "classification:200,5", "--proba", "--output", path("sp\(np).csv")])
            XCTAssertEqual(predict.status, 0, "\(predict)")
        }
        XCTAssertEqual(try String(contentsOfFile: path("sp1.csv"), encoding: .utf8), try String(contentsOfFile: path("sp3.csv"), encoding: .utf8))
        let hinge = try run(2, ["fit", "--estimator", "sgd-classifier", "--train", "classification:800,5", "--training", "averaged", "--model", path("h.model")])
        XCTAssertEqual(hinge.status, 0, "\(hinge)")
        let score = try run(2, ["score", "--model", path("h.model"), "--test", "classification:300,5"])
        XCTAssertEqual(score.status, 0, "\(score)")
        XCTAssertTrue(score.stdout.contains("accuracy:"), "\(score)")
        let reg = try run(2, ["fit", "--estimator", "sgd-regressor", "--train", "regression:800,4", "--loss", "huber", "--model", path("r.model")])
        XCTAssertEqual(reg.status, 0, "\(reg)")
        let bad = try run(2, ["fit", "--estimator", "sgd-classifier", "--train", "classification:800,5", "--loss", "squared_error", "--model", path("x.model")])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("loss"), "\(bad)")
    }
}
