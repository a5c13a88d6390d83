import Foundation
import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// `mpilearn pipeline fit` and the streaming `mpilearn predict` under real mpirun: output
/// files byte-identical at 1, 2 and 3 ranks and equal to predicting in memory, NPY and HDF5
/// outputs, flat memory, and bad input ending every rank with a message that names the place.
final class PipelineCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try MPIRun.temporaryDirectory("pipeline-cli")
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// A flights-like CSV: messy carrier case, a timestamp, numbers with gaps, an id.
    func writeFlights(_ name: String, rows: Int, copies: Int = 1, seed: Int = 1) throws -> String {
        let carriers = ["UA", "ua", " AA", "aa", "DL", "Dl", "B6", "EV"]
        let origins = ["EWR", "JFK", "LGA"]
        var text = "id,time_hour,carrier,origin,dep_delay,distance,arr_delay\n"
        for c in 0 ..< copies {
            for i in 0 ..< rows {
                let h = (i * 2_654_435_761 + seed * 97) & 0xFFFF_FFFF
                let dep = h % 13 == 0 ? "" : String(Double(h % 120) - 20)
                let dist = Double(200 + (h >> 7) % 2500)
                let when = ISODatetime.format(Int64(1_356_998_400 + (h % 31_536_000)))
                let late = Double(h % 120) - 20 + Double((h >> 3) % 40) - 18
                text += "\(c * rows + i),\(when),\(carriers[(h >> 4) % carriers.count]),\(origins[(h >> 9) % 3]),\(dep),\(dist),\(late)\n"
            }
        }
        let p = path(name)
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    func writeSpec(_ name: String = "pipe.yaml", unknown: String = "ignore") throws -> String {
        let spec = """
        steps:
          - {name: select, kind: select, columns: [time_hour, carrier, origin, dep_delay, distance]}
          - {name: time, kind: datetime-features, columns: [time_hour], features: [hour, dayofweek]}
          - {name: lower, kind: normalize-strings, columns: [carrier, origin]}
          - {name: impute, kind: simple-imputer, strategy: median}
          - {name: scale, kind: standard-scaler}
          - {name: onehot, kind: one-hot-encoder, columns: [carrier, origin], handle_unknown: \(unknown)}
          - {name: model, kind: logistic-regression, C: 1.0}
        """
        try spec.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    func fit(np: Int = 2, spec: String, train: String, model: String) throws -> MPIRun.Outcome {
        try MPIRun.mpirun(np: np, "mpilearn", ["pipeline", "fit", "--spec", spec, "--train", train, "--target", "arr_delay>15", "--model", model])
    }

    func predict(np: Int, _ args: [String], time: Bool = false) throws -> MPIRun.Outcome {
        try MPIRun.mpirun(np: np, (time ? "/usr/bin/time" : "mpilearn"),
                          (time ? ["-a", "-o", path("rss.txt"), "-f", "peak-rss-kb %M", MPIRun.executable("mpilearn")] : []) + ["predict"] + args)
    }

    func testStreamingPredictIsByteIdenticalAtOneToThreeRanksAndEqualsInMemory() throws {
        let train = try writeFlights("train.csv", rows: 3000)
        let test = try writeFlights("test.csv", rows: 2500, seed: 7)
        let spec = try writeSpec()
        let f = try fit(spec: spec, train: train, model: path("p.model"))
        XCTAssertEqual(f.status, 0, "\(f)")
        XCTAssertTrue(f.stdout.contains("logistic-regression: 12 features"), f.stdout)
        var outputs: [Data] = []
        for np in 1 ... 3 {
            let out = path("pred\(np).csv")
            let p = try predict(np: np, ["--model", path("p.model"), "--data", test, "--output", out, "--proba", "--columns", "id", "--chunk-rows", "300"])
            XCTAssertEqual(p.status, 0, "\(p)")
            XCTAssertTrue(p.stdout.contains("predicted 2500 rows on \(np) rank(s)"), p.stdout)
            outputs.append(try Data(contentsOf: URL(fileURLWithPath: out)))
        }
        XCTAssertEqual(outputs[0], outputs[1])
        XCTAssertEqual(outputs[0], outputs[2])
        // The same numbers as predicting the whole file in memory, in input order.
        let model = try XCTUnwrap(ModelRegistry.load(from: path("p.model")) as? PipelineModel<LogisticRegressionModel>)
        var table = try CSVReader.read(test, options: CSVOptions(columns: ["time_hour", "carrier", "origin", "dep_delay", "distance"],
                                                                 types: ["time_hour": .datetime, "carrier": .categorical, "origin": .categorical]),
                                       comm: LocalCommunicator.solo())
        table.globalRowStart = 0
        let proba = try model.final.predictProba(try model.features(table, context: .memory(test)))
        let lines = String(decoding: outputs[0], as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(lines.first, "id,prediction,proba_false,proba_true")
        XCTAssertEqual(lines.count, 2501)
        for (i, line) in lines.dropFirst().enumerated() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            XCTAssertEqual(f[0], Substring(String(i)))
            XCTAssertEqual(Double(f[3])!, proba[i, 1], "row \(i)")
            XCTAssertEqual(f[1], proba[i, 1] > proba[i, 0] ? "true" : "false")
        }
        // A model fitted on one rank predicts as the two-rank fit (statistics merged across ranks).
        XCTAssertEqual(try fit(np: 1, spec: spec, train: train, model: path("p1.model")).status, 0)
        let one = try XCTUnwrap(ModelRegistry.load(from: path("p1.model")) as? PipelineModel<LogisticRegressionModel>)
        let proba1 = try one.final.predictProba(try one.features(table, context: .memory(test)))
        XCTAssertLessThan(zip(proba1.storage, proba.storage).map { abs($0 - $1) }.max()!, 1e-9)
    }

    func testNPYAndHDF5OutputsHoldTheSameNumbers() throws {
        let train = try writeFlights("train.csv", rows: 2000)
        let spec = try writeSpec()
        XCTAssertEqual(try fit(spec: spec, train: train, model: path("p.model")).status, 0)
        let csv = try predict(np: 2, ["--model", path("p.model"), "--data", train, "--output", path("p.csv"), "--proba"])
        XCTAssertEqual(csv.status, 0, "\(csv)")
        let npy = try predict(np: 3, ["--model", path("p.model"), "--data", train, "--output", path("p.npy"), "--proba", "--chunk-rows", "333"])
        XCTAssertEqual(npy.status, 0, "\(npy)")
        let array = try NPY.read(path("p.npy"), comm: LocalCommunicator.solo())
        XCTAssertEqual(array.rowCount, 2000)
        XCTAssertEqual(array.featureCount, 3)
        let rows = try String(contentsOfFile: path("p.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        for (i, line) in rows.enumerated() {
            let f = line.split(separator: ",")
            XCTAssertEqual(array.matrix[i, 0], f[0] == "true" ? 1 : 0)
            XCTAssertEqual(array.matrix[i, 2], Double(f[2])!)
        }
        let h5 = try predict(np: 2, ["--model", path("p.model"), "--data", train, "--output", path("p.h5") + ":/pred", "--proba"])
        XCTAssertEqual(h5.status, 0, "\(h5)")
        let back = try HDF5Reader.read(HDF5Source(parsing: path("p.h5") + ":/pred"), comm: LocalCommunicator.solo())
        XCTAssertEqual(back.columnNames, ["prediction", "proba_false", "proba_true"])
        XCTAssertEqual(try back.doubles("proba_true", for: "test"), (0 ..< 2000).map { array.matrix[$0, 2] })
        // HDF5 in: the training columns written as an HDF5 group, predicted by name.
        let conv = try MPIRun.mpirun(np: 2, "mpilearn", ["convert", train, "--output", path("in.h5") + ":/flights", "--hdf5-layout", "columns",
                                             "--types", "time_hour:datetime,carrier:categorical,origin:categorical"])
        XCTAssertEqual(conv.status, 0, "\(conv)")
        let fromH5 = try predict(np: 2, ["--model", path("p.model"), "--data", path("in.h5") + ":/flights", "--output", path("h.csv"), "--proba"])
        XCTAssertEqual(fromH5.status, 0, "\(fromH5)")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("h.csv"))), try Data(contentsOf: URL(fileURLWithPath: path("p.csv"))))
    }

    func testMemoryPerRankDoesNotGrowWithTheInput() throws {
        let train = try writeFlights("train.csv", rows: 4000)
        let spec = try writeSpec()
        XCTAssertEqual(try fit(spec: spec, train: train, model: path("p.model")).status, 0)
        var peaks: [Int] = []
        for copies in [4, 16] {
            let big = try writeFlights("big\(copies).csv", rows: 20_000, copies: copies, seed: 3)
            let p = try predict(np: 2, ["--model", path("p.model"), "--data", big, "--output", path("big.csv"), "--proba"], time: true)
            XCTAssertEqual(p.status, 0, "\(p)")
            XCTAssertTrue(p.stdout.contains("predicted \(20_000 * copies) rows"), p.stdout)
            let kb = try String(contentsOfFile: path("rss.txt"), encoding: .utf8).split(separator: "\n")
                .compactMap { $0.hasPrefix("peak-rss-kb ") ? Int($0.dropFirst(12)) : nil }
            try FileManager.default.removeItem(atPath: path("rss.txt"))
            XCTAssertEqual(kb.count, 2)
            peaks.append(kb.max() ?? 0)
        }
        // 4× more rows (80,000 → 320,000): the peak per rank may not grow by more than 16 MB.
        XCTAssertLessThan(peaks[1] - peaks[0], 16 * 1024, "peak RSS per rank: \(peaks) KB")
    }

    func testBadInputEndsEveryRankNamingThePlace() throws {
        let train = try writeFlights("train.csv", rows: 1500)
        XCTAssertEqual(try fit(spec: try writeSpec(), train: train, model: path("p.model")).status, 0)
        XCTAssertEqual(try fit(spec: try writeSpec("strict.yaml", unknown: "error"), train: train, model: path("strict.model")).status, 0)
        func expectFailure(_ args: [String], model: String = "p.model", contains: [String], np: Int = 2, file: StaticString = #filePath, line: UInt = #line) throws {
            let r = try predict(np: np, ["--model", path(model)] + args)
            XCTAssertNotEqual(r.status, 0, "\(r)", file: file, line: line)
            XCTAssertLessThan(r.seconds, 60, file: file, line: line)
            for c in contains { XCTAssertTrue(r.stderr.contains(c), "missing '\(c)' in: \(r.stderr)", file: file, line: line) }
        }
        // A file without a column the pipeline reads.
        var text = try String(contentsOfFile: train, encoding: .utf8).replacingOccurrences(of: "distance", with: "dist")
        try text.write(toFile: path("nodist.csv"), atomically: true, encoding: .utf8)
        try expectFailure(["--data", path("nodist.csv"), "--output", path("o.csv")], contains: ["error:", "'distance'"])
        // A timestamp that does not parse: file and line.
        var lines = try String(contentsOfFile: train, encoding: .utf8).split(separator: "\n").map(String.init)
        var f = lines[1201].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        f[1] = "yesterday"
        lines[1201] = f.joined(separator: ",")
        try (lines.joined(separator: "\n") + "\n").write(toFile: path("baddate.csv"), atomically: true, encoding: .utf8)
        try expectFailure(["--data", path("baddate.csv"), "--output", path("o.csv")], contains: ["baddate.csv:1202:2", "yesterday"])
        // Text in a numeric column.
        lines = try String(contentsOfFile: train, encoding: .utf8).split(separator: "\n").map(String.init)
        f = lines[900].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        f[5] = "far"
        lines[900] = f.joined(separator: ",")
        try (lines.joined(separator: "\n") + "\n").write(toFile: path("badnum.csv"), atomically: true, encoding: .utf8)
        try expectFailure(["--data", path("badnum.csv"), "--output", path("o.csv")], contains: ["badnum.csv:901:6", "far"])
        // With --on-bad-row skip the row is counted and written as missing: one output line per record.
        let skip = try predict(np: 2, ["--model", path("p.model"), "--data", path("badnum.csv"), "--output", path("skip.csv"), "--on-bad-row", "skip"])
        XCTAssertEqual(skip.status, 0, "\(skip)")
        XCTAssertTrue(skip.stdout.contains("1 bad row(s) written as missing"), skip.stdout)
        let out = try String(contentsOfFile: path("skip.csv"), encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(out.count, 1502)   // header, 1500 rows, final newline
        XCTAssertEqual(out[900], "")
        // A category never seen in training, under handle_unknown: error: value and line.
        text = try String(contentsOfFile: train, encoding: .utf8)
        lines = text.split(separator: "\n").map(String.init)
        f = lines[700].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        f[3] = "SFO"
        lines[700] = f.joined(separator: ",")
        try (lines.joined(separator: "\n") + "\n").write(toFile: path("sfo.csv"), atomically: true, encoding: .utf8)
        try expectFailure(["--data", path("sfo.csv"), "--output", path("o.csv")], model: "strict.model", contains: ["sfo.csv:701:4", "'sfo'"])
        // An output folder that does not exist: nothing partial left behind.
        try expectFailure(["--data", train, "--output", path("missing/o.csv")], contains: ["missing"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("missing")))
        // An HDF5 input that does not exist.
        try expectFailure(["--data", path("none.h5") + ":/x", "--output", path("o.csv")], contains: ["none.h5", "no such file"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("o.csv")))
        // A spec with an unknown step: file and line, before any data is read.
        try "steps:\n  - {kind: standard-scaler}\n  - {kind: one-hot}\n  - {kind: logistic-regression}\n".write(toFile: path("bad.yaml"), atomically: true, encoding: .utf8)
        let r = try fit(spec: path("bad.yaml"), train: train, model: path("x.model"))
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("bad.yaml:3:") && r.stderr.contains("one-hot"), r.stderr)
    }

    func testSearchOverPipelineParametersAndCustomTimestampFormat() throws {
        // search --estimator pipeline: step__param names in the grid and in cv_results.
        try "steps:\n  - {name: scale, kind: standard-scaler}\n  - {name: model, kind: logistic-regression}\n"
            .write(toFile: path("lin.yaml"), atomically: true, encoding: .utf8)
        let s = try MPIRun.mpirun(np: 2, "mpilearn", ["search", "grid", "--estimator", "pipeline", "--spec", path("lin.yaml"),
                                                      "--train", "classification:600,4", "--param", "model__C=0.01,1",
                                                      "--param", "scale__with_mean=true,false", "--cv", "3", "--results", path("cv.csv")])
        XCTAssertEqual(s.status, 0, "\(s)")
        let cv = try String(contentsOfFile: path("cv.csv"), encoding: .utf8)
        XCTAssertTrue(cv.contains("param_model__C") && cv.contains("param_scale__with_mean"), cv)
        XCTAssertEqual(cv.split(separator: "\n").count, 5)
        // --datetime-format: day/month/year timestamps, parsed by the datetime step.
        var text = "when,dist,late\n"
        for i in 0 ..< 400 { text += String(format: "%02d/%02d/2013 %02d:%02d,%d,%d\n", 1 + i % 28, 1 + i % 12, i % 24, i % 60, 100 + i * 7 % 900, (i * 5 + i / 24) % 3 == 0 ? 1 : 0) }
        try text.write(toFile: path("dmy.csv"), atomically: true, encoding: .utf8)
        try "steps:\n  - {name: t, kind: datetime-features, columns: [when], features: [hour, month]}\n  - {name: model, kind: logistic-regression}\n"
            .write(toFile: path("dmy.yaml"), atomically: true, encoding: .utf8)
        let f = try MPIRun.mpirun(np: 2, "mpilearn", ["pipeline", "fit", "--spec", path("dmy.yaml"), "--train", path("dmy.csv"), "--target", "late",
                                                      "--datetime-format", "%d/%m/%Y %H:%M", "--model", path("dmy.model")])
        XCTAssertEqual(f.status, 0, "\(f)")
        XCTAssertTrue(f.stdout.contains("3 features (when_hour, when_month, dist)"), f.stdout)
        let p = try predict(np: 2, ["--model", path("dmy.model"), "--data", path("dmy.csv"), "--output", path("dmy.out")])
        XCTAssertEqual(p.status, 0, "\(p)")
        let bad = try MPIRun.mpirun(np: 2, "mpilearn", ["pipeline", "fit", "--spec", path("dmy.yaml"), "--train", path("dmy.csv"), "--target", "late",
                                                        "--model", path("dmy2.model")])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("dmy.csv") && bad.stderr.contains("cannot parse"), bad.stderr)
    }

    func testPredictWorksForForestAndKMeansModels() throws {
        let train = try writeFlights("train.csv", rows: 1200)
        // A forest with a categorical feature: predict reads its columns by name, recodes the
        // chunk's categories onto the forest's, and matches forest predict's labels.
        let f = try MPIRun.mpirun(np: 2, "mpilearn", ["forest", "fit", "--train", train, "--target", "arr_delay>15", "--categorical", "origin",
                                                      "--features", "origin,dep_delay,distance", "--n-estimators", "8", "--model", path("f.model")])
        XCTAssertEqual(f.status, 0, "\(f)")
        let a = try predict(np: 3, ["--model", path("f.model"), "--data", train, "--output", path("f1.csv"), "--chunk-rows", "100"])
        XCTAssertEqual(a.status, 0, "\(a)")
        let b = try MPIRun.mpirun(np: 2, "mpilearn", ["forest", "predict", "--model", path("f.model"), "--test", train, "--output", path("f2.csv")])
        XCTAssertEqual(b.status, 0, "\(b)")
        XCTAssertEqual(try String(contentsOfFile: path("f1.csv"), encoding: .utf8), try String(contentsOfFile: path("f2.csv"), encoding: .utf8))
        // k-means on two numeric columns: the cluster of each row.
        var text = "x,y\n"
        for i in 0 ..< 600 { text += "\(Double(i % 3) * 10 + Double(i % 7) * 0.1),\(Double(i % 3) * -5 + Double(i % 5) * 0.1)\n" }
        try text.write(toFile: path("xy.csv"), atomically: true, encoding: .utf8)
        let k = try MPIRun.mpirun(np: 2, "mpilearn", ["kmeans", "fit", "--data", path("xy.csv"), "--k", "3", "--output-model", path("k.model")])
        XCTAssertEqual(k.status, 0, "\(k)")
        let c = try predict(np: 2, ["--model", path("k.model"), "--data", path("xy.csv"), "--output", path("k.csv")])
        XCTAssertEqual(c.status, 0, "\(c)")
        let labels = try String(contentsOfFile: path("k.csv"), encoding: .utf8).split(separator: "\n").dropFirst().map { Int($0)! }
        XCTAssertEqual(labels.count, 600)
        for i in 3 ..< 600 { XCTAssertEqual(labels[i], labels[i % 3], "row \(i)") }
        XCTAssertEqual(Set(labels).count, 3)
        // --proba with a model that has no classes is refused.
        let r = try predict(np: 2, ["--model", path("k.model"), "--data", path("xy.csv"), "--output", path("k2.csv"), "--proba"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--proba"), r.stderr)
    }
}
