import Foundation
import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// LinearRegression, Ridge and LogisticRegression against scikit-learn's fitted attributes
/// (Tests/Fixtures/linear/linear.json, written by make_linear.py), and the parallel fit
/// against the serial one on 1–4 in-process ranks.
final class LinearModelTests: XCTestCase {
    struct Fixture: Decodable {
        struct Table: Decodable { var x: [[Double]]; var y: [Double] }
        struct Case: Decodable {
            var estimator: String
            var data: String
            var params: [String: ParameterValue]
            var coef: [[Double]]
            var intercept: [Double]
            var rank: Int?
            var proba: [[Double]]?
            var nIter: Int?
            var defaultNIter: Int?
            var defaultCoef: [[Double]]?
            var objective: Double?
            enum CodingKeys: String, CodingKey {
                case estimator, data, params, coef, intercept, rank, proba, objective, nIter = "n_iter", defaultNIter = "default_n_iter"
                case defaultCoef = "default_coef"
            }
        }
        var sklearnVersion: String
        var data: [String: Table]
        var cases: [Case]
        enum CodingKeys: String, CodingKey { case sklearnVersion = "sklearn_version", data, cases }
    }

    static let fixture: Fixture = {
        let url = MPIRun.packageRoot.appendingPathComponent("Tests/Fixtures/linear/linear.json")
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    /// Rows `range` of a fixture table as one rank's shard.
    static func shard(_ t: Fixture.Table, parts: Int, index: Int) -> Dataset<Double> {
        let r = Partition.block(count: t.y.count, parts: parts, index: index)
        return Dataset(features: Matrix(Array(t.x[r])).withColumns(t.x[0].count), target: Array(t.y[r]),
                       globalRowStart: r.lowerBound, globalRowCount: t.y.count)
    }

    /// Fits on `p` in-process ranks and checks every rank holds the same model.
    func fit<E: Estimator>(_ e: E, _ t: Fixture.Table, ranks p: Int) throws -> E.Model {
        let models = try LocalWorld.run(size: p) { comm in try e.fit(Self.shard(t, parts: comm.size, index: comm.rank), comm: comm) }
        let bytes = try models.map { try $0.container().encoded() }
        XCTAssertTrue(bytes.allSatisfy { $0 == bytes[0] }, "\(E.estimatorName): the ranks hold different models at p = \(p)")
        return models[0]
    }

    static func maxRelativeDifference(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count, "\(a.count) against \(b.count) values")
        return zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    }

    // MARK: - against scikit-learn

    /// Least squares and ridge solve the same normal equations scikit-learn's lstsq/Cholesky
    /// solve, on well-conditioned data (condition number of XᵀX about 1e2): agreement to 1e-10,
    /// relative to max(1, |value|), leaves room for the Gram route's squared condition number.
    /// The collinear case (rank 4 of 5 columns) checks the minimum-norm solution and rank_.
    func testRegressorsMatchScikitLearn() throws {
        var worst = 0.0
        for c in Self.fixture.cases where c.estimator != "logistic-regression" {
            let t = Self.fixture.data[c.data]!
            for p in [1, 3] {
                let coef: [Double], intercept: Double
                if c.estimator == "ridge" {
                    let m = try fit(try Ridge().setting(c.params), t, ranks: p)
                    (coef, intercept) = (m.coef, m.intercept)
                } else {
                    let m = try fit(try LinearRegression().setting(c.params), t, ranks: p)
                    (coef, intercept) = (m.coef, m.intercept)
                    XCTAssertEqual(m.rank, c.rank, "\(c.estimator) \(c.data) \(c.params): rank_")
                }
                let d = max(Self.maxRelativeDifference(coef, c.coef[0]), Self.maxRelativeDifference([intercept], c.intercept))
                worst = max(worst, d)
                XCTAssertLessThan(d, 1e-10, "\(c.estimator) \(c.data) \(c.params) at p = \(p): coef \(coef) + \(intercept), scikit-learn \(c.coef[0]) + \(c.intercept)")
            }
        }
        print("LinearModelTests: regressors vs scikit-learn \(Self.fixture.sklearnVersion): largest relative difference \(worst)")
    }

