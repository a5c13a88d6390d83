import Foundation
import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// NuSVC (libsvm's ν-SVC, `Solver_NU`) against scikit-learn (the NuSVC cases of
/// Tests/Fixtures/svm/svc.json), and its behaviour over ranks, threads and bad input.
final class NuSVCTests: XCTestCase {
    /// Every NuSVC fixture case: the same support vectors, n_support and n_iter, dual
    /// coefficients, intercepts and decision values to 1e-6, identical predictions; with
    /// probability the folds start where libsvm's do, so Platt's A and B agree to 1e-5 and the
    /// probabilities to 1e-4.
    func testMatchesScikitLearn() throws {
        let f = try SVCFixture.load()
        let cases = f.cases.filter { $0.estimator == "NuSVC" }
        XCTAssertGreaterThanOrEqual(cases.count, 20)
        var warned = 0
        let failures = try cases.compactMap { c -> String? in
            var params = c.params
            params["cache_size"] = params["cache_size"].map { .double($0.number!) }
            let model = try NuSVC().setting(params).fit(f.data(c.dataset), comm: LocalCommunicator.solo())
            if model.fitted.warning != nil { warned += 1 }
            return try SVCTests.differences(model.fitted, c, f, abTolerance: 1e-5)
        }
        XCTAssert(failures.isEmpty, "\(failures.count) of \(cases.count) cases differ:\n" + failures.joined(separator: "\n"))
        XCTAssertEqual(warned, 1, "the max_iter case warns, no other")
    }

    /// The pairs' solves and probability folds are shared out over the ranks: the one-rank
    /// model at 2, 3 and 4 ranks, bit for bit; threads change nothing either.
    func testSameModelOnAnyNumberOfRanksAndThreads() throws {
        let e = NuSVC(nu: 0.4, probability: true, randomState: 5)
        let one = try e.fit(SVCSolverTests.shard(3), comm: LocalCommunicator.solo())
        for p in [2, 3, 4] {
            let models = try LocalWorld.run(size: p) { comm in
                try e.fit(SVCSolverTests.shard(3, rows: Partition.block(count: 600, parts: p, index: comm.rank)), comm: comm)
            }
            for m in models { XCTAssertEqual(m, one, "p=\(p)") }
        }
        var threaded = e
        threaded.threads = 3
        var m = try threaded.fit(SVCSolverTests.shard(3), comm: LocalCommunicator.solo())
        XCTAssertEqual(m.fitted.support, one.fitted.support)
        XCTAssertEqual(m.fitted.svCoef, one.fitted.svCoef)
        XCTAssertEqual(m.fitted.probA, one.fitted.probA)
        m.configuration.threads = 1
        XCTAssertEqual(m.configuration, one.configuration)
    }

    /// ν-SVC's meaning: at least a fraction ν of the rows are support vectors, and more ν
    /// gives more support vectors.
    func testNuBoundsTheSupportVectors() throws {
        let data = try SVCSolverTests.shard(2)
        var last = 0
        for nu in [0.1, 0.3, 0.6, 0.9] {
            let m = try NuSVC(nu: nu).fit(data, comm: LocalCommunicator.solo())
            let n = m.fitted.support.count
            XCTAssertGreaterThanOrEqual(Double(n), nu * 600 - 1, "nu=\(nu)")
            XCTAssertGreaterThan(n, last, "nu=\(nu)")
            last = n
        }
    }

    /// Bad parameters, an infeasible ν (naming the two classes), and the model file.
    func testBadInputAndModelFile() throws {
        let data = try SVCSolverTests.shard(3)
        func message(_ e: NuSVC, _ d: Dataset<Double>) -> String {
            do { _ = try e.fit(d, comm: LocalCommunicator.solo()); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(message(NuSVC(nu: 0), data).contains("parameter nu"))
        XCTAssertTrue(message(NuSVC(nu: 1.5), data).contains("(0, 1]"))
        XCTAssertTrue(message(NuSVC(gamma: -1.0), data).contains("gamma"))
        XCTAssertTrue(message(NuSVC(cacheSize: 0), data).contains("cache_size"))
        XCTAssertThrowsError(try NuSVC().setting(["C": 2.0])) { XCTAssertTrue("\($0)".contains("nusvc has no parameter C"), "\($0)") }
        XCTAssertThrowsError(try NuSVC().setting(["class_weight": "balanced"])) { XCTAssertTrue("\($0)".contains("no parameter class_weight"), "\($0)") }
        // 50 rows of one class against 10 of another: nu ≤ 2·10/60.
        var d = data.rows(Array(0 ..< 60))
        d.target = (0 ..< 60).map { $0 < 50 ? 0 : 1 }
        let infeasible = message(NuSVC(nu: 0.5), d)
        XCTAssertTrue(infeasible.contains("infeasible") && infeasible.contains("10 rows") && infeasible.contains("0.333"), infeasible)
        XCTAssertEqual(message(NuSVC(nu: 0.3), d), "no error")

        let m = try NuSVC(nu: 0.3, kernel: "poly", probability: true).fit(data, comm: LocalCommunicator.solo())
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nusvc-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.model").path
        try m.save(to: path)
        let read = try NuSVCModel.load(from: path)
        XCTAssertEqual(read, m)
        XCTAssertEqual(try read.predictProba(data.matrix), try m.predictProba(data.matrix))
        XCTAssertTrue(try ModelRegistry.load(from: path) is NuSVCModel)
        XCTAssertThrowsError(try SVCModel.load(from: path)) { XCTAssertTrue("\($0)".contains("nusvc"), "\($0)") }
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try NuSVCModel.load(from: path))
    }
}
