import Foundation
@testable import MPILearn
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

/// Ridge, RidgeClassifier and LinearRegression on CSR features against scikit-learn fitted on
/// scipy sparse matrices (Tests/Fixtures/linear/sparse.json, written by make_sparse.py): the
/// Gram path (few columns) and the iterative solvers (conjugate gradient, LSQR) on 1 and 3
/// in-process ranks, sparse equal to dense, and the same model on 1–4 ranks.
final class SparseLinearModelTests: XCTestCase {
    struct Fixture: Decodable {
        struct Table: Decodable {
            var shape: [Int]
            var indptr: [Int64]
            var indices: [Int32]
            var data: [Double]
            var y: [Double]
            var labels: [Double]?
            var matrix: CSRMatrix<Double> { CSRMatrix(rows: shape[0], columns: shape[1], indptr: indptr, indices: indices, data: data) }
        }
        struct Case: Decodable {
            var estimator: String
            var data: String
            var params: [String: ParameterValue]
            var ours: [String: ParameterValue]
            var coef: [[Double]]
            var intercept: [Double]
            var check: String
            var rank: Int?
        }
        var sklearnVersion: String
        var data: [String: Table]
        var cases: [Case]
        enum CodingKeys: String, CodingKey { case sklearnVersion = "sklearn_version", data, cases }
    }

