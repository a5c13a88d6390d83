import Foundation
import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// SimpleImputer against scikit-learn (mean, exact median with even and odd counts and ties,
/// most frequent with ties, constant; numeric and categorical columns), the same fit at any
/// rank count, and its errors.
final class ImputerTests: XCTestCase {
    typealias F = PreprocessingFixture

    func testSimpleImputerMatchesScikitLearn() throws {
        let cases = F.cases.filter { $0.kind == SimpleImputer.transformerName }
        XCTAssertEqual(cases.count, 8)
        for c in cases { try F.check(SimpleImputer.self, c) }
    }

    /// Each rank its block of rows, one rank empty from p = 3, and each rank's categorical
    /// column with its own dictionary: medians and most frequent values are exact, so equal
    /// bit for bit; the mean by Chan's merge to rounding.
    func testFitsDoNotDependOnRankCount() throws {
        for c in F.cases where c.kind == SimpleImputer.transformerName {
            try F.checkRankCounts(SimpleImputer.self, c, rounding: c.params["strategy"] as? String == "mean" ? ["statistics_"] : [])
        }
    }

    func testFittedImputerRoundTrips() throws {
        for step in [SimpleImputer(strategy: .median), SimpleImputer(columns: ["cat", "a"], strategy: .mostFrequent),
                     SimpleImputer(columns: ["cat", "e"], strategy: .constant, fillValue: nil)] {
            let f = try F.fit(step, p: 3)[1]
            XCTAssertEqual(try ModelJSON.decoder.decode(SimpleImputerModel.self, from: ModelJSON.encoder.encode(f)), f)
            XCTAssertEqual(f.summary().count, f.columns.count)
        }
        let mixed = try F.fit(SimpleImputer(columns: ["cat", "a"], strategy: .mostFrequent), p: 2)[0]
        XCTAssertEqual(mixed.statistics, [.string("AA"), .number(-10.91)])
    }