    /// Logistic regression: scikit-learn fitted with tol=1e-10 (converged), ours with the
    /// same tol. The objective agrees within 1e-9 relative; coefficients and probabilities
    /// within 1e-6 (the objective is flat to second order near the optimum, so coefficients
    /// agree to about the square root of what the objective does). With the default tol our
    /// L-BFGS follows scipy's L-BFGS-B (the same Moré–Thuente line search and update rules), so
    /// it stops at the same iteration as scikit-learn with the same coefficients (1e-6
    /// relative: the paths agree to rounding), on 1, 2 and 3 ranks.
    func testLogisticRegressionMatchesScikitLearn() throws {
        var worstObjective = 0.0, worstCoef = 0.0, worstProba = 0.0, worstDefault = 0.0
        for c in Self.fixture.cases where c.estimator == "logistic-regression" {
            let t = Self.fixture.data[c.data]!
            let what = "\(c.data) \(c.params)"
            let tight = try LogisticRegression().setting(c.params).setting(["tol": 1e-10, "max_iter": 10000])
            for p in [1, 2, 4] {
                let m = try fit(tight, t, ranks: p)
                XCTAssertNil(m.warning, what)
                XCTAssertEqual(m.classes.count, Set(t.y).count, what)
                let objective = abs(m.objective - c.objective!) / abs(c.objective!)
                let coef = max(Self.maxRelativeDifference(m.coef.storage, c.coef.flatMap { $0 }), Self.maxRelativeDifference(m.intercept, c.intercept))
                let proba = Self.maxRelativeDifference(try m.predictProba(Matrix(Array(t.x[0 ..< 10]))).storage, c.proba!.flatMap { $0 })
                (worstObjective, worstCoef, worstProba) = (max(worstObjective, objective), max(worstCoef, coef), max(worstProba, proba))
                XCTAssertLessThan(objective, 1e-9, "\(what) p=\(p): objective \(m.objective), scikit-learn \(c.objective!)")
                XCTAssertLessThan(coef, 1e-6, "\(what) p=\(p): coef \(m.coef.storage) + \(m.intercept), scikit-learn \(c.coef) + \(c.intercept)")
                XCTAssertLessThan(proba, 1e-6, "\(what) p=\(p): probabilities")
            }
            for p in [1, 2, 3] {
                let m = try fit(try LogisticRegression().setting(c.params), t, ranks: p)
                XCTAssertNil(m.warning, what)
                let want = c.defaultNIter!
                XCTAssertEqual(m.nIter, want, "\(what) p=\(p): n_iter_ \(m.nIter), scikit-learn \(want)")
                let coef = Self.maxRelativeDifference(m.coef.storage, c.defaultCoef!.flatMap { $0 })
                worstDefault = max(worstDefault, coef)
                XCTAssertLessThan(coef, 1e-6, "\(what) p=\(p): coef at the default tol \(m.coef.storage), scikit-learn \(c.defaultCoef!)")
            }
        }
        print("LinearModelTests: logistic vs scikit-learn \(Self.fixture.sklearnVersion): objective \(worstObjective), coef \(worstCoef), proba \(worstProba); "
              + "default tol: coef \(worstDefault)")
    }

    // MARK: - parallel equals serial

    /// The same coefficients on 1, 2, 3 and 4 ranks up to summation order: 1e-12 relative
    /// for the direct solvers (one allreduce of the normal equations), 1e-10 and the same
    /// iteration count for L-BFGS (the iterates start identical and drift by rounding only;
    /// its coordinates are split across the ranks, so its inner products sum in another order).
    func testSameModelOnOneToFourRanks() throws {
        let reg = Self.fixture.data["regression"]!, three = Self.fixture.data["three"]!
        let r1 = try fit(Ridge(alpha: 2), reg, ranks: 1), l1 = try fit(LogisticRegression(C: 3), three, ranks: 1)
        for p in 2 ... 4 {
            let r = try fit(Ridge(alpha: 2), reg, ranks: p)
            XCTAssertLessThan(Self.maxRelativeDifference(r.coef + [r.intercept], r1.coef + [r1.intercept]), 1e-12, "ridge p=\(p)")
            let l = try fit(LogisticRegression(C: 3), three, ranks: p)
            XCTAssertLessThan(Self.maxRelativeDifference(l.coef.storage + l.intercept, l1.coef.storage + l1.intercept), 1e-10, "logistic p=\(p)")
            XCTAssertEqual(l.nIter, l1.nIter, "logistic p=\(p)")
        }
    }

    /// Sparse rows take another path than dense ones (one fused C pass over the stored
    /// entries, only the columns some row stores, renumbered by frequency) and must give the
    /// dense fit's model: for three classes, with columns no row stores (their coefficients
    /// exactly 0) and a row that stores a column twice (the kernel's general scatter), on 1 and
    /// 3 ranks.
    func testSparseLogisticEqualsDenseWithEmptyAndDuplicateColumns() throws {
        let t = Self.fixture.data["three"]!
        let d = t.x[0].count, wide = 2 * d + 3
        func sparseShard(_ parts: Int, _ index: Int) -> Dataset<Double> {
            let r = Partition.block(count: t.y.count, parts: parts, index: index)
            var indptr: [Int64] = [0], indices: [Int32] = [], data: [Double] = []
            for i in r {
                for (j, v) in t.x[i].enumerated() where v != 0 {
                    if i == 0 && j == 0 {   // stored twice, the halves summing to the value
                        indices += [1, 1]
                        data += [v / 2, v - v / 2]
                    } else {
                        indices.append(Int32(2 * j + 1))
                        data.append(v)
                    }
                }
                indptr.append(Int64(indices.count))
            }
            let x = CSRMatrix(rows: r.count, columns: wide, indptr: indptr, indices: indices, data: data)
            return Dataset(features: .sparse(x), target: Array(t.y[r]), globalRowStart: r.lowerBound, globalRowCount: t.y.count)
        }
        let dense = try fit(LogisticRegression(C: 2), t, ranks: 1)
        for p in [1, 3] {
            let models = try LocalWorld.run(size: p) { comm in try LogisticRegression(C: 2).fit(sparseShard(comm.size, comm.rank), comm: comm) }
            let m = models[0]
            XCTAssertEqual(m.coef.rows, 3)
            XCTAssertEqual(m.coef.columns, wide)
            XCTAssertEqual(m.nIter, dense.nIter, "p=\(p)")
            for c in 0 ..< 3 {
                for j in 0 ..< wide where j % 2 == 0 || j >= 2 * d {
                    XCTAssertEqual(m.coef[c, j], 0, "class \(c), empty column \(j)")
                }
                let mine = (0 ..< d).map { m.coef[c, 2 * $0 + 1] }, theirs = (0 ..< d).map { dense.coef[c, $0] }
                XCTAssertLessThan(Self.maxRelativeDifference(mine, theirs), 1e-9, "class \(c) p=\(p)")
            }
            XCTAssertLessThan(Self.maxRelativeDifference(m.intercept, dense.intercept), 1e-9, "p=\(p)")
        }
    }

