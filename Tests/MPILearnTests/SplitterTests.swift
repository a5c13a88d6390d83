import Foundation
@testable import MPILearn
import TestSupport
import XCTest

/// Cross-validation splitters: scikit-learn's folds (Tests/Fixtures/model-selection/folds.json,
/// made by scripts/make-fixtures), fold invariants, seeds, and every validation error.
final class SplitterTests: XCTestCase {
    // MARK: fixture

    struct SizeSpec: Decodable {
        var fraction: Double?
        var count: Int?
        var size: SplitSize { fraction.map { .fraction($0) } ?? .count(count!) }
    }

    struct ExactCase: Decodable {
        var name: String
        var splitter: String
        var n_samples: Int
        var n_splits: Int
        var y: [Int]?
        var groups: [Int]?
        var test_fold: [Int]?
        var folds: [Fold]
    }

    struct ClassCounts: Decodable, Hashable {
        var train: [Int]
        var test: [Int]
    }

    struct SizeCase: Decodable {
        var name: String
        var splitter: String
        var n_samples: Int
        var test_size: SizeSpec?
        var train_size: SizeSpec?
        var y: [Int]?
        var n_train: Int
        var n_test: Int
        var classes: [Int]?
        var class_counts: [ClassCounts]?
    }

    struct Fixture: Decodable {
        var scikit_learn: String
        var exact: [ExactCase]
        var sizes: [SizeCase]
    }

    static let fixture: Fixture = {
        let url = MPIRun.packageRoot.appendingPathComponent("Tests/Fixtures/model-selection/folds.json")
        do {
            return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        } catch {
            fatalError("cannot read \(url.path): \(error); run scripts/make-fixtures")
        }
    }()

    static func splitter(for c: ExactCase) -> any CrossValidator {
        switch c.splitter {
        case "KFold": return KFold(nSplits: c.n_splits)
        case "StratifiedKFold": return StratifiedKFold(nSplits: c.n_splits)
        case "GroupKFold": return GroupKFold(nSplits: c.n_splits)
        case "PredefinedSplit": return PredefinedSplit(testFold: c.test_fold!)
        default: fatalError("unknown splitter \(c.splitter) in the fixture")
        }
    }

    func testFoldsEqualScikitLearn() throws {
        let cases = Self.fixture.exact
        // Every kind is covered, so this test cannot pass on an empty or truncated fixture.
        for kind in ["KFold", "StratifiedKFold", "GroupKFold", "PredefinedSplit"] {
            XCTAssertGreaterThanOrEqual(cases.filter { $0.splitter == kind }.count, 2, kind)
        }
        for c in cases {
            let s = Self.splitter(for: c)
            XCTAssertEqual(s.nSplits, c.n_splits, c.name)
            XCTAssertEqual(s.nSplits, c.folds.count, c.name)
            let folds = try s.split(nSamples: c.n_samples, y: c.y, groups: c.groups)
            XCTAssertEqual(folds, c.folds, "\(c.name) differs from scikit-learn \(Self.fixture.scikit_learn)")
        }
    }

    func testShuffleSplitSizesEqualScikitLearn() throws {
        let cases = Self.fixture.sizes
        XCTAssertGreaterThanOrEqual(cases.filter { $0.splitter == "ShuffleSplit" }.count, 4)
        XCTAssertGreaterThanOrEqual(cases.filter { $0.splitter == "StratifiedShuffleSplit" }.count, 3)
        for c in cases {
            let test = c.test_size?.size, train = c.train_size?.size
            let counts = try SplitSize.trainTestCounts(nSamples: c.n_samples, testSize: test, trainSize: train)
            XCTAssertEqual(counts.train, c.n_train, c.name)
            XCTAssertEqual(counts.test, c.n_test, c.name)
            for seed: UInt64? in [nil, 1, 42] {
                let folds: [Fold]
                if c.splitter == "ShuffleSplit" {
                    folds = try ShuffleSplit(nSplits: 5, testSize: test, trainSize: train, randomState: seed)
                        .split(nSamples: c.n_samples)
                } else {
                    folds = try StratifiedShuffleSplit(nSplits: 5, testSize: test, trainSize: train, randomState: seed)
                        .split(nSamples: c.n_samples, y: c.y)
                }
                XCTAssertEqual(folds.count, 5, c.name)
                for f in folds {
                    XCTAssertEqual(f.train.count, c.n_train, c.name)
                    XCTAssertEqual(f.test.count, c.n_test, c.name)
                    assertSortedDisjoint(f, nSamples: c.n_samples, c.name)
                    if let y = c.y, let classes = c.classes, let allowed = c.class_counts {
                        let got = ClassCounts(train: classes.map { k in f.train.filter { y[$0] == k }.count },
                                              test: classes.map { k in f.test.filter { y[$0] == k }.count })
                        XCTAssertTrue(Set(allowed).contains(got), "\(c.name): per-class counts \(got) not among scikit-learn's \(allowed)")
                    }
                }
            }
        }
    }

