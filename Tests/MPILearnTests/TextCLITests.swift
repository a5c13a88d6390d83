import Foundation
@testable import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// `mpilearn text` under real mpirun: the same results at 1-3 ranks for exact and chained
/// training and at 1-4 for the ridge classifier, fit then predict on another rank count,
/// vectorize to .npz equal to the in-process matrix, and bad input ending every rank.
final class TextCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try MPIRun.temporaryDirectory("text-cli")
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func run(_ np: Int, _ args: [String], timeout: Double = 120) throws -> MPIRun.Outcome {
        try MPIRun.mpirun(np: np, "mpilearn", ["text"] + args, timeout: timeout)
    }

    /// Documents about libraries (label libs) and about other things, with shared noise words.
    static func corpus(_ n: Int, seed: UInt64) -> [(text: String, label: String)] {
        var rng = Philox(seed: seed, domain: 9, stream: 0)
        let lib = ["library", "shared", "runtime", "development", "headers", "linking", "symbols", "libfoo"]
        let other = ["game", "editor", "daemon", "utility", "documentation", "server", "client", "théâtre"]
        let noise = ["the", "and", "package", "provides", "this", "for", "with", "Ünïcode", "東京"]
        return (0 ..< n).map { i in
            let isLib = rng.below(3) == 0
            let words = (0 ..< 6 + rng.below(8)).map { _ in rng.below(3) == 0 ? (isLib ? lib : other)[rng.below(8)] : noise[rng.below(noise.count)] }
            return (words.joined(separator: " ") + " \(i)", isLib ? "libs" : (rng.below(2) == 0 ? "games" : "admin"))
        }
    }

    func writeJSONL(_ name: String, _ docs: [(text: String, label: String)]) throws -> String {
        let lines = try docs.map { d -> String in
            String(decoding: try JSONSerialization.data(withJSONObject: ["description": d.text, "section": d.label], options: [.sortedKeys]), as: UTF8.self)
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    func accuracyLine(_ out: MPIRun.Outcome) -> String {
        out.stdout.split(separator: "\n").first { $0.hasPrefix("test: ") }.map(String.init) ?? "no test line in \(out)"
    }

    func testRunIsTheSameAtOneToThreeRanksFitPredictAndVectorize() throws {
        let train = try writeJSONL("train.jsonl", Self.corpus(300, seed: 1)), test = try writeJSONL("test.jsonl", Self.corpus(90, seed: 2))
        let common = ["--text-field", "description", "--label-field", "section", "--positive-class", "libs", "--n-features", "4096", "--alternate-sign", "false"]
        for training in ["exact", "chained"] {
            var lines: [String] = []
            for np in 1 ... 3 {
                let out = try run(np, ["run", "--train", train, "--test", test, "--training", training] + (training == "exact" ? [] : ["--shuffle", "false"]) + common)
                XCTAssertEqual(out.status, 0, "\(out)")
                XCTAssertTrue(out.stdout.contains("train: 300 documents"), "\(out)")
                if training == "exact" {   // evaluations against one read of the shard, timed on the matrix
                    XCTAssertTrue(out.stdout.contains(" evaluations, ") && out.stdout.contains("× that bound"), "\(out)")
                }
                lines.append(accuracyLine(out))
            }
            XCTAssertEqual(Set(lines).count, 1, "\(training): \(lines)")
            XCTAssertTrue(lines[0].contains("test: 90 documents; accuracy"), lines[0])
            let accuracy = Double(lines[0].split(separator: " ")[4])!
            XCTAssertGreaterThan(accuracy, 0.8, lines[0])
        }
        // Averaged says it is an approximation.
        let averaged = try run(2, ["run", "--train", train, "--test", test, "--training", "averaged"] + common)
        XCTAssertEqual(averaged.status, 0, "\(averaged)")
        XCTAssertTrue(averaged.stdout.contains("warning: averaged training is an approximation"), "\(averaged)")
        // Fit on 2 ranks, predict on 1 and on 3: the same file; the accuracy of the file's rows.
        let fit = try run(2, ["fit", "--train", train, "--model", path("t.model"), "--training", "chained", "--shuffle", "false"] + common)
        XCTAssertEqual(fit.status, 0, "\(fit)")
        for np in [1, 3] {
            let p = try run(np, ["predict", "--model", path("t.model"), "--docs", test, "--output", path("p\(np).csv"),
                                 "--text-field", "description", "--label-field", "section"])
            XCTAssertEqual(p.status, 0, "\(p)")
            XCTAssertTrue(p.stdout.contains("accuracy"), "\(p)")
        }
        let p1 = try String(contentsOfFile: path("p1.csv"), encoding: .utf8)
        XCTAssertEqual(p1, try String(contentsOfFile: path("p3.csv"), encoding: .utf8))
        // score: the same report on 1 and 3 ranks, its accuracy the predictions file's.
        var reports: [String] = []
        for np in [1, 3] {
            let s = try run(np, ["score", "--model", path("t.model"), "--docs", test, "--text-field", "description", "--label-field", "section"])
            XCTAssertEqual(s.status, 0, "\(s)")
            reports.append(s.stdout)
        }
        XCTAssertEqual(reports[0], reports[1])
        XCTAssertTrue(reports[0].contains("test rows: 90") && reports[0].contains("confusion matrix"), reports[0])
        let truth = Self.corpus(90, seed: 2).map { $0.label == "libs" ? "libs" : "other" }, predicted = p1.split(separator: "\n").dropFirst().map(String.init)
        let accuracy = Double(zip(truth, predicted).filter { $0 == $1 }.count) / 90
        XCTAssertTrue(reports[0].contains(String(format: "accuracy: %.4f", accuracy)), "\(reports[0]) against \(accuracy)")
        // Without labels it says which flag is missing, on every rank.
        let unlabelled = try run(2, ["score", "--model", path("t.model"), "--docs", test, "--text-field", "description"])
        XCTAssertNotEqual(unlabelled.status, 0)
        XCTAssertTrue(unlabelled.stderr.contains("--label-field"), "\(unlabelled)")
        XCTAssertEqual(p1.split(separator: "\n").count, 91)
        XCTAssertEqual(Set(p1.split(separator: "\n").dropFirst()), Set(["libs", "other"]))
        // vectorize: the .npz holds the in-process matrix, rows in corpus order.
        let v = try run(3, ["vectorize", "--docs", train, "--output", path("x.npz"), "--compressed", "--text-field", "description", "--n-features", "4096"])
        XCTAssertEqual(v.status, 0, "\(v)")
        let back = try NPZ.readCSR(path("x.npz"), as: Double.self)
        let expected = try HashingVectorizer(nFeatures: 4096).transform(Self.corpus(300, seed: 1).map(\.text))
        XCTAssertEqual(back, expected)
    }

    /// `--estimator ridge` (RidgeClassifier): hashed past 4096 columns it is conjugate gradient
    /// with one allreduce per iteration, and the model is the same at 1 to 4 ranks (the same
    /// iterations; coefficients to 1e-10) and equals the in-process fit on the same hashed
    /// rows; fitted on 2 ranks it predicts the same file on 1 and 3. Three classes on 4096
    /// columns go through the Gram matrix (one Cholesky factorisation for the three ±1
    /// targets). A text LogisticRegression model file (--training exact) loads for predict.
    func testRidgeClassifierIsTheSameAtOneToFourRanks() throws {
        let docs = Self.corpus(300, seed: 1)
        let train = try writeJSONL("train.jsonl", docs), test = try writeJSONL("test.jsonl", Self.corpus(90, seed: 2))
        let common = ["--text-field", "description", "--label-field", "section", "--positive-class", "libs", "--n-features", "16384", "--alternate-sign", "false"]
        var models: [TextClassifierModel] = [], lines: [String] = []
        for np in 1 ... 4 {
            let out = try run(np, ["run", "--train", train, "--test", test, "--estimator", "ridge", "--alpha", "0.5", "--model", path("r\(np).model")] + common)
            XCTAssertEqual(out.status, 0, "\(out)")
            XCTAssertTrue(out.stdout.contains("training: exact (RidgeClassifier"), "\(out)")
            XCTAssertTrue(out.stdout.contains("fit: RidgeClassifier (alpha=0.5), sparse_cg,"), "\(out)")
            lines.append(accuracyLine(out))
            models.append(try TextClassifierModel.load(from: path("r\(np).model"), comm: LocalCommunicator.solo()))
        }
        XCTAssertEqual(Set(lines).count, 1, "\(lines)")
        let accuracy = Double(lines[0].split(separator: " ")[4])!
        XCTAssertGreaterThan(accuracy, 0.8, lines[0])
        guard case .ridge(let one) = models[0].classifier else { return XCTFail("not a ridge model: \(models[0].classifier)") }
        XCTAssertEqual(one.solver, "sparse_cg")
        for (np, m) in models.enumerated().dropFirst() {
            guard case .ridge(let r) = m.classifier else { return XCTFail("not a ridge model") }
            XCTAssertEqual(r.nIter, one.nIter, "np=\(np + 1)")
            XCTAssertLessThan(LinearModelTests.maxRelativeDifference(r.coef.storage + r.intercept, one.coef.storage + one.intercept), 1e-10, "np=\(np + 1)")
        }
        // The in-process fit on the same hashed rows.
        let v = HashingVectorizer(nFeatures: 16384, alternateSign: false)
        var data = Dataset<Double>(features: .sparse(try v.transform(docs.map(\.text))), target: docs.map { $0.label == "libs" ? 1 : 0 })
        data.classNames = ["other", "libs"]
        let local = try Ridge(alpha: 0.5).fitClassifier(data, comm: LocalCommunicator.solo())
        XCTAssertLessThan(LinearModelTests.maxRelativeDifference(local.coef.storage + local.intercept, one.coef.storage + one.intercept), 1e-10)
        // Fit on 2 ranks, predict on 1 and 3.
        for np in [1, 3] {
            let p = try run(np, ["predict", "--model", path("r2.model"), "--docs", test, "--output", path("rp\(np).csv"),
                                 "--text-field", "description", "--label-field", "section"])
            XCTAssertEqual(p.status, 0, "\(p)")
        }
        XCTAssertEqual(try String(contentsOfFile: path("rp1.csv"), encoding: .utf8), try String(contentsOfFile: path("rp3.csv"), encoding: .utf8))
        // Three classes on 4096 columns: the Gram path.
        let three = try run(2, ["run", "--train", train, "--test", test, "--estimator", "ridge", "--text-field", "description", "--label-field", "section",
                                "--n-features", "4096"])
        XCTAssertEqual(three.status, 0, "\(three)")
        XCTAssertTrue(three.stdout.contains("3 classes") && three.stdout.contains("cholesky, one Cholesky solve"), "\(three)")
        // A LogisticRegression text model (hashed columns have no names) saves and loads.
        let exact = try run(2, ["fit", "--train", train, "--model", path("l.model"), "--training", "exact"] + common)
        XCTAssertEqual(exact.status, 0, "\(exact)")
        let predicted = try run(1, ["predict", "--model", path("l.model"), "--docs", test, "--output", path("lp.csv"),
                                    "--text-field", "description", "--label-field", "section"])
        XCTAssertEqual(predicted.status, 0, "\(predicted)")
    }

    /// The estimator and the training must fit together, and ridge takes ridge's parameters.
    func testRidgeRefusesSGDTrainingAndForeignParameters() throws {
        let train = try writeJSONL("train.jsonl", Self.corpus(60, seed: 3))
        let common = ["--train", train, "--test", train, "--text-field", "description", "--label-field", "section", "--positive-class", "libs"]
        let chained = try run(1, ["run", "--estimator", "ridge", "--training", "chained"] + common)
        XCTAssertEqual(chained.status, 64, "\(chained)")
        XCTAssertTrue(chained.stderr.contains("--training") && chained.stderr.contains("exact for ridge"), "\(chained)")
        let sgdExact = try run(1, ["run", "--estimator", "sgd-classifier", "--training", "exact"] + common)
        XCTAssertEqual(sgdExact.status, 64, "\(sgdExact)")
        XCTAssertTrue(sgdExact.stderr.contains("chained or averaged for sgd-classifier"), "\(sgdExact)")
        let c = try run(1, ["run", "--estimator", "ridge", "--C", "2"] + common)
        XCTAssertEqual(c.status, 64, "\(c)")
        XCTAssertTrue(c.stderr.contains("C") && c.stderr.contains("alpha") && c.stderr.contains("solver"), "\(c)")
        let alpha = try run(1, ["run", "--estimator", "ridge", "--alpha=-1"] + common)
        XCTAssertEqual(alpha.status, 64, "\(alpha)")
        XCTAssertTrue(alpha.stderr.contains("alpha") && alpha.stderr.contains("-1"), "\(alpha)")
        // sgd-classifier alone trains chained.
        let sgd = try run(1, ["run", "--estimator", "sgd-classifier", "--shuffle", "false"] + common)
        XCTAssertEqual(sgd.status, 0, "\(sgd)")
        XCTAssertTrue(sgd.stdout.contains("training: chained"), "\(sgd)")
    }

    func testBadInputEndsEveryRank() throws {
        let train = try writeJSONL("train.jsonl", Self.corpus(60, seed: 3))
        // Invalid UTF-8 in a line rank 1 reads: strict names the file and byte offset.
        var bytes = Array(try String(contentsOfFile: train, encoding: .utf8).utf8)
        let at = bytes.count * 3 / 4
        bytes[at] = 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path("bad.jsonl")))
        let bad = try run(2, ["run", "--train", path("bad.jsonl"), "--test", train, "--text-field", "description", "--label-field", "section"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("bad.jsonl") && bad.stderr.contains("byte offset \(at)"), "\(bad)")
        let missing = try run(2, ["run", "--train", train, "--test", train, "--text-field", "body", "--label-field", "section"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("train.jsonl:1") && missing.stderr.contains("\"body\""), "\(missing)")
        let one = try run(2, ["run", "--train", train, "--test", train, "--text-field", "description", "--label-field", "section", "--positive-class", "nope"])
        XCTAssertNotEqual(one.status, 0)
        XCTAssertTrue(one.stderr.contains("--positive-class") && one.stderr.contains("two classes are needed") && one.stderr.contains("libs"), "\(one)")
        let features = try run(1, ["run", "--train", train, "--test", train, "--text-field", "description", "--label-field", "section", "--n-features", "0"])
        XCTAssertNotEqual(features.status, 0)
        XCTAssertTrue(features.stderr.contains("n_features"), "\(features)")
    }

    // MARK: the committed text model

    static let fixtureDocuments = corpus(40, seed: 7).map(\.text)

    /// Regenerates Tests/Fixtures/conformance/text-classifier.model and its predictions (run
    /// once with MPILEARN_WRITE_FIXTURES=1; the files are committed).
    func testWriteTextFixtureWhenAsked() throws {
        guard ProcessInfo.processInfo.environment["MPILEARN_WRITE_FIXTURES"] == "1" else { throw XCTSkip("set MPILEARN_WRITE_FIXTURES=1 to regenerate") }
        let docs = Self.corpus(300, seed: 1)
        let v = HashingVectorizer(nFeatures: 4096, alternateSign: false)
        var data = Dataset<Double>(features: .sparse(try v.transform(docs.map(\.text))), target: docs.map { $0.label == "libs" ? 1 : 0 })
        data.classNames = ["other", "libs"]
        let sgd = try SGDClassifier(loss: .logLoss).setting(["shuffle": false]).fit(data, comm: LocalCommunicator.solo())
        let model = TextClassifierModel(vectorizer: v, positiveClass: "libs", classifier: .sgd(sgd))
        let paths = EstimatorConformance.fixturePaths(kind: TextClassifierModel.kind, directory: EstimatorConformance.fixtureDirectory)
        try model.save(to: paths.model.path)
        try JSONEncoder().encode(["documents": Self.fixtureDocuments, "predictions": try model.predict(Self.fixtureDocuments)]).write(to: paths.predictions)
    }

    /// The committed text model (vectorizer and classifier in one file) still loads and
    /// predicts the recorded classes, on one rank without MPI.
    func testCommittedTextModelPredictsAsRecorded() throws {
        let paths = EstimatorConformance.fixturePaths(kind: TextClassifierModel.kind, directory: EstimatorConformance.fixtureDirectory)
        let model = try XCTUnwrap(ModelRegistry.load(from: paths.model.path) as? TextClassifierModel)
        let recorded = try JSONDecoder().decode([String: [String]].self, from: Data(contentsOf: paths.predictions))
        XCTAssertEqual(recorded["documents"], Self.fixtureDocuments)
        XCTAssertEqual(try model.predict(Self.fixtureDocuments), recorded["predictions"])
        XCTAssertEqual(model.classes, ["other", "libs"])
        XCTAssertTrue(model.summary().contains { $0.0 == "vectorizer" && $0.1.contains("n_features=4096") })
    }
}
