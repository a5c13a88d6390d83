import Foundation
import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// scikit-learn's SVC on small problems (Tests/Fixtures/svm/make_svm.py → svc.json).
struct SVCFixture: Decodable {
    struct Seed: Decodable {
        var random_state: Int
        var libsvm_seed: Int
    }
    struct DataSet: Decodable {
        var X: [[Double]]
        var y: [Int]
        var X_test: [[Double]]
        var y_test: [Int]
    }
    struct Case: Decodable {
        var name: String
        var dataset: String
        /// `SVC` or `NuSVC`.
        var estimator: String
        var params: [String: ParameterValue]
        var gamma_value: Double?
        var classes: [Int]
        var support: [Int]
        var n_support: [Int]
        var dual_coef: [[Double]]
        var intercept: [Double]
        var n_iter: [Int]
        var probA: [Double]?
        var probB: [Double]?
        var decision_function: [[Double]]
        var predict: [Int]
        var predict_proba: [[Double]]?
    }
    var seeds: [Seed]
    var datasets: [String: DataSet]
    var cases: [Case]

    static func load() throws -> SVCFixture {
        let url = MPIRun.packageRoot.appendingPathComponent("Tests/Fixtures/svm/svc.json")
        return try JSONDecoder().decode(SVCFixture.self, from: Data(contentsOf: url))
    }

    static func matrix(_ rows: [[Double]]) -> Matrix<Double> {
        Matrix(rows: rows.count, columns: rows.first?.count ?? 0, storage: rows.flatMap { $0 })
    }

    func data(_ name: String) -> Dataset<Double> {
        let d = datasets[name]!
        return Dataset(features: .dense(Self.matrix(d.X)), target: d.y.map(Double.init))
    }
}

final class SVCTests: XCTestCase {
    /// Every fixture case: the same support vectors, dual coefficients and intercepts to 1e-6,
    /// identical predictions, decision values to 1e-6, probabilities to 1e-4. Platt's A and B
    /// to 1e-3: the probability folds start from their pair's solution (libsvm's start from
    /// zero), so their solutions are other points within the solver's tolerance.
    func testMatchesScikitLearn() throws {
        let f = try SVCFixture.load()
        let cases = f.cases.filter { $0.estimator == "SVC" }
        XCTAssertGreaterThanOrEqual(cases.count, 40)
        let failures = try cases.compactMap { c -> String? in
            var params = c.params
            params["cache_size"] = params["cache_size"].map { .double($0.number!) }
            let svc = try SVC().setting(params)
            return try Self.differences(try svc.fit(f.data(c.dataset), comm: LocalCommunicator.solo()), c, f)
        }
        XCTAssert(failures.isEmpty, "\(failures.count) of \(cases.count) cases differ:\n" + failures.joined(separator: "\n"))
    }

