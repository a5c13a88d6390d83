import Foundation
@testable import MPILearn
import SwiftMPI
import XCTest

/// The timestamp parser (ISO 8601 and strptime-style formats) and the `datetime-features`
/// step. Expected values computed with Python's `datetime` (weekday() is pandas' dayofweek).
final class DatetimeFeaturesTests: XCTestCase {
    func table(_ columns: [Column]) -> Table {
        Table(columns: columns, rowCount: columns[0].values.count, globalRowStart: 100, globalRowCount: 1000)
    }

    func text(_ name: String, _ values: [String?]) -> Column {
        let dict = CategoryDictionary(values.compactMap { $0 })
        return Column(name: name, values: .categorical(values.map { $0.map { dict.code(of: $0)! } ?? -1 }, dict))
    }

    func testISOVariants() throws {
        let p = TimestampParser.iso
        XCTAssertEqual(p.parse("2013-01-01"), 1_356_998_400)
        XCTAssertEqual(p.parse("2024-02-29T13:45:10"), 1_709_214_310)
        XCTAssertEqual(p.parse("2024-02-29T13:45:10Z"), 1_709_214_310)
        XCTAssertEqual(p.parse("2024-02-29T13:45:10.123Z"), 1_709_214_310)
        XCTAssertEqual(p.parse("2024-02-29T13:45"), 1_709_214_300)
        XCTAssertEqual(p.parse("2000-12-31 23:59:59"), 978_307_199, "the space form")
        XCTAssertEqual(p.parse("2013-06-01T10:00:00+02:00"), 1_370_073_600)
        XCTAssertEqual(p.parse("2013-06-01T10:00:00-05:30"), 1_370_100_600)
        XCTAssertEqual(p.parse("2013-06-01T10:00:00+0200"), 1_370_073_600)
        XCTAssertEqual(p.parse("1969-12-31T23:00:00"), -3600)
        for bad in ["", "2013-02-30", "2013-13-01", "2013-01-01T25:00", "13/01/2013", "2013-01-01T10:00:00+", "2013-01-01x"] {
            XCTAssertNil(p.parse(bad), bad)
        }
    }

    func testFormats() throws {
        XCTAssertEqual(try TimestampParser(format: "%d/%m/%Y").parse("05/03/2021"), 1_614_902_400)
        XCTAssertEqual(try TimestampParser(format: "%d/%m/%Y %H:%M").parse("5/3/2021   7:08"), 1_614_928_080, "one-digit fields; whitespace runs")
        XCTAssertEqual(try TimestampParser(format: "%d/%b/%Y:%H:%M:%S %z").parse("05/Mar/2021:07:08:09 +0100"), 1_614_924_489)
        XCTAssertEqual(try TimestampParser(format: "%d/%b/%Y:%H:%M:%S %z").parse("05/MAR/2021:07:08:09 Z"), 1_614_928_089)
        XCTAssertEqual(try TimestampParser(format: "%B %d, %Y").parse("March 5, 2021"), 1_614_902_400)
        XCTAssertEqual(try TimestampParser(format: "%y-%j %H").parse("21-060 12"), 1_614_600_000)
        XCTAssertEqual(try TimestampParser(format: "%y%m%d").parse("690101"), -31_536_000, "69 is 1969")
        XCTAssertEqual(try TimestampParser(format: "%y%m%d").parse("680101"), 3_092_601_600, "68 is 2068")
        XCTAssertEqual(try TimestampParser(format: "%Y-%m-%dT%H:%M:%S.%f").parse("2024-02-29T13:45:10.999999"), 1_709_214_310)
        XCTAssertEqual(try TimestampParser(format: "%H:%M %%").parse("01:02 %"), -2_208_988_800 + 3720, "absent fields default to 1900-01-01 (Python)")
        let p = try TimestampParser(format: "%d/%m/%Y")
        for bad in ["31/02/2021", "05-03-2021", "05/03/21", "05/03/2021 ", "x"] { XCTAssertNil(p.parse(bad), bad) }
        XCTAssertThrowsError(try TimestampParser(format: "%Q")) { e in XCTAssertTrue("\(e)".contains("%Q"), "\(e)") }
        XCTAssertThrowsError(try TimestampParser(format: "abc"))
        XCTAssertThrowsError(try TimestampParser(format: "%Y%"))
    }

    func testEveryFeatureOnKnownDates() throws {
        // 2013-01-01 (Tue), 2024-02-29T13:45:10 (Thu), 2000-12-31 23:59:59 (Sun), 1969-12-31T23:00 (Wed), missing
        let secs: [Int64] = [1_356_998_400, 1_709_214_310, 978_307_199, -3600, .min]
        let step = DatetimeFeatures(columns: ["t"], features: TimestampFeature.allCases, drop: true)
        let out = try step.fit(table([Column(name: "t", values: .datetime(secs))]), comm: LocalCommunicator.solo())
            .transform(table([Column(name: "t", values: .datetime(secs))]), context: .memory("test"))
        XCTAssertEqual(out.columnNames, TimestampFeature.allCases.map { "t_\($0.rawValue)" })
        let expected: [String: [Double]] = [
            "t_year": [2013, 2024, 2000, 1969], "t_month": [1, 2, 12, 12], "t_day": [1, 29, 31, 31],
            "t_hour": [0, 13, 23, 23], "t_minute": [0, 45, 59, 0], "t_second": [0, 10, 59, 0],
            "t_dayofweek": [1, 3, 6, 2], "t_dayofyear": [1, 60, 366, 365], "t_is_weekend": [0, 0, 1, 0],
        ]
        for c in out.columns {
            guard case .float64(let v) = c.values else { return XCTFail(c.name) }
            XCTAssertEqual(Array(v.prefix(4)), expected[c.name], c.name)
            XCTAssertTrue(v[4].isNaN, c.name)
        }
    }

