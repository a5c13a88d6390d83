import Foundation
@testable import MPILearn
import SwiftMPI
import XCTest

/// The expression language: parsing and precedence, NaN in → NaN out, errors naming the
/// position, categorical columns compared by their strings, and `--target` specs that keep
/// their meaning.
final class ExpressionTests: XCTestCase {
    func table(_ columns: [Column]) -> Table {
        Table(columns: columns, rowCount: columns.first?.values.count ?? 0, globalRowStart: 0, globalRowCount: columns.first?.values.count ?? 0)
    }

    /// a = [1, 2, NaN, 4], b = [10, 0, 3, -1], carrier = [UA, AA, missing, UA] (dictionary local to the table)
    lazy var t: Table = table([
        Column(name: "a", values: .float64([1, 2, .nan, 4])),
        Column(name: "b", values: .float32([10, 0, 3, -1])),
        Column(name: "carrier", values: .categorical([1, 0, -1, 1], CategoryDictionary(["AA", "UA"]))),
        Column(name: "arr delay", values: .float64([5, 20, 30, .nan])),
        Column(name: "when", values: .datetime([0, 86_400 * 365, .min, 86_400 * 10_000])),
    ])

    func eval(_ s: String) throws -> [Double] { try ColumnExpression(s).evaluate(t) }