    /// How `model` differs from scikit-learn's fit of case `c` (nil: it does not): support
    /// vectors, n_support and n_iter exactly, dual coefficients, intercepts and decision values
    /// to 1e-6, predictions exactly, Platt's A and B to `abTolerance`, probabilities to 1e-4.
    static func differences(_ model: SVCModel, _ c: SVCFixture.Case, _ f: SVCFixture, abTolerance: Double = 1e-3) throws -> String? {
        func close(_ a: Double, _ b: Double, rel: Double) -> Bool { abs(a - b) <= rel * max(1, abs(b)) }
        let kernel = model.kernel.kernel
        let test = SVCFixture.matrix(f.datasets[c.dataset]!.X_test)
        var problems: [String] = []
        if let g = c.gamma_value, kernel != .precomputed, kernel != .linear, !close(model.kernel.gamma, g, rel: 1e-12) {
            problems.append("gamma \(model.kernel.gamma) vs \(g)")
        }
        if model.support != c.support { problems.append("support differs (\(model.support.count) vs \(c.support.count))") }
        if model.nSupport != c.n_support { problems.append("n_support \(model.nSupport) vs \(c.n_support)") }
        let dual = model.dualCoef
        if dual.storage.count == c.dual_coef.flatMap({ $0 }).count {
            let worst = zip(dual.storage, c.dual_coef.flatMap { $0 }).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
            if worst > 1e-6 { problems.append("dual_coef off by \(worst)") }
        }
        let icpt = zip(model.intercept, c.intercept).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        if icpt > 1e-6 { problems.append("intercept off by \(icpt): \(model.intercept) vs \(c.intercept)") }
        if model.nIter != c.n_iter { problems.append("n_iter \(model.nIter) vs \(c.n_iter)") }
        let pred = try model.predict(test)
        if pred != c.predict { problems.append("predictions differ at \(zip(pred, c.predict).filter { $0 != $1 }.count) rows") }
        let dec = try model.decisionFunction(test)
        let decErr = zip(dec.storage, c.decision_function.flatMap { $0 }).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        if decErr > 1e-6 { problems.append("decision_function off by \(decErr)") }
        if let pp = c.predict_proba {
            if let a = c.probA, let b = c.probB, let ma = model.probA, let mb = model.probB {
                let e = zip(ma + mb, a + b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
                if e > abTolerance { problems.append("probA/probB off by \(e): \(ma) \(mb) vs \(a) \(b)") }
            }
            let proba = try model.predictProba(test)
            let e = zip(proba.storage, pp.flatMap { $0 }).map { abs($0 - $1) }.max() ?? 0
            if e > 1e-4 { problems.append("predict_proba off by \(e)") }
        }
        return problems.isEmpty ? nil : "\(c.name): " + problems.joined(separator: "; ")
    }
}

final class SVCSolverTests: XCTestCase {
    /// scikit-learn's seed for libsvm from random_state (NumPy's RandomState(rs).randint(2³¹−1)).
    func testLibsvmSeedsMatchNumPy() throws {
        let f = try SVCFixture.load()
        XCTAssertFalse(f.seeds.isEmpty)
        for s in f.seeds { XCTAssertEqual(SVC.libsvmSeed(randomState: s.random_state), s.libsvm_seed, "random_state \(s.random_state)") }
    }

    /// 600 rows, 4 features, 2 or 3 classes; rows of rank `r` of `p` as a shard.
    static func shard(_ classes: Int, rows: Range<Int>? = nil, n: Int = 600) throws -> Dataset<Double> {
        try Generators.makeClassification(nSamples: n, nFeatures: 4, nInformative: 3, nRedundant: 1, nClasses: classes, randomState: 11,
                                          rows: rows ?? 0 ..< n)
    }

    /// A cache smaller than one kernel row still converges, to the same model (the cache
    /// only decides what is recomputed). With probability, a pair's folds read their rows of
    /// K from one store over the pair's rows, kept within `cache_size`: with no room every fold
    /// computes its own rows, and Platt's A and B are still the same bit for bit (three
    /// classes: the store moves from pair to pair).
    func testTinyCacheGivesTheSameModel() throws {
        let data = try Self.shard(3)
        let solo = LocalCommunicator.solo()
        for (kernel, probability) in [("rbf", false), ("rbf", true), ("poly", true), ("linear", true)] {
            let big = try SVC(C: 10, kernel: kernel, probability: probability, randomState: 3).fit(data, comm: solo)
            // 100 bytes: under one row of 600 floats
            let tiny = try SVC(C: 10, kernel: kernel, probability: probability, cacheSize: 0.0001, randomState: 3).fit(data, comm: solo)
            XCTAssertTrue(big.support == tiny.support && big.svCoef == tiny.svCoef && big.rho == tiny.rho && big.nIter == tiny.nIter,
                          "a tiny cache changed the model (\(kernel))")
            XCTAssertEqual(big.probA, tiny.probA, kernel)
            XCTAssertEqual(big.probB, tiny.probB, kernel)
            XCTAssertEqual(big.probA == nil, !probability)
            XCTAssertGreaterThan(tiny.statistics.kernelRows, big.statistics.kernelRows, "a tiny cache recomputes rows (\(kernel))")
        }
    }

