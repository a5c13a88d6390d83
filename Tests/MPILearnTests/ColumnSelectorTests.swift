import Foundation
@testable import MPILearn
import SwiftMPI
import XCTest

/// `select` (keep in order, or drop) and `derive` (expression columns).
final class ColumnSelectorTests: XCTestCase {
    let t = Table(columns: [Column(name: "a", values: .float64([1, 2])), Column(name: "b", values: .float64([3, .nan])),
                            Column(name: "c", values: .datetime([0, 86_400]))],
                  rowCount: 2, globalRowStart: 0, globalRowCount: 2)

    func testKeepAndDrop() throws {
        let keep = try ColumnSelector(columns: ["c", "a"]).fit(t, comm: LocalCommunicator.solo())
        XCTAssertEqual(try keep.transform(t, context: .memory("t")).columnNames, ["c", "a"])
        XCTAssertEqual(try ColumnSelector(drop: ["b"]).transform(t, context: .memory("t")).columnNames, ["a", "c"])
    }

    func testMissingColumnNamesItAndTheColumns() {
        for step in [ColumnSelector(columns: ["a", "zz"]), ColumnSelector(drop: ["zz"])] {
            XCTAssertThrowsError(try step.fit(t, comm: LocalCommunicator.solo())) { e in
                guard case MPILearnError.mismatch(let m) = e else { return XCTFail("\(e)") }
                XCTAssertTrue(m.contains("'zz'") && m.contains("a, b, c"), m)
            }
        }
    }

    func testParameters() throws {
        XCTAssertThrowsError(try ColumnSelector().validate()) { e in XCTAssertTrue("\(e)".contains("select.columns"), "\(e)") }
        XCTAssertThrowsError(try ColumnSelector(columns: ["a"], drop: ["b"]).validate()) { e in XCTAssertTrue("\(e)".contains("select.drop"), "\(e)") }
        XCTAssertThrowsError(try ColumnSelector(columns: ["a", "a"]).validate()) { e in XCTAssertTrue("\(e)".contains("'a'"), "\(e)") }
        XCTAssertEqual(String(decoding: try ModelJSON.encoder.encode(ColumnSelector(columns: ["a"])), as: UTF8.self), #"{"columns":["a"],"drop":null}"#)
        XCTAssertEqual(try ModelJSON.decoder.decode(ColumnSelector.self, from: Data("{}".utf8)), ColumnSelector())
    }

    func testDerive() throws {
        let step = DerivedColumns(columns: [.init(name: "s", expression: "a + b"), .init(name: "late", expression: "s > 3"),
                                            .init(name: "a", expression: "a * 10")], drop: ["b"])
        let out = try step.fit(t, comm: LocalCommunicator.solo()).transform(t, context: .memory("t"))
        XCTAssertEqual(out.columnNames, ["a", "c", "s", "late"], "a replaced in place, b dropped")
        guard case .float64(let a) = out.columns[0].values, case .float64(let s) = out.columns[2].values,
              case .float64(let late) = out.columns[3].values else { return XCTFail() }
        XCTAssertEqual(a, [10, 20]); XCTAssertEqual(s[0], 4); XCTAssertTrue(s[1].isNaN)
        XCTAssertEqual(late[0], 1); XCTAssertTrue(late[1].isNaN)
        XCTAssertThrowsError(try DerivedColumns(columns: [.init(name: "x", expression: "a + nope")]).fit(t, comm: LocalCommunicator.solo())) { e in
            guard case MPILearnError.mismatch(let m) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(m.contains("'nope'"), m)
        }
        XCTAssertThrowsError(try DerivedColumns(columns: [.init(name: "x", expression: "a >> 2")]).validate()) { e in
            XCTAssertTrue("\(e)".contains("derive.columns.x") && "\(e)".contains("column 4"), "\(e)")
        }
    }

    func testDeriveCoding() throws {
        let object = try ModelJSON.decoder.decode(DerivedColumns.self, from: Data(#"{"columns": {"z": "a", "b2": "b * 2"}}"#.utf8))
        XCTAssertEqual(object.columns.map(\.name), ["b2", "z"], "an object is applied in name order")
        let list = try ModelJSON.decoder.decode(DerivedColumns.self, from: Data(#"{"columns": [{"name": "z", "expression": "a"}, {"name": "b2", "expression": "b * 2"}]}"#.utf8))
        XCTAssertEqual(list.columns.map(\.name), ["z", "b2"], "a list in its order")
        XCTAssertEqual(try ModelJSON.decoder.decode(DerivedColumns.self, from: ModelJSON.encoder.encode(list)), list)
        XCTAssertEqual(try ModelJSON.decoder.decode(DerivedColumns.self, from: Data("{}".utf8)), DerivedColumns())
    }
}
