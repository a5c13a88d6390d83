import Foundation
import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// Every estimator through the shared conformance suite (``EstimatorConformance``), and the
/// committed model file of every kind (Tests/Fixtures/conformance).
final class ConformanceTests: XCTestCase {
    override func setUp() {
        setenv("SOURCE_DATE_EPOCH", "1700000000", 1)   // forests record their fit date
    }

    // MARK: data: each rank makes its block of the same global rows

    static func classification(_ comm: any Communicator) throws -> Dataset<Double> {
        try Generators.makeClassification(nSamples: 240, nFeatures: 6, nInformative: 3, nRedundant: 1, nClasses: 3, randomState: 3,
                                          rows: Partition.block(count: 240, parts: comm.size, index: comm.rank))
    }

    static func regression(_ comm: any Communicator) throws -> Dataset<Double> {
        try Generators.makeRegression(nSamples: 240, nFeatures: 5, nInformative: 3, noise: 1, randomState: 4,
                                      rows: Partition.block(count: 240, parts: comm.size, index: comm.rank)).data
    }

    static func blobs(_ comm: any Communicator) throws -> Dataset<Double> {
        try Generators.makeBlobs(nSamples: 300, nFeatures: 3, centers: 4, clusterStd: 0.6, randomState: 5,
                                 rows: Partition.block(count: 300, parts: comm.size, index: comm.rank))
    }

    // MARK: estimators

    static var classifier: RandomForestClassifier {
        var p = RandomForestParameters.classifier(nEstimators: 8)
        p.tree.maxDepth = 6
        p.randomState = 7
        return RandomForestClassifier(p)
    }

    static var regressor: RandomForestRegressor {
        var p = RandomForestParameters.regressor(nEstimators: 8)
        p.tree.maxDepth = 6
        p.randomState = 7
        return RandomForestRegressor(p)
    }

    static var kmeans: KMeans { KMeans(nClusters: 4, randomState: 1) }
    static var linearRegression: LinearRegression { LinearRegression() }
    static var ridge: Ridge { Ridge(alpha: 0.5) }
    static var logistic: LogisticRegression { LogisticRegression(C: 2) }
    static var svc: SVC { SVC(C: 2, probability: true, randomState: 3) }
    static var svr: SVR { SVR(C: 50, epsilon: 0.5) }
    static var nusvc: NuSVC { NuSVC(nu: 0.4, probability: true, randomState: 3) }

    /// The largest difference between two linear models' coefficients and intercepts,
    /// relative to max(1, |value|).
    static func coefficientDistance(_ a: LinearCoefficients, _ b: LinearCoefficients) -> Double {
        let x = a.coef.storage + a.intercept, y = b.coef.storage + b.intercept
        guard x.count == y.count else { return .infinity }
        return zip(x, y).map { abs($0 - $1) / max(1, abs($0), abs($1)) }.max() ?? 0
    }

    /// SGD without shuffling: chained training gives one process's model at any rank count.
    static var sgdClassifier: SGDClassifier {
        var e = SGDClassifier(loss: .logLoss)
        e.parameters.shuffle = false
        return e
    }

    static var sgdRegressor: SGDRegressor {
        var e = SGDRegressor()
        e.parameters.shuffle = false
        return e
    }

    static let sgdInvalid: EstimatorConformance.InvalidParameters = [
        (["alpha": -1.0], "alpha"), (["l1_ratio": 1.5], "l1_ratio"), (["max_iter": 0], "max_iter"), (["epsilon": -0.1], "epsilon"),
        (["learning_rate": "constant", "eta0": 0.0], "eta0"), (["n_iter_no_change": 0], "n_iter_no_change"), (["average": -1], "average"),
        (["random_state": -1], "random_state"), (["penalty": "l3"], "penalty"), (["training": "exact"], "training"),
    ]

    /// Out-of-range values every forest refuses.
    static let forestInvalid: EstimatorConformance.InvalidParameters = [
        (["n_estimators": 0], "n_estimators"),
        (["max_depth": 0], "max_depth"),
        (["min_samples_split": 1], "min_samples_split"),
        (["min_samples_leaf": 0], "min_samples_leaf"),
        (["min_impurity_decrease": -0.5], "min_impurity_decrease"),
        (["max_features": 1.5], "max_features"),
        (["max_features": 99], "max_features"),
        (["max_leaf_nodes": 1], "max_leaf_nodes"),
        (["max_bins": 300], "max_bins"),
        (["max_samples": 1.5], "max_samples"),
        (["random_state": -1], "random_state"),
        (["n_jobs": 0], "n_jobs"),
        (["oob_score": true, "bootstrap": false], "oob_score"),
    ]

    /// The largest difference between two k-means models' centres, relative to max(1, |c|).
    static func centreDistance(_ a: KMeansModel, _ b: KMeansModel) -> Double {
        guard a.clusterCenters.rows == b.clusterCenters.rows, a.clusterCenters.columns == b.clusterCenters.columns else { return .infinity }
        return zip(a.clusterCenters.storage, b.clusterCenters.storage).map { abs($0 - $1) / max(1, abs($0), abs($1)) }.max() ?? 0
    }