    func testParametersDefaultAndEncodeEveryKey() throws {
        XCTAssertEqual(try ModelJSON.decoder.decode(SimpleImputer.self, from: Data("{}".utf8)), SimpleImputer())
        let json = try JSONSerialization.jsonObject(with: ModelJSON.encoder.encode(SimpleImputer())) as! [String: Any]
        XCTAssertEqual(Set(json.keys), ["columns", "strategy", "fill_value"])
        XCTAssert(json["fill_value"] is NSNull && json["columns"] is NSNull)
        XCTAssertEqual(json["strategy"] as? String, "mean")
        let s = try ModelJSON.decoder.decode(SimpleImputer.self, from: Data(#"{"strategy": "constant", "fill_value": "n/a"}"#.utf8))
        XCTAssertEqual(s.fillValue, .string("n/a"))
        let d = try ModelJSON.decoder.decode(SimpleImputer.self, from: Data(#"{"strategy": "constant", "fill_value": 2}"#.utf8))
        XCTAssertEqual(d.fillValue, .number(2))
    }

    func testValidationErrors() throws {
        let train = F.table("train")
        func fitError(_ step: SimpleImputer, _ table: Table = F.table("train")) -> MPILearnError? {
            F.error { _ = try LocalWorld.run(size: 2) { comm in
                try step.fit(table.rows(comm.rank == 0 ? 0 ..< table.rowCount : 0 ..< 0), comm: comm)
            } }
        }
        // A bad strategy: quoted, with the allowed values.
        guard case .invalidParameter(let name, let value, let allowed)? = F.error({
            _ = try ModelJSON.decoder.decode(SimpleImputer.self, from: Data(#"{"strategy": "mode"}"#.utf8))
        }) else { return XCTFail() }
        XCTAssertEqual(name, "strategy")
        XCTAssertEqual(value, "\"mode\"")
        XCTAssert(allowed.contains("\"most_frequent\"") && allowed.contains("\"constant\""), allowed)
        // A missing column; a datetime column; mean of a categorical column.
        guard case .mismatch(let m1)? = fitError(SimpleImputer(columns: ["zz"])) else { return XCTFail() }
        XCTAssert(m1.contains("'zz'"), m1)
        guard case .mismatch(let m2)? = fitError(SimpleImputer(columns: ["cat"], strategy: .median)) else { return XCTFail() }
        XCTAssert(m2.contains("'cat'") && m2.contains("most_frequent or constant"), m2)
        let dated = Table(columns: [Column(name: "t", values: .datetime([0, Int64.min]))], rowCount: 2, globalRowStart: 0, globalRowCount: 2)
        guard case .mismatch(let m3)? = F.error({ _ = try LocalWorld.run(size: 1) { comm in try SimpleImputer(columns: ["t"], strategy: .constant).fit(dated, comm: comm) } }) else { return XCTFail() }
        XCTAssert(m3.contains("'t'"), m3)
        // A column with no value under mean, median and most_frequent: an error naming it (scikit-learn drops it).
        let empty = train.replacing("d", with: .float64(Array(repeating: .nan, count: train.rowCount)))
        for strategy in [SimpleImputer.Strategy.mean, .median, .mostFrequent] {
            guard case .mismatch(let m)? = fitError(SimpleImputer(strategy: strategy), empty) else { return XCTFail("\(strategy)") }
            XCTAssert(m.contains("column 'd' has no value") && m.contains("strategy 'constant'"), m)
        }
        let noCategory = train.replacing("cat", with: .categorical(Array(repeating: -1, count: train.rowCount), CategoryDictionary([String]())))
        guard case .mismatch(let m4)? = fitError(SimpleImputer(columns: ["cat"], strategy: .mostFrequent), noCategory) else { return XCTFail() }
        XCTAssert(m4.contains("column 'cat' has no value"), m4)
        // ... but constant fills it.
        let filled = try F.fit(SimpleImputer(strategy: .constant), p: 1)[0].transform(empty, context: .memory("x"))
        XCTAssertEqual(F.values(filled, "d") as? [Double], Array(repeating: 0, count: train.rowCount))
        // A fill of the wrong type for the column.
        guard case .invalidParameter(let n1, _, let a1)? = fitError(SimpleImputer(columns: ["a"], strategy: .constant, fillValue: .string("x"))) else { return XCTFail() }
        XCTAssertEqual(n1, "fill_value")
        XCTAssert(a1.contains("'a'"), a1)
        guard case .invalidParameter(let n2, _, _)? = fitError(SimpleImputer(columns: ["cat"], strategy: .constant, fillValue: .number(1))) else { return XCTFail() }
        XCTAssertEqual(n2, "fill_value")
        // Transform: a fitted column now of another kind.
        let fitted = try F.fit(SimpleImputer(columns: ["cat"], strategy: .mostFrequent), p: 1)[0]
        let swapped = train.replacing("cat", with: .float64(Array(repeating: 1, count: train.rowCount)))
        guard case .mismatch(let m5)? = F.error({ _ = try fitted.transform(swapped, context: .memory("x")) }) else { return XCTFail() }
        XCTAssert(m5.contains("'cat'") && m5.contains("categorical in training"), m5)
    }

    /// A fill absent from a chunk's dictionary joins it in sorted place; the other codes are
    /// renumbered to keep their strings.
    func testCategoricalFillJoinsTheDictionary() throws {
        let dictionary = CategoryDictionary(["B", "D"])
        let chunk = Table(columns: [Column(name: "k", values: .categorical([1, -1, 0, -1, 1], dictionary))], rowCount: 5, globalRowStart: 10, globalRowCount: 20)
        let model = SimpleImputerModel(parameters: SimpleImputer(columns: ["k"], strategy: .constant, fillValue: .string("C")),
                                       columns: ["k"], statistics: [.string("C")])
        let out = try model.transform(chunk, context: .memory("x"))
        guard case .categorical(let codes, let d) = out.columns[0].values else { return XCTFail() }
        XCTAssertEqual(d.values, ["B", "C", "D"])
        XCTAssertEqual(codes, [2, 1, 0, 1, 2])
        XCTAssertEqual(out.globalRowStart, 10)
        // A fill already there keeps the dictionary.
        let model2 = SimpleImputerModel(parameters: model.parameters, columns: ["k"], statistics: [.string("D")])
        guard case .categorical(let codes2, let d2) = try model2.transform(chunk, context: .memory("x")).columns[0].values else { return XCTFail() }
        XCTAssertEqual(d2, dictionary)
        XCTAssertEqual(codes2, [1, 1, 0, 1, 1])
    }

    /// The most frequent value merges every rank's counts: ties go to the smallest value, and
    /// categories are merged by string although each rank's dictionary differs.
    func testMostFrequentAcrossRanks() throws {
        let parts: [[Double]] = [[2, 2, 5], [], [5, .nan, 1, -0.0], [0, 1, 7]]
        let cats: [[String]] = [["x", "y"], [], ["y", "b"], ["x", "b"]]
        let out = try LocalWorld.run(size: 4) { comm -> ([Double?], [String?]) in
            let d = CategoryDictionary(cats[comm.rank])
            let codes = cats[comm.rank].map { d.code(of: $0)! }
            return (try DistributedStatistics.mostFrequent([parts[comm.rank], []], comm: comm),
                    try DistributedStatistics.mostFrequentCategory([.categorical(codes, d)], comm: comm))
        }
        for (numbers, strings) in out {
            XCTAssertEqual(numbers[0], 0)  // 0 and -0 count together: 2 each for 0, 1, 2, 5; the smallest wins
            XCTAssertNil(numbers[1])
            XCTAssertEqual(strings, ["b"])
        }
    }
}

private extension Table {
    /// The rows `keep` of this table (rank 1 of a two-rank test gets none).
    func rows(_ keep: Range<Int>) -> Table {
        Table(columns: columns.map { c in
            switch c.values {
            case .float64(let v): return Column(name: c.name, values: .float64(Array(v[keep])))
            case .float32(let v): return Column(name: c.name, values: .float32(Array(v[keep])))
            case .categorical(let v, let d): return Column(name: c.name, values: .categorical(Array(v[keep]), d))
            case .datetime(let v): return Column(name: c.name, values: .datetime(Array(v[keep])))
            }
        }, rowCount: keep.count, globalRowStart: keep.lowerBound, globalRowCount: rowCount)
    }
}