    /// Threads per rank (`n_jobs`) split the kernel rows and the kernel blocks of prediction
    /// and of the folds' held-out decisions: the model and its outputs are the same bit for
    /// bit for any count (5,000 rows, so rows are long enough to be split).
    func testThreadsDoNotChangeTheModel() throws {
        let data = try Self.shard(2, n: 5000)
        let solo = LocalCommunicator.solo()
        for (kernel, probability) in [("rbf", true), ("poly", false), ("linear", false)] {
            let one = try SVC(C: 1, kernel: kernel, probability: probability, randomState: 1).fit(data, comm: solo)
            for t in [2, 3] {
                let m = try SVC(C: 1, kernel: kernel, probability: probability, randomState: 1, threads: t).fit(data, comm: solo)
                XCTAssertEqual(m.configuration.threads, t)
                XCTAssertTrue(m.support == one.support && m.svCoef == one.svCoef && m.rho == one.rho && m.nIter == one.nIter
                              && m.probA == one.probA && m.probB == one.probB, "\(kernel), \(t) threads")
                let a = try m.decisionFunction(data.matrix).storage, b = try one.decisionFunction(data.matrix).storage
                XCTAssertTrue(a == b, "\(kernel), \(t) threads: \(zip(a, b).filter { $0 != $1 }.count) decision values differ")
            }
        }
        XCTAssertThrowsError(try SVC(threads: 0).fit(data, comm: solo)) { XCTAssertTrue("\($0)".contains("n_jobs"), "\($0)") }
        // Parameters written before n_jobs existed (older model files) read as one thread.
        var old = try JSONSerialization.jsonObject(with: JSONEncoder().encode(SVC(C: 3, threads: 4))) as! [String: Any]
        XCTAssertEqual(old.removeValue(forKey: "n_jobs") as? Int, 4)
        let read = try JSONDecoder().decode(SVC.self, from: JSONSerialization.data(withJSONObject: old))
        XCTAssertEqual(read, SVC(C: 3))
    }

    /// Prediction goes block by block of rows (memory bounded by the block, not rows × support
    /// vectors): any block size gives the same decision values.
    func testBlockedPredictionEqualsOneBlock() throws {
        let test = try Self.shard(3, rows: 600 ..< 1000, n: 1000).matrix
        let model = try SVC(C: 10).fit(Self.shard(3), comm: LocalCommunicator.solo())
        let whole = try model.pairwiseDecision(test, blockValues: test.rows * model.support.count)
        for rows in [1, 7, 128] {
            let blocked = try model.pairwiseDecision(test, blockValues: rows * model.support.count)
            XCTAssertEqual(blocked.rows, test.rows)
            let worst = zip(blocked.storage, whole.storage).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThan(worst, 1e-12, "blocks of \(rows) row(s)")
        }
        XCTAssertGreaterThan(model.support.count, 1)
    }

    /// Shrinking changes the path, not the solution: the same support vectors and
    /// predictions, coefficients within the solver's tolerance.
    func testShrinkingOnAndOffGiveTheSameModel() throws {
        let data = try Self.shard(3)
        let test = try Self.shard(3, rows: 600 ..< 800, n: 800).matrix
        let solo = LocalCommunicator.solo()
        for kernel in ["rbf", "linear", "poly"] {
            let on = try SVC(C: 10, kernel: kernel, shrinking: true).fit(data, comm: solo)
            let off = try SVC(C: 10, kernel: kernel, shrinking: false).fit(data, comm: solo)
            XCTAssertEqual(on.support, off.support, kernel)
            XCTAssertEqual(try on.predict(test), try off.predict(test), kernel)
            let worst = zip(on.svCoef.storage + on.rho, off.svCoef.storage + off.rho).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-2 * 10, kernel)   // α ∈ [0, C]: 1% of C
            XCTAssertLessThan(abs(on.objective - off.objective), 1e-3 * abs(off.objective), kernel)
        }
    }

