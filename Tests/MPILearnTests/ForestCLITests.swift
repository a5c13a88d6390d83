import Foundation
import TestSupport
import XCTest

/// `mpilearn forest` under real mpirun: rank-count behaviour, determinism, and bad inputs
/// that must end the whole job with a clear message and a non-zero status.
final class ForestCLITests: XCTestCase {
    var dir: URL!
    let env = ["SOURCE_DATE_EPOCH": "1700000000"]

    override func setUpWithError() throws {
        dir = try MPIRun.temporaryDirectory("forest-cli")
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// A small CSV: two numeric features, one categorical, a text label.
    func writeCSV(_ name: String, rows: Int, labels: [String] = ["late", "ontime"], extra: String = "") throws -> String {
        var rng = SystemRandomNumberGenerator()
        var s = "a,b,city,label\(extra.isEmpty ? "" : ",extra")\n"
        for i in 0 ..< rows {
            let a = Double(i % 17), b = Double((i * 7) % 13)
            let label = labels[(a + b > 14 ? 1 : 0) % labels.count]
            s += "\(a),\(i % 11 == 0 ? "" : String(b)),\(["X", "Y", "Z"][i % 3]),\(label)\(extra.isEmpty ? "" : ",\(UInt8.random(in: 0 ... 9, using: &rng))")\n"
        }
        try s.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    func run(_ np: Int, _ args: [String], timeout: Double = 90) throws -> MPIRun.Outcome {
        try MPIRun.mpirun(np: np, "mpilearn", args, timeout: timeout, environment: env)
    }

    func testRankCountsVotesAndDistributedEqualsSavedForest() throws {
        let gen = ["--train", "classification:900,6,3", "--test", "classification:200,6,3", "--target", "y", "--n-estimators", "11", "--random-state", "4"]
        for np in [1, 2, 4] {
            let model = path("m\(np).model"), votes = path("votes\(np).csv"), single = path("single\(np).csv")
            let out = try run(np, ["forest", "run"] + gen + ["--voting", "hard", "--model", model, "--predictions", votes])
            XCTAssertEqual(out.status, 0, "np=\(np): \(out)")
            XCTAssertTrue(out.stdout.contains("accuracy:"), "\(out)")
            XCTAssertTrue(out.stdout.contains("phase"), "\(out)")
            // Progress is whole lines in a batch log (mpirun hands ranks a pty, so no \r tricks).
            XCTAssertTrue(out.stdout.contains("fit: "), "\(out)")
            XCTAssertFalse(out.stdout.contains("\r"), "progress must not rewrite lines in a log: \(out)")
            // The saved forest has exactly n_estimators trees.
            let inspect = try MPIRun.run([MPIRun.executable("mpilearn"), "model", "inspect", model, "--json"], timeout: 60)
            XCTAssertEqual(inspect.status, 0, "\(inspect)")
            let json = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as! [String: Any]
            XCTAssertEqual(json["trees"] as? Int, 11)
            // Per row, hard votes sum to n_estimators.
            let lines = try String(contentsOfFile: votes, encoding: .utf8).split(separator: "\n").dropFirst()
            XCTAssertEqual(lines.count, 200)
            for l in lines {
                let f = l.split(separator: ",")
                XCTAssertEqual(Double(f[1])! + Double(f[2])!, 11, "np=\(np): \(l)")
            }
            // The distributed vote equals predicting with the saved whole forest on one rank.
            let p = try run(1, ["forest", "predict", "--model", model, "--test", "classification:200,6,3", "--voting", "hard", "--output", single])
            XCTAssertEqual(p.status, 0, "\(p)")
            let predicted = try String(contentsOfFile: single, encoding: .utf8).split(separator: "\n").dropFirst()
            XCTAssertEqual(predicted.map(String.init), lines.map { String($0.split(separator: ",")[0]) }, "np=\(np)")
        }
    }

    func testPredictOutputModesAgreeAcrossRanks() throws {
        let model = path("m.model")
        XCTAssertEqual(try run(2, ["forest", "fit", "--train", "classification:300,5,1", "--n-estimators", "6", "--model", model]).status, 0)
        let one = path("one.csv"), three = path("three.csv"), parts = path("parts.csv")
        XCTAssertEqual(try run(1, ["forest", "predict", "--model", model, "--test", "classification:101,5,2", "--output", one, "--proba"]).status, 0)
        let o3 = try run(3, ["forest", "predict", "--model", model, "--test", "classification:101,5,2", "--output", three, "--proba", "--chunk-rows", "7"])
        XCTAssertEqual(o3.status, 0, "\(o3)")
        XCTAssertEqual(try String(contentsOfFile: one, encoding: .utf8), try String(contentsOfFile: three, encoding: .utf8))
        XCTAssertEqual(try run(3, ["forest", "predict", "--model", model, "--test", "classification:101,5,2", "--output", parts, "--proba", "--output-mode", "parts"]).status, 0)
        let joined = try (0 ..< 3).map { try String(contentsOfFile: String(format: "%@.part-%05d-of-00003", parts, $0), encoding: .utf8) }.joined()
        XCTAssertEqual(joined, try String(contentsOfFile: one, encoding: .utf8))
    }

    func fileType(_ path: String) -> mode_t? {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & S_IFMT : nil
    }

    /// `--predictions` and `--output` follow the output rules under real mpirun: a symbolic
    /// link stays a link and the file it names gets the predictions (the parts go next to
    /// that file); `/dev/null` stays a character device (the tests run as root, where a rename
    /// over it would succeed), and parts onto it are refused before anything is written.
    func testPredictionsFollowLinksAndLeaveDevNullADevice() throws {
        let args = ["forest", "run", "--train", "classification:400,5", "--test", "classification:100,5", "--n-estimators", "4"]
        try FileManager.default.createDirectory(atPath: path("real"), withIntermediateDirectories: true)
        XCTAssertEqual(symlink(path("real/predictions.csv"), path("link.csv")), 0)
        let linked = try run(2, args + ["--predictions", path("link.csv")])
        XCTAssertEqual(linked.status, 0, "\(linked)")
        XCTAssertEqual(fileType(path("link.csv")), S_IFLNK, "the link must stay a link")
        let written = try String(contentsOfFile: path("real/predictions.csv"), encoding: .utf8)
        XCTAssertEqual(written.split(separator: "\n").count, 101, written)
        XCTAssertTrue(written.hasPrefix("prediction,votes_"), written)
        let plain = try run(2, args + ["--predictions", path("plain.csv")])
        XCTAssertEqual(plain.status, 0, "\(plain)")
        XCTAssertEqual(try String(contentsOfFile: path("plain.csv"), encoding: .utf8), written, "through a link or not, the same bytes")

        let discarded = try run(2, args + ["--predictions", "/dev/null"])
        XCTAssertEqual(discarded.status, 0, "\(discarded)")
        XCTAssertEqual(fileType("/dev/null"), S_IFCHR, "/dev/null must stay a character device")

        // forest predict: single and parts through a link; parts onto /dev/null fail cleanly.
        let model = path("m.model")
        XCTAssertEqual(try run(2, ["forest", "fit", "--train", "classification:400,5", "--n-estimators", "4", "--model", model]).status, 0)
        let predict = ["forest", "predict", "--model", model, "--test", "classification:100,5"]
        XCTAssertEqual(symlink(path("real/out.csv"), path("out-link.csv")), 0)
        let single = try run(2, predict + ["--output", path("out-link.csv")])
        XCTAssertEqual(single.status, 0, "\(single)")
        XCTAssertEqual(fileType(path("out-link.csv")), S_IFLNK)
        let one = try String(contentsOfFile: path("real/out.csv"), encoding: .utf8)
        XCTAssertEqual(one.split(separator: "\n").count, 101, one)
        let parts = try run(2, predict + ["--output", path("out-link.csv"), "--output-mode", "parts"])
        XCTAssertEqual(parts.status, 0, "\(parts)")
        let joined = try (0 ..< 2).map { try String(contentsOfFile: path("real/out.csv") + String(format: ".part-%05d-of-00002", $0), encoding: .utf8) }.joined()
        XCTAssertEqual(joined, one)
        XCTAssertEqual(try run(2, predict + ["--output", "/dev/null"]).status, 0)
        XCTAssertEqual(fileType("/dev/null"), S_IFCHR)
        try expectFailure(2, predict + ["--output", "/dev/null", "--output-mode", "parts"], "/dev/null: cannot write: it is a FIFO or a device")
        XCTAssertNil(fileType("/dev/null.part-00000-of-00002"))
        XCTAssertEqual(fileType("/dev/null"), S_IFCHR)
    }

    /// A value outside an option's choices stops the job before it starts: launch rank 0
    /// alone prints the option and the values it takes, and every rank exits 64.
    func testInvalidChoicesNameTheOptionAndListTheValues() throws {
        let train = ["--train", "classification:100,3"]
        let cases: [([String], String)] = [
            (["forest", "fit"] + train + ["--model", path("x.model"), "--criterion", "bogus"],
             "The value 'bogus' is invalid for '--criterion <criterion>'. Please provide one of 'gini', 'entropy' or 'squared_error'."),
            (["forest", "fit"] + train + ["--model", path("x.model"), "--task", "clustering"],
             "'--task <task>'. Please provide one of 'classification' and 'regression'."),
            (["forest", "run"] + train + ["--test", "classification:50,3", "--class-weight", "even"],
             "'--class-weight <class-weight>'. Please provide one of 'balanced' and 'balanced_subsample'."),
            (["forest", "run"] + train + ["--test", "classification:50,3", "--prediction", "gather"],
             "'--prediction <prediction>'. Please provide one of 'broadcast-test' and 'broadcast-model'."),
            (["forest", "score", "--model", path("x.model"), "--test", "classification:50,3", "--voting", "ranked"],
             "'--voting <voting>'. Please provide one of 'soft' and 'hard'."),
            (["forest", "predict", "--model", path("x.model"), "--test", "classification:50,3", "--output", path("o.csv"), "--output-mode", "many"],
             "'--output-mode <output-mode>'. Please provide one of 'single' and 'parts'."),
            (["forest", "fit"] + train + ["--model", path("x.model"), "--max-features", "most"],
             "'--max-features <max-features>': invalid value most for parameter max_features: expected sqrt, log2, all"),
        ]
        for (args, message) in cases {
            let out = try run(2, args, timeout: 60)
            XCTAssertFalse(out.timedOut, "hung: \(out)")
            XCTAssertEqual(out.status, 64, "\(args): \(out)")
            XCTAssertEqual(out.stderr.components(separatedBy: message).count - 1, 1, "printed once, by rank 0: \(out)")
        }
        XCTAssertNil(fileType(path("x.model")))
        XCTAssertNil(fileType(path("o.csv")))
    }

    func testThreadsGiveByteIdenticalModelFiles() throws {
        let train = try writeCSV("train.csv", rows: 400)
        var files: [Data] = []
        for threads in [1, 2] {
            let m = path("t\(threads).model")
            let out = try run(2, ["forest", "fit", "--train", train, "--target", "label", "--categorical", "city", "--n-estimators", "8", "--threads", String(threads), "--model", m])
            XCTAssertEqual(out.status, 0, "\(out)")
            files.append(try Data(contentsOf: URL(fileURLWithPath: m)))
        }
        XCTAssertEqual(files[0], files[1])
    }

    /// `--mode global` under real mpirun: byte-identical model files at 1, 2, 3, 4 and 7 ranks
    /// (oversubscribed) and 1 or 2 threads, with a missing-value column, a categorical one and
    /// an out-of-bag score; the run reports its traffic.
    func testGlobalModeGivesByteIdenticalModelFilesAtAnyRankCount() throws {
        let train = try writeCSV("gtrain.csv", rows: 6000)
        var files: [String: Data] = [:]
        for (np, threads) in [(1, 1), (2, 1), (3, 2), (4, 1), (7, 1), (2, 2)] {
            let m = path("g\(np)-\(threads).model")
            let out = try run(np, ["forest", "fit", "--train", train, "--target", "label", "--categorical", "city", "--n-estimators", "6",
                                   "--mode", "global", "--oob-score", "--threads", String(threads), "--model", m], timeout: 180)
            XCTAssertEqual(out.status, 0, "np=\(np): \(out)")
            XCTAssertTrue(out.stdout.contains("mode global"), "\(out)")
            XCTAssertTrue(out.stdout.contains("communication: "), "\(out)")
            files["\(np)-\(threads)"] = try Data(contentsOf: URL(fileURLWithPath: m))
        }
        let reference = files["1-1"]!
        for (k, v) in files { XCTAssertEqual(v, reference, "np-threads \(k) differs from one rank") }
        let inspect = try MPIRun.run([MPIRun.executable("mpilearn"), "model", "inspect", path("g1-1.model"), "--json"], timeout: 60)
        XCTAssertTrue(inspect.stdout.contains("\"mode\" : \"global\"") || inspect.stdout.contains("\"mode\":\"global\""), "\(inspect)")
    }

    /// The issue's accuracy check on the flights data (`scripts/fetch-data`, which `scripts/test`
    /// runs first): a global forest at 8 ranks (oversubscribed) is as accurate as at 1 — its
    /// votes are the same, row for row — while the local forest's trees each see an eighth of
    /// the rows. A 40,000-row slice of the demo's training split keeps the debug build quick.
    func testGlobalModeAtEightRanksIsAsAccurateAsAtOneOnFlights() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let trainAll = root.appendingPathComponent("data/flights-train.csv").path, testAll = root.appendingPathComponent("data/flights-test.csv").path
        guard FileManager.default.fileExists(atPath: trainAll), FileManager.default.fileExists(atPath: testAll) else {
            throw XCTSkip("data/flights-train.csv is missing: run scripts/fetch-data")
        }
        func head(_ src: String, _ rows: Int, _ name: String) throws -> String {
            let lines = try String(contentsOfFile: src, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            try (lines.prefix(rows + 1).joined(separator: "\n") + "\n").write(toFile: path(name), atomically: true, encoding: .utf8)
            return path(name)
        }
        let train = try head(trainAll, 40000, "ftrain.csv"), test = try head(testAll, 10000, "ftest.csv")
        let features = "year,month,day,dep_time,sched_dep_time,dep_delay,sched_arr_time,flight,air_time,distance,hour,minute,carrier,origin"
        func accuracy(_ np: Int, _ mode: String) throws -> (Double, String) {
            let votes = path("votes-\(mode)-\(np).csv")
            let out = try run(np, ["forest", "run", "--train", train, "--test", test, "--target", "arr_delay>15", "--categorical", "carrier,origin",
                                   "--features", features, "--n-estimators", "8", "--mode", mode, "--predictions", votes], timeout: 300)
            XCTAssertEqual(out.status, 0, "\(out)")
            let line = out.stdout.split(separator: "\n").first { $0.hasPrefix("accuracy:") } ?? ""
            let value = Double(line.split(separator: " ").dropFirst().first ?? "") ?? -1
            return (value, try String(contentsOfFile: votes, encoding: .utf8))
        }
        let (one, votesOne) = try accuracy(1, "global"), (eight, votesEight) = try accuracy(8, "global")
        XCTAssertGreaterThan(one, 0.85)
        XCTAssertGreaterThanOrEqual(eight, one - 0.001)
        XCTAssertEqual(votesEight, votesOne, "the global forest's votes at 8 ranks are the 1-rank votes")
        let (local8, _) = try accuracy(8, "local")
        XCTAssertGreaterThan(local8, 0.8)
    }

    func testGlobalModeRefusesWhatDoesNotApply() throws {
        let train = try writeCSV("train.csv", rows: 100)
        let fit = ["forest", "fit", "--train", train, "--target", "label", "--categorical", "city", "--model", path("bad.model"), "--mode", "global"]
        try expectFailure(2, fit + ["--max-leaf-nodes", "8"], "max_leaf_nodes")
        let out = try run(2, ["forest", "fit", "--train", train, "--target", "label", "--model", path("bad.model"), "--mode", "federated"], timeout: 60)
        XCTAssertEqual(out.status, 64, "\(out)")
        XCTAssertTrue(out.stderr.contains("'--mode <mode>'. Please provide one of 'local' and 'global'."), "\(out)")
        XCTAssertNil(fileType(path("bad.model")))
    }

    func testCSVWorkflowWithEmptyShards() throws {
        let train = try writeCSV("train.csv", rows: 3), test = try writeCSV("test.csv", rows: 2)
        let out = try run(4, ["forest", "run", "--train", train, "--test", test, "--target", "label", "--categorical", "city", "--n-estimators", "5"])
        XCTAssertEqual(out.status, 0, "\(out)")
        XCTAssertTrue(out.stdout.contains("test rows: 2"), "\(out)")
    }

    /// A bad input must end every rank quickly with `rank R/N: error:` and the phrase.
    /// Every instruction-set variant of the kernels (MPILEARN_KERNELS) gives the same votes:
    /// binning and the descent return codes and leaves, not arithmetic. The training and test
    /// files have missing values, so rows take the learned missing-value direction too.
    func testKernelVariantsGiveTheSameVotesUnderMpirun() throws {
        let train = try writeCSV("ktrain.csv", rows: 1500), test = try writeCSV("ktest.csv", rows: 700)
        var files: [String] = []
        for variant in ["scalar", "avx2", "avx512"] {
            let votes = path("kvotes-\(variant).csv")
            let out = try MPIRun.mpirun(np: 2, "mpilearn", ["forest", "run", "--train", train, "--test", test, "--target", "label", "--categorical", "city",
                                                            "--n-estimators", "9", "--predictions", votes],
                                        timeout: 90, environment: env.merging(["MPILEARN_KERNELS": variant]) { $1 })
            XCTAssertEqual(out.status, 0, "\(variant): \(out)")
            files.append(try String(contentsOfFile: votes, encoding: .utf8))
        }
        XCTAssertEqual(files[0].split(separator: "\n").count, 701)
        XCTAssertEqual(files[1], files[0], "avx2 votes differ from scalar")
        XCTAssertEqual(files[2], files[0], "avx512 votes differ from scalar")
        let bad = try MPIRun.mpirun(np: 2, "mpilearn", ["forest", "run", "--train", train, "--test", test, "--target", "label"],
                                    timeout: 60, environment: env.merging(["MPILEARN_KERNELS": "sse9"]) { $1 })
        XCTAssertFalse(bad.timedOut, "hung: \(bad)")
        XCTAssertNotEqual(bad.status, 0, "\(bad)")
        XCTAssertTrue(bad.stderr.contains("MPILEARN_KERNELS"), "\(bad)")
    }

    func expectFailure(_ np: Int, _ args: [String], _ phrase: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let out = try run(np, args, timeout: 60)
        XCTAssertFalse(out.timedOut, "hung: \(out)", file: file, line: line)
        XCTAssertNotEqual(out.status, 0, "\(out)", file: file, line: line)
        XCTAssertTrue(out.stderr.contains("/\(np): error:"), "\(out)", file: file, line: line)
        XCTAssertTrue(out.stderr.contains(phrase), "expected '\(phrase)': \(out)", file: file, line: line)
    }

    func testBadInputs() throws {
        let train = try writeCSV("train.csv", rows: 120)
        let fit = ["forest", "fit", "--train", train, "--target", "label", "--categorical", "city", "--model", path("bad.model")]
        try expectFailure(2, fit + ["--n-estimators", "0"], "n_estimators")
        try expectFailure(2, fit + ["--max-depth", "0"], "max_depth")
        try expectFailure(2, fit + ["--max-features", "9"], "max_features")
        try expectFailure(2, ["forest", "fit", "--train", train, "--target", "nope", "--model", path("bad.model")], "'nope'")
        try expectFailure(2, ["forest", "fit", "--train", path("missing.csv"), "--target", "label", "--model", path("bad.model")], "no such file")

        let model = path("good.model")
        XCTAssertEqual(try run(2, fit.dropLast(2) + ["--model", model, "--n-estimators", "4"]).status, 0)
        // A test label never seen in training.
        let unseen = try writeCSV("unseen.csv", rows: 30, labels: ["late", "cancelled"])
        try expectFailure(2, ["forest", "score", "--model", model, "--test", unseen, "--target", "label"], "never seen in training")
        // Test columns that differ from the model's.
        try "a,city,label\n1,X,late\n".write(toFile: path("cols.csv"), atomically: true, encoding: .utf8)
        try expectFailure(2, ["forest", "score", "--model", model, "--test", path("cols.csv")], "missing b")
        // Truncated, corrupt, foreign and newer model files.
        let good = try Data(contentsOf: URL(fileURLWithPath: model))
        try good.prefix(good.count - 40).write(to: URL(fileURLWithPath: path("trunc.model")))
        try expectFailure(2, ["forest", "predict", "--model", path("trunc.model"), "--test", train, "--output", path("o.csv")], "truncated")
        var corrupt = good
        corrupt[good.count - 100] ^= 0x55
        try corrupt.write(to: URL(fileURLWithPath: path("corrupt.model")))
        try expectFailure(2, ["forest", "predict", "--model", path("corrupt.model"), "--test", train, "--output", path("o.csv")], "corrupt")
        var newer = good
        newer[8] = 2
        try newer.write(to: URL(fileURLWithPath: path("newer.model")))
        try expectFailure(2, ["forest", "predict", "--model", path("newer.model"), "--test", train, "--output", path("o.csv")], "newer")
        var foreign = Data("MPILRNMD".utf8)
        for b: UInt8 in [1, 0, 0, 0, 6, 0, 0, 0] { foreign.append(b) }
        foreign.append(contentsOf: Array("kmeans".utf8))
        foreign.append(contentsOf: [UInt8](repeating: 0, count: 16))
        try foreign.write(to: URL(fileURLWithPath: path("kmeans.model")))
        try expectFailure(2, ["forest", "predict", "--model", path("kmeans.model"), "--test", train, "--output", path("o.csv")], "'kmeans' model")
        // model inspect reports the same without mpirun.
        let inspect = try MPIRun.run([MPIRun.executable("mpilearn"), "model", "inspect", path("newer.model")], timeout: 30)
        XCTAssertNotEqual(inspect.status, 0)
        XCTAssertTrue(inspect.stderr.contains("newer"), "\(inspect)")
    }
}
