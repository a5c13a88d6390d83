import Foundation
@testable import MPILearn
import SwiftMPI
import XCTest

/// Datasets: one type whose features are dense or columns; columns into a row-major matrix
/// without a second copy, the same forest from either layout, row subsets.
final class DatasetTests: XCTestCase {
    func testColumnsIntoARowMajorDatasetInPlaceEqualTheCopy() {
        var rng = Philox(seed: 5, domain: 9, stream: 0)
        for (n, d) in [(0, 3), (1, 1), (1, 4), (5, 1), (7, 3), (64, 14), (1000, 7), (4099, 13)] {
            let columns = (0 ..< d).map { _ in (0 ..< n).map { _ in rng.uniform() < 0.05 ? Double.nan : rng.normal() } }
            let set = Dataset(columns: columns, rows: n, target: (0 ..< n).map(Double.init), targetName: "t", classNames: ["a"])
            XCTAssertFalse(set.features.isDense)
            let copy = set.denseCopy()
            let moved = set.densified()
            XCTAssertTrue(moved.features.isDense)
            XCTAssertEqual(moved.matrix.rows, n)
            XCTAssertEqual(moved.matrix.columns, d)
            // Bit for bit (NaN included): compare the values' bits.
            XCTAssertEqual(moved.matrix.storage.map(\.bitPattern), copy.storage.map(\.bitPattern), "n=\(n) d=\(d)")
            XCTAssertEqual(moved.target, (0 ..< n).map(Double.init))
            XCTAssertEqual(moved.targetName, "t")
            XCTAssertEqual(moved.classNames, ["a"])
        }
    }

    /// Float columns (no C kernel) transpose in place as Doubles do.
    func testFloatColumnsBecomeDenseInPlace() {
        for (n, d) in [(0, 2), (1, 3), (3, 1), (6, 4), (37, 5)] {
            let columns = (0 ..< d).map { j in (0 ..< n).map { Float(j * 1000 + $0) } }
            var set = Dataset<Float>(columns: columns, rows: n)
            let copy = set.denseCopy()
            set.makeDense()
            XCTAssertEqual(set.matrix, copy, "n=\(n) d=\(d)")
            for i in 0 ..< n { for j in 0 ..< d { XCTAssertEqual(set.matrix[i, j], Float(j * 1000 + i)) } }
        }
    }

    /// The columns case and the dense case of the same rows are the same data: the dense view
    /// of the columns is the row-major matrix, row subsets agree, and a forest fitted on
    /// either (whole, or each rank's trees on 1 and 3 ranks, with missing values) makes the
    /// same predictions.
    func testColumnsAndDenseGiveTheSameForest() throws {
        func columns(_ d: Dataset<Double>) -> Dataset<Double> {
            var c = d
            let x = d.matrix
            c.features = .columns((0 ..< x.columns).map { j in (0 ..< x.rows).map { x[$0, j] } }, rows: x.rows)
            return c
        }
        for p in [1, 3] {
            let out = try LocalWorld.run(size: p) { comm -> [String] in
                let local = Partition.block(count: 300, parts: comm.size, index: comm.rank)
                var dense = try Generators.makeClassification(nSamples: 300, nFeatures: 6, nInformative: 3, nRedundant: 1, randomState: 4, rows: local)
                dense.globalRowStart = local.lowerBound
                dense.globalRowCount = 300
                for i in Swift.stride(from: 0, to: dense.rowCount, by: 7) { dense.matrix[i, i % 6] = .nan }
                let cols = columns(dense)
                var problems: [String] = []
                if cols.denseCopy().storage.map(\.bitPattern) != dense.matrix.storage.map(\.bitPattern) { problems.append("denseCopy() is not the matrix") }
                if cols.densified().matrix.storage.map(\.bitPattern) != dense.matrix.storage.map(\.bitPattern) { problems.append("densified() is not the matrix") }
                let pick = [4, 0, 2].filter { $0 < dense.rowCount }
                if cols.rows(pick).denseCopy().storage.map(\.bitPattern) != dense.rows(pick).matrix.storage.map(\.bitPattern) { problems.append("row subsets differ") }
                let test = try Generators.makeClassification(nSamples: 300, nFeatures: 6, nInformative: 3, nRedundant: 1, randomState: 4, rows: 0 ..< 300).matrix
                let params = try RandomForestClassifier().setting(["n_estimators": 6, "random_state": 3, "max_depth": 6])
                let a = try params.fit(dense, comm: comm), b = try params.fit(cols, comm: comm)
                if try a.predict(test) != b.predict(test) || a.predictProba(test) != b.predictProba(test) { problems.append("whole forests predict differently") }
                let la = try params.fitLocal(dense, comm: comm).forest, lb = try params.fitLocal(cols, comm: comm).forest
                if try la.sumOutputs(test) != lb.sumOutputs(test) { problems.append("local forests predict differently") }
                let reg = try RandomForestRegressor().setting(["n_estimators": 4, "random_state": 3, "oob_score": true])
                var rd = dense
                rd.target = (0 ..< dense.rowCount).map { Double($0 % 5) }
                let ra = try reg.fit(rd, comm: comm), rb = try reg.fit(columns(rd), comm: comm)
                if try ra.predict(test) != rb.predict(test) { problems.append("regressors predict differently") }
                if ra.forest.header.oobScore != rb.forest.header.oobScore { problems.append("oob scores differ") }
                return problems
            }
            for (rank, problems) in out.enumerated() { XCTAssertEqual(problems, [], "p=\(p) rank \(rank)") }
        }
    }

