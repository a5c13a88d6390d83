import Foundation
import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// The parallel CSV reader, in process (`LocalWorld`): shards partition the file exactly for
/// p = 1...7 on tricky files, types and codes agree across p, errors say where.
final class CSVReaderTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try MPIRun.temporaryDirectory("csv") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func write(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    /// Every rank's shard, as strings (categorical columns, no missing markers), in rank order.
    func shards(_ path: String, p: Int, options: CSVOptions) throws -> [Table] {
        try LocalWorld.run(size: p) { comm in try CSVReader.read(path, options: options, comm: comm) }
    }

    static func rows(of tables: [Table]) -> [[String]] {
        var out: [[String]] = []
        for t in tables {
            for i in 0 ..< t.rowCount {
                out.append(t.columns.map { c in
                    guard case .categorical(let codes, let d) = c.values else { return "?" }
                    return codes[i] < 0 ? "<NA>" : d.values[Int(codes[i])]
                })
            }
        }
        return out
    }

    /// A small independent RFC 4180 reader (byte at a time) to compare against.
    static func reference(_ text: String, hasHeader: Bool = true) -> (header: [String], rows: [[String]]) {
        var records: [[String]] = []
        var record: [String] = []
        var field = [UInt8]()
        var quoted = false, wasQuoted = false
        var b = Array(text.utf8)
        if b.starts(with: [0xEF, 0xBB, 0xBF]) { b.removeFirst(3) }
        var i = 0
        func endField() { record.append(String(decoding: field, as: UTF8.self)); field = []; wasQuoted = false }
        func endRecord() {
            if !(record.isEmpty && field.isEmpty && !wasQuoted) {
                endField()
                records.append(record)
            }
            record = []
            field = []
            wasQuoted = false
        }
        while i < b.count {
            let c = b[i]
            if quoted {
                if c == 34 {
                    if i + 1 < b.count && b[i + 1] == 34 { field.append(34); i += 1 } else { quoted = false }
                } else { field.append(c) }
            } else if c == 34 { quoted = true; wasQuoted = true } else if c == 44 { endField() } else if c == 10 {
                if !wasQuoted && field.last == 13 { field.removeLast() }
                endRecord()
            } else if !(c == 13 && wasQuoted) { field.append(c) }
            i += 1
        }
        if field.last == 13 && !wasQuoted { field.removeLast() }
        endRecord()
        if hasHeader { return (records.first ?? [], Array(records.dropFirst())) }
        return ((0 ..< (records.first?.count ?? 0)).map { "x\($0)" }, records)
    }

    static let tricky: [(String, String)] = [
        ("quotes", "a,b,c\n1,\"x,y\",\"he said \"\"hi\"\"\"\n2,\"multi\nline\nfield\",z\n3,\"\",\"\"\"\"\n4,\"a\r\nb\",\"\n\"\n5,plain,\"q\"\n"),
        ("crlf", "a,b\r\n1,2\r\n3,\"x\r\ny\"\r\n5,6\r\n"),
        ("nofinal", "a,b\n1,2\n3,4\n5,\"six\""),
        ("nofinal2", "a,b\n1,2\n3,4"),
        ("empty-lines", "a,b\n\n1,2\n\n\n3,4\r\n\r\n5,6\n\n"),
        ("header-only", "a,b,c\n"),
        ("header-only-no-newline", "a,b,c"),
        ("few-rows", "a,b\n1,2\n3,4\n"),
        ("bom", "\u{FEFF}a,b\n1,2\n"),
        ("quoted-header", "\"a,1\",\"b\"\"2\"\n1,2\n"),
        ("empty-fields", "a,b,c\n,,\n1,,\n,,3\n\"\",\"\",\"\"\n"),
    ]

    func testShardsPartitionTrickyFilesForOneToSevenRanks() throws {
        var cases = Self.tricky
        let long = String(repeating: "L", count: 5000)
        cases.append(("long-row", "a,b\n1,2\n3,\"\(long)\n\(long)\"\n5,\(long)\n7,8\n"))
        var many = "a,b,c\n"
        for i in 0 ..< 300 { many += i % 7 == 0 ? "\(i),\"q\n\(i)\",\"\"\"\"\n" : i % 11 == 0 ? "\n" : "\(i),v\(i % 13),w\r\n" }
        cases.append(("many", many))
        for (name, text) in cases {
            let path = try write("\(name).csv", text)
            let expected = Self.reference(text)
            for buffer in [64, 1 << 20] {
                var options = CSVOptions(defaultType: .categorical, missingValues: [])
                options.bufferSize = buffer
                for p in 1 ... 7 {
                    let tables = try shards(path, p: p, options: options)
                    XCTAssertEqual(tables.map(\.columnNames), Array(repeating: expected.header, count: p), "\(name) p=\(p)")
                    XCTAssertEqual(Self.rows(of: tables), expected.rows, "\(name) p=\(p) buffer=\(buffer)")
                    var start = 0
                    for t in tables {
                        XCTAssertEqual(t.globalRowStart, start, "\(name) p=\(p)")
                        XCTAssertEqual(t.globalRowCount, expected.rows.count, "\(name) p=\(p)")
                        start += t.rowCount
                    }
                }
            }
        }
    }

    func testManyFilesByGlobAndFolder() throws {
        let sub = dir.appendingPathComponent("parts")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        var all: [[String]] = []
        // Very unequal files: one big, several tiny, one header only.
        let sizes = [400, 3, 0, 1, 57, 2]
        for (k, n) in sizes.enumerated() {
            var text = "id,name\n"
            for i in 0 ..< n {
                text += "\(k * 1000 + i),\"n \(i % 5)\"\n"
                all.append(["\(k * 1000 + i)", "n \(i % 5)"])
            }
            try Data(text.utf8).write(to: sub.appendingPathComponent("part-\(k).csv"))
        }
        let options = CSVOptions(defaultType: .categorical, missingValues: [])
        for p in [1, 2, 3, 5, 7] {
            XCTAssertEqual(Self.rows(of: try shards(sub.path, p: p, options: options)), all, "folder p=\(p)")
            XCTAssertEqual(Self.rows(of: try shards(sub.path + "/part-*.csv", p: p, options: options)), all, "glob p=\(p)")
        }
        // Balanced by bytes: at p = 2 each rank parses about half of the rows.
        let two = try shards(sub.path, p: 2, options: options)
        XCTAssertLessThan(abs(two[0].rowCount - two[1].rowCount), 30)
    }

    func testTypesInferenceAndCodesAgreeAcrossRanks() throws {
        var text = "n,c,d,mixed,dt,empty\n"
        let carriers = ["UA", "AA", "B6", "DL", "EV", "MQ"]
        for i in 0 ..< 500 {
            let mixed = i == 333 ? "x" : "\(i)"
            let dt = i % 50 == 7 ? "NA" : "2013-0\(1 + i % 9)-1\(i % 10)T0\(i % 10):30:00Z"
            text += "\(Double(i) * 0.25),\(carriers[(i * 7) % 6]),\(i % 3 == 0 ? "NA" : "\(i)"),\(mixed),\(dt),\n"
        }
        let path = try write("types.csv", text)
        var reference: [[String]]? = nil
        var codesAt1: [Int32]? = nil
        for p in [1, 2, 4] {
            // `mixed` is numbers but one "x": inferred, that is an error (see
            // testNumericColumnWithSomeTextIsADataError); declared categorical, it reads.
            let tables = try shards(path, p: p, options: CSVOptions(types: ["mixed": .categorical]))
            for t in tables {
                XCTAssertEqual(t.columns.map { $0.values.columnType }, [.numeric, .categorical, .numeric, .categorical, .datetime, .numeric])
            }
            var codes: [Int32] = []
            var decoded: [[String]] = []
            for t in tables {
                guard case .categorical(let c, let d) = t.columns[1].values else { return XCTFail("c is not categorical") }
                XCTAssertEqual(d.values, ["AA", "B6", "DL", "EV", "MQ", "UA"], "p=\(p)")
                codes += c
                for i in 0 ..< t.rowCount {
                    decoded.append(t.columns.map { col in
                        switch col.values {
                        case .float64(let v): return v[i].isNaN ? "NaN" : "\(v[i])"
                        case .categorical(let v, let d): return v[i] < 0 ? "NA" : d.values[Int(v[i])]
                        case .datetime(let v): return v[i] == .min ? "NaT" : ISODatetime.format(v[i])
                        case .float32(let v): return "\(v[i])"
                        }
                    })
                }
            }
            if let r = reference { XCTAssertEqual(decoded, r, "p=\(p)") } else { reference = decoded }
            if let c1 = codesAt1 { XCTAssertEqual(codes, c1, "p=\(p)") } else { codesAt1 = codes }
        }
        let r = reference!
        XCTAssertEqual(r[1], ["0.25", "AA", "1.0", "1", "2013-02-11T01:30:00Z", "NaN"])
        XCTAssertEqual(r[3][2], "NaN")
        XCTAssertEqual(r[7][4], "NaT")
    }

    func testMissingValuesAreCountedAndConfigurable() throws {
        let path = try write("missing.csv", "x,y\n1,a\nNA,NA\n,\n-,b\n4,-\n")
        var options = CSVOptions(types: ["x": .numeric, "y": .categorical], missingValues: ["", "NA", "-"])
        let (t, report) = try LocalWorld.run(size: 2) { comm in try CSVReader.readWithReport(path, options: options, comm: comm) }[0]
        XCTAssertEqual(report.missing, ["x": 3, "y": 3])
        _ = t
        options.missingValues = [""]
        XCTAssertThrowsError(try CSVReader.read(path, options: options, comm: LocalCommunicator.solo())) { e in
            XCTAssertTrue("\(e)".contains("missing.csv:3:1"), "\(e)")
            XCTAssertTrue("\(e)".contains("column 'x'"), "\(e)")
        }
    }

    func testColumnSelectionOrderAndSkipsOthers() throws {
        // Column b holds garbage that would fail numeric parsing; it is never parsed.
        let path = try write("sel.csv", "a,b,c\n1,\"zz\"\"\",3\n4,q,6\n")
        let t = try CSVReader.read(path, options: CSVOptions(columns: ["c", "a"], defaultType: .numeric), comm: LocalCommunicator.solo())
        XCTAssertEqual(t.columnNames, ["c", "a"])
        XCTAssertEqual(try t.matrix(Double.self, columns: ["c", "a"]).storage, [3, 1, 6, 4])
    }

    func testNumbersAreParsedExactly() throws {
        let texts = ["0.1", "-2.5e-3", "123456789012345678", "1.7976931348623157e308", "4.9e-324", "2.2250738585072014e-308",
                     "0.30000000000000004", "9007199254740993", "1e23", "8.98846567431158e307", "+.5", "5.", "1E5", "-0", "  7 "]
        let path = try write("num.csv", "v\n" + texts.joined(separator: "\n") + "\n")
        let t = try CSVReader.read(path, options: CSVOptions(types: ["v": .numeric]), comm: LocalCommunicator.solo())
        guard case .float64(let v) = t.columns[0].values else { return XCTFail() }
        for (s, x) in zip(texts, v) {
            XCTAssertEqual(x, strtod(s, nil), s)
            XCTAssertEqual(x.sign, strtod(s, nil).sign, s)
        }
        let t32 = try CSVReader.read(path, options: CSVOptions(types: ["v": .numeric], float32: true), comm: LocalCommunicator.solo())
        guard case .float32(let f) = t32.columns[0].values else { return XCTFail() }
        for (s, x) in zip(texts, f) { XCTAssertEqual(x, strtof(s, nil), s) }
    }

    func testDatetimeParsingAndDerivedFeatures() throws {
        let path = try write("dt.csv", "t\n2013-01-01 05:00:00\n2013-01-01T10:00:00Z\n2024-02-29T23:59:59.75+02:00\n2000-03-01\n\n1969-12-31T23:00-0100\n")
        let options = CSVOptions(types: ["t": .datetime], datetimeFeatures: [.hour, .dayOfWeek, .dayOfYear, .month])
        let t = try CSVReader.read(path, options: options, comm: LocalCommunicator.solo())
        guard case .datetime(let s) = t.columns[0].values else { return XCTFail() }
        XCTAssertEqual(s, [1_357_016_400, 1_357_034_400, 1_709_243_999, 951_868_800, 0])
        XCTAssertEqual(t.columnNames, ["t", "t_hour", "t_dayofweek", "t_dayofyear", "t_month"])
        XCTAssertEqual(try t.matrix(Double.self, columns: ["t_hour"]).storage, [5, 10, 21, 0, 0])
        XCTAssertEqual(try t.matrix(Double.self, columns: ["t_dayofweek"]).storage, [1, 1, 3, 2, 3])  // Tue, Tue, Thu, Wed, Thu
        XCTAssertEqual(try t.matrix(Double.self, columns: ["t_dayofyear"]).storage, [1, 1, 60, 61, 1])
        XCTAssertThrowsError(try CSVReader.read(try write("baddt.csv", "t\n2013-02-30\n"), options: options, comm: LocalCommunicator.solo())) {
            XCTAssertTrue("\($0)".contains("baddt.csv:2:1"), "\($0)")
        }
    }

    func testRebalanceEvensRowsAndKeepsOrder() throws {
        var text = "i,s\n"
        for i in 0 ..< 100 { text += i < 90 ? "\(i),\(String(repeating: "s", count: 3))\n" : "\(i),\(String(repeating: "l", count: 500))\n" }
        let path = try write("skew.csv", text)
        let tables = try shards(path, p: 4, options: CSVOptions(types: ["i": .numeric], rebalance: true))
        XCTAssertEqual(tables.map(\.rowCount), [25, 25, 25, 25])
        XCTAssertEqual(tables.map(\.globalRowStart), [0, 25, 50, 75])
        let ids = try tables.flatMap { try $0.matrix(Double.self, columns: ["i"]).storage }
        XCTAssertEqual(ids, (0 ..< 100).map(Double.init))
        // Without rebalance the byte split is uneven here.
        let raw = try shards(path, p: 4, options: CSVOptions(types: ["i": .numeric]))
        XCTAssertNotEqual(raw.map(\.rowCount), [25, 25, 25, 25])
    }

    func testFixedDictionaryAndRecode() throws {
        let train = CategoryDictionary(["AA", "UA", "DL"])
        let path = try write("test.csv", "c\nUA\nXX\nAA\n\n")
        let t = try CSVReader.read(path, options: CSVOptions(dictionaries: ["c": train]), comm: LocalCommunicator.solo())
        guard case .categorical(let codes, let d) = t.columns[0].values else { return XCTFail() }
        XCTAssertEqual(d, train)
        XCTAssertEqual(codes, [2, -1, 0])
        XCTAssertThrowsError(try CSVReader.read(path, options: CSVOptions(dictionaries: ["c": train], unseenCategories: .error),
                                                comm: LocalCommunicator.solo())) { e in
            XCTAssertTrue("\(e)".contains("test.csv:3:1"), "\(e)")
            XCTAssertTrue("\(e)".contains("XX"), "\(e)")
        }
        var t2 = try CSVReader.read(path, options: CSVOptions(types: ["c": .categorical]), comm: LocalCommunicator.solo())
        try t2.recode(column: "c", to: train, policy: .missing)
        guard case .categorical(let c2, _) = t2.columns[0].values else { return XCTFail() }
        XCTAssertEqual(c2, [2, -1, 0])
        var t3 = try CSVReader.read(path, options: CSVOptions(types: ["c": .categorical]), comm: LocalCommunicator.solo())
        XCTAssertThrowsError(try t3.recode(column: "c", to: train, policy: .error)) { XCTAssertTrue("\($0)".contains("XX"), "\($0)") }
    }

    func testBadInputsNameFileLineAndColumn() throws {
        let cases: [(String, String, CSVOptions, String)] = [
            ("fields.csv", "a,b\n1,2\n3\n", CSVOptions(), "fields.csv:3:2: column 'b': expected 2 fields, found 1"),
            ("toomany.csv", "a,b\n1,2\n3,4,5\n", CSVOptions(), "toomany.csv:3:3: expected 2 fields, found 3"),
            ("nonnum.csv", "a,b\n1,2\n3,x4\n", CSVOptions(types: ["b": .numeric]), "nonnum.csv:3:2: column 'b': expected a number, found \"x4\""),
            ("unterminated.csv", "a,b\n1,2\n3,\"abc\n4,5\n", CSVOptions(), "unterminated.csv:3:2: column 'b': unterminated quote"),
            ("stray.csv", "a,b\n1,ab\"c\n", CSVOptions(), "stray.csv:2:2: column 'b': quote inside an unquoted field"),
            ("empty.csv", "", CSVOptions(), "empty.csv:1: empty file"),
            ("unknown.csv", "a,b\n1,2\n", CSVOptions(columns: ["a", "zz"]), "unknown.csv:1: unknown column 'zz'"),
        ]
        for (name, text, options, expected) in cases {
            let path = try write(name, text)
            for p in [1, 3] {
                XCTAssertThrowsError(try shards(path, p: p, options: options), "\(name)") { e in
                    XCTAssertTrue("\(e)".hasSuffix(expected) || "\(e)".contains(expected), "\(name) p=\(p): \(e)")
                    XCTAssertEqual((e as? MPILearnError)?.exitCode, .dataError, "\(name)")
                }
            }
        }
        XCTAssertThrowsError(try CSVReader.read(dir.appendingPathComponent("nope.csv").path, comm: LocalCommunicator.solo())) { e in
            XCTAssertTrue("\(e)".contains("nope.csv: cannot read: no such file"), "\(e)")
        }
        XCTAssertThrowsError(try CSVReader.read(dir.path + "/*.tsv", comm: LocalCommunicator.solo())) { e in
            XCTAssertTrue("\(e)".contains("no file matches"), "\(e)")
        }
    }
}

