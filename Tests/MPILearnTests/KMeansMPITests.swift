import Foundation
@testable import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// `mpilearn kmeans` under real `mpirun`: rank invariance at p = 1...4, file inputs, the
/// parallel label writer, and bad inputs that must end the whole job with a clear message.
final class KMeansMPITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try MPIRun.temporaryDirectory("kmeans-mpi")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// A little-endian float64 .npy of `rows`.
    func writeNPY(_ rows: [[Double]], to name: String) throws {
        var dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (\(rows.count), \(rows[0].count)), }"
        dict += String(repeating: " ", count: (64 - (10 + dict.utf8.count + 1) % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        data.appendLE(UInt16(dict.utf8.count))
        data.append(Data(dict.utf8))
        data.append(Data(flat: rows.flatMap { $0 }))
        try data.write(to: URL(fileURLWithPath: path(name)))
    }

    /// Int32 labels from a .npy written by the parallel writer.
    func readLabelsNPY(_ name: String) throws -> [Int32] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(name)))
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        XCTAssertEqual((10 + headerLength) % 64, 0)
        return try data.subdata(in: 10 + headerLength ..< data.count).flatArray(of: Int32.self)
    }

    func testSameInitialAndFinalCentresAtOneToFourRanks() throws {
        var models: [KMeansModel] = []
        var labels: [[Int32]] = []
        for np in 1 ... 4 {
            let out = try MPIRun.mpirun(np: np, "mpilearn", ["kmeans", "fit", "--blobs", "3001,4,6", "--cluster-std", "2", "--k", "6", "--tol", "0",
                                                 "--output-model", path("m\(np).model"), "--output-labels", path("l\(np).npy")], timeout: 120)
            XCTAssertEqual(out.status, 0, "np=\(np): \(out)")
            XCTAssertTrue(out.stdout.contains("adjusted Rand index"), "\(out)")
            models.append(try KMeansModel.load(from: path("m\(np).model")))
            labels.append(try readLabelsNPY("l\(np).npy"))
        }
        for np in 2 ... 4 {
            let m = models[np - 1], s = models[0]
            XCTAssertEqual(m.initialCenters, s.initialCenters, "np=\(np): initial centres differ")
            let rel = zip(m.clusterCenters.storage, s.clusterCenters.storage).map { abs($0 - $1) / max(1, abs($1)) }.max()!
            XCTAssertLessThanOrEqual(rel, 1e-9, "np=\(np)")
            XCTAssertEqual(m.nIter, s.nIter, "np=\(np)")
            XCTAssertEqual(labels[np - 1], labels[0], "np=\(np): labels differ")
        }
        XCTAssertEqual(labels[0].count, 3001)
        // The default passes are bounded (hamerly); plain Lloyd passes give the same clustering.
        XCTAssertEqual(models[0].configuration.algorithm, .hamerly)
        XCTAssertGreaterThan(models[0].history.last!.skipped, 0)
        let out = try MPIRun.mpirun(np: 2, "mpilearn", ["kmeans", "fit", "--blobs", "3001,4,6", "--cluster-std", "2", "--k", "6", "--tol", "0",
                                                        "--algorithm", "lloyd", "--output-model", path("lloyd.model"),
                                                        "--output-labels", path("lloyd.npy")], timeout: 120)
        XCTAssertEqual(out.status, 0, "\(out)")
        let plain = try KMeansModel.load(from: path("lloyd.model"))
        XCTAssertEqual(plain.configuration.algorithm, .lloyd)
        XCTAssertEqual(plain.history.map(\.skipped).reduce(0, +), 0)
        XCTAssertEqual(try readLabelsNPY("lloyd.npy"), labels[0])
        XCTAssertEqual(plain.nIter, models[0].nIter)
        let rel = zip(plain.clusterCenters.storage, models[0].clusterCenters.storage).map { abs($0 - $1) / max(1, abs($1)) }.max()!
        XCTAssertLessThanOrEqual(rel, 1e-9)
    }

    func testNPYAndCSVInputsFitAndPredict() throws {
        // Three well-separated groups in 2-D.
        let rows: [[Double]] = (0 ..< 300).map { i in
            let g = Double(i % 3) * 10, t = Double(i) * 0.37
            return [g + sin(t), -g + cos(t)]
        }
        try writeNPY(rows, to: "x.npy")
        let csv = "a,label,b\n" + rows.enumerated().map { "\($0.element[0]),g\($0.offset % 3),\($0.element[1])" }.joined(separator: "\n") + "\n"
        try csv.write(toFile: path("x.csv"), atomically: true, encoding: .utf8)
        let fit = try MPIRun.mpirun(np: 2, "mpilearn", ["kmeans", "fit", "--data", path("x.npy"), "--k", "3", "--output-model", path("m.model"),
                                            "--output-centers", path("c.csv"), "--output-labels", path("l.npy")])
        XCTAssertEqual(fit.status, 0, "\(fit)")
        let fitted = try readLabelsNPY("l.npy")
        XCTAssertEqual(try ClusteringMetrics.adjustedRandIndex(fitted, (0 ..< 300).map { Int32($0 % 3) }, comm: LocalCommunicator.solo()), 1)
        // Predict the CSV copy (its string column skipped) on 3 ranks, text output.
        let predict = try MPIRun.mpirun(np: 3, "mpilearn", ["kmeans", "predict", "--model", path("m.model"), "--data", path("x.csv"), "--output", path("p.csv")])
        XCTAssertEqual(predict.status, 0, "\(predict)")
        let lines = try String(contentsOfFile: path("p.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.first, "label")
        XCTAssertEqual(lines.dropFirst().map { Int32($0)! }, fitted)
        // Fitting the CSV on 4 ranks gives the same centres as the NPY on 2.
        let fitCSV = try MPIRun.mpirun(np: 4, "mpilearn", ["kmeans", "fit", "--data", path("x.csv"), "--k", "3", "--output-centers", path("c2.csv")])
        XCTAssertEqual(fitCSV.status, 0, "\(fitCSV)")
        let a = try KMeansModel.readCentersCSV(path("c.csv")).centres, b = try KMeansModel.readCentersCSV(path("c2.csv"))
        XCTAssertEqual(b.names, ["a", "b"])
        for (x, y) in zip(a.storage, b.centres.storage) { XCTAssertEqual(x, y, accuracy: 1e-12) }
        // Given centres from a CSV file, Float32, threads.
        let given = try MPIRun.mpirun(np: 2, "mpilearn", ["kmeans", "fit", "--data", path("x.npy"), "--k", "3", "--init", path("c.csv"), "--float32",
                                              "--threads", "2", "--output-centers", path("c3.csv")])
        XCTAssertEqual(given.status, 0, "\(given)")
        XCTAssertTrue(given.stdout.contains("init centers"), "\(given)")
    }

    func testEmptyShardsUnderMpirun() throws {
        let out = try MPIRun.mpirun(np: 4, "mpilearn", ["kmeans", "fit", "--blobs", "3,2,2", "--k", "2", "--output-labels", path("l.csv")])
        XCTAssertEqual(out.status, 0, "\(out)")
        let lines = try String(contentsOfFile: path("l.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 4)
    }

    /// Runs a bad job and checks it fails fast with a rank-tagged message containing `expected`.
    func assertFails(np: Int, _ args: [String], _ expected: String, environment: [String: String] = [:],
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let out = try MPIRun.mpirun(np: np, "mpilearn", args, timeout: 60, environment: environment)
        XCTAssertFalse(out.timedOut, "job hung: \(out)", file: file, line: line)
        XCTAssertNotEqual(out.status, 0, "\(out)", file: file, line: line)
        XCTAssertTrue(out.stderr.contains("/\(np): error:"), "\(out)", file: file, line: line)
        XCTAssertTrue(out.stderr.contains(expected), "expected '\(expected)' in \(out)", file: file, line: line)
    }

    /// Every instruction-set variant of the kernels (MPILEARN_KERNELS) gives the same centres,
    /// inertia and labels under mpirun, in float64 and float32; an unknown variant ends the job
    /// with a message naming the variable.
    func testKernelVariantsGiveTheSameFitUnderMpirun() throws {
        for float32 in [false, true] {
            var models: [KMeansModel] = []
            var labels: [[Int32]] = []
            for variant in ["scalar", "avx2", "avx512"] {
                let name = "\(variant)\(float32 ? "-f32" : "")"
                let out = try MPIRun.mpirun(np: 2, "mpilearn", ["kmeans", "fit", "--blobs", "4001,20,12", "--cluster-std", "3", "--k", "12",
                                                         "--output-model", path("\(name).model"), "--output-labels", path("\(name).npy")]
                                                + (float32 ? ["--float32"] : []),
                                            environment: ["MPILEARN_KERNELS": variant])
                XCTAssertEqual(out.status, 0, "\(name): \(out)")
                XCTAssertTrue(out.stdout.contains(", kernels "), "\(out)")
                models.append(try KMeansModel.load(from: path("\(name).model")))
                labels.append(try readLabelsNPY("\(name).npy"))
            }
            for i in 1 ..< models.count {
                XCTAssertEqual(models[i].clusterCenters.storage.map(\.bitPattern), models[0].clusterCenters.storage.map(\.bitPattern),
                               "variant \(i), float32 \(float32)")
                XCTAssertEqual(models[i].inertia.bitPattern, models[0].inertia.bitPattern)
                XCTAssertEqual(models[i].nIter, models[0].nIter)
                XCTAssertEqual(labels[i], labels[0])
            }
        }
        try assertFails(np: 2, ["kmeans", "fit", "--blobs", "100,2,2", "--k", "2"], "MPILEARN_KERNELS", environment: ["MPILEARN_KERNELS": "sse9"])
    }

    func testBadInputsEndTheJobWithAClearMessage() throws {
        try assertFails(np: 2, ["kmeans", "fit", "--blobs", "100,2,2", "--k", "0"], "parameter n_clusters")
        try assertFails(np: 3, ["kmeans", "fit", "--blobs", "10,2,2", "--k", "11"], "at most the number of rows (10)")
        // A value outside the choices stops the job before it starts: launch rank 0 alone
        // prints the option and its values, every rank exits 64.
        for (option, value, values) in [("--algorithm", "elkan", "'lloyd' and 'hamerly'"),
                                         ("--init", "kmeans-plus", "'k-means||', 'k-means++', 'random' or 'CENTRES.csv'")] {
            let out = try MPIRun.mpirun(np: 2, "mpilearn", ["kmeans", "fit", "--blobs", "100,2,2", "--k", "2", option, value], timeout: 60)
            XCTAssertFalse(out.timedOut, "job hung: \(out)")
            XCTAssertEqual(out.status, 64, "\(out)")
            let message = "The value '\(value)' is invalid for '\(option) <\(option.dropFirst(2))>'. Please provide one of \(values)."
            XCTAssertEqual(out.stderr.components(separatedBy: message).count - 1, 1, "printed once, by rank 0: \(out)")
        }
        try "a,b\n1,2\n3,4\n5,nan\n7,8\n".write(toFile: path("nan.csv"), atomically: true, encoding: .utf8)
        try assertFails(np: 2, ["kmeans", "fit", "--data", path("nan.csv"), "--k", "2"], "row 3, column 2 (b)")
        try writeNPY([[1, 2], [3, 4], [5, .infinity], [7, 8], [9, 10]], to: "inf.npy")
        try assertFails(np: 3, ["kmeans", "fit", "--data", path("inf.npy"), "--k", "2"], "row 3, column 2")
        try "name,city\nann,paris\nbob,rome\n".write(toFile: path("text.csv"), atomically: true, encoding: .utf8)
        try assertFails(np: 2, ["kmeans", "fit", "--data", path("text.csv"), "--k", "1"], "no numeric columns")
        try writeNPY([[1, 2], [3, 4], [5, 6], [7, 8]], to: "two.npy")
        try writeNPY([[1, 2, 3], [3, 4, 5]], to: "three.npy")
        let fit = try MPIRun.mpirun(np: 2, "mpilearn", ["kmeans", "fit", "--data", path("two.npy"), "--k", "2", "--output-model", path("m.model")])
        XCTAssertEqual(fit.status, 0, "\(fit)")
        try assertFails(np: 2, ["kmeans", "predict", "--model", path("m.model"), "--data", path("three.npy"), "--output", path("p.npy")],
                        "has 3 feature(s) but the k-means model was fitted on 2")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path("m.model")))
        bytes[bytes.count / 2] ^= 0x5A
        try bytes.write(to: URL(fileURLWithPath: path("bad.model")))
        try assertFails(np: 2, ["kmeans", "predict", "--model", path("bad.model"), "--data", path("two.npy"), "--output", path("p.npy")],
                        "corrupt")
        try "a,b\n1,2\n".write(toFile: path("bad.model.csv"), atomically: true, encoding: .utf8)
        try assertFails(np: 2, ["kmeans", "fit", "--data", path("two.npy"), "--k", "2", "--init", path("bad.model.csv")], "centres with 1 rows")
    }

    /// A numeric column with one text cell (`3,x4,1`) used to be read as categories and left
    /// out of the clustering with only a note; now the rank that read the line ends the job
    /// with file:line:column, the value and how to declare the column categorical, and no rank
    /// goes on to cluster. With `--categorical b` the column is left out on purpose.
    func testNumericColumnWithATextCellEndsTheJobNamingTheCell() throws {
        var text = "a,b,c\n"
        for i in 0 ..< 200 { text += i == 180 ? "3,x4,1\n" : "\(i % 17),\(Double(i % 5) / 2),\(i % 3)\n" }
        try text.write(toFile: path("bad.csv"), atomically: true, encoding: .utf8)
        let out = try MPIRun.mpirun(np: 2, "mpilearn", ["kmeans", "fit", "--data", path("bad.csv"), "--k", "2"], timeout: 60)
        XCTAssertFalse(out.timedOut, "job hung: \(out)")
        XCTAssertEqual(out.status, 65, "the data error's exit code: \(out)")
        // Line 182 is in rank 1's half of the bytes.
        XCTAssertTrue(out.stderr.contains("rank 1/2: error: \(path("bad.csv")):182:2: column 'b': expected a number, found \"x4\""), "\(out)")
        XCTAssertTrue(out.stderr.contains("--categorical b"), "\(out)")
        XCTAssertFalse(out.stdout.contains("leaving out"), "\(out)")
        XCTAssertFalse(out.stdout.contains("inertia"), "no rank may go on to cluster: \(out)")

        let fit = try MPIRun.mpirun(np: 2, "mpilearn", ["kmeans", "fit", "--data", path("bad.csv"), "--k", "2", "--categorical", "b"], timeout: 60)
        XCTAssertEqual(fit.status, 0, "\(fit)")
        XCTAssertTrue(fit.stdout.contains("clustering 2 numeric column(s); leaving out b"), "\(fit)")
    }
}
