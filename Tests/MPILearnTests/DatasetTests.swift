import Foundation
@testable import MPILearn
import XCTest

/// Datasets: columns into a row-major matrix without a second copy, row subsets.
final class DatasetTests: XCTestCase {
    func testColumnsIntoARowMajorDatasetInPlaceEqualTheCopy() {
        var rng = Philox(seed: 5, domain: 9, stream: 0)
        for (n, d) in [(0, 3), (1, 1), (1, 4), (5, 1), (7, 3), (64, 14), (1000, 7), (4099, 13)] {
            let columns = (0 ..< d).map { _ in (0 ..< n).map { _ in rng.uniform() < 0.05 ? Double.nan : rng.normal() } }
            let set = ColumnDataset(columns: columns, rows: n, target: (0 ..< n).map(Double.init), targetName: "t", classNames: ["a"])
            let copy = set.dataset()
            let moved = set.intoDataset()
            XCTAssertEqual(moved.features.rows, n)
            XCTAssertEqual(moved.features.columns, d)
            // Bit for bit (NaN included): compare the values' bits.
            XCTAssertEqual(moved.features.storage.map(\.bitPattern), copy.features.storage.map(\.bitPattern), "n=\(n) d=\(d)")
            XCTAssertEqual(moved.target, copy.target)
            XCTAssertEqual(moved.targetName, "t")
            XCTAssertEqual(moved.classNames, ["a"])
        }
    }

    func testRowSubsetsKeepNamesAndTargets() {
        let d = Dataset(features: Matrix(rows: 4, columns: 2, storage: [0, 1, 10, 11, 20, 21, 30, 31]), target: [0, 1, 2, 3],
                        featureNames: ["a", "b"], targetName: "y", classNames: ["p", "q", "r", "s"])
        let s = d.rows([3, 1])
        XCTAssertEqual(s.features.storage, [30, 31, 10, 11])
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
