import Foundation
@testable import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// SGDClassifier and SGDRegressor against scikit-learn (Tests/Fixtures/linear/sgd.json, made
/// by make_sgd.py): without shuffling the same coefficients, epochs and `t_`; chained training
/// equal to one process at 2-4 ranks; partial_fit over chunks; sparse rows; save and load.
final class SGDTests: XCTestCase {
    struct Fixture: Decodable {
        struct Data: Decodable { var X: [[Double]]; var y: [Double] }
        struct Case: Decodable {
            var name: String
            var kind: String
            var params: [String: JSONValue]
            var data: String
            var coef: [[Double]]?
            var intercept: [Double]
            var n_iter: Int
            var t: Double
            var decision: [[Double]]?
            var proba: [[Double]]?
            var predict: [Double]?
        }
        struct Step: Decodable { var rows: [Int]; var coef: [[Double]]; var intercept: [Double]; var t: Double }
        struct Partial: Decodable { var data: String; var steps: [Step] }
        struct Sparse: Decodable { var indptr: [Int64]; var indices: [Int32]; var data: [Double]; var shape: [Int]; var y: [Double]
            var coef: [[Double]]; var intercept: [Double]; var n_iter: Int }
        var data: [String: Data]
        var cases: [Case]
        var partial_fit: Partial
        var sparse: Sparse
    }

