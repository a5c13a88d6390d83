import Foundation
import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// scikit-learn's SVR on small problems (Tests/Fixtures/svm/make_svr.py → svr.json).
struct SVRFixture: Decodable {
    struct DataSet: Decodable {
        var X: [[Double]]
        var y: [Double]
        var X_test: [[Double]]
        var y_test: [Double]
    }
    struct Case: Decodable {
        var name: String
        var dataset: String
        var params: [String: ParameterValue]
        var gamma_value: Double
        var support: [Int]
        var dual_coef: [[Double]]
        var intercept: [Double]
        var n_iter: [Int]
        var predict: [Double]
        var score: Double
    }
    var datasets: [String: DataSet]
    var cases: [Case]

    static func load() throws -> SVRFixture {
        let url = MPIRun.packageRoot.appendingPathComponent("Tests/Fixtures/svm/svr.json")
        return try JSONDecoder().decode(SVRFixture.self, from: Data(contentsOf: url))
    }

    func data(_ name: String) -> Dataset<Double> {
        let d = datasets[name]!
        return Dataset(features: .dense(SVCFixture.matrix(d.X)), target: d.y)
    }
}

final class SVRTests: XCTestCase {
    /// Every fixture case: the same support vectors, dual coefficients and intercept to 1e-6
    /// (relative), predictions to 1e-6, the same R². The iteration count is libsvm's too,
    /// except on paths of tens of thousands of iterations, where the last bit of a kernel
    /// value (MPILearn sums dot products in BLAS's order) can move a tie in the selection.
    func testMatchesScikitLearn() throws {
        let f = try SVRFixture.load()
        var failures: [String] = []
        func rel(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0 }
        for c in f.cases {
            var params = c.params
            params["cache_size"] = params["cache_size"].map { .double($0.number!) }
            let svr = try SVR().setting(params)
            let model = try svr.fit(f.data(c.dataset), comm: LocalCommunicator.solo())
            let d = f.datasets[c.dataset]!
            let test = SVCFixture.matrix(d.X_test)
            var problems: [String] = []
            if svr.kernel != "precomputed", svr.kernel != "linear", abs(model.kernel.gamma - c.gamma_value) > 1e-12 * c.gamma_value {
                problems.append("gamma \(model.kernel.gamma) vs \(c.gamma_value)")
            }
            if model.support != c.support { problems.append("support differs (\(model.support.count) vs \(c.support.count))") }
            let coef = c.dual_coef.flatMap { $0 }
            if model.dualCoef.count == coef.count {
                let e = rel(model.dualCoef, coef)
                if e > 1e-6 { problems.append("dual_coef off by \(e)") }
            }
            let icpt = rel([model.intercept], c.intercept)
            if icpt > 1e-6 { problems.append("intercept off by \(icpt): \(model.intercept) vs \(c.intercept)") }
            if model.nIter != c.n_iter[0] && c.n_iter[0] < 10_000 { problems.append("n_iter \(model.nIter) vs \(c.n_iter[0])") }
            let pred = try model.predict(test)
            let e = rel(pred, c.predict)
            if e > 1e-6 { problems.append("predictions off by \(e)") }
            let r2 = try model.score(test, y: d.y_test)
            if abs(r2 - c.score) > 1e-6 { problems.append("R² \(r2) vs \(c.score)") }
            if (model.warning != nil) != (svr.maxIter != -1) { problems.append("warning \(model.warning ?? "none")") }
            if !problems.isEmpty { failures.append("\(c.name): " + problems.joined(separator: "; ")) }
        }
        XCTAssert(failures.isEmpty, "\(failures.count) of \(f.cases.count) cases differ:\n" + failures.joined(separator: "\n"))
        XCTAssertGreaterThanOrEqual(f.cases.count, 20)
    }

    /// 600 rows, 4 features, a smooth nonlinear target (rows `rows` of it as a shard).
    static func shard(rows: Range<Int>? = nil, n: Int = 600) throws -> Dataset<Double> {
        var d = try Generators.makeRegression(nSamples: n, nFeatures: 4, nInformative: 3, noise: 2, randomState: 11, rows: rows ?? 0 ..< n).data
        let x = d.matrix
        d.target = d.target!.enumerated().map { i, v in v / 50 + 3 * sin(2 * x[i, 0]) }
        return d
    }

