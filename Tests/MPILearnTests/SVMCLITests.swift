import Foundation
import TestSupport
import XCTest

/// `mpilearn svm` under real mpirun: the direct solve gives the same model file at any rank
/// count, `run` prints the lines a benchmark parses, predict and score agree with the
/// model's vote, a search over SVC runs, and bad input ends every rank with a clear message.
final class SVMCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try MPIRun.temporaryDirectory("svm-cli")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func run(_ np: Int, _ args: [String], timeout: Double = 120) throws -> MPIRun.Outcome {
        try MPIRun.mpirun(np: np, "mpilearn", args, timeout: timeout)
    }

    /// A fixed dataset: two numeric features, a categorical city, and a label of `classes`
    /// (by region of the plane, with a few rows flipped so the classes overlap).
    func writeCSV(_ name: String, rows: Int, seed: UInt64, classes: [String] = ["blue", "green", "red"]) throws -> String {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        var s = "a,b,city,label\n"
        for i in 0 ..< rows {
            let a = (next() * 4 - 2), b = (next() * 4 - 2)
            var c = classes.count == 2 ? (a + b > 0 ? 1 : 0) : (a > 0.3 ? 2 : (b > 0 ? 1 : 0))
            if next() < 0.08 { c = (c + 1) % classes.count }
            s += String(format: "%.4f,%.4f,%@,%@\n", a, b, ["X", "Y", "Z"][i % 3], classes[c])
        }
        try s.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    /// The CSV's lines after the header, split into fields.
    func rows(_ file: String) throws -> [[Substring]] {
        try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
    }

    /// The line of `text` that starts with `prefix`.
    func line(_ text: String, _ prefix: String) -> String? {
        text.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init)
    }

    func expectFailure(_ np: Int, _ args: [String], _ phrases: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let out = try run(np, args, timeout: 60)
        XCTAssertFalse(out.timedOut, "hung: \(out)", file: file, line: line)
        XCTAssertNotEqual(out.status, 0, "\(args): \(out)", file: file, line: line)
        XCTAssertLessThan(out.seconds, 30, "slow to fail: \(out)", file: file, line: line)
        XCTAssertTrue(out.stderr.range(of: #"rank \d+/\#(np): error: "#, options: .regularExpression) != nil, "\(out)", file: file, line: line)
        for phrase in phrases { XCTAssertTrue(out.stderr.contains(phrase), "expected '\(phrase)': \(out)", file: file, line: line) }
    }

    /// The direct solve gathers every row, so the model file is byte for byte the same at 1
    /// and 3 ranks (2 threads each): three classes with Platt probabilities (the pairs and the probability
    /// folds are shared out over the ranks), and two classes with a poly kernel.
    func testFitGivesByteIdenticalModelsOnOneAndThreeRanks() throws {
        let three = try writeCSV("three.csv", rows: 240, seed: 1)
        let two = try writeCSV("two.csv", rows: 200, seed: 2, classes: ["no", "yes"])
        let cases: [(String, [String])] = [
            ("prob", ["--train", three, "--target", "label", "--categorical", "city", "--probability", "--C", "2", "--random-state", "3"]),
            ("poly", ["--train", two, "--target", "label", "--features", "a,b", "--kernel", "poly", "--degree", "2", "--coef0", "1",
                      "--gamma", "auto", "--class-weight", "balanced", "--no-shrinking"]),
        ]
        for (name, args) in cases {
            var files: [Data] = []
            for np in [1, 3] {
                let model = path("\(name)\(np).model")
                // Threads per rank change neither the model nor its file.
                let out = try run(np, ["svm", "fit"] + args + ["--model", model] + (np == 3 ? ["--threads", "2"] : []))
                XCTAssertEqual(out.status, 0, "\(name) np=\(np): \(out)")
                XCTAssertNotNil(line(out.stdout, "fit: "), out.stdout)
                XCTAssertNotNil(line(out.stdout, "support vectors: "), out.stdout)
                XCTAssertTrue(out.stdout.contains("model written to \(model)"), out.stdout)
                XCTAssertTrue(out.stdout.contains("over \(np) rank(s)"), out.stdout)
                files.append(try Data(contentsOf: URL(fileURLWithPath: model)))
            }
            XCTAssertEqual(files[0], files[1], "\(name): the model files differ between 1 and 3 ranks")
        }
        let inspect = try MPIRun.run([MPIRun.executable("mpilearn"), "model", "inspect", path("prob1.model")], timeout: 30)
        XCTAssertEqual(inspect.status, 0, "\(inspect)")
        XCTAssertTrue(inspect.stdout.contains("svc"), inspect.stdout)
    }

    /// `svm run` prints the benchmark's three lines and a phase table; `svm score` on the
    /// model it saved prints the same accuracy line; `svm predict` writes one row per input
    /// row whose accuracy against the labels is that accuracy (the model's own vote), at 1
    /// and 3 ranks alike, and with `--proba` the same predictions.
    func testRunScoreAndPredictAgree() throws {
        let train = try writeCSV("train.csv", rows: 300, seed: 5), test = try writeCSV("test.csv", rows: 101, seed: 6)
        let model = path("run.model")
        let out = try run(2, ["svm", "run", "--train", train, "--test", test, "--target", "label", "--categorical", "city",
                              "--C", "3", "--probability", "--model", model])
        XCTAssertEqual(out.status, 0, "\(out)")
        let fit = try XCTUnwrap(line(out.stdout, "fit: "), out.stdout)
        XCTAssertNotNil(fit.range(of: #"^fit: \d+\.\d+ s "#, options: .regularExpression), fit)
        let sv = try XCTUnwrap(line(out.stdout, "support vectors: "), out.stdout)
        let svMatch = try XCTUnwrap(sv.range(of: #"^support vectors: (\d+) \(per class \d+, \d+, \d+\)$"#, options: .regularExpression), sv)
        XCTAssertFalse(sv[svMatch].isEmpty)
        let total = Int(sv.split(separator: " ")[2])!
        let perClass = sv.split(separator: "(").last!.dropFirst("per class ".count).dropLast().split(separator: ", ").map { Int($0)! }
        XCTAssertEqual(perClass.reduce(0, +), total, sv)
        let headline = try XCTUnwrap(line(out.stdout, "test: accuracy "), out.stdout)
        XCTAssertNotNil(headline.range(of: #"^test: accuracy \d\.\d{4} against the majority baseline \d\.\d{4} \(101 rows\)$"#, options: .regularExpression), headline)
        for phase in ["load ", "gather ", "solve ", "save ", "load test ", "predict ", "score ", "total "] {
            XCTAssertNotNil(line(out.stdout, phase), "phase '\(phase)' missing: \(out.stdout)")
        }
        XCTAssertTrue(out.stdout.contains("peak memory per rank:"), out.stdout)
        let accuracy = Double(headline.split(separator: " ")[2])!
        XCTAssertGreaterThan(accuracy, 0.7, headline)

        for np in [1, 3] {
            // Threads per rank (at 3 ranks) change no score or prediction.
            let threads = np == 3 ? ["--threads", "2"] : []
            let score = try run(np, ["svm", "score", "--model", model, "--test", test] + threads)
            XCTAssertEqual(score.status, 0, "\(score)")
            XCTAssertEqual(line(score.stdout, "test: accuracy "), headline, "score at np=\(np) disagrees with run")
            let predictions = path("p\(np).csv")
            let predict = try run(np, ["svm", "predict", "--model", model, "--test", test, "--output", predictions, "--chunk-rows", "17"] + threads)
            XCTAssertEqual(predict.status, 0, "\(predict)")
            XCTAssertTrue(predict.stdout.contains("predicted 101 rows"), predict.stdout)
            let predicted = try rows(predictions).map { String($0[0]) }
            let labels = try rows(test).map { String($0[3]) }
            XCTAssertEqual(predicted.count, labels.count)
            XCTAssertTrue(Set(predicted).isSubset(of: ["blue", "green", "red"]), "\(Set(predicted))")
            let correct = zip(predicted, labels).filter { $0 == $1 }.count
            XCTAssertEqual(String(format: "%.4f", Double(correct) / Double(labels.count)), String(format: "%.4f", accuracy),
                           "predict at np=\(np) is not the model's vote")
        }
        XCTAssertEqual(try String(contentsOfFile: path("p1.csv"), encoding: .utf8), try String(contentsOfFile: path("p3.csv"), encoding: .utf8))

        // --proba: the probabilities of each class, summing to 1, and the same predictions.
        let probaFile = path("proba.csv")
        let proba = try run(2, ["svm", "predict", "--model", model, "--test", test, "--output", probaFile, "--proba"])
        XCTAssertEqual(proba.status, 0, "\(proba)")
        let text = try String(contentsOfFile: probaFile, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("prediction,proba_blue,proba_green,proba_red\n"), text)
        let withProba = try rows(probaFile)
        XCTAssertEqual(withProba.map { String($0[0]) }, try rows(path("p1.csv")).map { String($0[0]) })
        for r in withProba { XCTAssertEqual(r.dropFirst().map { Double($0)! }.reduce(0, +), 1, accuracy: 1e-9) }

        // A generator spec predicts too (generated on the ranks, written as CSV).
        let g = path("g.model")
        XCTAssertEqual(try run(2, ["svm", "fit", "--train", "classification:300,4,1", "--kernel", "linear", "--model", g]).status, 0)
        let gp = try run(3, ["svm", "predict", "--model", g, "--test", "classification:50,4,1", "--output", path("g.csv")])
        XCTAssertEqual(gp.status, 0, "\(gp)")
        XCTAssertEqual(try rows(path("g.csv")).count, 50)
        let gs = try run(2, ["svm", "score", "--model", g, "--test", "classification:50,4,1"])
        XCTAssertEqual(gs.status, 0, "\(gs)")
        XCTAssertNotNil(line(gs.stdout, "test: accuracy "), gs.stdout)
    }

    /// A precomputed kernel: the features are the Gram matrix (n_train columns); a test
    /// matrix must be n_test × n_train.
    func testPrecomputedKernel() throws {
        let n = 60, m = 20
        func point(_ i: Int) -> (Double, Double) { (Double((i * 37) % 23) / 11 - 1, Double((i * 53) % 19) / 9 - 1) }
        func gram(_ name: String, rows: Range<Int>, width: Int) throws -> String {
            var s = (0 ..< width).map { "k\($0)" }.joined(separator: ",") + ",label\n"
            for i in rows {
                let p = point(i)
                s += (0 ..< width).map { j -> String in
                    let q = point(j)
                    return String(format: "%.6f", p.0 * q.0 + p.1 * q.1)
                }.joined(separator: ",") + "," + (p.0 + p.1 > 0 ? "up" : "down") + "\n"
            }
            try s.write(toFile: path(name), atomically: true, encoding: .utf8)
            return path(name)
        }
        let train = try gram("k-train.csv", rows: 0 ..< n, width: n)
        let test = try gram("k-test.csv", rows: n ..< n + m, width: n)
        let model = path("k.model")
        let fit = try run(2, ["svm", "fit", "--train", train, "--target", "label", "--kernel", "precomputed", "--model", model])
        XCTAssertEqual(fit.status, 0, "\(fit)")
        let score = try run(2, ["svm", "score", "--model", model, "--test", test])
        XCTAssertEqual(score.status, 0, "\(score)")
        XCTAssertNotNil(line(score.stdout, "test: accuracy "), score.stdout)
        let predict = try run(2, ["svm", "predict", "--model", model, "--test", test, "--output", path("k.csv")])
        XCTAssertEqual(predict.status, 0, "\(predict)")
        XCTAssertEqual(try rows(path("k.csv")).count, m)

        // Not square at fit time; one column too many at predict and score time.
        let wide = try gram("k-wide.csv", rows: n ..< n + m, width: n + 1)
        try expectFailure(2, ["svm", "fit", "--train", test, "--target", "label", "--kernel", "precomputed", "--model", path("x.model")],
                          ["square", "20 rows × 60 columns"])
        try expectFailure(2, ["svm", "predict", "--model", model, "--test", wide, "--output", path("x.csv")], ["precomputed", "n_train = 60", "61 columns"])
        try expectFailure(2, ["svm", "score", "--model", model, "--test", wide], ["precomputed", "n_train = 60", "61 columns"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.model")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.csv")))
    }

    /// Every bad input ends every rank quickly with `rank R/N: error:` naming the problem.
    func testBadInputs() throws {
        let train = try writeCSV("train.csv", rows: 90, seed: 9)
        let fit = ["svm", "fit", "--train", train, "--target", "label", "--categorical", "city", "--model", path("bad.model")]
        try expectFailure(2, fit + ["--C", "0"], ["parameter C", "> 0"])
        try expectFailure(2, fit + ["--gamma", "-1"], ["parameter gamma", "'scale', 'auto'"])
        try expectFailure(2, fit + ["--gamma", "wide"], ["parameter gamma", "'wide'"])
        try expectFailure(2, fit + ["--degree", "-1"], ["parameter degree", ">= 0"])
        try expectFailure(2, fit + ["--cache-size", "0"], ["parameter cache_size"])
        try expectFailure(2, fit + ["--threads", "0"], ["parameter n_jobs", ">= 1"])
        try expectFailure(2, fit + ["--kernel", "cubic"], ["parameter kernel", "'cubic'", "'rbf'"])
        try expectFailure(2, fit + ["--max-iter", "0"], ["parameter max_iter"])
        try expectFailure(2, fit + ["--class-weight", "even"], ["parameter class_weight"])
        try expectFailure(2, fit + ["--training", "bogus"], ["parameter training", "'direct' or 'cascade'"])
        try expectFailure(2, fit + ["--decision-function-shape", "ovo", "--break-ties"], ["parameter break_ties"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("bad.model")))

        // One class only.
        var one = "a,b,label\n"
        for i in 0 ..< 30 { one += "\(i),\(i % 7),only\n" }
        try one.write(toFile: path("one.csv"), atomically: true, encoding: .utf8)
        try expectFailure(3, ["svm", "fit", "--train", path("one.csv"), "--target", "label", "--model", path("bad.model")], ["at least 2 classes"])

        // A missing and an infinite feature: the message names the row and the column.
        var lines = try String(contentsOfFile: train, encoding: .utf8).split(separator: "\n").map(String.init)
        var missing = lines
        missing[70] = "0.5,,Y,red"   // data row 70: on the last rank of 3
        try (missing.joined(separator: "\n") + "\n").write(toFile: path("nan.csv"), atomically: true, encoding: .utf8)
        try expectFailure(3, ["svm", "fit", "--train", path("nan.csv"), "--target", "label", "--model", path("bad.model")],
                          ["row 70", "column 2 ('b')", "finite"])
        lines[5] = "1e999,0.5,X,red"   // data row 5
        try (lines.joined(separator: "\n") + "\n").write(toFile: path("inf.csv"), atomically: true, encoding: .utf8)
        try expectFailure(2, ["svm", "fit", "--train", path("inf.csv"), "--target", "label", "--model", path("bad.model")],
                          ["row 5", "column 1 ('a')", "inf"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("bad.model")))

        // Model files: corrupt, another kind, and --proba without probabilities.
        let model = path("good.model")
        XCTAssertEqual(try run(2, ["svm", "fit", "--train", train, "--target", "label", "--model", model]).status, 0)
        var corrupt = try Data(contentsOf: URL(fileURLWithPath: model))
        corrupt[corrupt.count - 20] ^= 0x55
        try corrupt.write(to: URL(fileURLWithPath: path("corrupt.model")))
        try expectFailure(2, ["svm", "predict", "--model", path("corrupt.model"), "--test", train, "--output", path("o.csv")], ["corrupt"])
        try expectFailure(2, ["svm", "score", "--model", path("corrupt.model"), "--test", train], ["corrupt"])
        try expectFailure(2, ["svm", "score", "--model", path("missing.model"), "--test", train], ["no such file"])
        XCTAssertEqual(try run(1, ["forest", "fit", "--train", train, "--target", "label", "--n-estimators", "2", "--model", path("forest.model")]).status, 0)
        try expectFailure(2, ["svm", "score", "--model", path("forest.model"), "--test", train], ["expected 'svc'"])
        try expectFailure(2, ["svm", "predict", "--model", model, "--test", train, "--output", path("o.csv"), "--proba"], ["--proba", "--probability"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("o.csv")))
        // A missing feature at predict time names the input row.
        var test = try String(contentsOfFile: train, encoding: .utf8).split(separator: "\n").map(String.init)
        test[3] = "0.25,,Z,blue"
        try (test.joined(separator: "\n") + "\n").write(toFile: path("nan-test.csv"), atomically: true, encoding: .utf8)
        try expectFailure(2, ["svm", "predict", "--model", model, "--test", path("nan-test.csv"), "--output", path("o.csv")], ["nan-test.csv", "'b'", "finite"])
        try expectFailure(2, ["svm", "score", "--model", model, "--test", path("nan-test.csv")], ["row 3", "'b'", "finite"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("o.csv")))
    }

    /// The cascade at 1, 2, 3 and 4 ranks (real mpirun, 4 oversubscribed) reaches the direct
    /// solve: the same test accuracy and support vectors, and the report names its passes.
    func testCascadeReachesTheDirectSolve() throws {
        let train = try writeCSV("cascade.csv", rows: 600, seed: 5)
        let test = try writeCSV("cascade-test.csv", rows: 200, seed: 6)
        let common = ["svm", "run", "--train", train, "--test", test, "--target", "label", "--features", "a,b", "--C", "1", "--tol", "1e-5"]
        let direct = try run(1, common)
        XCTAssertEqual(direct.status, 0, "\(direct)")
        let accuracy = line(direct.stdout, "test: accuracy ")
        let vectors = line(direct.stdout, "support vectors: ")
        XCTAssertNotNil(accuracy, direct.stdout)
        for np in [1, 2, 3, 4] {
            let out = try run(np, common + ["--training", "cascade"], timeout: 120)
            XCTAssertEqual(out.status, 0, "np=\(np): \(out)")
            XCTAssertEqual(line(out.stdout, "test: accuracy "), accuracy, "np=\(np): \(out.stdout)")
            XCTAssertEqual(line(out.stdout, "support vectors: "), vectors, "np=\(np): \(out.stdout)")
            XCTAssertTrue(out.stdout.contains("training=cascade"), out.stdout)
        }
        try expectFailure(2, ["svm", "fit", "--train", "classification:100,4", "--training", "cascade", "--probability", "--model", path("c.model")],
                          ["probability"])
    }

    /// A grid search over SVC's C and kernel at 2 ranks.
    func testSearchGridOverSVC() throws {
        let out = try run(2, ["search", "grid", "--estimator", "svc", "--param", "C=0.1,1", "--param", "kernel=rbf,linear",
                              "--train", "classification:240,4,3", "--target", "y", "--cv", "3", "--results", path("cv.csv")])
        XCTAssertEqual(out.status, 0, "\(out)")
        XCTAssertNotNil(line(out.stdout, "best:"), out.stdout)
        XCTAssertEqual(try rows(path("cv.csv")).count, 4)
    }

    /// A regression CSV: two numeric features, a categorical city and a smooth target with noise.
    func writeRegressionCSV(_ name: String, rows: Int, seed: UInt64) throws -> String {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        var s = "a,b,city,y\n"
        for i in 0 ..< rows {
            let a = next() * 4 - 2, b = next() * 4 - 2
            let y = 3 * sin(2 * a) + b * b + Double(i % 3) + 0.2 * (next() - 0.5)
            s += String(format: "%.4f,%.4f,%@,%.5f\n", a, b, ["X", "Y", "Z"][i % 3], y)
        }
        try s.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    /// `--estimator svr`: the same model file at 1 and 3 ranks (2 threads each); `run` prints
    /// the fit, the support vectors and R²; `score` and `predict` at 1 and 3 ranks agree with
    /// it; a grid search over SVR's C and epsilon runs; flags of the other estimator and
    /// `--proba` are refused by name on every rank.
    func testSVRFitRunScorePredictAndSearch() throws {
        let train = try writeRegressionCSV("reg.csv", rows: 300, seed: 3), test = try writeRegressionCSV("reg-test.csv", rows: 97, seed: 4)
        let args = ["--estimator", "svr", "--train", train, "--target", "y", "--categorical", "city", "--C", "10", "--epsilon", "0.05"]
        var files: [Data] = []
        for np in [1, 3] {
            let model = path("svr\(np).model")
            let out = try run(np, ["svm", "fit"] + args + ["--model", model] + (np == 3 ? ["--threads", "2"] : []))
            XCTAssertEqual(out.status, 0, "np=\(np): \(out)")
            XCTAssertNotNil(line(out.stdout, "support vectors: ")?.range(of: #"^support vectors: \d+ of 300 training rows$"#, options: .regularExpression), out.stdout)
            XCTAssertTrue(out.stdout.contains("estimator: SVR(kernel=rbf, C=10.0, gamma=scale ("), out.stdout)
            XCTAssertTrue(out.stdout.contains("epsilon=0.05"), out.stdout)
            files.append(try Data(contentsOf: URL(fileURLWithPath: model)))
        }
        XCTAssertEqual(files[0], files[1], "the SVR model files differ between 1 and 3 ranks")
        let inspect = try MPIRun.run([MPIRun.executable("mpilearn"), "model", "inspect", path("svr1.model")], timeout: 30)
        XCTAssertEqual(inspect.status, 0, "\(inspect)")
        XCTAssertTrue(inspect.stdout.contains("svr, format version"), inspect.stdout)
        XCTAssertTrue(inspect.stdout.contains("support vectors: "), inspect.stdout)

        let out = try run(2, ["svm", "run"] + args + ["--test", test])
        XCTAssertEqual(out.status, 0, "\(out)")
        let r2Line = try XCTUnwrap(line(out.stdout, "R²: "), out.stdout)
        XCTAssertEqual(line(out.stdout, "test rows: "), "test rows: 97")
        let r2 = Double(r2Line.split(separator: " ")[1])!
        XCTAssertGreaterThan(r2, 0.8, r2Line)
        for phase in ["load ", "gather ", "solve ", "load test ", "predict ", "score ", "total "] {
            XCTAssertNotNil(line(out.stdout, phase), "phase '\(phase)' missing: \(out.stdout)")
        }
        let labels = try rows(test).map { Double($0[3])! }
        for np in [1, 3] {
            let score = try run(np, ["svm", "score", "--model", path("svr1.model"), "--test", test])
            XCTAssertEqual(score.status, 0, "\(score)")
            XCTAssertEqual(line(score.stdout, "R²: "), r2Line, "score at np=\(np) disagrees with run")
            let predictions = path("svr-p\(np).csv")
            let predict = try run(np, ["svm", "predict", "--model", path("svr1.model"), "--test", test, "--output", predictions, "--chunk-rows", "13"])
            XCTAssertEqual(predict.status, 0, "\(predict)")
            let predicted = try rows(predictions).map { Double($0[0])! }
            XCTAssertEqual(predicted.count, labels.count)
            let mean = labels.reduce(0, +) / Double(labels.count)
            let ssRes = zip(labels, predicted).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
            let ssTot = labels.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)
            XCTAssertEqual(String(format: "%.4f", 1 - ssRes / ssTot), String(format: "%.4f", r2), "predict at np=\(np) is not what score scored")
        }
        XCTAssertEqual(try String(contentsOfFile: path("svr-p1.csv"), encoding: .utf8), try String(contentsOfFile: path("svr-p3.csv"), encoding: .utf8))

        let search = try run(2, ["search", "grid", "--estimator", "svr", "--param", "C=1,10", "--param", "epsilon=0.05,0.5",
                                 "--train", train, "--target", "y", "--features", "a,b", "--cv", "3", "--results", path("svr-cv.csv")])
        XCTAssertEqual(search.status, 0, "\(search)")
        XCTAssertNotNil(line(search.stdout, "best:"), search.stdout)
        XCTAssertEqual(try rows(path("svr-cv.csv")).count, 4)

        let fit = ["svm", "fit", "--train", train, "--target", "y", "--model", path("bad.model")]
        try expectFailure(2, fit + ["--estimator", "svr", "--probability"], ["--probability", "--estimator svc"])
        try expectFailure(2, fit + ["--estimator", "svr", "--class-weight", "balanced"], ["--class-weight", "--estimator svc"])
        try expectFailure(2, fit + ["--estimator", "svr", "--training", "cascade"], ["--training"])
        try expectFailure(2, fit + ["--estimator", "svr", "--epsilon", "-1"], ["parameter epsilon", ">= 0"])
        try expectFailure(2, fit + ["--epsilon", "0.2"], ["--epsilon", "--estimator svr"])
        try expectFailure(2, fit + ["--estimator", "nusvr"], ["--estimator", "svc, nusvc or svr"])
        var lines = try String(contentsOfFile: train, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[250] = "0.5,0.25,Y,"   // data row 250 (on the last rank of 3): no target
        try (lines.joined(separator: "\n") + "\n").write(toFile: path("no-target.csv"), atomically: true, encoding: .utf8)
        // A row without a target is dropped with a note, as for every learner, never silently.
        let dropped = try run(3, ["svm", "fit", "--estimator", "svr", "--train", path("no-target.csv"), "--target", "y", "--features", "a,b",
                                  "--model", path("dropped.model")])
        XCTAssertEqual(dropped.status, 0, "\(dropped)")
        XCTAssertTrue(dropped.stdout.contains("note: dropped 1 rows whose target y is missing"), dropped.stdout)
        XCTAssertTrue(dropped.stdout.contains("train: 299 rows"), dropped.stdout)
        // A missing feature is refused, naming the row and the column.
        lines[250] = "0.5,,Y,1.5"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path("no-feature.csv"), atomically: true, encoding: .utf8)
        try expectFailure(3, ["svm", "fit", "--estimator", "svr", "--train", path("no-feature.csv"), "--target", "y", "--features", "a,b",
                              "--model", path("bad.model")], ["row 250", "column 2 ('b')", "finite"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("bad.model")))
        try expectFailure(2, ["svm", "predict", "--model", path("svr1.model"), "--test", test, "--output", path("o.csv"), "--proba"], ["--proba", "SVR"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("o.csv")))
    }

    /// `--estimator nusvc`: byte-identical model files at 1 and 3 ranks with probabilities,
    /// score and predict --proba from the file, a grid over nu, and the flags that do not
    /// apply refused by name; an infeasible nu names the two classes.
    func testNuSVC() throws {
        let train = try writeCSV("nu.csv", rows: 240, seed: 7), test = try writeCSV("nu-test.csv", rows: 90, seed: 8)
        let args = ["--estimator", "nusvc", "--train", train, "--target", "label", "--categorical", "city", "--nu", "0.3", "--probability",
                    "--random-state", "2"]
        var files: [Data] = []
        for np in [1, 3] {
            let model = path("nu\(np).model")
            let out = try run(np, ["svm", "fit"] + args + ["--model", model] + (np == 3 ? ["--threads", "2"] : []))
            XCTAssertEqual(out.status, 0, "np=\(np): \(out)")
            XCTAssertTrue(out.stdout.contains("estimator: NuSVC(kernel=rbf, nu=0.3, gamma=scale ("), out.stdout)
            XCTAssertNotNil(line(out.stdout, "support vectors: ")?.range(of: #"\(per class \d+, \d+, \d+\)$"#, options: .regularExpression), out.stdout)
            files.append(try Data(contentsOf: URL(fileURLWithPath: model)))
        }
        XCTAssertEqual(files[0], files[1], "the NuSVC model files differ between 1 and 3 ranks")
        let score = try run(2, ["svm", "score", "--model", path("nu1.model"), "--test", test])
        XCTAssertEqual(score.status, 0, "\(score)")
        let accuracy = try XCTUnwrap(line(score.stdout, "test: accuracy "), score.stdout)
        let proba = try run(3, ["svm", "predict", "--model", path("nu1.model"), "--test", test, "--output", path("nu-p.csv"), "--proba"])
        XCTAssertEqual(proba.status, 0, "\(proba)")
        let predicted = try rows(path("nu-p.csv"))
        XCTAssertEqual(predicted.count, 90)
        for r in predicted { XCTAssertEqual(r.dropFirst().map { Double($0)! }.reduce(0, +), 1, accuracy: 1e-9) }
        let labels = try rows(test).map { String($0[3]) }
        let correct = zip(predicted.map { String($0[0]) }, labels).filter { $0 == $1 }.count
        XCTAssertEqual(accuracy.split(separator: " ")[2], Substring(String(format: "%.4f", Double(correct) / 90)), "predict is not what score scored")
        let inspect = try MPIRun.run([MPIRun.executable("mpilearn"), "model", "inspect", path("nu1.model")], timeout: 30)
        XCTAssertTrue(inspect.stdout.contains("nusvc, format version") && inspect.stdout.contains("nu=0.3"), inspect.stdout)

        let search = try run(2, ["search", "grid", "--estimator", "nusvc", "--param", "nu=0.2,0.5", "--param", "kernel=rbf,linear",
                                 "--train", train, "--target", "label", "--features", "a,b", "--cv", "3", "--results", path("nu-cv.csv")])
        XCTAssertEqual(search.status, 0, "\(search)")
        XCTAssertEqual(try rows(path("nu-cv.csv")).count, 4)

        let fit = ["svm", "fit", "--train", train, "--target", "label", "--model", path("bad.model")]
        try expectFailure(2, fit + ["--estimator", "nusvc", "--C", "2"], ["--C", "svc or svr"])
        try expectFailure(2, fit + ["--estimator", "nusvc", "--class-weight", "balanced"], ["--class-weight"])
        try expectFailure(2, fit + ["--estimator", "nusvc", "--nu", "0"], ["parameter nu", "(0, 1]"])
        try expectFailure(2, fit + ["--nu", "0.5"], ["--nu", "--estimator nusvc"])
        try expectFailure(2, fit + ["--estimator", "svr", "--nu", "0.5"], ["--nu"])
        var lopsided = "a,b,label\n"
        for i in 0 ..< 60 { lopsided += "\(Double(i) / 10),\(i % 7),\(i < 50 ? "common" : "rare")\n" }
        try lopsided.write(toFile: path("lopsided.csv"), atomically: true, encoding: .utf8)
        try expectFailure(3, ["svm", "fit", "--estimator", "nusvc", "--train", path("lopsided.csv"), "--target", "label", "--model", path("bad.model")],
                          ["infeasible", "'common' (50 rows)", "'rare' (10 rows)"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("bad.model")))
    }

    /// The instruction-set variants of the solver's kernels (MPILEARN_KERNELS scalar, avx2,
    /// avx512: the selection scans, the gradient update, SVR's gather of Q rows, linear and polynomial kernel rows)
    /// compute in libsvm's order: the same SVR and SVC model files, byte for byte.
    func testKernelVariantsGiveTheSameModels() throws {
        let reg = try writeRegressionCSV("kv.csv", rows: 400, seed: 9), cls = try writeCSV("kv-c.csv", rows: 300, seed: 9)
        let jobs: [(String, [String])] = [
            ("svr-linear", ["--estimator", "svr", "--train", reg, "--target", "y", "--features", "a,b", "--kernel", "linear", "--C", "3"]),
            ("svr-poly", ["--estimator", "svr", "--train", reg, "--target", "y", "--features", "a,b", "--kernel", "poly", "--epsilon", "0.3"]),
            ("svc-poly", ["--train", cls, "--target", "label", "--features", "a,b", "--kernel", "poly", "--C", "2"]),
        ]
        for (name, args) in jobs {
            var files: [Data] = []
            for variant in ["scalar", "avx2", "avx512"] {
                let model = path("\(name)-\(variant).model")
                let out = try MPIRun.mpirun(np: 1, "mpilearn", ["svm", "fit"] + args + ["--model", model], timeout: 90,
                                            environment: ["MPILEARN_KERNELS": variant])
                XCTAssertEqual(out.status, 0, "\(name) \(variant): \(out)")
                files.append(try Data(contentsOf: URL(fileURLWithPath: model)))
            }
            XCTAssertEqual(files[0], files[1], "\(name): the avx2 model differs from the scalar one")
            XCTAssertEqual(files[0], files[2], "\(name): the avx512 model differs from the scalar one")
        }
    }
}