    /// Where class remainders tie, scikit-learn breaks the tie at random: the fixture lists
    /// several outcomes, and ours vary with the seed too (not always the first class).
    func testStratifiedShuffleSplitBreaksTiesAtRandom() throws {
        let c = try XCTUnwrap(Self.fixture.sizes.first { $0.name.contains("tied") })
        XCTAssertGreaterThan(c.class_counts!.count, 1)
        let folds = try StratifiedShuffleSplit(nSplits: 40, testSize: c.test_size!.size, randomState: 5)
            .split(nSamples: c.n_samples, y: c.y)
        let outcomes = Set(folds.map { f in c.classes!.map { k in f.test.filter { c.y![$0] == k }.count } })
        XCTAssertGreaterThan(outcomes.count, 2, "ties always broken the same way: \(outcomes)")
    }

    func testApproximateModeMatchesScikitLearnExamples() {
        var rng = Philox(seed: 0)
        XCTAssertEqual(approximateMode([4, 2], draws: 3, using: &rng), [2, 1])
        XCTAssertEqual(approximateMode([5, 2], draws: 4, using: &rng), [3, 1])
        for _ in 0 ..< 20 {
            let m = approximateMode([2, 2, 2, 1], draws: 2, using: &rng)
            XCTAssertEqual(m.reduce(0, +), 2)
            XCTAssertEqual(m[3], 0)
            XCTAssertTrue(m.allSatisfy { $0 <= 1 }, "\(m)")
        }
        XCTAssertEqual(approximateMode([10, 20, 30], draws: 60, using: &rng), [10, 20, 30])
    }

    // MARK: shuffled folds

    /// Shuffled StratifiedKFold only permutes which rows of a class go to which fold: the
    /// per-fold class counts are scikit-learn's.
    func testShuffledStratifiedKFoldKeepsScikitLearnClassCounts() throws {
        for c in Self.fixture.exact where c.splitter == "StratifiedKFold" {
            let y = c.y!, classes = Array(Set(y)).sorted()
            func perClass(_ folds: [Fold]) -> [[Int]] { folds.map { f in classes.map { k in f.test.filter { y[$0] == k }.count } } }
            var differs = false
            for seed: UInt64 in [0, 3, 99] {
                let folds = try StratifiedKFold(nSplits: c.n_splits, shuffle: true, randomState: seed).split(nSamples: c.n_samples, y: y)
                XCTAssertEqual(perClass(folds), perClass(c.folds), c.name)
                assertPartition(folds, nSamples: c.n_samples, c.name)
                differs = differs || folds != c.folds
            }
            XCTAssertTrue(differs, "\(c.name): shuffling changed nothing")
        }
    }

    func testShuffledKFoldHasScikitLearnSizes() throws {
        for c in Self.fixture.exact where c.splitter == "KFold" {
            let folds = try KFold(nSplits: c.n_splits, shuffle: true, randomState: 11).split(nSamples: c.n_samples)
            XCTAssertEqual(folds.map(\.test.count), c.folds.map(\.test.count), c.name)
            assertPartition(folds, nSamples: c.n_samples, c.name)
        }
        let plain = try KFold(nSplits: 4).split(nSamples: 40)
        XCTAssertNotEqual(try KFold(nSplits: 4, shuffle: true, randomState: 11).split(nSamples: 40), plain)
    }