    func testMaxIterWarnsAndPredictsConsistently() throws {
        let t = Self.fixture.data["three"]!
        let m = try fit(LogisticRegression(maxIter: 2), t, ranks: 2)
        XCTAssertEqual(m.nIter, 2)
        XCTAssertNotNil(m.warning)
        XCTAssertTrue(m.warning!.contains("max_iter=2"), m.warning!)
        let x = Matrix(t.x)
        let proba = try m.predictProba(x), labels = try m.predict(x), z = try m.decisionFunction(x)
        XCTAssertEqual(z.columns, 3)
        for i in 0 ..< x.rows {
            let row = Array(proba.row(i))
            XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-12)
            XCTAssertEqual(labels[i], row.indices.max { row[$0] < row[$1] }!)
        }
    }

    /// Separable classes without a penalty have no optimum: the fit stops at max_iter (or
    /// when the line search can make no progress) with a warning and finite coefficients.
    func testSeparableDataWithoutPenaltyWarns() throws {
        let t = Fixture.Table(x: (0 ..< 40).map { [Double($0), Double($0 % 3)] }, y: (0 ..< 40).map { $0 < 20 ? 0 : 1 })
        let m = try fit(LogisticRegression(penalty: nil, maxIter: 30), t, ranks: 2)
        XCTAssertNotNil(m.warning)
        XCTAssertTrue((m.coef.storage + m.intercept).allSatisfy(\.isFinite), "\(m.coef.storage)")
        XCTAssertEqual(try m.predict(Matrix(t.x)), t.y.map { Int($0) })
    }

    /// A grid search over C on sharded rows (3 ranks) scores as on replicated rows (the
    /// estimator fits data-parallel, so the search may shard it).
    func testSearchOnShardedRowsEqualsReplicated() throws {
        let t = Self.fixture.data["three"]!
        let grid = ParameterGrid(["C": [0.1, 1.0, 10.0]])
        let options = SearchOptions(cv: KFold(nSplits: 3))
        let replicated = try GridSearchCV(LogisticRegression(), grid: grid, options: options).fit(.replicated(Self.shard(t, parts: 1, index: 0)),
                                                                                                  comm: LocalCommunicator.solo())
        let out = try LocalWorld.run(size: 3) { comm in
            try GridSearchCV(LogisticRegression(), grid: grid, options: options).fit(.sharded(Self.shard(t, parts: comm.size, index: comm.rank)), comm: comm)
        }
        XCTAssertEqual(out[0].scheduleReport.schedule, SearchSchedule.sharded)
        for (a, b) in zip(out[0].cvResults.splitTestScores.flatMap { $0 }, replicated.cvResults.splitTestScores.flatMap { $0 }) {
            XCTAssertEqual(a, b, accuracy: 1e-12)
        }
        XCTAssertEqual(out[0].bestParams, replicated.bestParams)
    }

    func testInvalidParametersAreNamed() {
        for (params, name) in [(["C": 0.0], "C"), (["penalty": "l1"], "penalty"), (["class_weight": "heavy"], "class_weight"),
                               (["max_iter": -1], "max_iter"), (["tol": -1.0], "tol")] as [([String: ParameterValue], String)] {
            XCTAssertThrowsError(try LogisticRegression().setting(params).validate()) { e in
                XCTAssertTrue("\(e)".contains(name), "\(e)")
            }
        }
        XCTAssertThrowsError(try Ridge(alpha: -1).validate()) { XCTAssertTrue("\($0)".contains("alpha"), "\($0)") }
    }

    func testLinearEstimatorsAreRegisteredForSearch() throws {
        for name in ["linear-regression", "ridge", "logistic-regression"] {
            XCTAssertTrue(EstimatorRegistry.names.contains(name), name)
        }
        for kind in ["linear-regression", "ridge", "logistic-regression"] { XCTAssertNotNil(ModelRegistry.type(of: kind), kind) }
    }
}

extension Matrix where T == Double {
    /// The matrix, or an empty one with `columns` columns when it has no rows.
    fileprivate func withColumns(_ columns: Int) -> Matrix<Double> { rows == 0 ? Matrix(rows: 0, columns: columns) : self }
}
