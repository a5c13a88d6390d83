import Foundation
import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// The scikit-learn fixture of the numeric preprocessing steps (Tests/Fixtures/preprocessing/
/// numeric.json, made by make_preprocessing.py), its tables, and helpers shared by
/// ScalerTests and ImputerTests.
enum PreprocessingFixture {
    struct Case {
        var name: String
        var kind: String
        var params: [String: Any]
        var columns: [String]
        var fitted: [String: Any]
        var train: [String: [Any]]
        var test: [String: [Any]]
    }

    static let json: [String: Any] = {
        let url = MPIRun.packageRoot.appendingPathComponent("Tests/Fixtures/preprocessing/numeric.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }()

    static let cases: [Case] = (json["cases"] as! [[String: Any]]).map { c in
        Case(name: c["name"] as! String, kind: c["kind"] as! String, params: c["params"] as! [String: Any], columns: c["columns"] as! [String],
             fitted: c["fitted"] as! [String: Any], train: c["train"] as! [String: [Any]], test: c["test"] as! [String: [Any]])
    }

    static let numericNames = ["a", "b", "c", "d", "e"]

    /// Rows `rows` of the fixture's table `name` ("train" or "test"): the numeric columns
    /// float64 (null as NaN) and `cat` categorical with a dictionary of its own values only.
    static func table(_ name: String, rows: Range<Int>? = nil) -> Table {
        let t = json[name] as! [String: [Any]]
        let n = t["a"]!.count
        let r = rows ?? 0 ..< n
        var columns = numericNames.map { c in Column(name: c, values: .float64(r.map { (t[c]![$0] as? Double) ?? .nan })) }
        let cat = r.map { t["cat"]![$0] as? String }
        let dictionary = CategoryDictionary(cat.compactMap { $0 })
        columns.insert(Column(name: "cat", values: .categorical(cat.map { $0.map { dictionary.code(of: $0)! } ?? -1 }, dictionary)), at: 2)
        return Table(columns: columns, rowCount: r.count, globalRowStart: r.lowerBound, globalRowCount: n)
    }

    /// Block boundaries of `n` rows over `p` ranks, with an empty rank from p = 3 on.
    static func bounds(_ n: Int, _ p: Int) -> [Int] {
        switch p {
        case 1: return [0, n]
        case 2: return [0, n / 3, n]
        case 3: return [0, 0, n / 2, n]
        default: return [0, n / 4, n / 4, n / 2 + 1] + Array(repeating: n, count: p - 3)
        }
    }

    /// Each rank's fitted step on its block of the training rows, at `p` ranks.
    static func fit<T: TableTransformer>(_ step: T, p: Int) throws -> [T.Fitted] {
        let n = table("train").rowCount
        let b = bounds(n, p)
        return try LocalWorld.run(size: p) { comm in try step.fit(table("train", rows: b[comm.rank] ..< b[comm.rank + 1]), comm: comm) }
    }

    /// A step decoded from JSON parameters.
    static func decode<T: TableTransformer>(_ type: T.Type, _ params: [String: Any]) throws -> T {
        try ModelJSON.decoder.decode(T.self, from: JSONSerialization.data(withJSONObject: params))
    }

    /// A fitted step as a JSON object (its scikit-learn attribute names as keys).
    static func object<F: FittedTableTransformer>(_ fitted: F) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: ModelJSON.encoder.encode(fitted)) as! [String: Any]
    }

    /// Whether `a` and `b` agree to relative `tol` (both NaN counts as equal).
    static func close(_ a: Double, _ b: Double, _ tol: Double) -> Bool {
        if a.isNaN || b.isNaN { return a.isNaN && b.isNaN }
        return abs(a - b) <= tol * max(abs(a), abs(b)) || a == b
    }