    // MARK: the suite

    func testRandomForestClassifierConforms() {
        EstimatorConformance.check(Self.classifier, data: Self.classification,
                                   invalid: Self.forestInvalid + [(["criterion": "squared_error"], "criterion"), (["class_weight": "heavy"], "class_weight")],
                                   nanFeatures: .missingValues)
    }

    func testRandomForestRegressorConforms() {
        EstimatorConformance.check(Self.regressor, data: Self.regression,
                                   invalid: Self.forestInvalid + [(["criterion": "gini"], "criterion")],
                                   nanFeatures: .missingValues)
    }

    func testKMeansConforms() {
        EstimatorConformance.check(Self.kmeans, data: Self.blobs,
                                   invalid: [(["n_clusters": 0], "n_clusters"), (["n_clusters": 301], "n_clusters"), (["max_iter": 0], "max_iter"),
                                             (["tol": -1.0], "tol"), (["init_max_iter": -1], "init_max_iter"),
                                             (["oversampling_factor": 0.0], "oversampling_factor"), (["n_init": 0], "n_init"),
                                             (["threads": 0], "threads"), (["init": "k-means--"], "init"), (["algorithm": "elkan2"], "algorithm")],
                                   nanFeatures: .dataError, modelDistance: Self.centreDistance)
    }

    func testSGDClassifierConforms() {
        EstimatorConformance.check(Self.sgdClassifier, data: Self.classification,
                                   invalid: Self.sgdInvalid + [(["loss": "squared_error"], "loss"), (["class_weight": "heavy"], "class_weight")],
                                   nanFeatures: .dataError)
    }

    func testSGDRegressorConforms() {
        EstimatorConformance.check(Self.sgdRegressor, data: Self.regression,
                                   invalid: Self.sgdInvalid + [(["loss": "hinge"], "loss"), (["class_weight": "balanced"], "class_weight")],
                                   nanFeatures: .dataError)
    }

    /// Linear models refuse NaN features (as scikit-learn's); the fits agree across rank
    /// counts up to summation order (1e-9; L-BFGS included, whose iterates drift by rounding).
    func testLinearRegressionConforms() {
        EstimatorConformance.check(Self.linearRegression, data: Self.regression, invalid: [(["tol": -1.0], "tol")], nanFeatures: .dataError,
                                   modelDistance: { Self.coefficientDistance($0.coefficients, $1.coefficients) })
    }

    func testRidgeConforms() {
        EstimatorConformance.check(Self.ridge, data: Self.regression,
                                   invalid: [(["alpha": -1.0], "alpha"), (["tol": -1.0], "tol"), (["max_iter": 0], "max_iter"), (["solver": "svd"], "solver")],
                                   nanFeatures: .dataError,
                                   modelDistance: { Self.coefficientDistance($0.coefficients, $1.coefficients) })
    }

    func testLogisticRegressionConforms() {
        EstimatorConformance.check(Self.logistic, data: Self.classification,
                                   invalid: [(["C": 0.0], "C"), (["C": -1.0], "C"), (["penalty": "l1"], "penalty"), (["tol": -1.0], "tol"),
                                             (["max_iter": -1], "max_iter"), (["class_weight": "heavy"], "class_weight")],
                                   nanFeatures: .dataError, modelDistance: { Self.coefficientDistance($0.coefficients, $1.coefficients) })
    }

    /// The direct solve gathers every row in global order: the same model at any rank count.
    /// Its `predict` is libsvm's vote, not the argmax of the Platt probabilities (as in
    /// scikit-learn).
    func testSVCConforms() {
        EstimatorConformance.check(Self.svc, data: Self.classification,
                                   invalid: [(["C": 0.0], "C"), (["C": -1.0], "C"), (["gamma": -0.5], "gamma"), (["gamma": "scaled"], "gamma"),
                                             (["degree": -1], "degree"), (["kernel": "cubic"], "kernel"), (["tol": 0.0], "tol"),
                                             (["cache_size": 0.0], "cache_size"), (["max_iter": 0], "max_iter"), (["class_weight": "heavy"], "class_weight"),
                                             (["decision_function_shape": "ovx"], "decision_function_shape"), (["training": "tree"], "training"),
                                             (["break_ties": true, "decision_function_shape": "ovo"], "break_ties")],
                                   nanFeatures: .dataError, predictFollowsProba: false)
    }

    /// As SVC's direct solve: the same model at any rank count; `predict` is libsvm's vote.
    func testNuSVCConforms() {
        EstimatorConformance.check(Self.nusvc, data: Self.classification,
                                   invalid: [(["nu": 0.0], "nu"), (["nu": 1.5], "nu"), (["gamma": -0.5], "gamma"), (["kernel": "cubic"], "kernel"),
                                             (["degree": -1], "degree"), (["tol": 0.0], "tol"), (["cache_size": 0.0], "cache_size"),
                                             (["max_iter": 0], "max_iter"), (["decision_function_shape": "ovx"], "decision_function_shape"),
                                             (["n_jobs": 0], "n_jobs")],
                                   nanFeatures: .dataError, predictFollowsProba: false)
    }

