import Foundation
@testable import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// `mpilearn text` under real mpirun: the same results at 1-3 ranks for exact and chained
/// training, fit then predict on another rank count, vectorize to .npz equal to the
/// in-process matrix, and bad input ending every rank.
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
        XCTAssertEqual(p1.split(separator: "\n").count, 91)
        XCTAssertEqual(Set(p1.split(separator: "\n").dropFirst()), Set(["libs", "other"]))
        // vectorize: the .npz holds the in-process matrix, rows in corpus order.
        let v = try run(3, ["vectorize", "--docs", train, "--output", path("x.npz"), "--compressed", "--text-field", "description", "--n-features", "4096"])
        XCTAssertEqual(v.status, 0, "\(v)")
        let back = try NPZ.readCSR(path("x.npz"), as: Double.self)
        let expected = try HashingVectorizer(nFeatures: 4096).transform(Self.corpus(300, seed: 1).map(\.text))
        XCTAssertEqual(back, expected)
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