    /// Compares a JSON value from our fitted step with scikit-learn's (arrays of numbers or strings, or null).
    static func compare(_ ours: Any?, _ theirs: Any?, tol: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        if theirs == nil || theirs is NSNull {
            XCTAssert(ours == nil || ours is NSNull, "\(what): ours \(String(describing: ours)), scikit-learn null", file: file, line: line)
            return
        }
        guard let o = ours as? [Any], let t = theirs as? [Any], o.count == t.count else {
            return XCTFail("\(what): ours \(String(describing: ours)), scikit-learn \(String(describing: theirs))", file: file, line: line)
        }
        for (x, y) in zip(o, t) {
            if let ys = y as? String {
                XCTAssertEqual(x as? String, ys, what, file: file, line: line)
            } else {
                let xd = (x as? Double) ?? ((x as? String) == "nan" ? .nan : .infinity)
                let yd = (y as? Double) ?? .nan
                XCTAssert(close(xd, yd, tol), "\(what): ours \(o), scikit-learn \(t)", file: file, line: line)
            }
        }
    }

    /// Column `name` of `table` as fixture-style values: Doubles (NaN for missing) or strings (nil for missing).
    static func values(_ table: Table, _ name: String) -> [Any] {
        let c = try! table.column(named: name)
        switch c.values {
        case .float64(let v): return v
        case .categorical(let codes, let d): return codes.map { $0 < 0 ? NSNull() as Any : d.values[Int($0)] as Any }
        default: XCTFail("column \(name) is \(c.values.columnType)"); return []
        }
    }

    /// Checks a case: fitted attributes and the transformed train and test tables against scikit-learn.
    static func check<T: TableTransformer>(_ type: T.Type, _ c: Case, file: StaticString = #filePath, line: UInt = #line) throws {
        let step = try decode(type, c.params)
        let fitted = try fit(step, p: 1)[0]
        let ours = try object(fitted)
        for (attribute, expected) in c.fitted {
            compare(ours[attribute], expected, tol: 1e-12, "\(c.name): \(attribute)", file: file, line: line)
        }
        for (name, expected) in [("train", c.train), ("test", c.test)] {
            let input = table(name)
            let out = try fitted.transform(input, context: .memory(name))
            XCTAssertEqual(out.columnNames, input.columnNames, "\(c.name): columns keep their names and positions", file: file, line: line)
            XCTAssertEqual(out.rowCount, input.rowCount, file: file, line: line)
            for column in c.columns {
                let theirs = expected[column]!.map { ($0 is NSNull) && !(column == "cat") ? Double.nan as Any : $0 }
                compare(values(out, column), theirs, tol: 1e-12, "\(c.name): \(name) \(column) transformed", file: file, line: line)
            }
            for column in input.columnNames where !c.columns.contains(column) {
                XCTAssertEqual(values(out, column).map { "\($0)" }, values(input, column).map { "\($0)" }, "\(c.name): \(column) passes through", file: file, line: line)
            }
        }
    }

    /// Checks that the fitted step at p = 2, 3, 4 (an empty rank included) equals p = 1: every
    /// attribute bit for bit, except those in `rounding`, within relative 1e-13.
    static func checkRankCounts<T: TableTransformer>(_ type: T.Type, _ c: Case, rounding: Set<String> = [], file: StaticString = #filePath, line: UInt = #line) throws {
        let step = try decode(type, c.params)
        let one = try object(fit(step, p: 1)[0])
        for p in 2 ... 4 {
            let fits = try fit(step, p: p)
            for (r, f) in fits.enumerated() {
                let o = try object(f)
                XCTAssertEqual(Set(o.keys), Set(one.keys), file: file, line: line)
                for (key, value) in one {
                    if rounding.contains(key) {
                        compare(o[key], value, tol: 1e-13, "\(c.name): \(key) at p = \(p), rank \(r)", file: file, line: line)
                    } else {
                        XCTAssertEqual(o[key] as? NSObject, value as? NSObject, "\(c.name): \(key) at p = \(p), rank \(r) differs from p = 1", file: file, line: line)
                    }
                }
            }
        }
    }