    func testTextNumbersAndPlacement() throws {
        let t = table([Column(name: "a", values: .float64([1, 2, 3])),
                       text("when", ["2013-01-05 10:00", nil, "2013-01-05T10:00:00+01:00"]),
                       Column(name: "epoch", values: .float64([1_356_998_400.9, .nan, -0.5])),
                       Column(name: "z", values: .float64([0, 0, 0]))])
        let step = DatetimeFeatures(columns: ["when", "epoch"], features: [.hour, .dayOfWeek], drop: true)
        let out = try step.fit(t, comm: LocalCommunicator.solo()).transform(t, context: .memory("test"))
        XCTAssertEqual(out.columnNames, ["a", "when_hour", "when_dayofweek", "epoch_hour", "epoch_dayofweek", "z"])
        guard case .float64(let h) = out.columns[1].values, case .float64(let dow) = out.columns[2].values,
              case .float64(let eh) = out.columns[3].values else { return XCTFail() }
        XCTAssertEqual(h[0], 10); XCTAssertTrue(h[1].isNaN); XCTAssertEqual(h[2], 9)
        XCTAssertEqual(dow[0], 5, "2013-01-05 was a Saturday")
        XCTAssertEqual(eh[0], 0); XCTAssertTrue(eh[1].isNaN); XCTAssertEqual(eh[2], 23, "-0.5 s is 1969-12-31T23:59:59")
        let kept = try DatetimeFeatures(columns: ["when"], features: [.year], drop: false).transform(t, context: .memory("test"))
        XCTAssertEqual(kept.columnNames, ["a", "when", "when_year", "epoch", "z"])
    }

    func testCustomFormatOnText() throws {
        let t = table([text("d", ["05/03/2021", "06/03/2021", "05/03/2021"])])
        let out = try DatetimeFeatures(columns: ["d"], features: [.day, .isWeekend], format: "%d/%m/%Y").transform(t, context: .memory("x"))
        guard case .float64(let day) = out.columns[0].values, case .float64(let we) = out.columns[1].values else { return XCTFail() }
        XCTAssertEqual(day, [5, 6, 5]); XCTAssertEqual(we, [0, 1, 0])
    }

    func testUnparsableValue() throws {
        let t = table([text("d", ["2013-01-01", "2013-01-01", "not a date", "2013-02-30", "not a date"])])
        let context = TransformContext(source: "flights.csv") { row, column in SourceLocation(file: "flights.csv", line: row + 2, column: column == "d" ? 1 : nil) }
        XCTAssertThrowsError(try DatetimeFeatures(columns: ["d"]).transform(t, context: context)) { e in
            guard case MPILearnError.dataError(let loc, let m) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(loc, SourceLocation(file: "flights.csv", line: 4, column: 1), "the first row holding a bad value: local row 2")
            XCTAssertEqual("\(e)", "flights.csv:4:1: column 'd', data row 103: cannot parse 'not a date' as a timestamp (format ISO 8601)")
            _ = m
        }
        XCTAssertThrowsError(try DatetimeFeatures(columns: ["d"], format: "%Y").transform(t, context: context)) { e in
            XCTAssertTrue("\(e)".contains("(format '%Y')"), "\(e)")
        }
        let out = try DatetimeFeatures(columns: ["d"], features: [.year], onError: .missing).transform(t, context: context)
        guard case .float64(let y) = out.columns[0].values else { return XCTFail() }
        XCTAssertEqual(y[0], 2013); XCTAssertEqual(y[1], 2013)
        XCTAssertTrue(y[2].isNaN && y[3].isNaN && y[4].isNaN)
    }

    func testColumnsAndParameters() throws {
        let t = table([Column(name: "a", values: .float64([1]))])
        XCTAssertThrowsError(try DatetimeFeatures(columns: ["b"]).fit(t, comm: LocalCommunicator.solo())) { e in
            guard case MPILearnError.mismatch(let m) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(m.contains("'b'") && m.contains("a"), m)
        }
        XCTAssertThrowsError(try DatetimeFeatures().validate()) { e in XCTAssertTrue("\(e)".contains("datetime-features.columns"), "\(e)") }
        let json = try ModelJSON.encoder.encode(DatetimeFeatures(columns: ["t"]))
        XCTAssertEqual(String(decoding: json, as: UTF8.self),
                       #"{"columns":["t"],"drop":true,"features":["hour","dayofweek"],"format":null,"on_error":"error"}"#)
        XCTAssertEqual(try ModelJSON.decoder.decode(DatetimeFeatures.self, from: Data("{}".utf8)), DatetimeFeatures())
        XCTAssertEqual(try ModelJSON.decoder.decode(DatetimeFeatures.self, from: json), DatetimeFeatures(columns: ["t"]))
        XCTAssertThrowsError(try ModelJSON.decoder.decode(DatetimeFeatures.self, from: Data(#"{"features":["hour","weekday"]}"#.utf8))) { e in
            guard case MPILearnError.invalidParameter(let name, let value, let allowed) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(name, "datetime-features.features"); XCTAssertEqual(value, "'weekday'"); XCTAssertTrue(allowed.contains("is_weekend"))
        }
        XCTAssertThrowsError(try ModelJSON.decoder.decode(DatetimeFeatures.self, from: Data(#"{"on_error":"skip"}"#.utf8))) { e in
            XCTAssertTrue("\(e)".contains("'skip'") && "\(e)".contains("error, missing"), "\(e)")
        }
        XCTAssertThrowsError(try DatetimeFeatures(columns: ["t"], format: "%d/%q").validate()) { e in
            XCTAssertTrue("\(e)".contains("datetime-features.format") && "\(e)".contains("%q"), "\(e)")
        }
    }
}