    /// A cache smaller than one kernel row still converges, to the same model.
    func testTinyCacheGivesTheSameModel() throws {
        let data = try Self.shard()
        for kernel in ["rbf", "poly", "linear"] {
            let big = try SVR(kernel: kernel, C: 10).fit(data, comm: LocalCommunicator.solo())
            let tiny = try SVR(kernel: kernel, C: 10, cacheSize: 0.0001).fit(data, comm: LocalCommunicator.solo())
            XCTAssertTrue(big.support == tiny.support && big.dualCoef == tiny.dualCoef && big.rho == tiny.rho && big.nIter == tiny.nIter,
                          "a tiny cache changed the model (\(kernel))")
            XCTAssertGreaterThan(tiny.statistics.kernelRows, big.statistics.kernelRows, kernel)
            XCTAssertGreaterThan(big.support.count, 10, kernel)
        }
    }

    /// Shrinking changes the path, not the solution: the same support vectors (up to α at
    /// the tolerance's edge), predictions and objective within the solver's tolerance.
    func testShrinkingOnAndOffGiveTheSameModel() throws {
        let data = try Self.shard()
        let test = try Self.shard(rows: 600 ..< 800, n: 800).matrix
        for kernel in ["rbf", "linear", "poly"] {
            let on = try SVR(kernel: kernel, C: 3, shrinking: true).fit(data, comm: LocalCommunicator.solo())
            let off = try SVR(kernel: kernel, C: 3, shrinking: false).fit(data, comm: LocalCommunicator.solo())
            XCTAssertLessThan(abs(on.objective - off.objective), 1e-3 * abs(off.objective), kernel)
            XCTAssertLessThan(Set(on.support).symmetricDifference(off.support).count, max(3, on.support.count / 50), kernel)
            let a = try on.predict(test), b = try off.predict(test)
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThan(worst, 1e-2 * max(1, b.map(abs).max()!), kernel)   // 1% of the largest prediction
        }
    }

    /// Threads split the kernel rows and prediction blocks: the same model and predictions
    /// bit for bit (5,000 rows, so rows are long enough to be split).
    func testThreadsDoNotChangeTheModel() throws {
        let data = try Self.shard(n: 5000)
        let one = try SVR(C: 3).fit(data, comm: LocalCommunicator.solo())
        for t in [2, 3] {
            var m = try SVR(C: 3, threads: t).fit(data, comm: LocalCommunicator.solo())
            XCTAssertEqual(m.configuration.threads, t)
            m.configuration.threads = 1
            XCTAssertEqual(m, one, "\(t) threads")
            m.configuration.threads = t
            XCTAssertEqual(try m.predict(data.matrix), try one.predict(data.matrix), "\(t) threads")
        }
    }

    /// Every rank gathers every row: the same model on 1 to 4 ranks (in-process), empty
    /// shards included.
    func testFitIsTheSameOnAnyNumberOfRanks() throws {
        let one = try SVR(C: 2, epsilon: 0.2).fit(Self.shard(), comm: LocalCommunicator.solo())
        for p in [2, 3, 4] {
            let models = try LocalWorld.run(size: p) { comm in
                try SVR(C: 2, epsilon: 0.2).fit(Self.shard(rows: Partition.block(count: 600, parts: p, index: comm.rank)), comm: comm)
            }
            for m in models { XCTAssertEqual(m, one, "p=\(p)") }
        }
        let models = try LocalWorld.run(size: 2) { comm in
            try SVR(C: 2, epsilon: 0.2).fit(Self.shard(rows: comm.rank == 0 ? 0 ..< 0 : 0 ..< 600), comm: comm)
        }
        for m in models { XCTAssertEqual(m, one, "an empty shard") }
    }