    func testShuffledSplitsAreDeterministicPerSeed() throws {
        let y = labels(n: 200, classes: 4, seed: 1)
        let make: [(UInt64?) -> any CrossValidator] = [
            { KFold(nSplits: 5, shuffle: true, randomState: $0) },
            { StratifiedKFold(nSplits: 5, shuffle: true, randomState: $0) },
            { ShuffleSplit(nSplits: 5, testSize: .fraction(0.25), randomState: $0) },
            { StratifiedShuffleSplit(nSplits: 5, testSize: .fraction(0.25), randomState: $0) },
        ]
        for m in make {
            let a = try m(7).split(nSamples: 200, y: y, groups: nil)
            XCTAssertEqual(a, try m(7).split(nSamples: 200, y: y, groups: nil), "\(type(of: m(7)))")
            XCTAssertNotEqual(a, try m(8).split(nSamples: 200, y: y, groups: nil), "\(type(of: m(7)))")
            // nil is the documented default seed 0.
            XCTAssertEqual(try m(nil).split(nSamples: 200, y: y, groups: nil), try m(0).split(nSamples: 200, y: y, groups: nil))
        }
        // Independent splits of one ShuffleSplit differ from each other.
        let s = try ShuffleSplit(nSplits: 3, testSize: .count(20), randomState: 7).split(nSamples: 200)
        XCTAssertNotEqual(s[0].test, s[1].test)
        XCTAssertNotEqual(s[1].test, s[2].test)
    }

    // MARK: invariants

