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
    func close(_ a: Double, _ b: Double, rel: Double) -> Bool { abs(a - b) <= rel * max(1, abs(b)) }

    /// Every fixture case: the same support vectors, dual coefficients and intercepts to 1e-6,
    /// identical predictions, decision values to 1e-6, probabilities to 1e-4.
    func testMatchesScikitLearn() throws {
        let f = try SVCFixture.load()
        var failures: [String] = []
        for c in f.cases {
            var params = c.params
            params["cache_size"] = params["cache_size"].map { .double($0.number!) }
            let svc = try SVC().setting(params)
            let model = try svc.fit(f.data(c.dataset), comm: LocalCommunicator.solo())
            let test = SVCFixture.matrix(f.datasets[c.dataset]!.X_test)
            var problems: [String] = []
            if let g = c.gamma_value, svc.kernel != "precomputed", svc.kernel != "linear", !close(model.kernel.gamma, g, rel: 1e-12) {
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
                    if e > 1e-4 { problems.append("probA/probB off by \(e): \(ma) \(mb) vs \(a) \(b)") }
                }
                let proba = try model.predictProba(test)
                let e = zip(proba.storage, pp.flatMap { $0 }).map { abs($0 - $1) }.max() ?? 0
                if e > 1e-4 { problems.append("predict_proba off by \(e)") }
            }
            if !problems.isEmpty { failures.append("\(c.name): " + problems.joined(separator: "; ")) }
        }
        XCTAssert(failures.isEmpty, "\(failures.count) of \(f.cases.count) cases differ:\n" + failures.joined(separator: "\n"))
    }
}