    /// Every rank gathers every row in global order: the same model at any rank count.
    func testSVRConforms() {
        EstimatorConformance.check(Self.svr, data: Self.regression,
                                   invalid: [(["C": 0.0], "C"), (["epsilon": -0.1], "epsilon"), (["gamma": -0.5], "gamma"), (["gamma": "scaled"], "gamma"),
                                             (["degree": -1], "degree"), (["kernel": "cubic"], "kernel"), (["tol": 0.0], "tol"),
                                             (["cache_size": 0.0], "cache_size"), (["max_iter": 0], "max_iter"), (["n_jobs": 0], "n_jobs")],
                                   nanFeatures: .dataError)
    }

    // MARK: committed model files, one per kind

    /// Held-out rows (global rows past the training data) the committed models predict.
    static func fixtureRows(_ make: (any Communicator) throws -> Dataset<Double>, offset: Int) throws -> Matrix<Double> {
        let d = try make(LocalCommunicator.solo())
        return Matrix(rows: 12, columns: d.featureCount, storage: Array(d.matrix.storage[(offset * d.featureCount) ..< ((offset + 12) * d.featureCount)]))
    }

    /// Regenerates Tests/Fixtures/conformance (run once with MPILEARN_WRITE_FIXTURES=1; the
    /// files are committed).
    func testWriteConformanceFixturesWhenAsked() throws {
        guard ProcessInfo.processInfo.environment["MPILEARN_WRITE_FIXTURES"] == "1" else { throw XCTSkip("set MPILEARN_WRITE_FIXTURES=1 to regenerate") }
        // Train on the first 200 rows; record predictions on 12 rows the model never saw.
        func first(_ n: Int, _ make: @escaping EstimatorConformance.ShardMaker) -> EstimatorConformance.ShardMaker {
            { comm in EstimatorConformance.block(try make(comm), 0 ..< n, globalRowCount: n) }
        }
        try EstimatorConformance.writeFixture(Self.classifier, data: first(200, Self.classification), rows: try Self.fixtureRows(Self.classification, offset: 200))
        try EstimatorConformance.writeFixture(Self.regressor, data: first(200, Self.regression), rows: try Self.fixtureRows(Self.regression, offset: 200))
        try EstimatorConformance.writeFixture(Self.kmeans, data: first(200, Self.blobs), rows: try Self.fixtureRows(Self.blobs, offset: 200))
        try EstimatorConformance.writeFixture(Self.sgdClassifier, data: first(200, Self.classification), rows: try Self.fixtureRows(Self.classification, offset: 200))
        try EstimatorConformance.writeFixture(Self.sgdRegressor, data: first(200, Self.regression), rows: try Self.fixtureRows(Self.regression, offset: 200))
        try EstimatorConformance.writeFixture(Self.linearRegression, data: first(200, Self.regression), rows: try Self.fixtureRows(Self.regression, offset: 200))
        try EstimatorConformance.writeFixture(Self.ridge, data: first(200, Self.regression), rows: try Self.fixtureRows(Self.regression, offset: 200))
        try EstimatorConformance.writeFixture(Self.logistic, data: first(200, Self.classification), rows: try Self.fixtureRows(Self.classification, offset: 200))
        try EstimatorConformance.writeFixture(Self.svc, data: first(200, Self.classification), rows: try Self.fixtureRows(Self.classification, offset: 200))
        try EstimatorConformance.writeFixture(Self.svr, data: first(200, Self.regression), rows: try Self.fixtureRows(Self.regression, offset: 200))
        try EstimatorConformance.writeFixture(Self.nusvc, data: first(200, Self.classification), rows: try Self.fixtureRows(Self.classification, offset: 200))
    }

    func testCommittedModelOfEveryKindPredictsAsRecorded() {
        for type in ModelRegistry.types {
            let paths = EstimatorConformance.fixturePaths(kind: type.kind, directory: EstimatorConformance.fixtureDirectory)
            XCTAssertTrue(FileManager.default.fileExists(atPath: paths.model.path), "no committed model for kind \(type.kind): add it to testWriteConformanceFixturesWhenAsked")
        }
        EstimatorConformance.checkFixture(RandomForestClassifierModel.self)
        EstimatorConformance.checkFixture(RandomForestRegressorModel.self)
        EstimatorConformance.checkFixture(KMeansModel.self)
        EstimatorConformance.checkFixture(SGDClassifierModel.self)
        EstimatorConformance.checkFixture(SGDRegressorModel.self)
        EstimatorConformance.checkFixture(LinearRegressionModel.self)
        EstimatorConformance.checkFixture(RidgeModel.self)
        EstimatorConformance.checkFixture(LogisticRegressionModel.self)
        EstimatorConformance.checkFixture(SVCModel.self, tolerance: 1e-12)
        EstimatorConformance.checkFixture(SVRModel.self, tolerance: 1e-12)
        EstimatorConformance.checkFixture(NuSVCModel.self, tolerance: 1e-12)
    }
}