    enum JSONValue: Decodable {
        case value(ParameterValue)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .value(.none) } else if let b = try? c.decode(Bool.self) { self = .value(.bool(b)) } else if let i = try? c.decode(Int.self) {
                self = .value(.int(i))
            } else if let d = try? c.decode(Double.self) { self = .value(.double(d)) } else { self = .value(.string(try c.decode(String.self))) }
        }
        var parameter: ParameterValue { if case .value(let v) = self { return v }; return .none }
    }

    static let fixture: Fixture = {
        let url = MPIRun.packageRoot.appendingPathComponent("Tests/Fixtures/linear/sgd.json")
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    static func dataset(_ name: String, rows: Range<Int>? = nil) -> Dataset<Double> {
        let f = fixture.data[name]!
        let r = rows ?? 0 ..< f.X.count
        var d = Dataset(features: Matrix(rows: r.count, columns: f.X[0].count, storage: r.flatMap { f.X[$0] }), target: r.map { f.y[$0] })
        d.globalRowStart = r.lowerBound
        d.globalRowCount = f.X.count
        return d
    }

    static func settings(_ c: Fixture.Case) -> [String: ParameterValue] {
        var p = c.params.mapValues(\.parameter)
        p["shuffle"] = false
        p["random_state"] = 0
        return p
    }

    /// Largest |a - b| / max(1, |b|) over two arrays.
    func relativeDifference(_ a: [Double], _ b: [Double]) -> Double {
        XCTAssertEqual(a.count, b.count)
        return zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    }

    func testFitEqualsScikitLearnWithoutShuffling() throws {
        let solo = LocalCommunicator.solo()
        for c in Self.fixture.cases {
            let data = Self.dataset(c.data)
            if c.kind == "classifier" {
                let m = try SGDClassifier().setting(Self.settings(c)).fit(data, comm: solo)
                XCTAssertEqual(m.nIter, c.n_iter, c.name)
                XCTAssertEqual(m.t, c.t, c.name)
                XCTAssertLessThan(relativeDifference(m.coef.storage, c.coef!.flatMap { $0 }), 1e-12, c.name)
                XCTAssertLessThan(relativeDifference(m.intercept, c.intercept), 1e-12, c.name)
                let x = data.rows(Array(0 ..< 10)).matrix
                XCTAssertLessThan(relativeDifference(try m.decisionFunction(x).storage, c.decision!.flatMap { $0 }), 1e-12, c.name)
                if let proba = c.proba {
                    XCTAssertLessThan(relativeDifference(try m.predictProba(x).storage, proba.flatMap { $0 }), 1e-12, c.name)
                } else {
                    XCTAssertThrowsError(try m.predictProba(x), c.name)
                }
            } else {
                let m = try SGDRegressor().setting(Self.settings(c)).fit(data, comm: solo)
                XCTAssertEqual(m.nIter, c.n_iter, c.name)
                XCTAssertEqual(m.t, c.t, c.name)
                XCTAssertLessThan(relativeDifference(m.coef, c.coef!.flatMap { $0 }), 1e-12, c.name)
                XCTAssertLessThan(relativeDifference([m.intercept], c.intercept), 1e-12, c.name)
                XCTAssertLessThan(relativeDifference(try m.predict(data.rows(Array(0 ..< 10)).matrix), c.predict!), 1e-12, c.name)
            }
        }
    }

    /// Chained training hands the whole SGD state from rank to rank, so at any number of
    /// ranks the model is one process's, bit for bit.
    func testChainedFitIsOneProcessFitAtTwoToFourRanks() throws {
        for c in Self.fixture.cases where ["log_loss l2", "three classes log_loss averaged", "modified_huber l1", "huber l1"].contains(c.name) {
            let n = Self.fixture.data[c.data]!.X.count
            let classifier = c.kind == "classifier"
            func fit(_ d: Dataset<Double>, _ comm: any Communicator) throws -> [Double] {
                if classifier {
                    let m = try SGDClassifier().setting(Self.settings(c)).fit(d, comm: comm)
                    return m.coef.storage + m.intercept + [Double(m.nIter), m.t]
                }
                let m = try SGDRegressor().setting(Self.settings(c)).fit(d, comm: comm)
                return m.coef + [m.intercept, Double(m.nIter), m.t]
            }
            let one = try fit(Self.dataset(c.data), LocalCommunicator.solo())
            for p in 2 ... 4 {
                let out = try LocalWorld.run(size: p) { comm in
                    try fit(Self.dataset(c.data, rows: Partition.block(count: n, parts: p, index: comm.rank)), comm)
                }
                for r in out { XCTAssertEqual(r, one, "\(c.name), p=\(p)") }
            }
        }
    }

    /// partial_fit over scikit-learn's three chunks gives its coefficients after each; chained
    /// over three ranks holding those chunks, one call gives the last.
    func testPartialFitChunksAndChainedEqualScikitLearn() throws {
        let steps = Self.fixture.partial_fit.steps
        let e = try SGDClassifier(loss: .logLoss).setting(["shuffle": false])
        var model: SGDClassifierModel? = nil
        for s in steps {
            model = try e.partialFit(Self.dataset("binary", rows: s.rows[0] ..< s.rows[1]), classes: ["0", "1"], model: model, comm: LocalCommunicator.solo())
            XCTAssertLessThan(relativeDifference(model!.coef.storage, s.coef.flatMap { $0 }), 1e-12)
            XCTAssertLessThan(relativeDifference(model!.intercept, s.intercept), 1e-12)
            XCTAssertEqual(model!.t, s.t)
        }
        let chained = try LocalWorld.run(size: 3) { comm in
            try e.partialFit(Self.dataset("binary", rows: steps[comm.rank].rows[0] ..< steps[comm.rank].rows[1]), classes: ["1", "0"], comm: comm)
        }
        for m in chained {
            XCTAssertEqual(m.coef.storage, model!.coef.storage)
            XCTAssertEqual(m.intercept, model!.intercept)
            XCTAssertEqual(m.t, model!.t)
        }
    }

    func testSparseRowsDecayTheInterceptAsScikitLearn() throws {
        let s = Self.fixture.sparse
        let x = CSRMatrix(rows: s.shape[0], columns: s.shape[1], indptr: s.indptr, indices: s.indices, data: s.data)
        var p = SGDClassifier(loss: .logLoss).parameters
        p.shuffle = false
        let y = s.y.map { $0 == 1 ? 1.0 : 0.0 }
        let run = try SGDTrainer.train(rows: .sparse(x), y: y, start: nil, features: s.shape[1], t0: 1, epochs: p.maxIter, stopping: true,
                                       settings: p.settings(), parameters: p, globalRowStart: 0, globalRows: s.shape[0], comm: LocalCommunicator.solo())
        XCTAssertEqual(run.nIter, s.n_iter)
        XCTAssertLessThan(relativeDifference(run.coef, s.coef.flatMap { $0 }), 1e-12)
        XCTAssertLessThan(relativeDifference([run.intercept], s.intercept), 1e-12)
    }

    func testAveragedTrainingSaveLoadAndErrors() throws {
        let data = Self.dataset("binary")
        let e = try SGDClassifier(loss: .logLoss).setting(["training": "averaged", "shuffle": false])
        // Averaged: the row-weighted mean of each rank's own fit.
        let parts = try LocalWorld.run(size: 2) { comm in try e.fit(Self.dataset("binary", rows: Partition.block(count: 240, parts: 2, index: comm.rank)), comm: comm) }
        let own = try (0 ..< 2).map { r -> SGDClassifierModel in
            var d = Self.dataset("binary", rows: Partition.block(count: 240, parts: 2, index: r))
            d.globalRowStart = 0
            return try e.setting(["training": "chained"]).fit(d, comm: LocalCommunicator.solo())
        }
        for (j, v) in parts[0].coef.storage.enumerated() {
            XCTAssertEqual(v, 0.5 * own[0].coef.storage[j] + 0.5 * own[1].coef.storage[j], accuracy: 1e-12)
        }
        XCTAssertEqual(parts[0].coef.storage, parts[1].coef.storage)
        // Accuracy of the averaged model is close to the one-process model's.
        let whole = try e.setting(["training": "chained"]).fit(data, comm: LocalCommunicator.solo())
        let a = try parts[0].score(data, comm: LocalCommunicator.solo()), b = try whole.score(data, comm: LocalCommunicator.solo())
        XCTAssertGreaterThan(a, b - 0.05)
        // Save and load.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sgd-\(UUID().uuidString).model").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try whole.save(to: path)
        let back = try XCTUnwrap(ModelRegistry.load(from: path) as? SGDClassifierModel)
        XCTAssertEqual(try back.predictProba(data.matrix).storage, try whole.predictProba(data.matrix).storage)
        XCTAssertEqual(back.t, whole.t)
        // Bad input.
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "" } catch { return "\(error)" }
        }
        XCTAssertTrue(message { _ = try SGDClassifier().setting(["alpha": -1]).fit(data, comm: LocalCommunicator.solo()) }.contains("alpha"))
        XCTAssertTrue(message { _ = try SGDClassifier().setting(["loss": "squared_error"]).fit(data, comm: LocalCommunicator.solo()) }.contains("loss"))
        XCTAssertTrue(message { _ = try SGDClassifier().setting(["learning_rate": "constant", "eta0": 0]).fit(data, comm: LocalCommunicator.solo()) }.contains("eta0"))
        var one = data
        one.target = one.target!.map { _ in 1 }
        XCTAssertTrue(message { _ = try SGDClassifier().fit(one, comm: LocalCommunicator.solo()) }.contains("two classes"))
        var nan = data
        nan.matrix.storage[6 * 7] = .nan
        let m = message { _ = try LocalWorld.run(size: 2) { comm in
            var d = nan.rows(Array(Partition.block(count: 240, parts: 2, index: comm.rank)))
            d.globalRowStart = Partition.block(count: 240, parts: 2, index: comm.rank).lowerBound
            return try SGDClassifier().fit(d, comm: comm).nIter
        } }
        XCTAssertTrue(m.contains("row 8, column 1") && m.contains("not finite"), m)
    }

    /// Linear models read sparse rows without a dense copy: LogisticRegression's fit equals the
    /// dense fit's, SGD on a sparse dataset equals its solver on the CSR rows (the intercept
    /// decayed as scikit-learn does for sparse input), and Ridge's fit equals the dense one.
    func testSparseFeaturesForLinearModels() throws {
        let s = Self.fixture.sparse
        let x = CSRMatrix(rows: s.shape[0], columns: s.shape[1], indptr: s.indptr, indices: s.indices, data: s.data)
        let sparse = Dataset(features: .sparse(x), target: s.y)
        let dense = Dataset(features: x.toDense(), target: s.y)
        let solo = LocalCommunicator.solo()
        let a = try LogisticRegression(C: 0.5).fit(sparse, comm: solo), b = try LogisticRegression(C: 0.5).fit(dense, comm: solo)
        XCTAssertLessThan(relativeDifference(a.coef.storage + a.intercept, b.coef.storage + b.intercept), 1e-9)
        let sgd = try SGDClassifier(loss: .logLoss).setting(["shuffle": false]).fit(sparse, comm: solo)
        XCTAssertLessThan(relativeDifference(sgd.coef.storage, s.coef.flatMap { $0 }), 1e-12)
        XCTAssertLessThan(relativeDifference(sgd.intercept, s.intercept), 1e-12)
        // The same on two ranks holding halves of the rows (chained).
        let halves = try LocalWorld.run(size: 2) { comm -> [Double] in
            let r = Partition.block(count: x.rows, parts: 2, index: comm.rank)
            var d = Dataset(features: .sparse(x.rows(Array(r))), target: Array(s.y[r]))
            d.globalRowStart = r.lowerBound
            let m = try SGDClassifier(loss: .logLoss).setting(["shuffle": false]).fit(d, comm: comm)
            return m.coef.storage + m.intercept
        }
        XCTAssertEqual(halves[0], sgd.coef.storage + sgd.intercept)
        // Ridge reads sparse rows too (the Gram matrix from the CSR rows; LinearModelTests has the rest).
        let ridgeSparse = try Ridge(alpha: 1).fit(sparse, comm: solo), ridgeDense = try Ridge(alpha: 1).fit(dense, comm: solo)
        XCTAssertLessThan(relativeDifference(ridgeSparse.coef + [ridgeSparse.intercept], ridgeDense.coef + [ridgeDense.intercept]), 1e-10)
    }
}