    static let fixture: Fixture = {
        let url = MPIRun.packageRoot.appendingPathComponent("Tests/Fixtures/linear/sparse.json")
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    /// Rank `index` of `parts`'s block of rows of `x`, with targets `y`.
    static func shard(_ x: CSRMatrix<Double>, _ y: [Double], parts: Int, index: Int) -> Dataset<Double> {
        let r = Partition.block(count: x.rows, parts: parts, index: index)
        return Dataset(features: .sparse(x.rows(Array(r))), target: Array(y[r]), globalRowStart: r.lowerBound, globalRowCount: x.rows)
    }

    /// Fits on `p` in-process ranks; checks every rank holds the same coefficients and returns them.
    func fit<M>(_ ranks: Int, _ x: CSRMatrix<Double>, _ y: [Double], _ fit: @escaping @Sendable (Dataset<Double>, any Communicator) throws -> M,
                coefficients: (M) -> [Double]) throws -> M {
        let models = try LocalWorld.run(size: ranks) { comm in try fit(Self.shard(x, y, parts: comm.size, index: comm.rank), comm) }
        let first = coefficients(models[0])
        for m in models.dropFirst() { XCTAssertEqual(coefficients(m).map(\.bitPattern), first.map(\.bitPattern), "the ranks hold different models") }
        return models[0]
    }

    static func difference(_ a: [Double], _ b: [Double]) -> Double { LinearModelTests.maxRelativeDifference(a, b) }

    /// Every case at 1 and 3 ranks. `exact` cases: scikit-learn converged (tol 1e-12, 1e-13),
    /// MPILearn exact (Cholesky or SVD on the Gram matrix) or converged (tol 1e-10): agreement
    /// to 1e-7 relative (measured: 2e-12 on the Gram path, 6e-11 for CG). `iterates` cases:
    /// scikit-learn's defaults and the same iterative method here (sparse_cg on rows ≥
    /// features, LSQR forced on the narrow matrix by lowering the Gram limit): both stop at
    /// the same iteration, far from the exact solution (sparse_cg's default tol=1e-4 leaves
    /// coefficients 1e-4 from it), and agree to 1e-6: rounding differences (another
    /// summation order, and on 3 ranks another split of the sums) grow through CG's
    /// recurrences on this rank-deficient matrix to about 3e-7; LSQR's stay near 1e-9.
    func testSparseFitsMatchScikitLearn() throws {
        var worst: [String: Double] = [:]
        for c in Self.fixture.cases {
            let t = Self.fixture.data[c.data]!
            let x = t.matrix
            let what = "\(c.estimator) \(c.data) \(c.check) \(c.ours)"
            for p in [1, 3] {
                let got: [Double], gotIntercept: [Double]
                switch c.estimator {
                case "ridge":
                    let e = try Ridge().setting(c.ours)
                    let m = try fit(p, x, t.y, { try e.fit($0, comm: $1) }, coefficients: { $0.coef + [$0.intercept] })
                    XCTAssertEqual(m.solver, c.data == "wide" || c.ours["solver"] == "sparse_cg" ? "sparse_cg" : "cholesky", what)
                    XCTAssertNil(m.warning, what)
                    (got, gotIntercept) = (m.coef, [m.intercept])
                case "linear-regression":
                    var lr = try LinearRegression().setting(c.ours)
                    if c.check == "iterates" { lr.sparseGramLimit = 0 }
                    let e = lr
                    let m = try fit(p, x, t.y, { try e.fit($0, comm: $1) }, coefficients: { $0.coef + [$0.intercept] })
                    XCTAssertEqual(m.rank, c.rank, "\(what): rank_")
                    XCTAssertEqual(m.nIter != nil, c.data == "wide" || c.check == "iterates", what)
                    (got, gotIntercept) = (m.coef, [m.intercept])
                default:
                    let e = try Ridge().setting(c.ours)
                    let m = try fit(p, x, t.labels!, { try e.fitClassifier($0, comm: $1) }, coefficients: { $0.coef.storage + $0.intercept })
                    XCTAssertEqual(m.classes, ["0", "1"], what)
                    XCTAssertEqual(m.solver, "sparse_cg", what)
                    (got, gotIntercept) = (m.coef.storage, m.intercept)
                }
                let d = max(Self.difference(got, c.coef.flatMap { $0 }), Self.difference(gotIntercept, c.intercept))
                let key = "\(c.estimator) \(c.data) \(c.check)"
                worst[key] = max(worst[key] ?? 0, d)
                XCTAssertLessThan(d, c.check == "exact" ? 1e-7 : 1e-6, "\(what) at p = \(p): intercept \(gotIntercept), scikit-learn \(c.intercept)")
            }
        }
        for (k, v) in worst.sorted(by: { $0.key < $1.key }) {
            print("SparseLinearModelTests: \(k) vs scikit-learn \(Self.fixture.sklearnVersion): largest relative difference \(v)")
        }
    }

    /// The Gram path on CSR rows equals the dense fit (the same normal equations, up to
    /// rounding), with and without an intercept; conjugate gradient and LSQR run to a tight
    /// tolerance equal it too.
    func testSparseEqualsDense() throws {
        let t = Self.fixture.data["narrow"]!
        let x = t.matrix, solo = LocalCommunicator.solo()
        let sparse = Dataset(features: .sparse(x), target: t.y), dense = Dataset(features: x.toDense(), target: t.y)
        for fitIntercept in [true, false] {
            let r = Ridge(alpha: 0.7, fitIntercept: fitIntercept)
            let a = try r.fit(sparse, comm: solo), b = try r.fit(dense, comm: solo)
            XCTAssertLessThan(Self.difference(a.coef + [a.intercept], b.coef + [b.intercept]), 1e-11)
            let cg = try Ridge(alpha: 0.7, fitIntercept: fitIntercept, tol: 1e-13, solver: "sparse_cg").fit(sparse, comm: solo)
            XCTAssertLessThan(Self.difference(cg.coef + [cg.intercept], b.coef + [b.intercept]), 1e-9)
            let denseCG = try Ridge(alpha: 0.7, fitIntercept: fitIntercept, tol: 1e-13, solver: "sparse_cg").fit(dense, comm: solo)
            XCTAssertLessThan(Self.difference(denseCG.coef + [denseCG.intercept], b.coef + [b.intercept]), 1e-9)
            let l = LinearRegression(fitIntercept: fitIntercept)
            let c = try l.fit(sparse, comm: solo), d = try l.fit(dense, comm: solo)
            XCTAssertEqual(c.rank, d.rank)
            XCTAssertLessThan(Self.difference(c.coef + [c.intercept], d.coef + [d.intercept]), 1e-9)
            var iterative = LinearRegression(fitIntercept: fitIntercept, tol: 1e-14)
            iterative.sparseGramLimit = 0
            let e = try iterative.fit(sparse, comm: solo)
            XCTAssertLessThan(Self.difference(e.coef + [e.intercept], d.coef + [d.intercept]), 1e-7, "LSQR to the minimum-norm solution")
        }
    }

    /// Conjugate gradient and LSQR on the wide matrix: the same iterations and coefficients
    /// (to rounding: 1e-10) on 1, 2, 3 and 4 ranks, and with a rank holding no rows (both
    /// matrices); the model file round-trips.
    func testIterativeSolversAreTheSameOnOneToFourRanks() throws {
        let t = Self.fixture.data["wide"]!
        let x = t.matrix
        let ridge = Ridge(alpha: 0.3)
        let lr = LinearRegression()
        let r1 = try fit(1, x, t.y, { try ridge.fit($0, comm: $1) }, coefficients: { $0.coef + [$0.intercept] })
        let l1 = try fit(1, x, t.y, { try lr.fit($0, comm: $1) }, coefficients: { $0.coef + [$0.intercept] })
        XCTAssertEqual(r1.solver, "sparse_cg")
        XCTAssertGreaterThan(r1.nIter ?? 0, 1)
        XCTAssertNil(l1.rank)
        for p in 2 ... 4 {
            let r = try fit(p, x, t.y, { try ridge.fit($0, comm: $1) }, coefficients: { $0.coef + [$0.intercept] })
            XCTAssertEqual(r.nIter, r1.nIter, "ridge p=\(p)")
            XCTAssertLessThan(Self.difference(r.coef + [r.intercept], r1.coef + [r1.intercept]), 1e-10, "ridge p=\(p)")
            let l = try fit(p, x, t.y, { try lr.fit($0, comm: $1) }, coefficients: { $0.coef + [$0.intercept] })
            XCTAssertEqual(l.nIter, l1.nIter, "linear regression p=\(p)")
            XCTAssertLessThan(Self.difference(l.coef + [l.intercept], l1.coef + [l1.intercept]), 1e-10, "linear regression p=\(p)")
        }
        // A rank without rows contributes zeros to every allreduce: the same models.
        for (name, table) in [("wide", t), ("narrow", Self.fixture.data["narrow"]!)] {
            let m = table.matrix
            let empty = try LocalWorld.run(size: 2) { comm -> [Double] in
                let d = comm.rank == 0 ? Dataset(features: .sparse(m), target: table.y, globalRowStart: 0, globalRowCount: m.rows)
                    : Dataset(features: .sparse(CSRMatrix<Double>(rows: 0, columns: m.columns)), target: [], globalRowStart: m.rows, globalRowCount: m.rows)
                let r = try ridge.fit(d, comm: comm), l = try lr.fit(d, comm: comm)
                return r.coef + [r.intercept] + l.coef + [l.intercept]
            }
            let whole = Dataset(features: .sparse(m), target: table.y), solo = LocalCommunicator.solo()
            let r = try ridge.fit(whole, comm: solo), l = try lr.fit(whole, comm: solo)
            XCTAssertLessThan(Self.difference(empty[0], r.coef + [r.intercept] + l.coef + [l.intercept]), 1e-12, "\(name) with an empty rank")
            XCTAssertEqual(empty[0], empty[1], name)
        }
        let dir = try MPIRun.temporaryDirectory("sparse-linear")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("r.model").path
        try r1.save(to: path)
        XCTAssertEqual(try RidgeModel.load(from: path), r1)
        try l1.save(to: path)
        XCTAssertEqual(try LinearRegressionModel.load(from: path), l1)
    }

    /// Through real `mpirun` (`mpilearn-selftest sparse-linear`: each rank reads its block of
    /// rows of the .npz): Ridge (auto: Cholesky on the narrow matrix, conjugate gradient on the
    /// wide one; and sparse_cg) and LinearRegression (SVD on the narrow matrix, LSQR on the wide
    /// one) give the in-process one-rank coefficients at 1 to 4 ranks, to 1e-10, with the same
    /// iteration counts.
    func testSameCoefficientsAtOneToFourRanksUnderMPIRun() throws {
        let dir = try MPIRun.temporaryDirectory("sparse-linear-mpi")
        defer { try? FileManager.default.removeItem(at: dir) }
        struct Fit: Codable { var coef: [Double]; var nIter: Int? }
        let solo = LocalCommunicator.solo()
        for name in ["narrow", "wide"] {
            let t = Self.fixture.data[name]!
            try NPZ.writeCSR(t.matrix, to: dir.appendingPathComponent("x.npz").path)
            try JSONEncoder().encode(t.y).write(to: dir.appendingPathComponent("y.json"))
            let whole = Dataset(features: .sparse(t.matrix), target: t.y)
            let ridge = try Ridge(alpha: 1).fit(whole, comm: solo), cg = try Ridge(alpha: 1, tol: 1e-10, solver: "sparse_cg").fit(whole, comm: solo)
            let ols = try LinearRegression().fit(whole, comm: solo)
            let expected = ["ridge": Fit(coef: ridge.coef + [ridge.intercept], nIter: ridge.nIter),
                            "ridge-sparse_cg": Fit(coef: cg.coef + [cg.intercept], nIter: cg.nIter),
                            "linear-regression": Fit(coef: ols.coef + [ols.intercept], nIter: ols.nIter)]
            XCTAssertEqual(expected["ridge"]!.nIter == nil, name == "narrow")
            XCTAssertEqual(expected["linear-regression"]!.nIter == nil, name == "narrow")
            for np in 1 ... 4 {
                let out = try MPIRun.mpirun(np: np, "mpilearn-selftest", ["sparse-linear", dir.path], timeout: 120)
                XCTAssertEqual(out.status, 0, "\(out)")
                let prefix = "selftest sparse-linear: "
                guard let line = out.stdout.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return XCTFail("\(name) np=\(np): \(out)") }
                let got = try JSONDecoder().decode([String: Fit].self, from: Data(line.dropFirst(prefix.count).utf8))
                for (estimator, want) in expected {
                    let fit = try XCTUnwrap(got[estimator], estimator)
                    XCTAssertEqual(fit.nIter, want.nIter, "\(name) \(estimator) np=\(np)")
                    XCTAssertLessThan(Self.difference(fit.coef, want.coef), 1e-10, "\(name) \(estimator) np=\(np)")
                }
            }
        }
    }