    /// Bad parameters and data: messages naming the parameter or the row.
    func testBadInputIsRefusedClearly() throws {
        let data = try Self.shard()
        func message(_ svr: SVR, _ d: Dataset<Double>) -> String {
            do { _ = try svr.fit(d, comm: LocalCommunicator.solo()); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(message(SVR(C: 0), data).contains("C"))
        XCTAssertTrue(message(SVR(epsilon: -0.1), data).contains("epsilon"))
        XCTAssertTrue(message(SVR(gamma: -1.0), data).contains("gamma"))
        XCTAssertTrue(message(SVR(degree: -1), data).contains("degree"))
        XCTAssertTrue(message(SVR(cacheSize: 0), data).contains("cache_size"))
        XCTAssertTrue(message(SVR(maxIter: 0), data).contains("max_iter"))
        XCTAssertTrue(message(SVR(threads: 0), data).contains("n_jobs"))
        XCTAssertTrue(message(SVR(kernel: "precomputed"), data).contains("square"))
        XCTAssertTrue(message(SVR(), data.rows([])).contains("at least one training row"))
        var inf = data
        inf.matrix[7, 2] = .nan
        XCTAssertTrue(message(SVR(), inf).contains("row 8, column 3"), message(SVR(), inf))
        var target = data
        target.target![4] = .nan
        XCTAssertTrue(message(SVR(), target).contains("row 5"), message(SVR(), target))
        var none = data
        none.target = nil
        XCTAssertTrue(message(SVR(), none).contains("regressor"), message(SVR(), none))
        let gram = try matmul(data.matrix, data.matrix, transposeB: true)
        let pre = try SVR(kernel: "precomputed").fit(Dataset(features: .dense(gram), target: data.target), comm: LocalCommunicator.solo())
        XCTAssertThrowsError(try pre.predict(Matrix(rows: 2, columns: 599))) { XCTAssertTrue("\($0)".contains("n_train = 600"), "\($0)") }
        let m = try SVR().fit(data, comm: LocalCommunicator.solo())
        XCTAssertThrowsError(try m.predict(Matrix(rows: 2, columns: 3))) { XCTAssertTrue("\($0)".contains("3 features"), "\($0)") }
    }

    /// The model file round-trips; a damaged one is refused with a message, never a trap.
    func testModelFileRoundTripsAndDamageIsRefused() throws {
        let m = try SVR(kernel: "poly", C: 4, threads: 2).fit(Self.shard(), comm: LocalCommunicator.solo())
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("svr-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.model").path
        try m.save(to: path)
        let read = try SVRModel.load(from: path)
        XCTAssertEqual(read.configuration.threads, 1, "n_jobs is saved as 1")
        var expected = m
        expected.configuration.threads = 1
        XCTAssertEqual(read, expected)
        XCTAssertEqual(try read.predict(Self.shard().matrix), try m.predict(Self.shard().matrix))
        XCTAssertTrue(try ModelRegistry.load(from: path) is SVRModel)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SVRModel.load(from: path))
        try Data(bytes.prefix(100)).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SVRModel.load(from: path))
        try m.save(to: path)
        XCTAssertThrowsError(try SVCModel.load(from: path)) { XCTAssertTrue("\($0)".contains("svr"), "\($0)") }
    }
}

final class SVRChunkTests: XCTestCase {
    /// Predictions do not depend on which rows are predicted together: blocks of any size and
    /// any subset of rows give the same values bit for bit (so outputs are the same at any
    /// rank count and chunk size).
    func testPredictionIsTheSameForAnyBlockOfRows() throws {
        let data = try SVRTests.shard()
        let test = try SVRTests.shard(rows: 600 ..< 900, n: 900).matrix
        for kernel in ["rbf", "poly", "linear"] {
            let m = try SVR(kernel: kernel, C: 3).fit(data, comm: LocalCommunicator.solo())
            let whole = try m.predict(test, blockValues: test.rows * m.support.count)
            for rows in [1, 3, 7, 64] {
                XCTAssertEqual(try m.predict(test, blockValues: rows * m.support.count), whole, "\(kernel): blocks of \(rows) row(s)")
            }
            for start in [1, 13, 101] {
                let part = Matrix(rows: test.rows - start, columns: test.columns, storage: Array(test.storage[(start * test.columns)...]))
                XCTAssertEqual(try m.predict(part), Array(whole[start...]), "\(kernel): rows from \(start)")
            }
        }
        let svc = try SVC(C: 3, probability: true).fit(SVCSolverTests.shard(3), comm: LocalCommunicator.solo())
        let x = try SVCSolverTests.shard(3, rows: 600 ..< 900, n: 900).matrix
        let whole = try svc.pairwiseDecision(x)
        let part = Matrix(rows: x.rows - 13, columns: x.columns, storage: Array(x.storage[(13 * x.columns)...]))
        XCTAssertEqual(try svc.pairwiseDecision(part).storage, Array(whole.storage[(13 * whole.columns)...]))
        XCTAssertEqual(try svc.pairwiseDecision(x, blockValues: 5 * svc.support.count), whole)
    }
}
