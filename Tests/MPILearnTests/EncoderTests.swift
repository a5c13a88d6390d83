import Foundation
import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// The scikit-learn fixture of the categorical encoders (Tests/Fixtures/preprocessing/
/// encoders.json, made by make_encoders.py) and its tables.
enum EncoderFixture {
    struct Case {
        var name: String
        var kind: String
        var params: [String: Any]
        var categories: [String: [String]]
        var features: [String]
        var train: [[Double]]
        var test: [[Double]]?
        var testError: String?
    }

    static let json: [String: Any] = {
        let url = MPIRun.packageRoot.appendingPathComponent("Tests/Fixtures/preprocessing/encoders.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }()

    static func doubles(_ columns: Any?) -> [[Double]]? {
        (columns as? [[Any]])?.map { $0.map { ($0 as? Double) ?? .nan } }
    }

    static let cases: [Case] = (json["cases"] as! [[String: Any]]).map { c in
        Case(name: c["name"] as! String, kind: c["kind"] as! String, params: c["params"] as! [String: Any],
             categories: c["categories"] as! [String: [String]], features: c["features"] as! [String],
             train: doubles(c["train"])!, test: doubles(c["test"]), testError: c["test_error"] as? String)
    }

    /// The encoded columns, in the fixture's (scikit-learn's) order.
    static let encoded = ["color", "size", "flag", "n"]
    static let strings = ["color", "size", "flag"]
    /// Our tables' column order: the pass-through float column `x` between encoded ones, so
    /// the outputs must take each encoded column's place.
    static let order = ["color", "size", "x", "flag", "n"]

    /// A table of `rows` of the columns in `values` (strings or null for the categorical ones,
    /// numbers for n and x). Each categorical column gets a dictionary of only its own rows'
    /// values (codes are local to a rank or chunk), sorted; with `scrambled`, the dictionary
    /// is in reverse order and also holds values that occur in no row (one of them unseen in
    /// training), so only a lookup by value gives the right answer.
    static func table(_ values: [String: [Any]], rows: Range<Int>? = nil, start: Int? = nil, total: Int? = nil, scrambled: Bool = false) -> Table {
        let n = values["x"]!.count
        let r = rows ?? 0 ..< n
        let columns = order.map { name -> Column in
            let v = r.map { values[name]![$0] }
            if strings.contains(name) {
                let s = v.map { $0 as? String }
                var distinct = CategoryDictionary(s.compactMap { $0 }).values
                if scrambled { distinct = (distinct + ["~never", "blue", "M"].filter { !distinct.contains($0) }).reversed() }
                let dictionary = CategoryDictionary(sortedUnique: distinct)
                return Column(name: name, values: .categorical(s.map { $0.map { dictionary.code(of: $0)! } ?? -1 }, dictionary))
            }
            return Column(name: name, values: .float64(v.map { ($0 as? Double) ?? .nan }))
        }
        return Table(columns: columns, rowCount: r.count, globalRowStart: start ?? r.lowerBound, globalRowCount: total ?? n)
    }

    static var trainValues: [String: [Any]] { json["train"] as! [String: [Any]] }
    static var testValues: [String: [Any]] { json["test"] as! [String: [Any]] }
    static var trainRows: Int { trainValues["x"]!.count }

    /// Each rank's fitted step on its block of the training rows at `p` ranks (one rank empty
    /// from p = 3 on; see ``PreprocessingFixture/bounds(_:_:)``).
    static func fit<T: TableTransformer>(_ step: T, p: Int, scrambled: Bool = false) throws -> [T.Fitted] {
        let b = PreprocessingFixture.bounds(trainRows, p)
        return try LocalWorld.run(size: p) { comm in
            try step.fit(table(trainValues, rows: b[comm.rank] ..< b[comm.rank + 1], scrambled: scrambled), comm: comm)
        }
    }

    static func decode(_ c: Case) throws -> AnyTableTransformer {
        try AnyTableTransformer.decode(kind: c.kind, json: JSONSerialization.data(withJSONObject: c.params))
    }

    /// The float64 columns of `table` other than `x`, in order, with their names.
    static func outputs(_ table: Table) -> (names: [String], values: [[Double]]) {
        var names: [String] = [], values: [[Double]] = []
        for c in table.columns where c.name != "x" {
            names.append(c.name)
            guard case .float64(let v) = c.values else { XCTFail("output column \(c.name) is not float64"); continue }
            values.append(v)
        }
        return (names, values)
    }

    static func same(_ a: [Double], _ b: [Double]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0 == $1 || $0.isNaN && $1.isNaN }
    }

    /// The error `body` throws, or a failure if it does not throw an ``MPILearnError``.
    static func error(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> MPILearnError? {
        PreprocessingFixture.error(body, file: file, line: line)
    }
}

/// OneHotEncoder and OrdinalEncoder against scikit-learn (categories_, get_feature_names_out,
/// transform of the training rows and of rows with unknown values), CategoricalEncoder's
/// by-value coding, the same fitted step at every rank count, and parameter checks.
final class EncoderTests: XCTestCase {
    typealias F = EncoderFixture

    func testFixtureHasTheCases() {
        XCTAssertEqual(F.cases.filter { $0.kind == OneHotEncoder.transformerName }.count, 11)
        XCTAssertEqual(F.cases.filter { $0.kind == OrdinalEncoder.transformerName }.count, 5)
    }

    /// Fitted at p = 1...4 ranks (each rank its block, one empty from p = 3, each with its own
    /// dictionaries; and again with scrambled dictionaries): the fitted step encodes to the
    /// same bytes on every rank at every p.
    func testFittedStateDoesNotDependOnRankCountOrDictionaries() throws {
        for c in F.cases {
            let step = try F.decode(c)
            let one = try step.fit(F.table(F.trainValues), comm: LocalCommunicator.solo()).fittedJSON()
            for p in 1 ... 4 {
                for scrambled in [false, true] {
                    let b = PreprocessingFixture.bounds(F.trainRows, p)
                    let fits = try LocalWorld.run(size: p) { comm in
                        try step.fit(F.table(F.trainValues, rows: b[comm.rank] ..< b[comm.rank + 1], scrambled: scrambled), comm: comm).fittedJSON()
                    }
                    for (r, f) in fits.enumerated() {
                        XCTAssertEqual(f, one, "\(c.name): rank \(r) of \(p)\(scrambled ? ", scrambled dictionaries" : "") differs from one rank")
                    }
                }
            }
        }
    }

    func testOneHotEncoderMatchesScikitLearn() throws {
        for c in F.cases where c.kind == OneHotEncoder.transformerName {
            let step = try F.decode(c).base as! OneHotEncoder
            let fitted = try F.fit(step, p: 2)[0]
            XCTAssertEqual(fitted.encoded.map(\.column), F.encoded, c.name)
            for e in fitted.encoded {
                XCTAssertEqual(e.categories, c.categories[e.column], "\(c.name): categories_ of \(e.column)")
            }
            XCTAssertEqual(fitted.encoded.flatMap(\.outputs), c.features, "\(c.name): get_feature_names_out")
            try checkTransforms(c, fitted)
        }
    }

    func testOrdinalEncoderMatchesScikitLearn() throws {
        for c in F.cases where c.kind == OrdinalEncoder.transformerName {
            let step = try F.decode(c).base as! OrdinalEncoder
            let fitted = try F.fit(step, p: 3)[2]
            XCTAssertEqual(fitted.columns, F.encoded, c.name)
            for (j, column) in fitted.columns.enumerated() {
                // scikit-learn lists a missing value seen in training as nan, last.
                XCTAssertEqual(fitted.categories[j] + (fitted.missingIsCategory[j] ? ["nan"] : []), c.categories[column],
                               "\(c.name): categories_ of \(column)")
            }
            XCTAssertEqual(c.features, F.encoded, "\(c.name): an ordinal column keeps its name")
            try checkTransforms(c, fitted)
        }
    }

    /// The training rows, transformed block by block at 1...4 ranks (each block with its own
    /// dictionaries), and the test rows (scrambled dictionaries: unseen values first) against
    /// scikit-learn; where scikit-learn refuses the test rows, our error names value and column.
    func checkTransforms<T: FittedTableTransformer>(_ c: F.Case, _ fitted: T, file: StaticString = #filePath, line: UInt = #line) throws {
        let expectedNames = F.order.flatMap { col in col == "x" ? [] : c.features.filter { $0 == col || $0.hasPrefix(col + "_") } }
        XCTAssertEqual(expectedNames, c.features, "\(c.name): features grouped by column in order", file: file, line: line)
        for p in 1 ... 4 {
            let b = PreprocessingFixture.bounds(F.trainRows, p)
            var joined = [[Double]](repeating: [], count: c.features.count)
            for r in 0 ..< p {
                let out = try fitted.transform(F.table(F.trainValues, rows: b[r] ..< b[r + 1], scrambled: r % 2 == 1), context: .memory("training data"))
                XCTAssertEqual(out.columnNames.filter { $0 != "x" }, c.features, "\(c.name): output columns", file: file, line: line)
                // x passes through, between the outputs of size and of flag.
                let xAt = out.columnNames.firstIndex(of: "x")!
                XCTAssertEqual(out.columnNames[..<xAt].filter { !$0.hasPrefix("color") && !$0.hasPrefix("size") }, [], file: file, line: line)
                XCTAssertEqual(try out.doubles("x", for: "test"), F.trainValues["x"]![b[r] ..< b[r + 1]].map { $0 as! Double }, file: file, line: line)
                XCTAssertEqual(out.rowCount, b[r + 1] - b[r], file: file, line: line)
                for (j, v) in F.outputs(out).values.enumerated() { joined[j] += v }
            }
            for (j, name) in c.features.enumerated() {
                XCTAssert(F.same(joined[j], c.train[j]), "\(c.name): \(name) of the training rows at p = \(p): ours \(joined[j]), scikit-learn \(c.train[j])",
                          file: file, line: line)
            }
        }
        let test = F.table(F.testValues, start: 100, total: 200, scrambled: true)
        if let expected = c.test {
            let out = try fitted.transform(test, context: .memory("test"))
            let (names, values) = F.outputs(out)
            XCTAssertEqual(names, c.features, file: file, line: line)
            for (j, name) in names.enumerated() {
                XCTAssert(F.same(values[j], expected[j]), "\(c.name): \(name) of the test rows: ours \(values[j]), scikit-learn \(expected[j])", file: file, line: line)
            }
        } else {
            // scikit-learn: "Found unknown categories ['pink'] in column 0 during transform".
            XCTAssertNotNil(c.testError, file: file, line: line)
            let context = TransformContext(source: "test.csv") { row, column in SourceLocation(file: "test.csv", line: row + 2, column: F.order.firstIndex(of: column)! + 1) }
            let e = F.error({ _ = try fitted.transform(test, context: context) }, file: file, line: line)
            guard case .dataError(let location, let message)? = e else { return XCTFail("\(c.name): \(String(describing: e))", file: file, line: line) }
            XCTAssertEqual(location, SourceLocation(file: "test.csv", line: 2, column: 1), c.name, file: file, line: line)
            XCTAssert(message.hasPrefix("column 'color', data row 101: category 'pink' was not seen in training"), "\(c.name): \(message)", file: file, line: line)
        }
    }

    // MARK: - unknown and missing values

    /// A missing value in a column that had none in training is an unknown value, as NaN is to
    /// scikit-learn: an error under handle_unknown error (one-hot and ordinal).
    func testUnseenMissingValueIsUnknown() throws {
        var values = F.testValues
        values["color"] = ["red", "red", "blue", "blue", "red"]
        values["flag"] = ["no", "no", "no", "no", "yes"]
        values["n"] = [1.0, 1.0, 2.0, 2.0, 3.0]
        values["size"] = ["M", "S", "L", "XL", NSNull()]
        let chunk = F.table(values)
        for step in [AnyTableTransformer(OneHotEncoder(columns: F.encoded)), AnyTableTransformer(OrdinalEncoder(columns: F.encoded))] {
            let fitted = try step.fit(F.table(F.trainValues), comm: LocalCommunicator.solo())
            let e = F.error { _ = try fitted.transform(chunk, context: .memory("chunk")) }
            XCTAssert(e?.description.contains("column 'size', data row 5: a missing value, never seen in training") == true, "\(step.kind): \(String(describing: e))")
        }
        // A missing color was seen in training: no error for it.
        values["size"] = ["M", "S", "L", "XL", "M"]
        values["color"] = [NSNull(), "red", "blue", "blue", "red"]
        let ordinal = try OrdinalEncoder(columns: F.encoded).fit(F.table(F.trainValues), comm: LocalCommunicator.solo())
        XCTAssert(try ordinal.transform(F.table(values), context: .memory("chunk")).doubles("color", for: "test")[0].isNaN)
    }

    /// Fixed categories with handle_unknown error must hold every training value, a missing
    /// one included (scikit-learn: "Found unknown categories [nan] in column 0 during fit").
    func testFixedCategoriesMustCoverTrainingValues() throws {
        let train = F.table(F.trainValues)
        let e1 = F.error { _ = try OneHotEncoder(columns: ["color"], categories: ["color": ["blue", "green", "red"]]).fit(train, comm: LocalCommunicator.solo()) }
        XCTAssert(e1?.description.contains("'violet' is not in it") == true, String(describing: e1))
        let e2 = F.error { _ = try OrdinalEncoder(columns: ["color"], categories: ["color": ["blue", "green", "red", "violet"]]).fit(train, comm: LocalCommunicator.solo()) }
        XCTAssert(e2?.description.contains("a missing value is not in it") == true, String(describing: e2))
        // CategoricalEncoder keeps a missing value missing under either policy: no error for it.
        let cat = try CategoricalEncoder(columns: ["color"], categories: ["color": ["blue", "green", "red", "violet"]], handleUnknown: "error").fit(train, comm: LocalCommunicator.solo())
        XCTAssertEqual(cat.categories, [["blue", "green", "red", "violet"]])
        // Duplicates are refused; a numeric column's categories are numbers, ascending (as scikit-learn requires).
        for (fixed, column, says) in [(["red", "red"], "color", "listed twice"), (["3", "1"], "n", "ascending"), (["1", "two"], "n", "numbers"),
                                      (["1", "1.0"], "n", "listed twice")] {
            for step in [AnyTableTransformer(OneHotEncoder(columns: [column], categories: [column: fixed], handleUnknown: "ignore")),
                         AnyTableTransformer(OrdinalEncoder(columns: [column], categories: [column: fixed], handleUnknown: "use_encoded_value", unknownValue: -1)),
                         AnyTableTransformer(CategoricalEncoder(columns: [column], categories: [column: fixed]))] {
                let e = F.error { _ = try step.fit(train, comm: LocalCommunicator.solo()) }
                guard case .invalidParameter(let name, _, let allowed)? = e else { XCTFail("\(step.kind) \(fixed): \(String(describing: e))"); continue }
                XCTAssertEqual(name, "\(step.kind).categories[\(column)]")
                XCTAssert(allowed.contains(says), "\(step.kind) \(fixed): \(allowed)")
            }
        }
    }

    // MARK: - CategoricalEncoder (no scikit-learn counterpart)

    func testCategoricalEncoderCodesByValue() throws {
        let step = CategoricalEncoder(columns: ["color", "size", "n"])
        let fits = try (1 ... 4).flatMap { try F.fit(step, p: $0, scrambled: $0 % 2 == 0) }
        for f in fits { XCTAssertEqual(try ModelJSON.encoder.encode(f), try ModelJSON.encoder.encode(fits[0])) }
        let fitted = fits[0]
        XCTAssertEqual(fitted.categories, [["blue", "green", "red", "violet"], ["L", "M", "S", "XL"], ["1.0", "2.0", "3.0", "5.0"]])
        // A chunk whose dictionaries are scrambled and hold unseen values: unseen becomes missing.
        let out = try fitted.transform(F.table(F.testValues, scrambled: true), context: .memory("test"))
        let expectations: [(String, [String?])] = [("color", [nil, "red", nil, "blue", "violet"]), ("size", ["M", nil, "XL", nil, "S"]), ("n", [nil, "1.0", "5.0", "2.0", "3.0"])]
        for (column, expected) in expectations {
            guard case .categorical(let codes, let dictionary) = try out.column(named: column).values else { XCTFail(column); continue }
            XCTAssertEqual(dictionary.values, fitted.categories[fitted.columns.firstIndex(of: column)!])
            XCTAssertEqual(codes.map { $0 < 0 ? nil : dictionary.values[Int($0)] }, expected, column)
        }
        // Fixed categories keep their order (codes are positions in it); numbers as Python prints floats.
        let fixed = try CategoricalEncoder(columns: ["color", "n"], categories: ["color": ["red", "blue"], "n": ["1", "2", "3", "4", "5"]]).fit(F.table(F.trainValues), comm: LocalCommunicator.solo())
        XCTAssertEqual(fixed.categories, [["red", "blue"], ["1.0", "2.0", "3.0", "4.0", "5.0"]])
        let e = F.error {
            _ = try CategoricalEncoder(columns: ["color"], handleUnknown: "error").fit(F.table(F.trainValues), comm: LocalCommunicator.solo())
                .transform(F.table(F.testValues, start: 10, total: 20, scrambled: true), context: .memory("test"))
        }
        XCTAssert(e?.description.contains("column 'color', data row 11: category 'pink' was not seen in training") == true, String(describing: e))
    }

    // MARK: - JSON

    func testFittedStepsRoundTripThroughJSON() throws {
        var steps = F.cases.map { c in (c.name, try! F.decode(c)) }
        steps.append(("categorical", AnyTableTransformer(CategoricalEncoder(columns: ["color", "n"]))))
        for (name, step) in steps {
            let fitted = try F.fit(step.base, p: 3)[1]
            let data = try ModelJSON.encoder.encode(fitted)
            let back = try AnyFittedTransformer.decode(kind: step.kind, json: data)
            XCTAssertEqual(try back.fittedJSON(), data, name)
            let test = F.table(F.testValues, scrambled: true)
            let a = try? AnyFittedTransformer(kind: step.kind, base: fitted).transform(test, context: .memory("t"))
            let b = try? back.transform(test, context: .memory("t"))
            XCTAssertEqual(a.map { F.describe($0) }, b.map { F.describe($0) }, name)
            // The parameters round-trip too.
            let again = try AnyTableTransformer.decode(kind: step.kind, json: step.parameterJSON())
            XCTAssertEqual(try again.parameterJSON(), try step.parameterJSON(), name)
        }
    }

    func testParametersDecodeFromEmptyObjectToDefaults() throws {
        let empty = Data("{}".utf8)
        let onehot = try AnyTableTransformer.decode(kind: OneHotEncoder.transformerName, json: empty).base as! OneHotEncoder
        XCTAssertNil(onehot.columns)
        XCTAssertNil(onehot.categories)
        XCTAssertNil(onehot.drop)
        XCTAssertEqual(onehot.handleUnknown, "error")
        XCTAssertNil(onehot.minFrequency)
        let ordinal = try AnyTableTransformer.decode(kind: OrdinalEncoder.transformerName, json: empty).base as! OrdinalEncoder
        XCTAssertNil(ordinal.columns)
        XCTAssertEqual(ordinal.handleUnknown, "error")
        XCTAssertNil(ordinal.unknownValue)
        XCTAssert(ordinal.encodedMissingValue.isNaN)
        let categorical = try AnyTableTransformer.decode(kind: CategoricalEncoder.transformerName, json: empty).base as! CategoricalEncoder
        XCTAssertNil(categorical.columns)
        XCTAssertEqual(categorical.handleUnknown, "missing")
        // scikit-learn's drop=None may be written "none" or null.
        for drop in ["\"none\"", "null"] {
            let d = try AnyTableTransformer.decode(kind: OneHotEncoder.transformerName, json: Data("{\"drop\": \(drop)}".utf8)).base as! OneHotEncoder
            XCTAssertNil(d.drop)
        }
        // With every column's kind left to the step: the categorical columns only.
        let all = try OneHotEncoder(handleUnknown: "ignore").fit(F.table(F.trainValues), comm: LocalCommunicator.solo())
        XCTAssertEqual(all.encoded.map(\.column), ["color", "size", "flag"])
        XCTAssertThrowsError(try AnyTableTransformer.decode(kind: OneHotEncoder.transformerName, json: Data("{\"sparse_output\": false}".utf8)))
    }

    func testInvalidParametersAreRefused() {
        let bad: [(String, String, String)] = [
            (OneHotEncoder.transformerName, #"{"drop": "last"}"#, "one-hot-encoder.drop"),
            (OneHotEncoder.transformerName, #"{"handle_unknown": "use_encoded_value"}"#, "one-hot-encoder.handle_unknown"),
            (OneHotEncoder.transformerName, #"{"min_frequency": 0}"#, "one-hot-encoder.min_frequency"),
            (OneHotEncoder.transformerName, #"{"min_frequency": -2}"#, "one-hot-encoder.min_frequency"),
            // scikit-learn takes an int >= 1 or a float in (0, 1): 1.5 is neither.
            (OneHotEncoder.transformerName, #"{"min_frequency": 1.5}"#, "one-hot-encoder.min_frequency"),
            (OneHotEncoder.transformerName, #"{"min_frequency": "nan"}"#, "one-hot-encoder.min_frequency"),
            (OrdinalEncoder.transformerName, #"{"handle_unknown": "ignore"}"#, "ordinal-encoder.handle_unknown"),
            (OrdinalEncoder.transformerName, #"{"handle_unknown": "use_encoded_value"}"#, "ordinal-encoder.unknown_value"),
            (OrdinalEncoder.transformerName, #"{"handle_unknown": "use_encoded_value", "unknown_value": 0.5}"#, "ordinal-encoder.unknown_value"),
            (OrdinalEncoder.transformerName, #"{"unknown_value": -1}"#, "ordinal-encoder.unknown_value"),
            (OrdinalEncoder.transformerName, #"{"encoded_missing_value": -0.5}"#, "ordinal-encoder.encoded_missing_value"),
            (CategoricalEncoder.transformerName, #"{"handle_unknown": "ignore"}"#, "categorical-encoder.handle_unknown"),
        ]
        for (kind, json, parameter) in bad {
            let e = F.error { _ = try AnyTableTransformer.decode(kind: kind, json: Data(json.utf8)) }
            guard case .invalidParameter(let name, _, _)? = e else { XCTFail("\(kind) \(json): \(String(describing: e))"); continue }
            XCTAssertEqual(name, parameter, json)
        }
        for (drop, ok) in [("first", true), ("if_binary", true), ("last", false)] {
            XCTAssertEqual((try? OneHotEncoder(drop: drop).validate()) != nil, ok, drop)
        }
        for m in [1.0, 2, 0.5, 0.001] { XCTAssertNoThrow(try OneHotEncoder(minFrequency: m).validate()) }
        XCTAssertNoThrow(try OrdinalEncoder(handleUnknown: "use_encoded_value", unknownValue: .nan).validate())
    }

    /// unknown_value and encoded_missing_value may not be a code in use (scikit-learn checks
    /// at fit); encoded_missing_value only for columns that had missing values.
    func testOrdinalCodesInUseAreRefusedAtFit() throws {
        let train = F.table(F.trainValues)
        let e1 = F.error { _ = try OrdinalEncoder(handleUnknown: "use_encoded_value", unknownValue: 3).fit(train, comm: LocalCommunicator.solo()) }
        guard case .invalidParameter(let n1, _, _)? = e1 else { return XCTFail(String(describing: e1)) }
        XCTAssertEqual(n1, "ordinal-encoder.unknown_value")
        // 4 codes no category of color (its 4 values; the missing one is no code) nor of any other column.
        XCTAssertNoThrow(try OrdinalEncoder(handleUnknown: "use_encoded_value", unknownValue: 4).fit(train, comm: LocalCommunicator.solo()))
        let e2 = F.error { _ = try OrdinalEncoder(encodedMissingValue: 0).fit(train, comm: LocalCommunicator.solo()) }
        guard case .invalidParameter(let n2, _, let allowed)? = e2 else { return XCTFail(String(describing: e2)) }
        XCTAssertEqual(n2, "ordinal-encoder.encoded_missing_value")
        XCTAssert(allowed.contains("color"), allowed)
        XCTAssertNoThrow(try OrdinalEncoder(columns: ["size", "flag"], encodedMissingValue: 0).fit(train, comm: LocalCommunicator.solo()))
    }
}

extension EncoderFixture {
    /// A table's names and values, for comparing two transforms.
    static func describe(_ t: Table) -> String {
        t.columns.map { c in "\(c.name)=\((0 ..< t.rowCount).map { c.values.double(at: $0) })" }.joined(separator: ";")
    }
}