    /// A ridge classifier with three classes: one ±1 target per class, solved by one
    /// Cholesky factorisation (narrow) or one CG solve per class (wide), equal to three Ridge
    /// fits; predictions are the largest decision value.
    func testRidgeClassifierWithThreeClassesIsOneRidgePerClass() throws {
        let t = Self.fixture.data["narrow"]!
        let x = t.matrix, solo = LocalCommunicator.solo()
        let sorted = t.y.sorted()
        let labels = t.y.map { $0 < sorted[50] ? 0.0 : ($0 < sorted[100] ? 1.0 : 2.0) }
        for solver in ["cholesky", "sparse_cg"] {
            let ridge = Ridge(alpha: 2, tol: 1e-12, solver: solver)
            let m = try ridge.fitClassifier(Dataset(features: .sparse(x), target: labels), comm: solo)
            XCTAssertEqual(m.coef.rows, 3)
            for c in 0 ..< 3 {
                let single = try ridge.fit(Dataset(features: .sparse(x), target: labels.map { $0 == Double(c) ? 1 : -1 }), comm: solo)
                XCTAssertLessThan(Self.difference(Array(m.coef.row(c)) + [m.intercept[c]], single.coef + [single.intercept]), 1e-9, "\(solver) class \(c)")
            }
            let z = try m.decisionFunction(x.toDense())
            XCTAssertEqual(try m.predict(x.toDense()), argmaxRows(z.storage, classes: 3))
            let accuracy = zip(try m.predict(x.toDense()), labels).filter { Double($0) == $1 }.count
            XCTAssertGreaterThan(accuracy, 100, solver)
        }
    }