extension CSVReaderTests {
    func testDatasetSplitsTargetAndKeepsCategories() throws {
        let path = try write("ds.csv", "a,c,y\n1.5,UA,0\n2.5,AA,1\nNA,UA,1\n")
        let t = try CSVReader.read(path, options: CSVOptions(types: ["c": .categorical]), comm: LocalCommunicator.solo())
        let d: Dataset<Double> = try t.dataset(target: "y")
        XCTAssertEqual(d.featureNames, ["a", "c"])
        XCTAssertEqual(d.target, [0, 1, 1])
        XCTAssertEqual(d.categories[1]?.values, ["AA", "UA"])
        XCTAssertNil(d.categories[0])
        XCTAssertEqual(Array(d.matrix.storage[0 ..< 4]), [1.5, 1, 2.5, 0])
        XCTAssertTrue(d.matrix.storage[4].isNaN)
    }

    /// A column of numbers with a few text cells is a data error naming the first such cell in
    /// file order (file:line:column and the value) and how to declare the column categorical,
    /// wherever the ranks' byte ranges fall; a column without any number stays categorical, and
    /// missing markers and empty cells are not text.
    func testNumericColumnWithSomeTextIsADataError() throws {
        func file(_ name: String, rows: Int = 300, _ cell: (_ row: Int, _ column: Int) -> String?) throws -> String {
            var text = "a,b,c,code\n"
            for i in 0 ..< rows {
                let b = i % 11 == 5 ? "NA" : i % 13 == 6 ? "" : "\(i % 7)"
                let fields = [cell(i, 0) ?? "\(i)", cell(i, 1) ?? b, cell(i, 2) ?? "\(Double(i) / 4)", cell(i, 3) ?? "C\(i % 5)"]
                text += fields.joined(separator: ",") + "\n"
            }
            return try write(name, text)
        }
        // Row i is on line i + 2. Each case: the file, then what the message must hold.
        let cases: [(String, [String])] = [
            // The brief's row `3,x4,1` near the end: the last rank's range for p = 3.
            (try file("late.csv") { i, j in i == 280 && j == 1 ? "x4" : i == 290 && j == 2 ? "oops" : nil },
             ["late.csv:282:2: column 'b': expected a number, found \"x4\"", "--categorical b", "[\"b\": .categorical]"]),
            // Text on rank 0 and again on the last rank: the first one is reported.
            (try file("early.csv") { i, j in i == 1 && j == 1 ? "x4" : i == 250 && j == 1 ? "zz" : nil },
             ["early.csv:3:2: column 'b': expected a number, found \"x4\""]),
            // Two columns with text: the earlier cell in the file wins, whichever column it is in.
            (try file("twocols.csv") { i, j in i == 100 && j == 2 ? "n/a?" : i == 200 && j == 1 ? "x" : nil },
             ["twocols.csv:102:3: column 'c': expected a number, found \"n/a?\"", "--categorical c"]),
            // A quoted text cell is text too, and its line counts the quoted newline before it.
            (try file("quoted.csv") { i, j in
                i == 150 && j == 0 ? "\"7\"" : i == 155 && j == 3 ? "\"multi\nline\"" : i == 160 && j == 1 ? "\"x\ny\"" : nil
            }, ["quoted.csv:163:2: column 'b': expected a number, found \"x\ny\""]),
        ]
        for (path, fragments) in cases {
            for p in [1, 3] {
                XCTAssertThrowsError(try shards(path, p: p, options: CSVOptions()), "\(path) p=\(p)") { e in
                    for f in fragments { XCTAssertTrue("\(e)".contains(f), "\(path) p=\(p): missing '\(f)' in \(e)") }
                    XCTAssertEqual((e as? MPILearnError)?.exitCode, .dataError, "\(path) p=\(p)")
                }
            }
        }
        // Declared categorical, the same file reads; the text column of codes is categorical
        // and b, with its NA and empty cells, is numeric.
        let late = try file("late2.csv") { i, j in i == 280 && j == 1 ? "x4" : nil }
        for p in [1, 3] {
            let t = try shards(late, p: p, options: CSVOptions(types: ["b": .categorical]))
            XCTAssertEqual(t[0].columns.map { $0.values.columnType }, [.numeric, .categorical, .numeric, .categorical], "p=\(p)")
            let clean = try shards(try file("clean.csv") { _, _ in nil }, p: p, options: CSVOptions())
            XCTAssertEqual(clean[0].columns.map { $0.values.columnType }, [.numeric, .numeric, .numeric, .categorical], "p=\(p)")
        }
        // Float32 reads infer the same way.
        XCTAssertThrowsError(try shards(late, p: 3, options: CSVOptions(float32: true))) { e in
            XCTAssertTrue("\(e)".contains("late2.csv:282:2"), "\(e)")
        }
        // Without "" among the missing markers an empty cell is still not text (the numeric
        // parser reads it as missing), so the message's advice to leave the cell empty holds.
        let empties = try write("empties.csv", "a,b\n1,\n2,3\n")
        let t = try CSVReader.read(empties, options: CSVOptions(missingValues: []), comm: LocalCommunicator.solo())
        XCTAssertEqual(t.columns[1].values.columnType, .numeric)
        XCTAssertThrowsError(try CSVReader.read(try write("nomarkers.csv", "a,b\n1,x\n2,3\n"), options: CSVOptions(missingValues: []),
                                                comm: LocalCommunicator.solo())) { e in
            XCTAssertTrue("\(e)".contains("nomarkers.csv:2:2: column 'b': expected a number, found \"x\""), "\(e)")
            XCTAssertTrue("\(e)".contains("as an empty cell;"), "\(e)")
        }
    }