    /// The error `body` throws, or a failure if it does not throw an ``MPILearnError``.
    static func error(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> MPILearnError? {
        do {
            try body()
            XCTFail("no error thrown", file: file, line: line)
        } catch let e as MPILearnError {
            return e
        } catch {
            XCTFail("not an MPILearnError: \(error)", file: file, line: line)
        }
        return nil
    }
}

/// StandardScaler, MinMaxScaler and RobustScaler against scikit-learn, the same fit at any
/// rank count, and the exact distributed order statistics under them.
final class ScalerTests: XCTestCase {
    typealias F = PreprocessingFixture

    func testStandardScalerMatchesScikitLearn() throws {
        for c in F.cases where c.kind == StandardScaler.transformerName { try F.check(StandardScaler.self, c) }
    }

    func testMinMaxScalerMatchesScikitLearn() throws {
        for c in F.cases where c.kind == MinMaxScaler.transformerName { try F.check(MinMaxScaler.self, c) }
    }

    func testRobustScalerMatchesScikitLearn() throws {
        for c in F.cases where c.kind == RobustScaler.transformerName { try F.check(RobustScaler.self, c) }
    }

    /// Each rank its block of rows (one rank empty from p = 3): min/max, medians and quantiles
    /// are exact, so equal bit for bit; Chan's merge of means and variances to rounding.
    func testFitsDoNotDependOnRankCount() throws {
        XCTAssertEqual(F.cases.filter { $0.kind.hasSuffix("scaler") }.count, 9)
        for c in F.cases {
            switch c.kind {
            case StandardScaler.transformerName: try F.checkRankCounts(StandardScaler.self, c, rounding: ["mean_", "var_", "scale_"])
            case MinMaxScaler.transformerName: try F.checkRankCounts(MinMaxScaler.self, c)
            case RobustScaler.transformerName: try F.checkRankCounts(RobustScaler.self, c)
            default: break
            }
        }
    }

    func testFittedScalersRoundTrip() throws {
        let s = try F.fit(StandardScaler(columns: ["a", "d"], withMean: false), p: 2)[1]
        XCTAssertEqual(try ModelJSON.decoder.decode(StandardScalerModel.self, from: ModelJSON.encoder.encode(s)), s)
        let m = try F.fit(MinMaxScaler(featureRange: [-2, 3], clip: true), p: 3)[0]
        XCTAssertEqual(try ModelJSON.decoder.decode(MinMaxScalerModel.self, from: ModelJSON.encoder.encode(m)), m)
        let r = try F.fit(RobustScaler(withScaling: false, quantileRange: [5, 95]), p: 4)[2]
        XCTAssertEqual(try ModelJSON.decoder.decode(RobustScalerModel.self, from: ModelJSON.encoder.encode(r)), r)
        XCTAssertNil(r.scale)
        XCTAssertFalse(r.summary().isEmpty)
    }

    /// Every parameter decodes from `{}` to scikit-learn's default and encodes, nil as null.
    func testParametersDefaultAndEncodeEveryKey() throws {
        func keys<T: TableTransformer>(_ t: T.Type) throws -> [String: Any] {
            let v = try ModelJSON.decoder.decode(T.self, from: Data("{}".utf8))
            return try JSONSerialization.jsonObject(with: ModelJSON.encoder.encode(v)) as! [String: Any]
        }
        XCTAssertEqual(try ModelJSON.decoder.decode(StandardScaler.self, from: Data("{}".utf8)), StandardScaler())
        XCTAssertEqual(try ModelJSON.decoder.decode(MinMaxScaler.self, from: Data("{}".utf8)), MinMaxScaler())
        XCTAssertEqual(try ModelJSON.decoder.decode(RobustScaler.self, from: Data("{}".utf8)), RobustScaler())
        XCTAssertEqual(Set(try keys(StandardScaler.self).keys), ["columns", "with_mean", "with_std"])
        XCTAssertEqual(Set(try keys(MinMaxScaler.self).keys), ["columns", "feature_range", "clip"])
        XCTAssertEqual(Set(try keys(RobustScaler.self).keys), ["columns", "with_centering", "with_scaling", "quantile_range", "unit_variance"])
        XCTAssert(try keys(RobustScaler.self)["columns"] is NSNull)
    }

