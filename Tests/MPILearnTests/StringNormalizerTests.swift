import Foundation
@testable import MPILearn
import SwiftMPI
import XCTest

/// `normalize-strings`: one category for `CASH`, `Cash`, ` cash `; the dictionary sorted,
/// codes remapped, missing kept; parameters coded with every key.
final class StringNormalizerTests: XCTestCase {
    func text(_ name: String, _ values: [String?]) -> Column {
        let dict = CategoryDictionary(values.compactMap { $0 })
        return Column(name: name, values: .categorical(values.map { $0.map { dict.code(of: $0)! } ?? -1 }, dict))
    }

    func strings(_ c: Column) -> [String?] {
        guard case .categorical(let codes, let dict) = c.values else { return [] }
        return codes.map { $0 < 0 ? nil : dict.values[Int($0)] }
    }

    func table(_ columns: [Column]) -> Table {
        Table(columns: columns, rowCount: columns[0].values.count, globalRowStart: 0, globalRowCount: columns[0].values.count)
    }

    func testDefaults() throws {
        let t = table([text("pay", ["CASH", "Cash", " cash ", nil, "Card"]), Column(name: "x", values: .float64([1, 2, 3, 4, 5]))])
        let fitted = try StringNormalizer().fit(t, comm: LocalCommunicator.solo())
        XCTAssertEqual(fitted.columns, ["pay"], "nil columns become the categorical columns fit saw")
        let out = try fitted.transform(t, context: .memory("test"))
        XCTAssertEqual(strings(out.columns[0]), ["cash", "cash", "cash", nil, "card"])
        guard case .categorical(let codes, let dict) = out.columns[0].values else { return XCTFail() }
        XCTAssertEqual(dict.values, ["card", "cash"])
        XCTAssertEqual(codes, [1, 1, 1, -1, 0])
        XCTAssertEqual(out.columnNames, ["pay", "x"])
    }

    func testMappingCollapseAndOptions() throws {
        let t = table([text("carrier", ["American  Airlines", " american airlines", "UA", "Delta\tAir Lines"])])
        let step = StringNormalizer(collapseWhitespace: true, mapping: ["American Airlines": "AA", "delta air lines": "DL"])
        XCTAssertEqual(strings(try step.transform(t, context: .memory("t")).columns[0]), ["AA", "AA", "ua", "DL"])
        let keepCase = StringNormalizer(lowercase: false, strip: false)
        XCTAssertEqual(strings(try keepCase.transform(t, context: .memory("t")).columns[0]),
                       ["American  Airlines", " american airlines", "UA", "Delta\tAir Lines"])
        XCTAssertEqual(try step.normalize("  UNITED   Airlines "), "united airlines")
        XCTAssertThrowsError(try StringNormalizer(mapping: ["A": "x", "a": "y"]).validate()) { e in
            XCTAssertTrue("\(e)".contains("normalize-strings.mapping"), "\(e)")
        }
    }

    func testColumnErrors() throws {
        let t = table([text("a", ["x"]), Column(name: "n", values: .float64([1]))])
        XCTAssertThrowsError(try StringNormalizer(columns: ["n"]).fit(t, comm: LocalCommunicator.solo())) { e in
            guard case MPILearnError.mismatch(let m) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(m.contains("'n'") && m.contains("not categorical"), m)
        }
        XCTAssertThrowsError(try StringNormalizer(columns: ["b"]).transform(t, context: .memory("t"))) { e in
            guard case MPILearnError.mismatch(let m) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(m.contains("'b'"), m)
        }
    }

    func testCoding() throws {
        let json = try ModelJSON.encoder.encode(StringNormalizer())
        XCTAssertEqual(String(decoding: json, as: UTF8.self),
                       #"{"collapse_whitespace":false,"columns":null,"lowercase":true,"mapping":{},"strip":true}"#)
        XCTAssertEqual(try ModelJSON.decoder.decode(StringNormalizer.self, from: Data("{}".utf8)), StringNormalizer())
        let s = StringNormalizer(columns: ["a"], lowercase: false, mapping: ["x": "y"])
        XCTAssertEqual(try ModelJSON.decoder.decode(StringNormalizer.self, from: ModelJSON.encoder.encode(s)), s)
    }
}