    /// Bad parameters and non-finite values: errors that name what is wrong.
    func testBadInputIsNamed() throws {
        let solo = LocalCommunicator.solo()
        for (params, name, value) in [(["alpha": -1.0], "alpha", "-1.0"), (["tol": -1e-3], "tol", "-0.001"), (["max_iter": 0], "max_iter", "0"),
                                      (["solver": "svd"], "solver", "'svd'")] as [([String: ParameterValue], String, String)] {
            XCTAssertThrowsError(try Ridge().setting(params).validate(), "\(params)") { e in
                XCTAssertTrue("\(e)".contains(name) && "\(e)".contains(value), "\(e)")
            }
        }
        XCTAssertThrowsError(try Ridge(alpha: .infinity).validate()) { XCTAssertTrue("\($0)".contains("alpha") && "\($0)".contains("inf"), "\($0)") }
        XCTAssertThrowsError(try LinearRegression(tol: -1).validate()) { XCTAssertTrue("\($0)".contains("tol"), "\($0)") }
        XCTAssertThrowsError(try Ridge().setting(["solver": "lsqr"]).fit(Dataset(features: Matrix([[1.0], [2.0]]), target: [1, 2]), comm: solo)) { e in
            XCTAssertTrue("\(e)".contains("'auto', 'cholesky' or 'sparse_cg'"), "\(e)")
        }
        // A NaN in row 3 (global), column 2; a NaN target.
        let x = CSRMatrix<Double>(rows: 3, columns: 3, indptr: [0, 1, 2, 4], indices: [0, 2, 0, 1], data: [1, 2, 3, .nan])
        for fit in [{ (d: Dataset<Double>) in _ = try Ridge(solver: "sparse_cg").fit(d, comm: solo) },
                    { (d: Dataset<Double>) in _ = try LinearRegression().fit(d, comm: solo) },
                    { (d: Dataset<Double>) in _ = try Ridge().fitClassifier(d, comm: solo) }] {
            XCTAssertThrowsError(try fit(Dataset(features: .sparse(x), target: [1, 0, 1]))) { e in
                XCTAssertTrue("\(e)".contains("row 3, column 2") && "\(e)".contains("nan"), "\(e)")
            }
            var finite = x
            finite.data[3] = 1
            XCTAssertThrowsError(try fit(Dataset(features: .sparse(finite), target: [1, .infinity, 0]))) { e in
                XCTAssertTrue("\(e)".contains("row 2") && "\(e)".contains("target"), "\(e)")
            }
        }
        // One class is not a classification.
        XCTAssertThrowsError(try Ridge().fitClassifier(Dataset(features: .sparse(x.rows([0, 1])), target: [1, 1]), comm: solo)) { e in
            XCTAssertTrue("\(e)".contains("at least 2 classes"), "\(e)")
        }
    }

