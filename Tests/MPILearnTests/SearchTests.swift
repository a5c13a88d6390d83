import Foundation
@testable import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// Model selection in one process: grids in scikit-learn's order, grid search equal to a
/// hand loop of fit/score, the same results at 1-4 ranks (LocalWorld), halving's rungs,
/// error_score, parameter errors, scoring rules and grid files.
final class SearchTests: XCTestCase {
    static func data(rows: Int = 240, features: Int = 5, seed: UInt64 = 7) throws -> Dataset<Double> {
        var d = try Generators.makeClassification(nSamples: rows, nFeatures: features, nInformative: 3, nRedundant: 1, randomState: seed, rows: 0 ..< rows)
        d.targetName = "y"
        return d
    }

    static let forest = RandomForestClassifier(.classifier(nEstimators: 3))

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return (error as? MPILearnError)?.description ?? "\(error)" }
    }

    func testGridOrderIsScikitLearns() {
        // ParameterGrid({'n_estimators': [2, 4], 'max_depth': [1, 2, 3]}): names sorted, the last fastest.
        let g = ParameterGrid(["n_estimators": [2, 4], "max_depth": [1, 2, 3]])
        XCTAssertEqual(g.count, 6)
        XCTAssertEqual(g.candidates.map { [$0["max_depth"]!, $0["n_estimators"]!] },
                       [[1, 2], [1, 4], [2, 2], [2, 4], [3, 2], [3, 4]])
        let two = ParameterGrid(grids: [["a": [1]], ["b": ["x", "y"], "a": [2]]])
        XCTAssertEqual(two.candidates, [["a": 1], ["a": 2, "b": "x"], ["a": 2, "b": "y"]])
        XCTAssertTrue(message { try ParameterGrid([:]).validate() }.contains("param_grid"))
        XCTAssertTrue(message { try ParameterGrid(["a": []]).validate() }.contains("a with no values"))
    }

    func testGridSearchEqualsAHandLoopAndIsTheSameAtOneToFourRanks() throws {
        let data = try Self.data()
        let grid = ParameterGrid(["max_depth": [2, 4], "n_estimators": [2, 5]])
        let cv = KFold(nSplits: 3)
        // The hand loop: fit every candidate on every fold's train rows, accuracy on its test rows.
        let folds = try cv.split(nSamples: data.rowCount)
        let solo = LocalCommunicator.solo()
        var expected: [[Double]] = []
        for c in grid.candidates {
            let e = try Self.forest.setting(c)
            expected.append(try folds.map { f in
                let m = try e.fit(data.rows(f.train), comm: solo)
                let pred = try m.predict(data.rows(f.test).matrix)
                let yTest = f.test.map { Int(data.target![$0]) }
                return Double(zip(pred, yTest).filter { $0 == $1 }.count) / Double(f.test.count)
            })
        }
        var csv: String? = nil
        for p in 1 ... 4 {
            let out = try LocalWorld.run(size: p) { comm in
                try GridSearchCV(Self.forest, grid: grid, options: SearchOptions(cv: cv)).fit(.replicated(data), comm: comm)
            }
            for r in out {
                XCTAssertEqual(r.cvResults.splitTestScores, expected, "p=\(p)")
                XCTAssertEqual(r.cvResults.csv(times: false), out[0].cvResults.csv(times: false))
                XCTAssertEqual(try r.bestModel!.container().encoded(), try out[0].bestModel!.container().encoded(), "p=\(p): refit differs between ranks")
            }
            let best = out[0].cvResults.bestIndex
            XCTAssertEqual(out[0].bestScore, expected[best].reduce(0, +) / 3)
            XCTAssertEqual(expected.map { $0.reduce(0, +) / 3 }.max(), out[0].bestScore)
            XCTAssertEqual(out[0].scheduleReport.tasks, 12)
            // n_estimators 2 and 5 share one fit per (max_depth, fold): the first 2 trees of 5
            // are the forest of 2 (the scores equal the hand loop's separate fits above).
            XCTAssertEqual(out[0].scheduleReport.fits, 6)
            if let csv { XCTAssertEqual(out[0].cvResults.csv(times: false), csv, "p=\(p)") } else { csv = out[0].cvResults.csv(times: false) }
        }
        // The refit is the best candidate fitted on every row; over several ranks each grows
        // its share of the trees, and the forest is the one-rank forest tree for tree.
        let r = try GridSearchCV(Self.forest, grid: grid, options: SearchOptions(cv: cv)).fit(.replicated(data), comm: solo)
        var direct = try Self.forest.setting(r.bestParams).fit(data, comm: solo), refit = r.bestModel!
        direct.forest.header.provenance.date = ""   // the two fits may straddle a second
        refit.forest.header.provenance.date = ""
        XCTAssertEqual(try refit.container().encoded(), try direct.container().encoded())
        let big = try Self.forest.setting(["n_estimators": 7, "max_depth": 4])
        let one = try big.fit(data, comm: solo).forest
        for p in [2, 3] {
            let shared = try LocalWorld.run(size: p) { comm in try big.fitReplicated(data, comm: comm).forest }
            for f in shared {
                XCTAssertEqual(f.trees.map { $0.feature }, one.trees.map { $0.feature }, "p=\(p)")
                XCTAssertEqual(f.trees.map { $0.threshold }, one.trees.map { $0.threshold }, "p=\(p)")
                XCTAssertEqual(f.trees.map { $0.value }, one.trees.map { $0.value }, "p=\(p)")
                XCTAssertEqual(f.header.featureImportances, one.header.featureImportances, "p=\(p)")
                XCTAssertEqual(f.header.classes, one.header.classes)
                XCTAssertEqual(f.treeIndices, Array(0 ..< 7))
            }
        }
    }

    /// Labels that are not 0..<k (here 3 and 7, no class names) are renumbered for the folds
    /// and still name the models' classes.
    func testLabelsThatAreNotCodesSearchAndRefit() throws {
        let original = try Self.data()
        var data = original
        data.target = data.target!.map { $0 == 0 ? 3 : 7 }
        let grid = ParameterGrid(["max_depth": [2, 3]])
        let r = try GridSearchCV(Self.forest, grid: grid, options: SearchOptions(cv: KFold(nSplits: 3))).fit(.replicated(data), comm: LocalCommunicator.solo())
        XCTAssertTrue(r.warnings.isEmpty, "\(r.warnings)")
        // Renaming the labels changes no score.
        let o = try GridSearchCV(Self.forest, grid: grid, options: SearchOptions(cv: KFold(nSplits: 3))).fit(.replicated(original), comm: LocalCommunicator.solo())
        XCTAssertEqual(r.cvResults.splitTestScores, o.cvResults.splitTestScores)
        XCTAssertEqual(r.bestModel?.classes, ["3", "7"])
        // scikit-learn's cv=5 for a classifier: stratified folds.
        let d = try GridSearchCV(Self.forest, grid: ParameterGrid(["max_depth": [2]])).fit(.replicated(data), comm: LocalCommunicator.solo())
        XCTAssertEqual(d.cvResults.nSplits, 5)
        let strat = try GridSearchCV(Self.forest, grid: ParameterGrid(["max_depth": [2]]), options: SearchOptions(cv: StratifiedKFold(nSplits: 5)))
            .fit(.replicated(data), comm: LocalCommunicator.solo())
        XCTAssertEqual(d.cvResults.splitTestScores, strat.cvResults.splitTestScores)
    }

    /// A forest's prefixes scored in one pass equal the truncated forests scored one by one,
    /// for every classification rule, and the staged sums equal the truncated forests' sums.
    func testNestedScoresEqualScoringEachTruncatedForest() throws {
        let data = try Self.data(rows: 300)
        let solo = LocalCommunicator.solo()
        let e = try Self.forest.setting(["n_estimators": 9, "max_depth": 4])
        let model = try e.fit(data, rows: Array(0 ..< 200), cache: FitCache(), comm: solo)
        let test = Array(200 ..< 300), y = test.map { data.target![$0] }
        let values = [1, 2, 5, 9]
        let staged = try model.forest.predictor().stagedSums(data.rows(test).matrix, stages: values)
        for (j, v) in values.enumerated() {
            XCTAssertEqual(staged[j], try e.truncated(model, to: v).forest.sumOutputs(data.rows(test).matrix), "stage \(v)")
            // The truncated forest is the forest of v trees fitted on its own.
            let own = try e.setting(["n_estimators": .int(v)]).fit(data.rows(Array(0 ..< 200)), comm: solo)
            XCTAssertEqual(own.forest.trees, try e.truncated(model, to: v).forest.trees)
        }
        for s in [Scoring.accuracy, .balancedAccuracy, .f1, .f1Macro, .rocAUC, .negLogLoss] {
            let one = try e.nestedScores(model, values: values, scoring: s, data: data, rows: test, y: y, labels: ["0", "1"], comm: solo)
            let each = try values.map { try s.score(e.truncated(model, to: $0), data: data, rows: test, y: y, labels: ["0", "1"], comm: solo) }
            XCTAssertEqual(one, each, "\(s)")
        }
    }

    func testCVResultsColumnsAndRanks() {
        let cv = CVResults(parameterNames: ["a"], params: [["a": 1], ["a": 2], ["a": 3], ["a": "x"]],
                           splitTestScores: [[0.5, 0.7], [0.9, 0.5], [0.7, 0.7], [.nan, 1]], splitTrainScores: nil,
                           fitTimes: [[1, 1], [1, 1], [1, 1], [1, 1]], scoreTimes: [[0, 0], [0, 0], [0, 0], [0, 0]])
        // Means 0.6, 0.7, 0.7, nan: ties share the lower rank, NaN ranks last.
        XCTAssertEqual(cv.rankTestScore, [3, 1, 1, 4])
        XCTAssertEqual(cv.bestIndex, 1)
        XCTAssertEqual(cv.stdTestScore[1], 0.2, accuracy: 1e-15)
        let lines = cv.csv().split(separator: "\n")
        XCTAssertEqual(lines[0], "mean_fit_time,std_fit_time,mean_score_time,std_score_time,param_a,params,split0_test_score,split1_test_score,mean_test_score,std_test_score,rank_test_score")
        XCTAssertEqual(lines[4], "1.0,0.0,0.0,0.0,x,{'a': 'x'},nan,1.0,nan,nan,4")
        // Halving: later rungs rank first.
        var h = cv
        h.iteration = [0, 0, 1, 1]
        h.nResources = [10, 10, 30, 30]
        XCTAssertEqual(h.rankTestScore, [4, 3, 1, 2])
        XCTAssertTrue(h.csv().hasPrefix(cv.columns().joined(separator: ",") + ",iter,n_resources\n"))
    }

    func testHalvingPlanAndCandidatesPerRung() throws {
        // scikit-learn: 25 candidates, 1000 rows, cv 3, 2 classes, factor 3, min_resources exhaust:
        // min_resources_ = max(2·3·2, 1000 // 3²) = 111; rungs of 111, 333, 999 rows with 25, 9, 3 candidates
        // (scikit-learn 1.9's n_resources_ and n_candidates_ for this setting, and [12, 36, 108] with smallest).
        let h = HalvingSearchCV(Self.forest, candidates: [])
        let plan = try h.plan(candidates: 25, maxResources: 1000, nSplits: 3, classes: 2)
        XCTAssertEqual(plan.map(\.resources), [111, 333, 999])
        XCTAssertEqual(plan.map(\.candidates), [25, 9, 3])
        var small = h
        small.minResources = .smallest
        XCTAssertEqual(try small.plan(candidates: 25, maxResources: 1000, nSplits: 3, classes: 2).map(\.resources), [12, 36, 108])

        // A real run: 9 candidates, factor 3 → rungs of 9 and 3 candidates (and 1 if resources allow).
        let data = try Self.data(rows: 600)
        let grid = ParameterGrid(["max_depth": [1, 2, 3], "n_estimators": [1, 2, 4]])
        for p in [1, 3] {
            let out = try LocalWorld.run(size: p) { comm in
                try HalvingSearchCV(Self.forest, candidates: grid.candidates, options: SearchOptions(cv: KFold(nSplits: 3))).fit(.replicated(data), comm: comm)
            }
            let cv = out[0].cvResults
            let perRung = Dictionary(grouping: cv.iteration!, by: { $0 }).mapValues(\.count)
            let expectedPlan = try HalvingSearchCV(Self.forest, candidates: grid.candidates).plan(candidates: 9, maxResources: 600, nSplits: 3, classes: 2)
            // scikit-learn's n_resources_ and n_candidates_ for this problem.
            XCTAssertEqual(expectedPlan.map(\.resources), [66, 198, 594])
            XCTAssertEqual(expectedPlan.map(\.candidates), [9, 3, 1])
            XCTAssertEqual(perRung.keys.sorted().map { perRung[$0]! }, expectedPlan.map(\.candidates), "p=\(p)")
            XCTAssertEqual(Set(cv.nResources!), Set(expectedPlan.map(\.resources)))
            // The best comes from the last rung.
            XCTAssertEqual(cv.iteration![cv.bestIndex], expectedPlan.count - 1)
            for r in out { XCTAssertEqual(r.cvResults.csv(times: false), out[0].cvResults.csv(times: false)) }
        }
        // A parameter as the resource needs max_resources.
        XCTAssertTrue(message {
            _ = try HalvingSearchCV(Self.forest, candidates: [["max_depth": 2]], resource: .parameter("n_estimators"))
                .fit(.replicated(data), comm: LocalCommunicator.solo())
        }.contains("max_resources"))
        let byTrees = try HalvingSearchCV(Self.forest, candidates: ParameterGrid(["max_depth": [1, 2, 3, 4]]).candidates, resource: .parameter("n_estimators"),
                                          maxResources: 9, options: SearchOptions(cv: KFold(nSplits: 3))).fit(.replicated(data), comm: LocalCommunicator.solo())
        // exhaust: min_resources = 9 // 3^(2-1) = 3; rungs of 3 and 9 trees with 4 and ⌈4/3⌉ = 2 candidates.
        XCTAssertEqual(byTrees.cvResults.params.map { $0["n_estimators"]! }, [3, 3, 3, 3, 9, 9])
    }

    func testHalvingSubsamplesAreNestedAndStratified() {
        let h = HalvingSearchCV(Self.forest, candidates: [], randomState: 5)
        let rows = Array(stride(from: 0, to: 1000, by: 2))
        let y = (0 ..< 1000).map { $0 % 10 < 3 ? 1 : 0 }   // 30% class 1
        var previous: Set<Int> = []
        for m in [20, 60, 180, 500] {
            let s = h.subsample(rows, count: m, y: y)
            XCTAssertEqual(s.count, m)
            XCTAssertEqual(s, s.sorted())
            XCTAssertTrue(previous.isSubset(of: Set(s)), "m=\(m): not nested")
            let ones = s.filter { y[$0] == 1 }.count
            let ideal = Double(m) * Double(rows.filter { y[$0] == 1 }.count) / Double(rows.count)
            XCTAssertLessThanOrEqual(abs(Double(ones) - ideal), 1, "m=\(m)")
            previous = Set(s)
        }
        XCTAssertNotEqual(h.subsample(rows, count: 20, y: nil), HalvingSearchCV(Self.forest, candidates: [], randomState: 6).subsample(rows, count: 20, y: nil))
    }

    func testErrorScoreNanRecordsAndRaiseNamesCandidateAndFold() throws {
        let data = try Self.data()
        // max_features 9 passes validate() (no data yet) and fails in fit: the data has 5 features.
        let grid = ParameterGrid(["max_features": [2, 9]])
        let r = try GridSearchCV(Self.forest, grid: grid, options: SearchOptions(cv: KFold(nSplits: 3))).fit(.replicated(data), comm: LocalCommunicator.solo())
        XCTAssertTrue(r.cvResults.splitTestScores[1].allSatisfy(\.isNaN))
        XCTAssertFalse(r.cvResults.splitTestScores[0].contains { $0.isNaN })
        XCTAssertEqual(r.warnings.count, 3)
        XCTAssertTrue(r.warnings[0].contains("max_features"), r.warnings[0])
        XCTAssertEqual(r.bestIndex, 0)
        XCTAssertEqual(r.cvResults.rankTestScore, [1, 2])
        let v = try GridSearchCV(Self.forest, grid: grid, options: SearchOptions(cv: KFold(nSplits: 3), errorScore: .value(-1)))
            .fit(.replicated(data), comm: LocalCommunicator.solo())
        XCTAssertEqual(v.cvResults.splitTestScores[1], [-1, -1, -1])
        let m = message {
            _ = try GridSearchCV(Self.forest, grid: grid, options: SearchOptions(cv: KFold(nSplits: 3), errorScore: .raise))
                .fit(.replicated(data), comm: LocalCommunicator.solo())
        }
        XCTAssertTrue(m.contains("candidate 1") && m.contains("fold 0") && m.contains("max_features") && m.contains("error_score=raise"), m)
    }

    func testSettingNamesTheParameter() throws {
        XCTAssertEqual(try Self.forest.setting(["max_depth": 4, "n_estimators": 7]).parameters.tree.maxDepth, 4)
        XCTAssertEqual(try Self.forest.setting(["max_depth": nil]).parameters.tree.maxDepth, nil)
        XCTAssertEqual(try Self.forest.setting(["max_features": "log2"]).parameters.tree.maxFeatures, .log2)
        XCTAssertEqual(try Self.forest.setting(["max_features": 0.5]).parameters.tree.maxFeatures, .fraction(0.5))
        let unknown = message { _ = try Self.forest.setting(["max_dept": 4]) }
        XCTAssertTrue(unknown.contains("max_dept") && unknown.contains("max_depth") && unknown.contains("n_estimators"), unknown)
        let wrongType = message { _ = try Self.forest.setting(["n_estimators": "many"]) }
        XCTAssertTrue(wrongType.contains("n_estimators") && wrongType.contains("many"), wrongType)
        let range = message { try Self.forest.setting(["n_estimators": 0]).validate() }
        XCTAssertTrue(range.contains("n_estimators") && range.contains(">= 1"), range)
        XCTAssertTrue(message { _ = try RandomForestRegressor().setting(["class_weight": "balanced"]) }.contains("class_weight"))
        let k = try KMeans().setting(["n_clusters": 3, "init": "k-means++", "n_init": nil])
        XCTAssertEqual(k.nClusters, 3)
        XCTAssertEqual(k.initialization, .kMeansPlusPlus)
        XCTAssertTrue(message { _ = try KMeans().setting(["init": "bogus"]) }.contains("init"))
        // Every parameter round-trips.
        XCTAssertEqual(try Self.forest.setting(try Self.forest.parameters()), Self.forest)
    }

    func testScoringRulesAndTheirChecks() throws {
        XCTAssertTrue(message { try Scoring.r2.check(role: .classifier, classes: 2) }.contains("accuracy"))
        XCTAssertTrue(message { try Scoring.f1.check(role: .classifier, classes: 3) }.contains("f1_macro"))
        XCTAssertTrue(message { _ = try Scoring(name: "auc") }.contains("roc_auc"))
        let solo = LocalCommunicator.solo()
        // y_true = [0, 0, 1, 1, 2, 2], y_pred = [0, 1, 1, 1, 2, 0] (checked with scikit-learn):
        // balanced_accuracy 0.6667, f1_macro 0.6556.
        let yt = [0, 0, 1, 1, 2, 2], yp = [0, 1, 1, 1, 2, 0]
        XCTAssertEqual(try Scoring.classification(.balancedAccuracy, yTrue: yt, yPred: yp, classes: 3, comm: solo), 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(try Scoring.classification(.f1Macro, yTrue: yt, yPred: yp, classes: 3, comm: solo), (0.5 + 0.8 + 2.0 / 3) / 3, accuracy: 1e-12)
        // Binary F1 of the positive (last) class: y_true [0,1,1,0], y_pred [1,1,0,0] → 0.5.
        XCTAssertEqual(try Scoring.classification(.f1, yTrue: [0, 1, 1, 0], yPred: [1, 1, 0, 0], classes: 2, comm: solo), 0.5, accuracy: 1e-12)
        // Every classification rule runs through search.
        let data = try Self.data()
        for s in [Scoring.accuracy, .balancedAccuracy, .f1, .f1Macro, .rocAUC, .negLogLoss] {
            let r = try GridSearchCV(Self.forest, grid: ParameterGrid(["max_depth": [3]]), options: SearchOptions(cv: KFold(nSplits: 3), scoring: s, refit: false))
                .fit(.replicated(data), comm: solo)
            XCTAssertTrue(r.bestScore.isFinite, "\(s)")
            XCTAssertEqual(r.scoring, s)
        }
        XCTAssertTrue(message {
            _ = try GridSearchCV(Self.forest, grid: ParameterGrid(["max_depth": [3]]), options: SearchOptions(cv: KFold(nSplits: 3), scoring: .r2))
                .fit(.replicated(data), comm: solo)
        }.contains("scoring"))
    }

    func testRandomSearchCandidatesAreSeededByCandidate() throws {
        let d: [String: ParameterDistribution] = ["max_depth": .randInt(low: 2, high: 12), "min_impurity_decrease": .logUniform(low: 1e-6, high: 1e-2),
                                                  "max_features": .choice(["sqrt", "log2"])]
        let a = ParameterSampler(d, nIter: 20, randomState: 3).candidates
        XCTAssertEqual(a, ParameterSampler(d, nIter: 20, randomState: 3).candidates)
        XCTAssertNotEqual(a, ParameterSampler(d, nIter: 20, randomState: 4).candidates)
        XCTAssertEqual(Array(ParameterSampler(d, nIter: 30, randomState: 3).candidates.prefix(20)), a, "candidate i does not depend on n_iter")
        for c in a {
            XCTAssertTrue((2 ..< 12).contains(Int(c["max_depth"]!.number!)))
            XCTAssertTrue((1e-6 ... 1e-2).contains(c["min_impurity_decrease"]!.number!))
        }
        // Lists only: a sample without replacement, at most the grid.
        let lists = ParameterSampler(["a": .choice([1, 2, 3]), "b": .choice(["x", "y"])], nIter: 10).candidates
        XCTAssertEqual(lists.count, 6)
        XCTAssertEqual(Set(lists.map(pythonDict)).count, 6)
        XCTAssertTrue(message { _ = try ParameterDistribution(parsing: "loguniform(0,1)", name: "C") }.contains("C"))
        XCTAssertEqual(try ParameterDistribution(parsing: "uniform(0.1, 1)", name: "x"), .uniform(low: 0.1, high: 1))
        XCTAssertEqual(try ParameterSpaceParser.grid(["n_estimators=2,4", "max_features=sqrt,none,0.5"]).grids[0]["max_features"], ["sqrt", nil, 0.5])
        XCTAssertTrue(message { _ = try ParameterSpaceParser.grid(["n_estimators"]) }.contains("--param"))
        XCTAssertTrue(message { _ = try ParameterSpaceParser.grid(["n_estimators="]) }.contains("--param"))
    }

    func testGridFilesInYAMLAndJSONWithLineAndColumnErrors() throws {
        let dir = try MPIRun.temporaryDirectory("grid-files")
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ name: String, _ text: String) throws -> String {
            let p = dir.appendingPathComponent(name).path
            try text.write(toFile: p, atomically: true, encoding: .utf8)
            return p
        }
        let yaml = try write("g.yaml", "n_estimators: [2, 4]\nmax_depth:\n  - 3\n  - null\nmax_features: sqrt\n")
        XCTAssertEqual(try ParameterSpaceParser.grid(file: yaml).grids, [["n_estimators": [2, 4], "max_depth": [3, nil], "max_features": ["sqrt"]]])
        let json = try write("g.json", "[{\"max_depth\": [2]}, {\"n_estimators\": [3, 5], \"bootstrap\": [false]}]")
        XCTAssertEqual(try ParameterSpaceParser.grid(file: json).count, 3)
        let dist = try write("d.yaml", "max_depth: randint(2, 8)\nmin_impurity_decrease: {loguniform: [0.000001, 0.01]}\n")
        XCTAssertEqual(try ParameterSpaceParser.spaces(file: dist)[0]["max_depth"], .randInt(low: 2, high: 8))
        let bad = try write("bad.yaml", "n_estimators: [2, 4\nmax_depth: [3]\n")
        let m = message { _ = try ParameterSpaceParser.grid(file: bad) }
        XCTAssertTrue(m.contains("bad.yaml:") && m.range(of: #"bad\.yaml:\d+:\d+"#, options: .regularExpression) != nil, m)
        let badJSON = try write("bad.json", "{\"max_depth\": [2,, 3]}")
        XCTAssertNotNil(message { _ = try ParameterSpaceParser.grid(file: badJSON) }.range(of: #"bad\.json:\d+:\d+"#, options: .regularExpression))
        let empty = try write("e.yaml", "max_depth: []\n")
        XCTAssertTrue(message { _ = try ParameterSpaceParser.grid(file: empty) }.contains("no values"))
        XCTAssertTrue(message { _ = try ParameterSpaceParser.grid(file: dir.appendingPathComponent("none.yaml").path) }.contains("cannot read"))
    }

    func testKMeansSearchOnShardedDataEqualsReplicated() throws {
        let rows = 300
        let full = try Generators.makeBlobs(nSamples: rows, nFeatures: 3, centers: 4, clusterStd: 1.5, randomState: 2, rows: 0 ..< rows)
        let grid = ParameterGrid(["n_clusters": [2, 4]])
        let options = SearchOptions(cv: KFold(nSplits: 3))
        let replicated = try GridSearchCV(KMeans(), grid: grid, options: options).fit(.replicated(full), comm: LocalCommunicator.solo())
        let out = try LocalWorld.run(size: 3) { comm in
            let block = Partition.block(count: rows, parts: comm.size, index: comm.rank)
            var shard = try Generators.makeBlobs(nSamples: rows, nFeatures: 3, centers: 4, clusterStd: 1.5, randomState: 2, rows: block)
            shard.globalRowStart = block.lowerBound
            shard.globalRowCount = rows
            return try GridSearchCV(KMeans(), grid: grid, options: options).fit(.sharded(shard), comm: comm)
        }
        XCTAssertEqual(out[0].scheduleReport.schedule, SearchSchedule.sharded)
        for (a, b) in zip(out[0].cvResults.splitTestScores.flatMap { $0 }, replicated.cvResults.splitTestScores.flatMap { $0 }) {
            XCTAssertEqual(a, b, accuracy: 1e-9 * abs(b))
        }
        XCTAssertEqual(out[0].bestParams, replicated.bestParams)
        // Groups of ranks: at 4 and 5 ranks, 2 groups each hold every row and fit different
        // candidates at once; the scores are those of the replicated search.
        for (size, groups) in [(4, 2), (5, 2), (3, 3)] {
            var grouped = options
            grouped.shardGroups = groups
            let g = try LocalWorld.run(size: size) { comm in
                let block = Partition.block(count: rows, parts: comm.size, index: comm.rank)
                var shard = try Generators.makeBlobs(nSamples: rows, nFeatures: 3, centers: 4, clusterStd: 1.5, randomState: 2, rows: block)
                shard.globalRowStart = block.lowerBound
                shard.globalRowCount = rows
                return try GridSearchCV(KMeans(), grid: grid, options: grouped).fit(.sharded(shard), comm: comm)
            }
            XCTAssertEqual(g[0].scheduleReport.ranks, groups)
            for r in g {
                XCTAssertEqual(r.cvResults.csv(times: false), g[0].cvResults.csv(times: false), "size \(size)")
                for (a, b) in zip(r.cvResults.splitTestScores.flatMap { $0 }, replicated.cvResults.splitTestScores.flatMap { $0 }) {
                    XCTAssertEqual(a, b, accuracy: 1e-9 * abs(b), "size \(size), \(groups) groups")
                }
            }
        }
        // The forest's fit depends on the sharding, so it refuses sharded data.
        let m = message { _ = try GridSearchCV(Self.forest, grid: ParameterGrid(["max_depth": [2]])).fit(.sharded(try Self.data()), comm: LocalCommunicator.solo()) }
        XCTAssertTrue(m.contains("replicated"), m)
    }

    /// A fitted model's own `score` is scikit-learn's: accuracy (or R²) of its predictions on
    /// every rank's rows, the same at 1 and 3 ranks, other scorings by name, and a missing
    /// target is an error naming the row.
    func testModelScoreIsItsPredictionsScore() throws {
        let data = try Self.data(rows: 300)
        let solo = LocalCommunicator.solo()
        let model = try Self.forest.fit(data, comm: solo)
        let pred = try model.predict(data.matrix)
        let accuracy = Double(zip(pred, data.target!).filter { Double($0) == $1 }.count) / 300
        XCTAssertEqual(try model.score(data, comm: solo), accuracy)
        for p in [2, 3] {
            let scores = try LocalWorld.run(size: p) { comm -> Double in
                let block = Partition.block(count: 300, parts: p, index: comm.rank)
                var shard = data.rows(Array(block))
                shard.globalRowStart = block.lowerBound
                shard.globalRowCount = 300
                return try model.score(shard, comm: comm)
            }
            XCTAssertEqual(scores, Array(repeating: accuracy, count: p), "p=\(p)")
        }
        XCTAssertEqual(try model.score(data, scoring: .negLogLoss, comm: solo),
                       try Scoring.negLogLoss.score(model, x: data.matrix, y: data.target, labels: ["0", "1"], comm: solo), accuracy: 1e-15)
        var gappy = data
        gappy.target![7] = .nan
        XCTAssertThrowsError(try model.score(gappy, comm: solo)) { XCTAssertTrue("\($0)".contains("8"), "\($0)") }
        let regression = try Generators.makeRegression(nSamples: 200, nFeatures: 4, nInformative: 3, noise: 1, randomState: 3, rows: 0 ..< 200).data
        let regressor = try RandomForestRegressor(.regressor(nEstimators: 4)).fit(regression, comm: solo)
        XCTAssertEqual(try regressor.score(regression, comm: solo),
                       try Metrics.r2(yTrue: regression.target!, yPred: regressor.predict(regression.matrix), comm: solo))
    }
}