    /// Learners that read rows refuse columns with an error naming makeDense(), before any work.
    func testDenseOnlyLearnersNameMakeDenseForColumns() throws {
        let solo = LocalCommunicator.solo()
        let cols = Dataset(columns: [[0, 1, 2, 3], [1, 0, 1, 0]], rows: 4, target: [0, 1, 0, 1])
        XCTAssertThrowsError(try KMeans(nClusters: 2).fit(cols, comm: solo)) { XCTAssertTrue("\($0)".contains("makeDense()"), "\($0)") }
        let search = GridSearchCV(RandomForestClassifier(), grid: ParameterGrid(["n_estimators": [2]]), options: SearchOptions(cv: KFold(nSplits: 2)))
        XCTAssertThrowsError(try search.fit(.replicated(cols), comm: solo)) { XCTAssertTrue("\($0)".contains("makeDense()"), "\($0)") }
        XCTAssertNoThrow(try KMeans(nClusters: 2).fit(cols.densified(), comm: solo))
    }

    func testRowSubsetsKeepNamesAndTargets() {
        let d = Dataset(features: Matrix(rows: 4, columns: 2, storage: [0, 1, 10, 11, 20, 21, 30, 31]), target: [0, 1, 2, 3],
                        featureNames: ["a", "b"], targetName: "y", classNames: ["p", "q", "r", "s"])
        let s = d.rows([3, 1])
        XCTAssertEqual(s.matrix.storage, [30, 31, 10, 11])
        XCTAssertEqual(s.target, [3, 1])
        XCTAssertEqual(s.featureNames, ["a", "b"])
        XCTAssertEqual(s.labelName(2), "r")
        XCTAssertEqual(Dataset(features: Matrix<Double>(rows: 0, columns: 1)).labelName(7), "7")
    }

    /// A model's schema shapes test data: its features in its order, categories on its
    /// training codes, unseen values missing (with a note), missing columns named.
    func testSchemaAlignsATestTableToTheModel() throws {
        let schema = FeatureSchema(featureNames: ["x", "carrier"], categories: [nil, ["AA", "DL", "UA"]], target: "late", classes: ["no", "yes"])
        // The test file's own dictionary: B6 (unseen), DL, UA in its codes 0, 1, 2.
        var table = Table(columns: [Column(name: "carrier", values: .categorical([2, 0, 1, -1], CategoryDictionary(["B6", "DL", "UA"]))),
                                    Column(name: "extra", values: .float64([9, 9, 9, 9])),
                                    Column(name: "x", values: .float64([1, 2, 3, 4]))],
                          rowCount: 4, globalRowStart: 0, globalRowCount: 4)
        let notes = try schema.align(&table)
        XCTAssertEqual(notes.count, 1)
        XCTAssertTrue(notes[0].contains("carrier") && notes[0].contains("B6"), notes[0])
        let m = try schema.matrix(table)
        XCTAssertEqual(m.columns, 2)
        XCTAssertEqual(Array(m.storage[0 ..< 2]), [1, 2])        // UA → training code 2
        XCTAssertTrue(m.storage[3].isNaN)                        // B6 → missing
        XCTAssertEqual(m.storage[5], 1)                          // DL → 1
        XCTAssertTrue(m.storage[7].isNaN)                        // missing stays missing
        XCTAssertEqual(schema.columnTypes, ["x": .numeric, "carrier": .categorical])
        XCTAssertThrowsError(try schema.requireColumns(["x", "origin"], path: "t.csv")) { e in
            XCTAssertTrue("\(e)".contains("carrier"), "\(e)")
        }
        let d = Dataset(features: Matrix(rows: 1, columns: 2, storage: [0, 1]), featureNames: ["x", "carrier"],
                        categories: [nil, CategoryDictionary(["AA", "DL", "UA"])], targetName: "late", classNames: ["no", "yes"])
        XCTAssertEqual(d.schema, schema)
    }
}