    /// max_iter stops conjugate gradient with a warning; the coefficients stay finite.
    func testMaxIterWarns() throws {
        let t = Self.fixture.data["wide"]!
        let m = try Ridge(alpha: 0.01, maxIter: 3).fit(Dataset(features: .sparse(t.matrix), target: t.y), comm: LocalCommunicator.solo())
        XCTAssertEqual(m.nIter, 3)
        XCTAssertTrue(m.warning?.contains("max_iter=3") ?? false, "\(m.warning ?? "no warning")")
        XCTAssertTrue(m.coef.allSatisfy(\.isFinite))
    }

    /// Model files written before Ridge had `max_iter`, `tol`, `solver` and LinearRegression
    /// `tol` keep loading, with scikit-learn's defaults.
    func testParametersMissingFromOldFilesTakeDefaults() throws {
        let ridge = try ModelJSON.decoder.decode(Ridge.self, from: Data(#"{"alpha":2,"fit_intercept":false}"#.utf8))
        XCTAssertEqual(ridge, Ridge(alpha: 2, fitIntercept: false))
        XCTAssertEqual(try ridge.parameterNames(), ["alpha", "fit_intercept", "max_iter", "solver", "tol"])
        XCTAssertEqual(try ridge.parameters()["max_iter"], ParameterValue.none)
        let lr = try ModelJSON.decoder.decode(LinearRegression.self, from: Data(#"{"fit_intercept":true}"#.utf8))
        XCTAssertEqual(lr, LinearRegression())
        XCTAssertEqual(try Ridge().setting(["max_iter": 50]).maxIter, 50)
    }
}

extension Matrix where T == Double {
    /// The matrix, or an empty one with `columns` columns when it has no rows.
    fileprivate func withColumns(_ columns: Int) -> Matrix<Double> { rows == 0 ? Matrix(rows: 0, columns: columns) : self }
}