    func testValidationErrors() throws {
        let train = F.table("train")
        func fitError<T: TableTransformer>(_ step: T, _ table: Table = F.table("train")) -> MPILearnError? {
            F.error { _ = try LocalWorld.run(size: 1) { comm in try step.fit(table, comm: comm) } }
        }
        // quantile_range
        for q: [Double] in [[75, 25], [-1, 50], [50, 101], [25]] {
            guard case .invalidParameter(let name, let value, let allowed)? = F.error({ try RobustScaler(quantileRange: q).validate() }) else { return XCTFail("\(q)") }
            XCTAssertEqual(name, "quantile_range")
            XCTAssertEqual(value, "\(q)")
            XCTAssert(allowed.contains("0 <= q_min <= q_max <= 100"), allowed)
        }
        XCTAssertNotNil(fitError(RobustScaler(quantileRange: [90, 10])))
        guard case .invalidParameter(let name, _, _)? = F.error({ try MinMaxScaler(featureRange: [1, 1]).validate() }) else { return XCTFail() }
        XCTAssertEqual(name, "feature_range")
        guard case .invalidParameter(let cname, _, _)? = F.error({ try StandardScaler(columns: ["a", "a"]).validate() }) else { return XCTFail() }
        XCTAssertEqual(cname, "columns")
        // A missing column, a categorical column, a column with no value.
        guard case .mismatch(let m1)? = fitError(StandardScaler(columns: ["a", "nope"])) else { return XCTFail() }
        XCTAssert(m1.contains("'nope'") && m1.contains("standard-scaler"), m1)
        guard case .mismatch(let m2)? = fitError(MinMaxScaler(columns: ["cat"])) else { return XCTFail() }
        XCTAssert(m2.contains("'cat'") && m2.contains("not numeric"), m2)
        let empty = train.replacing("b", with: .float64(Array(repeating: .nan, count: train.rowCount)))
        guard case .mismatch(let m3)? = fitError(RobustScaler(), empty) else { return XCTFail() }
        XCTAssert(m3.contains("column 'b' has no value"), m3)
        // Transform on a table that lacks a fitted column.
        let fitted = try F.fit(StandardScaler(), p: 1)[0]
        guard case .mismatch(let m4)? = F.error({ _ = try fitted.transform(train.removing(["d"]), context: .memory("x")) }) else { return XCTFail() }
        XCTAssert(m4.contains("'d'"), m4)
    }

    /// float32 columns are read as doubles and come out float64.
    func testFloat32InputComesOutFloat64() throws {
        let t = Table(columns: [Column(name: "x", values: .float32([1, 2, .nan, 4]))], rowCount: 4, globalRowStart: 0, globalRowCount: 4)
        let fitted = try LocalWorld.run(size: 1) { comm in try MinMaxScaler().fit(t, comm: comm) }[0]
        let out = try fitted.transform(t, context: .memory("x"))
        guard case .float64(let y) = out.columns[0].values else { return XCTFail() }
        XCTAssertEqual(y[0], 0)
        XCTAssertEqual(y[3], 1)
        XCTAssert(y[2].isNaN)
    }

    // MARK: - the distributed statistics