    func testEveryRowInExactlyOneTestFold() throws {
        for (n, k, nClasses, seed) in [(10, 2, 2, 1), (57, 5, 3, 2), (200, 7, 5, 3), (31, 3, 1, 4)] as [(Int, Int, Int, UInt64)] {
            let y = labels(n: n, classes: nClasses, seed: seed, atLeast: k)
            let groups = labels(n: n, classes: k + 3, seed: seed + 100).map { $0 * 13 - 40 }
            let splitters: [any CrossValidator] = [
                KFold(nSplits: k), KFold(nSplits: k, shuffle: true, randomState: seed),
                StratifiedKFold(nSplits: k), StratifiedKFold(nSplits: k, shuffle: true, randomState: seed),
                GroupKFold(nSplits: k),
            ]
            for s in splitters {
                let folds = try s.split(nSamples: n, y: y, groups: groups)
                XCTAssertEqual(folds.count, k, "\(s)")
                assertPartition(folds, nSamples: n, "\(s) n=\(n)")
                let sizes = folds.map(\.test.count)
                if !(s is GroupKFold) { XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, "\(s): \(sizes)") }
            }
        }
    }

    func testGroupsNeverStraddleTrainAndTest() throws {
        let n = 150
        let groups = labels(n: n, classes: 11, seed: 9).map { 1000 - $0 * 7 }
        let folds = try GroupKFold(nSplits: 4).split(nSamples: n, groups: groups)
        var foldOfGroup: [Int: Int] = [:]
        for (f, fold) in folds.enumerated() {
            let testGroups = Set(fold.test.map { groups[$0] })
            XCTAssertTrue(testGroups.isDisjoint(with: fold.train.map { groups[$0] }), "fold \(f)")
            for g in testGroups { XCTAssertNil(foldOfGroup.updateValue(f, forKey: g), "group \(g) tested twice") }
        }
        XCTAssertEqual(foldOfGroup.count, Set(groups).count)
    }

    func testStratifiedFoldsKeepClassProportions() throws {
        let n = 301, k = 6
        var y = labels(n: n, classes: 4, seed: 12)
        for i in 0 ..< 30 { y[i * 10] = 3 } // imbalanced: class 3 common
        let count = Dictionary(y.map { ($0, 1) }, uniquingKeysWith: +)
        for s in [StratifiedKFold(nSplits: k), StratifiedKFold(nSplits: k, shuffle: true, randomState: 4)] {
            for fold in try s.split(nSamples: n, y: y) {
                for (c, total) in count {
                    let got = Double(fold.test.filter { y[$0] == c }.count), ideal = Double(total) / Double(k)
                    XCTAssertLessThan(abs(got - ideal), 1, "class \(c): \(got) vs \(ideal)")
                }
            }
        }
        for fold in try StratifiedShuffleSplit(nSplits: 8, testSize: .fraction(0.3), randomState: 2).split(nSamples: n, y: y) {
            for (c, total) in count {
                let train = Double(fold.train.filter { y[$0] == c }.count), test = Double(fold.test.filter { y[$0] == c }.count)
                XCTAssertLessThanOrEqual(abs(train - Double(total) * Double(fold.train.count) / Double(n)), 1, "class \(c)")
                XCTAssertLessThanOrEqual(abs(test - Double(total) * Double(fold.test.count) / Double(n)), 1, "class \(c)")
            }
        }
    }

    func testPredefinedSplitEdgeCasesAndFlags() throws {
        let none = PredefinedSplit(testFold: [-1, -1, -1])
        XCTAssertEqual(none.nSplits, 0)
        XCTAssertEqual(try none.split(nSamples: 3), [])
        let odd = try PredefinedSplit(testFold: [-3, 2, -1, -3]).split(nSamples: 4)
        XCTAssertEqual(odd, [Fold(train: [1, 2], test: [0, 3]), Fold(train: [0, 2, 3], test: [1])])

        let all: [any CrossValidator] = [KFold(), StratifiedKFold(), GroupKFold(), ShuffleSplit(), StratifiedShuffleSplit(), PredefinedSplit(testFold: [0])]
        XCTAssertEqual(all.map(\.needsLabels), [false, true, false, false, true, false])
        XCTAssertEqual(all.map(\.needsGroups), [false, false, true, false, false, false])
        XCTAssertEqual(all.map(\.nSplits), [5, 5, 5, 10, 10, 1])
    }

    func testParametersEncodeWithScikitLearnNames() throws {
        let s = ShuffleSplit(nSplits: 3, testSize: .fraction(0.2), trainSize: .count(50), randomState: 9)
        let data = try JSONEncoder().encode(s)
        let json = String(decoding: data, as: UTF8.self)
        for key in ["n_splits", "test_size", "train_size", "random_state"] { XCTAssertTrue(json.contains(key), json) }
        XCTAssertEqual(try JSONDecoder().decode(ShuffleSplit.self, from: data), s)
        let k = KFold(nSplits: 3, shuffle: true, randomState: 4)
        XCTAssertEqual(try JSONDecoder().decode(KFold.self, from: JSONEncoder().encode(k)), k)
        XCTAssertTrue(String(decoding: try JSONEncoder().encode(PredefinedSplit(testFold: [1])), as: UTF8.self).contains("test_fold"))
    }

    // MARK: errors

    func testKFoldErrors() {
        assertInvalid("n_splits", ["1", ">= 2"]) { try KFold(nSplits: 1).split(nSamples: 10) }
        assertInvalid("n_splits", ["11", "n_samples=10"]) { try KFold(nSplits: 11).split(nSamples: 10) }
        assertInvalid("random_state", ["3", "shuffle"]) { try KFold(nSplits: 2, randomState: 3).split(nSamples: 10) }
        assertInvalid("n_splits", ["0"]) { try StratifiedKFold(nSplits: 0).split(nSamples: 10, y: Array(repeating: 1, count: 10)) }
        assertInvalid("n_splits", ["11"]) { try StratifiedKFold(nSplits: 11).split(nSamples: 10, y: Array(repeating: 1, count: 10)) }
        assertInvalid("random_state", ["5"]) { try StratifiedKFold(randomState: 5).split(nSamples: 10, y: Array(repeating: 1, count: 10)) }
    }

    func testStratifiedKFoldErrors() {
        assertInvalid("y", ["none", "StratifiedKFold"]) { try StratifiedKFold(nSplits: 2).split(nSamples: 10, y: nil) }
        assertInvalid("y", ["9 entries", "n_samples=10"]) { try StratifiedKFold(nSplits: 2).split(nSamples: 10, y: Array(repeating: 0, count: 9)) }
        // Class 9 (3 rows) is the smallest; scikit-learn only warns here, we refuse.
        let y = Array(repeating: 4, count: 10) + Array(repeating: 9, count: 3) + Array(repeating: -5, count: 6)
        assertInvalid("cv", ["n_splits=4", "class 9", "3 members"]) { try StratifiedKFold(nSplits: 4).split(nSamples: y.count, y: y) }
        XCTAssertNoThrow(try StratifiedKFold(nSplits: 3).split(nSamples: y.count, y: y))
    }

    func testGroupKFoldErrors() {
        assertInvalid("groups", ["none"]) { try GroupKFold(nSplits: 2).split(nSamples: 6, groups: nil) }
        assertInvalid("groups", ["5 entries", "n_samples=6"]) { try GroupKFold(nSplits: 2).split(nSamples: 6, groups: [1, 1, 2, 2, 3]) }
        assertInvalid("n_splits", ["4", "3, the number of distinct groups"]) {
            try GroupKFold(nSplits: 4).split(nSamples: 6, groups: [1, 1, 2, 2, 3, 3])
        }
        assertInvalid("n_splits", ["1"]) { try GroupKFold(nSplits: 1).split(nSamples: 6, groups: [1, 1, 2, 2, 3, 3]) }
        assertInvalid("n_splits", ["7"]) { try GroupKFold(nSplits: 7).split(nSamples: 6, groups: [1, 2, 3, 4, 5, 6]) }
    }

    func testShuffleSplitErrors() {
        func ss(_ test: SplitSize?, _ train: SplitSize? = nil, n: Int = 10) throws -> [Fold] {
            try ShuffleSplit(nSplits: 2, testSize: test, trainSize: train).split(nSamples: n)
        }
        assertInvalid("n_splits", ["0", ">= 1"]) { try ShuffleSplit(nSplits: 0).split(nSamples: 10) }
        for f in [0.0, 1.0, 1.5, -0.2, .nan] { assertInvalid("test_size", ["\(f)", "(0, 1)"]) { try ss(.fraction(f)) } }
        for c in [0, 10, 11, -1] { assertInvalid("test_size", ["\(c)", "1..<10"]) { try ss(.count(c)) } }
        assertInvalid("train_size", ["1.0"]) { try ss(nil, .fraction(1)) }
        assertInvalid("train_size", ["10", "1..<10"]) { try ss(.count(2), .count(10)) }
        assertInvalid("test_size + train_size", ["1.1", "<= 1"]) { try ss(.fraction(0.5), .fraction(0.6)) }
        assertInvalid("test_size + train_size", ["12 rows", "n_samples=10"]) { try ss(.count(5), .count(7)) }
        assertInvalid("test_size + train_size", ["n_samples=10"]) { try ss(.count(4), .fraction(0.7)) }
        // ceil(0.95 · 10) = 10 test rows leave no train row.
        assertInvalid("train_size", ["0 rows", "test_size=0.95"]) { try ss(.fraction(0.95)) }
        assertInvalid("train_size", ["0 rows"]) { try ShuffleSplit().split(nSamples: 0) }
        XCTAssertNoThrow(try ss(.fraction(0.5), .fraction(0.5)))
    }

    func testStratifiedShuffleSplitErrors() {
        let y = Array(repeating: 1, count: 10) + Array(repeating: 2, count: 8) + [7] + Array(repeating: 3, count: 11)
        let ok = Array(repeating: 1, count: 10) + Array(repeating: 2, count: 9) + Array(repeating: 3, count: 11)
        assertInvalid("y", ["none", "StratifiedShuffleSplit"]) { try StratifiedShuffleSplit().split(nSamples: 30, y: nil) }
        assertInvalid("y", ["29 entries"]) { try StratifiedShuffleSplit().split(nSamples: 30, y: Array(ok.dropLast())) }
        assertInvalid("y", ["[7]", "1 member"]) { try StratifiedShuffleSplit().split(nSamples: 30, y: y) }
        assertInvalid("train_size", ["2 rows", "3 rows, the number of classes"]) {
            try StratifiedShuffleSplit(trainSize: .count(2)).split(nSamples: 30, y: ok)
        }
        assertInvalid("test_size", ["2 rows", "number of classes"]) {
            try StratifiedShuffleSplit(testSize: .count(2)).split(nSamples: 30, y: ok)
        }
        assertInvalid("test_size", ["30"]) { try StratifiedShuffleSplit(testSize: .count(30)).split(nSamples: 30, y: ok) }
        assertInvalid("n_splits", ["-1"]) { try StratifiedShuffleSplit(nSplits: -1).split(nSamples: 30, y: ok) }
    }

    func testPredefinedSplitErrors() {
        assertInvalid("test_fold", ["4 entries", "n_samples=5"]) { try PredefinedSplit(testFold: [0, 1, -1, 1]).split(nSamples: 5) }
    }

    // MARK: helpers

    /// Asserts `body` throws ``MPILearnError/invalidParameter`` for parameter `name`, with a
    /// message that quotes `name` and every string of `contains`.
    func assertInvalid(_ name: String, _ contains: [String], file: StaticString = #filePath, line: UInt = #line,
                       _ body: () throws -> [Fold]) {
        do {
            let folds = try body()
            XCTFail("expected an invalid \(name), got \(folds.count) folds", file: file, line: line)
        } catch let error as MPILearnError {
            guard case let .invalidParameter(got, _, _) = error else {
                return XCTFail("expected invalidParameter, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(got, name, "\(error)", file: file, line: line)
            XCTAssertTrue(error.description.contains("parameter \(name)"), error.description, file: file, line: line)
            for s in contains { XCTAssertTrue(error.description.contains(s), "'\(s)' not in: \(error)", file: file, line: line) }
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    /// Train and test ascending, disjoint and within `0 ..< nSamples`.
    func assertSortedDisjoint(_ f: Fold, nSamples: Int, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(f.train, f.train.sorted(), message, file: file, line: line)
        XCTAssertEqual(f.test, f.test.sorted(), message, file: file, line: line)
        XCTAssertTrue(Set(f.train).isDisjoint(with: f.test), message, file: file, line: line)
        XCTAssertEqual(Set(f.train).count, f.train.count, message, file: file, line: line)
        XCTAssertEqual(Set(f.test).count, f.test.count, message, file: file, line: line)
        XCTAssertTrue((f.train + f.test).allSatisfy { (0 ..< nSamples).contains($0) }, message, file: file, line: line)
    }

    /// K-fold invariants: each fold's train and test are sorted, disjoint and cover every
    /// row; each row is in exactly one test fold.
    func assertPartition(_ folds: [Fold], nSamples: Int, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        var tested = [Int](repeating: 0, count: nSamples)
        for f in folds {
            assertSortedDisjoint(f, nSamples: nSamples, message, file: file, line: line)
            XCTAssertEqual(f.train.count + f.test.count, nSamples, message, file: file, line: line)
            XCTAssertFalse(f.test.isEmpty, message, file: file, line: line)
            for i in f.test { tested[i] += 1 }
        }
        XCTAssertEqual(tested, [Int](repeating: 1, count: nSamples), message, file: file, line: line)
    }

    /// `n` random class codes in `0 ..< classes`, each class at least `atLeast` times (the
    /// first `classes · atLeast` rows cycle through them).
    func labels(n: Int, classes: Int, seed: UInt64, atLeast: Int = 1) -> [Int] {
        var rng = Philox(seed: seed, domain: 0x7E57)
        return (0 ..< n).map { $0 < classes * atLeast ? $0 % classes : rng.below(classes) }
    }
}