    /// Messages that list columns show the first 20 and a count of the rest.
    func testMessagesListAtMostTwentyColumns() throws {
        let names = (0 ..< 600).map { "c\($0)" }
        let path = try write("wide.csv", names.joined(separator: ",") + "\n" + names.map { _ in "1" }.joined(separator: ",") + "\n")
        XCTAssertThrowsError(try CSVReader.read(path, options: CSVOptions(columns: ["nope"]), comm: LocalCommunicator.solo())) { e in
            XCTAssertTrue("\(e)".hasSuffix("columns are: c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19 … and 580 more"), "\(e)")
        }
        // Headers that differ: the first differing column, both headers previewed.
        let sub = dir.appendingPathComponent("headers")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        try Data("a,b,c\n1,2,3\n".utf8).write(to: sub.appendingPathComponent("1.csv"))
        try Data("a,x,c\n1,2,3\n".utf8).write(to: sub.appendingPathComponent("2.csv"))
        XCTAssertThrowsError(try CSVReader.read(sub.path, comm: LocalCommunicator.solo())) { e in
            XCTAssertTrue("\(e)".contains("2.csv:1:2: header differs from the first file's"), "\(e)")
            XCTAssertTrue("\(e)".contains("column 2 is 'x' here and 'b' there (3 vs 3 columns; here: a,x,c; first file: a,b,c)"), "\(e)")
        }
        XCTAssertEqual(listPreview(["a", "b"]), "a, b")
        XCTAssertEqual(listPreview([String]()), "")
        XCTAssertEqual(listPreview((0 ..< 21).map(String.init), limit: 20, separator: ","), (0 ..< 20).map(String.init).joined(separator: ",") + " … and 1 more")
        XCTAssertEqual(listPreview(names[..<20]), names[..<20].joined(separator: ", "))
    }
}