    /// Random columns (duplicates, negatives, ±0, infinities, subnormals, NaN) over 3 ranks of
    /// uneven sizes: every order statistic and quantile equals the one read off the sorted data.
    func testRadixSelectEqualsSorting() throws {
        var g = SystemRandomNumberGenerator()
        let n = 60_000
        let pool: [Double] = [0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, -.leastNormalMagnitude, 1e308, -1e-300]
        let columns: [[Double]] = [
            (0 ..< n).map { _ in Double.random(in: -1e6 ... 1e6, using: &g) },
            (0 ..< n).map { _ in Double(Int.random(in: -20 ... 20, using: &g)) },
            (0 ..< n).map { _ in Int.random(in: 0 ..< 10, using: &g) == 0 ? .nan : (Bool.random(using: &g) ? pool.randomElement(using: &g)! : Double.random(in: -1 ... 1, using: &g) * pow(10, Double.random(in: -200 ... 200, using: &g))) },
            [Double](repeating: .nan, count: n),
        ]
        let sorted = columns.map { $0.filter { !$0.isNaN }.sorted() }
        let wanted: [[Int]] = sorted.map { s in s.isEmpty ? [] : [0, 1, s.count / 3, s.count / 2, s.count - 2, s.count - 1] }
        let q = [0, 0.1, 0.25, 0.5, 0.73, 0.999, 1]
        let bounds = [0, 7, 7, 40_000, n]
        let results = try LocalWorld.run(size: 4) { comm -> ([[Double]], [[Double]], [Double]) in
            let local = columns.map { Array($0[bounds[comm.rank] ..< bounds[comm.rank + 1]]) }
            return (try DistributedStatistics.orderStatistics(local, ranks: wanted, comm: comm),
                    try DistributedStatistics.quantiles(local, q: q, comm: comm),
                    try DistributedStatistics.medians(local, comm: comm))
        }
        for (stats, quantiles, medians) in results {
            for j in columns.indices {
                XCTAssertEqual(stats[j].map(\.bitPattern), wanted[j].map { (sorted[j][$0] == 0 ? 0.0 : sorted[j][$0]).bitPattern }, "column \(j)")
                let s = sorted[j]
                guard !s.isEmpty else {
                    XCTAssert(quantiles[j].allSatisfy(\.isNaN) && medians[j].isNaN)
                    continue
                }
                for (k, p) in q.enumerated() {
                    let h = Double(s.count - 1) * p, lo = Int(h.rounded(.down)), hi = min(lo + 1, s.count - 1)
                    let (a, b, t) = (s[lo], s[hi], h - h.rounded(.down))
                    let expected = t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t
                    XCTAssert(quantiles[j][k] == expected || (quantiles[j][k].isNaN && expected.isNaN), "column \(j) q \(p): \(quantiles[j][k]) vs \(expected)")
                }
                let m = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
                XCTAssert(medians[j] == m || (medians[j].isNaN && m.isNaN), "column \(j) median \(medians[j]) vs \(m)")
            }
        }
    }

    /// Moments and extrema: merged over ranks (an empty one included) as over one rank.
    func testMomentsAndExtremaAcrossRanks() throws {
        var g = SystemRandomNumberGenerator()
        let x = (0 ..< 10_001).map { i in i % 97 == 0 ? Double.nan : 1e3 + Double.random(in: -3 ... 3, using: &g) }
        let one = try LocalWorld.run(size: 1) { comm in (try DistributedStatistics.moments([x], comm: comm)[0], try DistributedStatistics.extrema([x], comm: comm)[0]) }[0]
        let finite = x.filter { !$0.isNaN }
        XCTAssertEqual(one.0.count, finite.count)
        XCTAssertEqual(one.1.min, finite.min())
        XCTAssertEqual(one.1.max, finite.max())
        for p in 2 ... 4 {
            let b = F.bounds(x.count, p)
            let all = try LocalWorld.run(size: p) { comm in
                let local = Array(x[b[comm.rank] ..< b[comm.rank + 1]])
                return (try DistributedStatistics.moments([local], comm: comm)[0], try DistributedStatistics.extrema([local], comm: comm)[0])
            }
            for (m, e) in all {
                XCTAssertEqual(m.count, one.0.count)
                XCTAssert(F.close(m.mean, one.0.mean, 1e-13) && F.close(m.variance, one.0.variance, 1e-13), "p = \(p): \(m) vs \(one.0)")
                XCTAssertEqual(e, one.1)
            }
        }
    }

    func testNormalQuantile() {
        // scipy.stats.norm.ppf
        let cases: [(Double, Double)] = [(0.75, 0.6744897501960817), (0.9, 1.2815515655446004), (0.01, -2.3263478740408408),
                                         (0.5, 0), (0.999, 3.090232306167813), (1e-10, -6.361340902404056)]
        for (p, x) in cases { XCTAssert(abs(DistributedStatistics.normalQuantile(p) - x) <= 1e-13 * max(1, abs(x)), "\(p): \(DistributedStatistics.normalQuantile(p)) vs \(x)") }
    }
}
