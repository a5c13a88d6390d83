import Foundation
import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// Feature hashing and tf-idf equal scikit-learn's (Tests/Fixtures/text/hashing.json, from
/// Tests/Fixtures/text/make_hashing.py through scripts/make-fixtures): the same CSR arrays,
/// values bit for bit, including Python's lower-casing and `re` word semantics on Unicode.
final class HashingVectorizerTests: XCTestCase {
    struct Sparse: Decodable {
        var shape: [Int]
        var indptr: [Int64]
        var indices: [Int32]
        var data: [Double]

        var matrix: CSRMatrix<Double> {
            CSRMatrix(rows: shape[0], columns: shape[1], indptr: indptr, indices: indices, data: data)
        }
    }

    struct VectorizerCase: Decodable {
        var name: String
        var params: HashingVectorizer
        var analyzed: [[String]]
        var output: Sparse
    }

    struct Pair: Decodable {
        var name: String
        var value: Double
        init(from decoder: Decoder) throws {
            var c = try decoder.unkeyedContainer()
            name = try c.decode(String.self)
            value = try c.decode(Double.self)
        }
    }

    enum Samples: Decodable {
        case pairs([[Pair]]), strings([[String]])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode([[String]].self) { self = .strings(s) } else { self = .pairs(try c.decode([[Pair]].self)) }
        }
    }

    struct HasherCase: Decodable {
        var name: String
        var params: FeatureHasher
        var samples: Samples
        var output: Sparse
    }

    struct TfidfCase: Decodable {
        var name: String
        var params: TfidfTransformer
        var input: Sparse
        var idf: [Double]?
        var output: Sparse
    }

    struct MurmurCase: Decodable {
        var key: String
        var hash: Int32
    }

    struct Fixture: Decodable {
        var scikit_learn: String
        var documents: [String]
        var int32_min_name: String
        var murmurhash3_32: [MurmurCase]
        var vectorizer: [VectorizerCase]
        var random_documents: [String]
        var random_vectorizer: [VectorizerCase]
        var feature_hasher: [HasherCase]
        var tfidf: [TfidfCase]
    }

    static let fixture: Fixture = {
        let url = MPIRun.packageRoot.appendingPathComponent("Tests/Fixtures/text/hashing.json")
        do {
            return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        } catch {
            fatalError("cannot read \(url.path): \(error); run scripts/make-fixtures")
        }
    }()

    /// Same shape, offsets and columns; values bit for bit (or within `relative` when given).
    func assertSame(_ x: CSRMatrix<Double>, _ want: Sparse, relative: Double? = nil, _ name: String,
                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual([x.rows, x.columns], want.shape, "\(name): shape", file: file, line: line)
        XCTAssertEqual(x.indptr, want.indptr, "\(name): indptr", file: file, line: line)
        XCTAssertEqual(x.indices, want.indices, "\(name): indices", file: file, line: line)
        XCTAssertEqual(x.data.count, want.data.count, "\(name): stored count", file: file, line: line)
        for (k, (a, b)) in zip(x.data, want.data).enumerated() {
            if let relative {
                XCTAssertLessThanOrEqual(abs(a - b), relative * abs(b), "\(name): data[\(k)] \(a) vs \(b)", file: file, line: line)
            } else {
                XCTAssertEqual(a.bitPattern, b.bitPattern, "\(name): data[\(k)] \(a) vs \(b)", file: file, line: line)
            }
        }
    }

    func testMurmurHash3MatchesScikitLearn() {
        XCTAssertEqual(MurmurHash3.hash32("foo"), -156_908_512)
        XCTAssertGreaterThanOrEqual(Self.fixture.murmurhash3_32.count, 10)
        for c in Self.fixture.murmurhash3_32 {
            XCTAssertEqual(MurmurHash3.hash32(c.key), c.hash, c.key)
        }
        XCTAssertEqual(MurmurHash3.hash32(Self.fixture.int32_min_name), Int32.min)
        // scikit-learn's column for h = -2^31 is 2^31 % n_features.
        for n in [1, 2, 3, 7, 16, 1 << 20, Int(Int32.max) - 1, Int(Int32.max)] {
            XCTAssertEqual(MurmurHash3.column(ofHash: Int32.min, nFeatures: n), Int((UInt64(1) << 31) % UInt64(n)), "\(n)")
        }
    }

    func testAnalyzerMatchesScikitLearn() throws {
        let f = Self.fixture
        for c in f.vectorizer {
            for (d, doc) in f.documents.enumerated() {
                XCTAssertEqual(try c.params.analyze(doc), c.analyzed[d], "\(c.name), document \(d): \(doc.debugDescription)")
            }
        }
    }

    func testTransformMatchesScikitLearn() throws {
        let f = Self.fixture
        XCTAssertGreaterThanOrEqual(f.vectorizer.count, 12)
        // The fixture has collisions that cancel: explicit zeros must be kept.
        XCTAssertTrue(f.vectorizer.contains { $0.output.data.contains(0) })
        for c in f.vectorizer {
            assertSame(try c.params.transform(f.documents), c.output, c.name)
        }
    }

    /// Random strings over the characters where Python's rules matter (sigma beside cased and
    /// case-ignorable characters, 'İ', titlecase, marks, numerics, underscores, odd spaces).
    func testRandomDocumentsMatchScikitLearn() throws {
        let f = Self.fixture
        XCTAssertGreaterThanOrEqual(f.random_documents.count, 100)
        XCTAssertTrue(f.random_vectorizer.contains { $0.analyzed.joined().contains { $0.contains("ς") } })
        for c in f.random_vectorizer {
            for (d, doc) in f.random_documents.enumerated() {
                XCTAssertEqual(try c.params.analyze(doc), c.analyzed[d], "\(c.name), document \(d): \(doc.debugDescription)")
            }
            assertSame(try c.params.transform(f.random_documents), c.output, c.name)
            assertSame(try c.params.transform(f.random_documents, threads: 2), c.output, "\(c.name), 2 threads")
        }
    }

    func testThreadsGiveTheSameMatrix() throws {
        let docs = (0 ..< 700).map { Self.fixture.documents[$0 % Self.fixture.documents.count] + " r\($0)" }
        for v in [HashingVectorizer(), HashingVectorizer(nFeatures: 16, ngramRange: NgramRange(1, 2), norm: nil)] {
            let one = try v.transform(docs)
            for t in [2, 3, 8] { XCTAssertEqual(try v.transform(docs, threads: t), one, "threads \(t)") }
            // Row blocks transformed apart and stacked equal the whole.
            let a = try v.transform(Array(docs[..<300])), b = try v.transform(Array(docs[300...]))
            XCTAssertEqual(Array(one.indices), a.indices + b.indices)
        }
        let empty = try HashingVectorizer().transform([])
        XCTAssertEqual([empty.rows, empty.columns, empty.storedCount], [0, 1 << 20, 0])
    }

    func testFeatureHasherMatchesScikitLearn() throws {
        let cases = Self.fixture.feature_hasher
        XCTAssertGreaterThanOrEqual(cases.count, 6)
        for c in cases {
            switch c.samples {
            case let .pairs(s):
                assertSame(try c.params.transform(pairs: s.map { $0.map { ($0.name, $0.value) } }), c.output, c.name)
            case let .strings(s):
                assertSame(try c.params.transform(strings: s), c.output, c.name)
            }
        }
    }

    func testTfidfMatchesScikitLearn() throws {
        let cases = Self.fixture.tfidf
        XCTAssertGreaterThanOrEqual(cases.count, 10)
        let solo = LocalCommunicator.solo()
        for c in cases {
            let model = try c.params.fit(c.input.matrix, comm: solo)
            if let want = c.idf {
                let idf = try XCTUnwrap(model.idf, c.name)
                XCTAssertEqual(idf.count, want.count, c.name)
                // numpy's log may differ from libm's in the last bit.
                for (a, b) in zip(idf, want) { XCTAssertEqual(a, b, accuracy: 1e-15 * abs(b), c.name) }
            } else {
                XCTAssertNil(model.idf, c.name)
            }
            assertSame(try model.transform(c.input.matrix), c.output, relative: 1e-15, c.name)
        }
    }

    /// Document frequencies are summed over the ranks: any split of the rows gives the one-rank idf.
    func testTfidfFitOverRanksEqualsOneRank() throws {
        for c in Self.fixture.tfidf where c.idf != nil {
            let x = c.input.matrix
            let one = try c.params.fit(x, comm: LocalCommunicator.solo())
            for size in [2, 3] {
                let models = try LocalWorld.run(size: size) { comm in
                    try c.params.fit(Self.rows(x, x.rows * comm.rank / size ..< x.rows * (comm.rank + 1) / size), comm: comm)
                }
                for m in models { XCTAssertEqual(m, one, "\(c.name) at \(size) ranks") }
            }
        }
    }

    static func rows(_ x: CSRMatrix<Double>, _ r: Range<Int>) -> CSRMatrix<Double> {
        let lo = Int(x.indptr[r.lowerBound]), hi = Int(x.indptr[r.upperBound])
        return CSRMatrix(rows: r.count, columns: x.columns, indptr: x.indptr[r.lowerBound ... r.upperBound].map { $0 - Int64(lo) },
                         indices: Array(x.indices[lo ..< hi]), data: Array(x.data[lo ..< hi]))
    }

    func testParametersUseScikitLearnNamesAndDefaults() throws {
        let v = try JSONDecoder().decode(HashingVectorizer.self, from: Data("{}".utf8))
        XCTAssertEqual(v, HashingVectorizer())
        XCTAssertEqual(v.nFeatures, 1 << 20)
        XCTAssertEqual(v.norm, .l2)
        let w = HashingVectorizer(nFeatures: 32, alternateSign: false, ngramRange: NgramRange(1, 3), lowercase: false,
                                  binary: true, norm: nil, stopWords: ["a"])
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(w)) as! [String: Any]
        XCTAssertEqual(Set(json.keys), ["n_features", "alternate_sign", "ngram_range", "lowercase", "token_pattern", "binary", "norm", "stop_words"])
        XCTAssertTrue(json["norm"] is NSNull)
        XCTAssertEqual(json["ngram_range"] as? [Int], [1, 3])
        XCTAssertEqual(try JSONDecoder().decode(HashingVectorizer.self, from: JSONEncoder().encode(w)), w)
        let t = TfidfTransformer(norm: nil, useIdf: false, smoothIdf: false, sublinearTf: true)
        XCTAssertEqual(try JSONDecoder().decode(TfidfTransformer.self, from: JSONEncoder().encode(t)), t)
        XCTAssertEqual(try JSONDecoder().decode(TfidfTransformer.self, from: Data("{}".utf8)), TfidfTransformer())
        let h = FeatureHasher(nFeatures: 8, inputType: .string, alternateSign: false)
        XCTAssertEqual(try JSONDecoder().decode(FeatureHasher.self, from: JSONEncoder().encode(h)), h)
    }

    func testValidationNamesTheParameter() throws {
        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch { return "\(error)" }
            return "no error"
        }
        let docs = ["a document"]
        for (v, name) in [(HashingVectorizer(nFeatures: 0), "n_features"), (HashingVectorizer(nFeatures: Int(Int32.max)), "n_features"),
                          (HashingVectorizer(ngramRange: NgramRange(2, 1)), "ngram_range"), (HashingVectorizer(ngramRange: NgramRange(0, 1)), "ngram_range"),
                          (HashingVectorizer(tokenPattern: #"(?u)\b[a-z]+\b"#), "token_pattern")] {
            let m = message { _ = try v.transform(docs) }
            XCTAssertTrue(m.contains("parameter \(name)"), m)
        }
        XCTAssertNoThrow(try HashingVectorizer(nFeatures: Int(Int32.max) - 1).validate())
        XCTAssertNoThrow(try FeatureHasher(nFeatures: Int(Int32.max)).validate())
        XCTAssertTrue(message { _ = try FeatureHasher(nFeatures: -1).transform(strings: [["a"]]) }.contains("n_features"))
        XCTAssertTrue(message { _ = try FeatureHasher(inputType: .pair).transform(strings: [["a"]]) }.contains("input_type"))
        for (json, name) in [(#"{"norm": "l3"}"#, "norm"), (#"{"stop_words": "english"}"#, "stop_words")] {
            let m = message { _ = try JSONDecoder().decode(HashingVectorizer.self, from: Data(json.utf8)) }
            XCTAssertTrue(m.contains("parameter \(name)"), m)
        }
        let x = CSRMatrix<Double>(rows: 1, columns: 3, indptr: [0, 1], indices: [0], data: [1])
        let model = try TfidfTransformer().fit(x, comm: LocalCommunicator.solo())
        XCTAssertTrue(message { _ = try model.transform(CSRMatrix(rows: 1, columns: 4)) }.contains("4 features"))
    }
}

/// Python's `\w` and `str.lower` for every scalar assigned in Python's Unicode version
/// (Tests/Fixtures/text/python-unicode.json, from the same script).
final class PythonTextTests: XCTestCase {
    struct Tables: Decodable {
        var unicode: String
        var assigned: [[UInt32]]
        var word: [[UInt32]]
        var lower_runs: [[Int64]]
        var lower_multiple: [LowerMultiple]
        var sigma_final_after: [[UInt32]]
        var sigma_final_after_A: [[UInt32]]
        var sigma_not_final_before: [[UInt32]]
    }

    struct LowerMultiple: Decodable {
        var scalar: UInt32
        var lower: [UInt32]
        init(from decoder: Decoder) throws {
            var c = try decoder.unkeyedContainer()
            scalar = try c.decode(UInt32.self)
            lower = try c.decode([UInt32].self)
        }
    }

    static let tables: Tables = {
        let url = MPIRun.packageRoot.appendingPathComponent("Tests/Fixtures/text/python-unicode.json")
        do {
            return try JSONDecoder().decode(Tables.self, from: Data(contentsOf: url))
        } catch {
            fatalError("cannot read \(url.path): \(error); run scripts/make-fixtures")
        }
    }()

    static func scalars(_ ranges: [[UInt32]]) -> [Unicode.Scalar] {
        ranges.flatMap { r in (r[0] ... r[1]).compactMap(Unicode.Scalar.init) }
    }

    static func set(_ ranges: [[UInt32]]) -> Set<UInt32> { Set(ranges.flatMap { $0[0] ... $0[1] }) }

    func testWordCharactersMatchPython() {
        let t = Self.tables
        let word = Self.set(t.word)
        let assigned = Self.scalars(t.assigned)
        XCTAssertGreaterThan(assigned.count, 140_000)
        var wrong: [String] = []
        for s in assigned where PythonText.isWordCharacter(s) != word.contains(s.value) {
            wrong.append(String(s.value, radix: 16))
        }
        XCTAssertEqual(wrong, [], "scalars whose \\w differs from Python \(t.unicode)'s")
    }

    func testLowerMatchesPython() {
        let t = Self.tables
        var want: [UInt32: [UInt32]] = [:]
        for r in t.lower_runs {
            let (first, last, offset, step) = (r[0], r[1], r[2], max(r[3], 1))
            for v in stride(from: first, through: last, by: Int64.Stride(step)) { want[UInt32(v)] = [UInt32(v + offset)] }
        }
        for m in t.lower_multiple { want[m.scalar] = m.lower }
        XCTAssertEqual(want[0x130], [0x69, 0x307])
        var wrong: [String] = []
        for s in Self.scalars(t.assigned) {
            let got = PythonText.lower(String(Character(s))).unicodeScalars.map(\.value)
            if got != want[s.value] ?? [s.value] { wrong.append(String(s.value, radix: 16)) }
        }
        XCTAssertEqual(wrong, [], "scalars whose lower() differs from Python \(t.unicode)'s")
    }

    /// Python turns 'Σ' into final 'ς' after a cased letter (skipping case-ignorable ones) unless
    /// a cased letter follows (skipping case-ignorable ones).
    func testFinalSigmaContextsMatchPython() {
        let t = Self.tables
        let after = Self.set(t.sigma_final_after), afterA = Self.set(t.sigma_final_after_A)
        let notBefore = Self.set(t.sigma_not_final_before)
        var wrong: [String] = []
        for s in Self.scalars(t.assigned) {
            let c = String(Character(s))
            if (PythonText.lower(c + "Σ").unicodeScalars.last == "ς") != after.contains(s.value) { wrong.append("\(String(s.value, radix: 16))Σ") }
            if (PythonText.lower("A" + c + "Σ").unicodeScalars.last == "ς") != afterA.contains(s.value) { wrong.append("A\(String(s.value, radix: 16))Σ") }
            if (Array(PythonText.lower("AΣ" + c).unicodeScalars)[1] == "σ") != notBefore.contains(s.value) { wrong.append("AΣ\(String(s.value, radix: 16))") }
        }
        // Two scalars whose Cased / Case_Ignorable properties changed after Python 3.11's
        // Unicode 14: U+0295 'ʕ' (Ll, not Cased in 14) and U+1171E AHOM CONSONANT SIGN MEDIAL RA
        // (Mn, so Case_Ignorable, in 14).
        let changedSinceUnicode14 = ["295Σ", "A295Σ", "AΣ295", "A1171eΣ"]
        XCTAssertEqual(wrong.filter { !changedSinceUnicode14.contains($0) }, [], "final sigma contexts that differ from Python \(t.unicode)'s")
        XCTAssertEqual(PythonText.lower("ΟΔΟΣ ΟΔΟΣ. Σ'Σ"), "οδος οδος. σ'ς")
    }
}