    func assertSame(_ a: [Double], _ b: [Double], _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, message, file: file, line: line)
        for (x, y) in zip(a, b) {
            XCTAssertTrue(x == y || (x.isNaN && y.isNaN) || abs(x - y) < 1e-12, "\(a) vs \(b) \(message)", file: file, line: line)
        }
    }

    func testArithmeticAndPrecedence() throws {
        assertSame(try eval("1 + 2 * 3"), [7, 7, 7, 7])
        assertSame(try eval("(1 + 2) * 3"), [9, 9, 9, 9])
        assertSame(try eval("10 - 4 - 3"), [3, 3, 3, 3], "left associative")
        assertSame(try eval("8 / 4 / 2"), [1, 1, 1, 1])
        assertSame(try eval("-a * 2"), [-2, -4, .nan, -8])
        assertSame(try eval("a - -b"), [11, 2, .nan, 3])
        assertSame(try eval("a + b * 2"), [21, 2, .nan, 2])
        assertSame(try eval("1e1 + .5"), [10.5, 10.5, 10.5, 10.5])
        assertSame(try eval("`arr delay` / 5"), [1, 4, 6, .nan])
        assertSame(try eval("b / 0"), [.infinity, .nan, .infinity, -.infinity], "IEEE division")
    }

    func testComparisonsAndLogic() throws {
        assertSame(try eval("a > 1"), [0, 1, .nan, 1])
        assertSame(try eval("a >= 2 and b < 5"), [0, 1, .nan, 1])
        assertSame(try eval("a > 3 or b > 5"), [1, 0, .nan, 1])
        assertSame(try eval("a == 1 || b == -1"), [1, 0, .nan, 1])
        assertSame(try eval("a != 1 && !(b > 0)"), [0, 1, .nan, 1])
        assertSame(try eval("not a > 1"), [1, 0, .nan, 0], "not binds looser than a comparison")
        assertSame(try eval("a > 1 and b > 1 or a == 1"), [1, 0, .nan, 0], "and before or")
        assertSame(try eval("isnan(a)"), [0, 0, 1, 0])
        assertSame(try eval("isnan(a) or a > 3"), [0, 0, .nan, 1], "or with a missing operand is missing")
        assertSame(try eval("not isnan(carrier)"), [1, 1, 0, 1])
        XCTAssertTrue(try ColumnExpression("a > 1 and b > 0").isBoolean)
        XCTAssertFalse(try ColumnExpression("log1p(a)").isBoolean)
    }

    func testFunctionsAndNaN() throws {
        assertSame(try eval("log(a)"), [0, log(2), .nan, log(4)])
        assertSame(try eval("log1p(b)"), [log1p(10), 0, log1p(3), -.infinity])
        assertSame(try eval("exp(0) + expm1(0) + sqrt(4) + abs(-3)"), [6, 6, 6, 6])
        assertSame(try eval("floor(2.7) + ceil(2.2) + round(2.5) + round(3.5)"), [11, 11, 11, 11], "round half to even")
        assertSame(try eval("sin(0) + cos(0)"), [1, 1, 1, 1])
        assertSame(try eval("min(a, b)"), [1, 0, .nan, -1])
        assertSame(try eval("max(a, b)"), [10, 2, .nan, 4])
        assertSame(try eval("pow(a, 2)"), [1, 4, .nan, 16])
        assertSame(try eval("pow(1, nan)"), [.nan, .nan, .nan, .nan], "missing in, missing out (C's pow(1, NaN) is 1)")
        assertSame(try eval("a * 0 + nan > 1"), [.nan, .nan, .nan, .nan])
        assertSame(try eval("inf > a"), [1, 1, .nan, 1])
    }

    func testColumnsReported() throws {
        let e = try ColumnExpression("log1p(a) + b * a - `arr delay` + (carrier == \"UA\")")
        XCTAssertEqual(e.columnNames, ["a", "b", "arr delay", "carrier"])
        XCTAssertEqual(e.textColumns, ["carrier"])
        XCTAssertEqual(try ColumnExpression("`arr delay`").singleColumn, "arr delay")
        XCTAssertEqual(try ColumnExpression("dep.time").singleColumn, "dep.time")
    }

    func testCategoricalComparedByString() throws {
        assertSame(try eval("carrier == \"UA\""), [1, 0, .nan, 1])
        assertSame(try eval("'UA' == carrier"), [1, 0, .nan, 1])
        assertSame(try eval("carrier != 'UA'"), [0, 1, .nan, 0])
        assertSame(try eval("carrier == 'DL'"), [0, 0, .nan, 0], "a value not in the dictionary")
        assertSame(try eval("carrier < 'B'"), [0, 1, .nan, 0], "by UTF-8 order")
        // The same strings under another dictionary (another chunk's codes) give the same answer.
        let other = table([Column(name: "carrier", values: .categorical([0, 2, -1, 0], CategoryDictionary(["AA", "DL", "UA"])))])
        var codes = other
        codes.columns[0].values = .categorical([2, 0, -1, 2], CategoryDictionary(["AA", "DL", "UA"]))
        assertSame(try ColumnExpression("carrier == \"UA\"").evaluate(codes), [1, 0, .nan, 1])
        // Two categorical columns by their strings.
        let two = table([Column(name: "o", values: .categorical([0, 1, 1], CategoryDictionary(["JFK", "LGA"]))),
                         Column(name: "d", values: .categorical([1, 0, -1], CategoryDictionary(["EWR", "JFK", "LGA"])))])
        assertSame(try ColumnExpression("o == d").evaluate(two), [1, 0, .nan])
        XCTAssertThrowsError(try eval("carrier + 1")) { e in
            guard case MPILearnError.mismatch(let m) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(m.contains("'carrier' is categorical"), m)
        }
    }

    func testDatetimeColumn() throws {
        assertSame(try eval("when >= \"1971-01-01\""), [0, 1, .nan, 1])
        assertSame(try eval("when / 86400"), [0, 365, .nan, 10_000])
    }

    func testMissingColumnIsMismatchNamingIt() throws {
        XCTAssertThrowsError(try eval("a + nope")) { e in
            guard case MPILearnError.mismatch(let m) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(m.contains("'nope'") && m.contains("carrier"), m)
        }
    }

    func parseError(_ s: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try ColumnExpression(s)
            XCTFail("'\(s)' parsed", file: file, line: line)
        } catch MPILearnError.invalidParameter(_, let value, let allowed) {
            XCTAssertEqual(value, "'\(s)'", file: file, line: line)
            return allowed
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
        return ""
    }

    func testParseErrorsNamePosition() {
        XCTAssertTrue(parseError("a >> 2").contains("expression 'a >> 2', column 4:"), parseError("a >> 2"))
        XCTAssertTrue(parseError("(a + 1").contains("column 7:"), parseError("(a + 1"))
        XCTAssertTrue(parseError("a = 1").contains("column 3: '=' is not an operator (use == to compare)"), parseError("a = 1"))
        XCTAssertTrue(parseError("foo(a)").contains("column 1: unknown function 'foo'"), parseError("foo(a)"))
        XCTAssertTrue(parseError("min(a)").contains("min takes 2 arguments, not 1"), parseError("min(a)"))
        XCTAssertTrue(parseError("a b").contains("column 3: found 'b' after a complete expression"), parseError("a b"))
        XCTAssertTrue(parseError("1 < a < 3").contains("do not chain"), parseError("1 < a < 3"))
        XCTAssertTrue(parseError("a == \"UA").contains("column 6: the string has no closing \""), parseError("a == \"UA"))
        XCTAssertTrue(parseError("").contains("empty"))
        XCTAssertTrue(parseError("a & b").contains("column 3"))
        XCTAssertTrue(parseError("2x").contains("column 2"))
        XCTAssertTrue(parseError("a +").contains("the end of the expression"))
    }

    func testCodableAsText() throws {
        let e = try ColumnExpression("log1p(a) > 2")
        let data = try ModelJSON.encoder.encode([e])
        XCTAssertEqual(String(decoding: data, as: UTF8.self), "[\"log1p(a) > 2\"]")
        XCTAssertEqual(try ModelJSON.decoder.decode([ColumnExpression].self, from: data), [e])
    }

    // MARK: - --target

    func testTargetSpecsAsBefore() throws {
        let plain = try TargetSpec("arr_delay")
        XCTAssertEqual(plain.column, "arr_delay"); XCTAssertNil(plain.op); XCTAssertNil(plain.expression)
        XCTAssertEqual(plain.columns, ["arr_delay"]); XCTAssertFalse(plain.isBinary)
        for (s, op, v) in [("arr_delay>15", ">", 15.0), ("col<=3", "<=", 3), ("x >= -2.5", ">=", -2.5), ("y<1e3", "<", 1000)] {
            let spec = try TargetSpec(s)
            XCTAssertEqual(spec.op, op, s); XCTAssertEqual(spec.value, v, s); XCTAssertNil(spec.expression, s)
            XCTAssertTrue(spec.isBinary, s)
        }
        XCTAssertEqual(try TargetSpec("arr_delay>15").column, "arr_delay")
        XCTAssertEqual(try TargetSpec("col<=3").column, "col")
        // Names that are not expressions stay column names, as they always were.
        XCTAssertEqual(try TargetSpec("arr delay").column, "arr delay")
        let spaced = try TargetSpec("arr delay>15")
        XCTAssertEqual(spaced.column, "arr delay"); XCTAssertEqual(spaced.op, ">")
        // With the file's columns known, an exact column name wins over an expression.
        XCTAssertEqual(try TargetSpec("dep-delay", columns: ["dep-delay"]).column, "dep-delay")
        XCTAssertNil(try TargetSpec("dep-delay", columns: ["dep-delay"]).expression)
        let legacy = try TargetSpec("dep-delay>15", columns: ["dep-delay"])
        XCTAssertEqual(legacy.column, "dep-delay"); XCTAssertEqual(legacy.op, ">")

        // Values: through targetValues, identical to today's apply.
        let tab = table([Column(name: "col", values: .float64([1, 3, 5, .nan]))])
        let (y, names) = try TrainingData.targetValues(tab, spec: TargetSpec("col<=3"))
        assertSame(y, [1, 1, 0, .nan]); XCTAssertEqual(names, ["false", "true"])
        let (y2, names2) = try TrainingData.targetValues(tab, spec: TargetSpec("col>1"))
        assertSame(y2, [0, 1, 1, .nan]); XCTAssertEqual(names2, ["false", "true"])
        let (y3, names3) = try TrainingData.targetValues(tab, spec: TargetSpec("col"))
        assertSame(y3, [1, 3, 5, .nan]); XCTAssertNil(names3)
    }

    func testTargetExpressions() throws {
        let spec = try TargetSpec("a > 1 and carrier == 'UA'")
        XCTAssertNotNil(spec.expression); XCTAssertTrue(spec.isBinary)
        XCTAssertEqual(spec.columns, ["a", "carrier"])
        XCTAssertEqual(spec.columnTypes(classification: true), ["a": .numeric, "carrier": .inferred])
        let (y, names) = try TrainingData.targetValues(t, spec: spec)
        assertSame(y, [0, 0, .nan, 1]); XCTAssertEqual(names, ["false", "true"])

        let reg = try TargetSpec("log1p(b)")
        XCTAssertFalse(reg.isBinary)
        let (r, rn) = try TrainingData.targetValues(t, spec: reg)
        assertSame(r, [log1p(10), 0, log1p(3), -.infinity]); XCTAssertNil(rn)
        XCTAssertThrowsError(try reg.checkClassification())
        XCTAssertThrowsError(try TargetSpec("a >> 2")) { e in
            XCTAssertTrue("\(e)".contains("--target") && "\(e)".contains("column 4"), "\(e)")
        }
    }

    /// loadTrain reads every column a target expression names, drops them from the features,
    /// and labels the rows false/true.
    func testLoadTrainWithExpressionTarget() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("expr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("t.csv").path
        try "x,arr_delay,dep_delay,carrier\n1,20,5,UA\n2,20,-3,AA\n3,,1,UA\n4,0,0,UA\n".write(toFile: path, atomically: true, encoding: .utf8)
        var notes: [String] = []
        let d = try TrainingData.loadTrain(path: path, target: "arr_delay>15 and dep_delay>0", categorical: [], features: nil,
                                           classification: true, comm: LocalCommunicator.solo()) { notes.append($0) }
        XCTAssertEqual(d.target, [1, 0, 0])
        XCTAssertEqual(d.classNames, ["false", "true"])
        XCTAssertEqual(d.featureNames, ["x"])
        XCTAssertTrue(notes.contains { $0.contains("dropped 1 rows") }, "\(notes)")
        let byCarrier = try TrainingData.loadTrain(path: path, target: "carrier == 'UA'", categorical: [], features: ["x"],
                                                   classification: true, comm: LocalCommunicator.solo()) { _ in }
        XCTAssertEqual(byCarrier.target, [1, 0, 1, 1])
        XCTAssertThrowsError(try TrainingData.loadTrain(path: path, target: "arr_delay > nope", categorical: [], features: nil,
                                                        classification: true, comm: LocalCommunicator.solo()) { _ in }) { e in
            XCTAssertTrue("\(e)".contains("'nope'"), "\(e)")
        }
    }
}