    /// The cascade at 2, 3 and 4 ranks (in-process) reaches the direct solution: the dual
    /// objective within the tolerance, the same predictions on held-out rows.
    func testCascadeEqualsTheDirectSolve() throws {
        for classes in [2, 3] {
            let direct = try SVC(C: 1, tol: 1e-5).fit(Self.shard(classes), comm: LocalCommunicator.solo())
            let test = try Self.shard(classes, rows: 600 ..< 1000, n: 1000).matrix
            let expected = try direct.predict(test)
            for p in [2, 3, 4] {
                let models = try LocalWorld.run(size: p) { comm in
                    try SVC(C: 1, tol: 1e-5, training: "cascade").fit(Self.shard(classes, rows: Partition.block(count: 600, parts: p, index: comm.rank)), comm: comm)
                }
                for m in models.dropFirst() { XCTAssertEqual(m, models[0], "every rank holds the same model") }
                let m = models[0]
                XCTAssertEqual(m.classes, direct.classes)
                XCTAssertLessThan(abs(m.objective - direct.objective), 1e-4 * abs(direct.objective), "\(classes) classes, p=\(p)")
                XCTAssertEqual(try m.predict(test), expected, "\(classes) classes, p=\(p)")
                XCTAssertEqual(Set(m.support), Set(direct.support), "\(classes) classes, p=\(p)")
                XCTAssertGreaterThanOrEqual(m.statistics.passes, 1)
                XCTAssertEqual(m.statistics.violators.last, 0, "the last pass found no violators")
            }
        }
    }

    /// The direct fit shares its pairs and probability folds over the ranks and gives the
    /// one-rank model, bit for bit.
    func testDirectFitIsTheSameOnAnyNumberOfRanks() throws {
        let one = try SVC(C: 2, probability: true, randomState: 5).fit(Self.shard(3), comm: LocalCommunicator.solo())
        for p in [2, 3, 4] {
            let models = try LocalWorld.run(size: p) { comm in
                try SVC(C: 2, probability: true, randomState: 5).fit(Self.shard(3, rows: Partition.block(count: 600, parts: p, index: comm.rank)), comm: comm)
            }
            for m in models { XCTAssertEqual(m, one, "p=\(p)") }
        }
    }

    /// Bad parameters and data: messages naming the parameter or the row.
    func testBadInputIsRefusedClearly() throws {
        let solo = LocalCommunicator.solo()
        let data = try Self.shard(2)
        func message(_ svc: SVC, _ d: Dataset<Double>) -> String {
            do { _ = try svc.fit(d, comm: solo); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(message(SVC(C: 0), data).contains("C"))
        XCTAssertTrue(message(SVC(gamma: -1.0), data).contains("gamma"))
        XCTAssertTrue(message(SVC(degree: -1), data).contains("degree"))
        XCTAssertTrue(message(SVC(cacheSize: 0), data).contains("cache_size"))
        var one = data
        one.target = one.target!.map { _ in 1 }
        XCTAssertTrue(message(SVC(), one).contains("at least 2 classes"))
        XCTAssertTrue(message(SVC(kernel: "precomputed"), data).contains("square"))
        var inf = data
        inf.matrix[7, 2] = .infinity
        XCTAssertTrue(message(SVC(), inf).contains("row 8, column 3"), message(SVC(), inf))
        // Predicting with a precomputed model needs n_train columns.
        let gram = try matmul(data.matrix, data.matrix, transposeB: true)
        let pre = try SVC(kernel: "precomputed").fit(Dataset(features: .dense(gram), target: data.target), comm: solo)
        XCTAssertThrowsError(try pre.predict(Matrix(rows: 2, columns: 599))) { XCTAssertTrue("\($0)".contains("n_train = 600")) }
        XCTAssertThrowsError(try SVC().fit(data, comm: solo).predictProba(data.matrix)) { XCTAssertTrue("\($0)".contains("probability")) }
    }

    /// A damaged model file is refused with a message, never a trap.
    func testCorruptModelFileIsRefused() throws {
        let m = try SVC(probability: true).fit(Self.shard(3), comm: LocalCommunicator.solo())
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("svc-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.model").path
        try m.save(to: path)
        XCTAssertEqual(try SVCModel.load(from: path), m)
        XCTAssertEqual(try SVCModel.load(from: path).predict(Self.shard(3).matrix), try m.predict(Self.shard(3).matrix))
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SVCModel.load(from: path))
        try Data(bytes.prefix(100)).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SVCModel.load(from: path))
    }
}
