import Dispatch

/// scikit-learn's `ngram_range`: the smallest and largest number of consecutive words in a
/// feature. Encoded as scikit-learn writes it, a two-element array `[min_n, max_n]`.
public struct NgramRange: Codable, Sendable, Equatable, CustomStringConvertible {
    public var lower: Int
    public var upper: Int

    public init(_ lower: Int, _ upper: Int) {
        self.lower = lower
        self.upper = upper
    }

    public init(from decoder: Decoder) throws {
        var c = try decoder.unkeyedContainer()
        lower = try c.decode(Int.self)
        upper = try c.decode(Int.self)
        guard c.isAtEnd else {
            throw MPILearnError.invalidParameter(name: "ngram_range", value: "an array of \(c.count.map(String.init) ?? "more than 2") values",
                                                 allowed: "two integers [min_n, max_n]")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(lower)
        try c.encode(upper)
    }

    public var description: String { "(\(lower), \(upper))" }
}

/// scikit-learn's `HashingVectorizer` with the word analyzer: documents to a sparse matrix of
/// hashed token counts, the same matrix scikit-learn's `transform` returns.
///
/// Each document is lower-cased as Python's `str.lower` does (`lowercase`), split into the
/// tokens `token_pattern` finds with Python `re` semantics, stop words are dropped, word
/// n-grams joined by one space are formed (`ngram_range`), and each feature's UTF-8 bytes are
/// hashed with MurmurHash3_x86_32 (seed 0, read as a signed 32-bit integer `h`): the column is
/// `abs(h) % n_features` and, with `alternate_sign`, the value is +1 for `h >= 0` and −1 for
/// `h < 0`. Each row holds its columns in increasing order with duplicates summed (scipy's
/// `sum_duplicates`); explicit zeros left where signs cancel are kept, as in scikit-learn.
/// Then `binary` sets every stored value (explicit zeros included) to 1, and `norm` divides
/// each row by its l1 or l2 norm.
///
/// Stateless: there is nothing to fit, so every rank transforms its own documents and the
/// row blocks together are the matrix of all documents.
///
/// Supported are scikit-learn's defaults `analyzer='word'`, `preprocessor=None`,
/// `tokenizer=None`, `strip_accents=None`, `input='content'`, `dtype=float64`. The token
/// pattern must be of the form `(?u)\b\w…\w+\b` (see ``tokenPattern``). Unlike scikit-learn,
/// an empty list of documents gives a matrix with no rows instead of an error (a rank may
/// hold no documents).
public struct HashingVectorizer: Codable, Sendable, Equatable {
    /// scikit-learn's default `token_pattern`: words of two or more word characters.
    public static let defaultTokenPattern = #"(?u)\b\w\w+\b"#

    /// `n_features`: the number of columns, in `1 ..< 2^31 - 1` (scikit-learn's interval for
    /// this class is closed on the left only). Default 2^20.
    public var nFeatures: Int
    /// `alternate_sign`: the sign of each feature's value from its hash's sign. Default true.
    public var alternateSign: Bool
    /// `ngram_range`: word n-grams from `lower` to `upper` words. Default (1, 1).
    public var ngramRange: NgramRange
    /// `lowercase`: lower-case documents (Python's `str.lower`) before tokenising. Default true.
    public var lowercase: Bool
    /// `token_pattern`: a Python regular expression of the form `(?u)\b\w…\w+\b` — k ≥ 1 `\w`,
    /// the last with or without `+`, `(?u)` optional — matching maximal runs of word characters
    /// (`str.isalnum()` or `_`) of at least k characters (exactly k without `+`). Other
    /// regular expressions are refused: Python's `re` semantics (its `\w` excludes combining
    /// marks, ICU's includes them) would not be reproduced. Default `(?u)\b\w\w+\b`.
    public var tokenPattern: String
    /// `binary`: every stored value set to 1 before normalising. Default false.
    public var binary: Bool
    /// `norm`: the row normalisation, or nil for none. Default l2.
    public var norm: RowNorm?
    /// `stop_words`: tokens dropped (after lower-casing, before forming n-grams), compared
    /// exactly; nil for none. scikit-learn's built-in `'english'` list is not included.
    public var stopWords: [String]?

    public init(nFeatures: Int = 1 << 20, alternateSign: Bool = true, ngramRange: NgramRange = NgramRange(1, 1),
                lowercase: Bool = true, tokenPattern: String = HashingVectorizer.defaultTokenPattern, binary: Bool = false,
                norm: RowNorm? = .l2, stopWords: [String]? = nil) {
        self.nFeatures = nFeatures
        self.alternateSign = alternateSign
        self.ngramRange = ngramRange
        self.lowercase = lowercase
        self.tokenPattern = tokenPattern
        self.binary = binary
        self.norm = norm
        self.stopWords = stopWords
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case nFeatures = "n_features", alternateSign = "alternate_sign", ngramRange = "ngram_range", lowercase
        case tokenPattern = "token_pattern", binary, norm, stopWords = "stop_words"
    }

    /// Decodes scikit-learn's parameter names; a missing key takes scikit-learn's default.
    public init(from decoder: Decoder) throws {
        let d = HashingVectorizer()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        nFeatures = try c.decodeIfPresent(Int.self, forKey: .nFeatures) ?? d.nFeatures
        alternateSign = try c.decodeIfPresent(Bool.self, forKey: .alternateSign) ?? d.alternateSign
        ngramRange = try c.decodeIfPresent(NgramRange.self, forKey: .ngramRange) ?? d.ngramRange
        lowercase = try c.decodeIfPresent(Bool.self, forKey: .lowercase) ?? d.lowercase
        tokenPattern = try c.decodeIfPresent(String.self, forKey: .tokenPattern) ?? d.tokenPattern
        binary = try c.decodeIfPresent(Bool.self, forKey: .binary) ?? d.binary
        norm = try RowNorm.decode(c, .norm, default: d.norm)
        if c.contains(.stopWords), try !c.decodeNil(forKey: .stopWords) {
            if let s = try? c.decode(String.self, forKey: .stopWords) {
                throw MPILearnError.invalidParameter(name: "stop_words", value: "\"\(s)\"",
                                                     allowed: "a list of words or null (scikit-learn's built-in \"english\" list is not included)")
            }
            stopWords = try c.decode([String].self, forKey: .stopWords)
        } else {
            stopWords = nil
        }
    }

    /// Encodes every parameter under scikit-learn's name, nil ones as null.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(nFeatures, forKey: .nFeatures)
        try c.encode(alternateSign, forKey: .alternateSign)
        try c.encode(ngramRange, forKey: .ngramRange)
        try c.encode(lowercase, forKey: .lowercase)
        try c.encode(tokenPattern, forKey: .tokenPattern)
        try c.encode(binary, forKey: .binary)
        if let norm { try c.encode(norm, forKey: .norm) } else { try c.encodeNil(forKey: .norm) }
        if let stopWords { try c.encode(stopWords, forKey: .stopWords) } else { try c.encodeNil(forKey: .stopWords) }
    }

    /// Checks every parameter.
    /// - Throws: ``MPILearnError/invalidParameter`` naming the parameter, its value and what is allowed.
    public func validate() throws {
        _ = try validatedPattern()
    }

    func validatedPattern() throws -> WordPattern {
        guard nFeatures >= 1, nFeatures < Int(Int32.max) else {
            throw MPILearnError.invalidParameter(name: "n_features", value: "\(nFeatures)", allowed: "an integer in 1...2147483646")
        }
        guard ngramRange.lower >= 1, ngramRange.lower <= ngramRange.upper else {
            throw MPILearnError.invalidParameter(name: "ngram_range", value: "\(ngramRange)",
                                                 allowed: "(min_n, max_n) with 1 <= min_n <= max_n")
        }
        guard let pattern = WordPattern(tokenPattern) else {
            throw MPILearnError.invalidParameter(
                name: "token_pattern", value: "\"\(tokenPattern)\"",
                allowed: #"(?u)\b\w\w+\b (the default) or another pattern of the form (?u)\b\w…\w+\b; other regular expressions are not supported, since Python's re semantics would not be reproduced"#)
        }
        return pattern
    }

    /// The features (tokens and n-grams) scikit-learn's analyzer gives `document`, in its
    /// order. For inspection and tests; ``transform(_:threads:)`` hashes without making strings.
    /// - Throws: ``MPILearnError/invalidParameter`` for a bad parameter.
    public func analyze(_ document: String) throws -> [String] {
        var analyzer = WordAnalyzer(self, pattern: try validatedPattern())
        analyzer.tokenize(document)
        var out: [String] = []
        analyzer.forEachFeature { bytes in out.append(String(decoding: bytes, as: UTF8.self)) }
        return out
    }

    /// scikit-learn's `transform(documents)`: one row per document, in order.
    /// - Parameters:
    ///   - documents: the documents (this rank's).
    ///   - threads: threads over contiguous blocks of documents; the result is the same for any count.
    /// - Returns: a `documents.count × n_features` matrix, columns increasing within each row.
    /// - Throws: ``MPILearnError/invalidParameter`` for a bad parameter.
    public func transform(_ documents: [String], threads: Int = 1) throws -> CSRMatrix<Double> {
        let pattern = try validatedPattern()
        let blocks = max(1, min(threads, documents.count / 64))
        var x: CSRMatrix<Double>
        if blocks == 1 {
            x = hashRows(documents[...], pattern: pattern)
        } else {
            let parts = BlockResults<CSRMatrix<Double>>(count: blocks)
            let n = documents.count
            DispatchQueue.concurrentPerform(iterations: blocks) { b in
                parts.set(b, hashRows(documents[n * b / blocks ..< n * (b + 1) / blocks], pattern: pattern))
            }
            x = stackRows(parts.values(), columns: nFeatures)
        }
        if binary {
            x.data.withUnsafeMutableBufferPointer { d in for k in d.indices { d[k] = 1 } }
        }
        norm?.apply(to: &x)
        return x
    }

    private func hashRows(_ documents: ArraySlice<String>, pattern: WordPattern) -> CSRMatrix<Double> {
        var analyzer = WordAnalyzer(self, pattern: pattern)
        var builder = SignedCountRows(nFeatures: nFeatures, alternateSign: alternateSign)
        for document in documents {
            analyzer.tokenize(document)
            analyzer.forEachFeature { builder.add(MurmurHash3.hash32($0)) }
            builder.endRow()
        }
        return builder.matrix()
    }
}

/// One slot per block, each written by one thread: a fixed buffer, so writes to different
/// slots never touch shared state (an Array would check uniqueness on every write).
final class BlockResults<R>: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<R?>
    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil)
    }
    deinit {
        slots.deinitialize()
        slots.deallocate()
    }
    func set(_ i: Int, _ value: R) { slots[i] = value }
    func values() -> [R] { slots.map { $0! } }
}

/// The row blocks `parts` one after the other.
fileprivate func stackRows(_ parts: [CSRMatrix<Double>], columns: Int) -> CSRMatrix<Double> {
    var indptr: [Int64] = [0]
    var indices: [Int32] = []
    var data: [Double] = []
    indptr.reserveCapacity(parts.reduce(1) { $0 + $1.rows })
    indices.reserveCapacity(parts.reduce(0) { $0 + $1.storedCount })
    data.reserveCapacity(indices.capacity)
    for p in parts {
        let base = Int64(data.count)
        indptr += p.indptr.dropFirst().map { $0 + base }
        indices += p.indices
        data += p.data
    }
    return CSRMatrix(rows: indptr.count - 1, columns: columns, indptr: indptr, indices: indices, data: data)
}

/// Rows of hashed features whose values are ±1 (or +1): each row's hashes are kept as
/// `column << 1 | negative`, sorted, and runs of one column summed. Sums of ±1 are exact in
/// any order, so this equals scipy's `sum_duplicates` bit for bit.
struct SignedCountRows {
    let nFeatures: Int
    let alternateSign: Bool
    private var keys: [UInt64] = []
    private var indptr: [Int64] = [0]
    private var indices: [Int32] = []
    private var data: [Double] = []

    init(nFeatures: Int, alternateSign: Bool) {
        self.nFeatures = nFeatures
        self.alternateSign = alternateSign
    }

    @inline(__always)
    mutating func add(_ h: Int32) {
        let column = UInt64(MurmurHash3.column(ofHash: h, nFeatures: nFeatures))
        keys.append(column << 1 | (alternateSign && h < 0 ? 1 : 0))
    }

    mutating func endRow() {
        keys.sort()
        var k = 0
        let n = keys.count
        while k < n {
            let column = keys[k] >> 1
            var sum = 0.0
            var first = true
            while k < n, keys[k] >> 1 == column {
                let v: Double = keys[k] & 1 == 1 ? -1 : 1
                if first { sum = v; first = false } else { sum += v }
                k += 1
            }
            indices.append(Int32(column))
            data.append(sum)
        }
        indptr.append(Int64(data.count))
        keys.removeAll(keepingCapacity: true)
    }

    func matrix() -> CSRMatrix<Double> {
        CSRMatrix(rows: indptr.count - 1, columns: nFeatures, indptr: indptr, indices: indices, data: data)
    }
}

/// The word analyzer's scratch buffers, reused from document to document: the document's
/// scalars, their lower-case form, and the kept tokens' UTF-8 bytes joined by single spaces
/// (so an n-gram of consecutive tokens is one contiguous slice to hash, with no copy).
/// A struct, so its buffers are accessed without the runtime exclusivity checks a class's
/// stored properties get.
struct WordAnalyzer {
    let pattern: WordPattern
    let lowercase: Bool
    let minN: Int
    let maxN: Int
    /// Stop words by hash, for a byte comparison without making a String per token.
    let stopWords: [Int32: [[UInt8]]]?
    private var source: [UInt32] = []
    private var lowered: [UInt32] = []
    private var joined: [UInt8] = []
    private var starts: [Int] = []
    private var ends: [Int] = []

    init(_ v: HashingVectorizer, pattern: WordPattern) {
        self.pattern = pattern
        lowercase = v.lowercase
        minN = v.ngramRange.lower
        maxN = v.ngramRange.upper
        if let words = v.stopWords {
            var table: [Int32: [[UInt8]]] = [:]
            for w in words { table[MurmurHash3.hash32(w), default: []].append(Array(w.utf8)) }
            stopWords = table
        } else {
            stopWords = nil
        }
    }

    /// Splits `document` into its kept tokens (lower-cased, matched, stop words dropped).
    mutating func tokenize(_ document: String) {
        source.removeAll(keepingCapacity: true)
        joined.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        var document = document
        let ascii = document.withUTF8 { bytes -> Bool in
            guard isASCII(bytes) else { return false }
            scanASCII(bytes)
            return true
        }
        if ascii { return }
        for s in document.unicodeScalars { source.append(s.value) }
        if lowercase {
            lowered.removeAll(keepingCapacity: true)
            source.withUnsafeBufferPointer { PythonText.appendLowercased($0, to: &lowered) }
        }
        // Another reference to the scanned buffer (not a copy: scanning does not modify it).
        let text = lowercase ? lowered : source
        text.withUnsafeBufferPointer { scan($0) }
    }

    private func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var any: UInt8 = 0
        for b in bytes { any |= b }
        return any < 0x80
    }

    /// ``scan(_:)`` for an ASCII document: its bytes are its scalars and their UTF-8, and
    /// lower-casing maps A–Z only.
    private mutating func scanASCII(_ text: UnsafeBufferPointer<UInt8>) {
        let n = text.count
        var i = 0
        while i < n {
            guard PythonText.isWordCharacter(UInt32(text[i])) else { i += 1; continue }
            var j = i + 1
            while j < n, PythonText.isWordCharacter(UInt32(text[j])) { j += 1 }
            let length = j - i
            if length >= pattern.minLength, length <= pattern.maxLength {
                let start = joined.count
                if lowercase {
                    for b in text[i ..< j] { joined.append(b >= 0x41 && b <= 0x5a ? b | 0x20 : b) }
                } else {
                    joined.append(contentsOf: text[i ..< j])
                }
                endToken(from: start)
            }
            i = j
        }
    }

    private mutating func scan(_ text: UnsafeBufferPointer<UInt32>) {
        let n = text.count
        var i = 0
        while i < n {
            guard PythonText.isWordCharacter(text[i]) else { i += 1; continue }
            var j = i + 1
            while j < n, PythonText.isWordCharacter(text[j]) { j += 1 }
            let length = j - i
            if length >= pattern.minLength, length <= pattern.maxLength { keep(text[i ..< j]) }
            i = j
        }
    }

    private mutating func keep(_ token: Slice<UnsafeBufferPointer<UInt32>>) {
        let start = joined.count
        for v in token { PythonText.appendUTF8(v, to: &joined) }
        endToken(from: start)
    }

    /// Keeps the token whose bytes end `joined` from `start`, unless it is a stop word.
    private mutating func endToken(from start: Int) {
        if let stopWords, isStopWord(from: start, stopWords) {
            joined.removeLast(joined.count - start)
            return
        }
        starts.append(start)
        ends.append(joined.count)
        joined.append(0x20)
    }

    private func isStopWord(from start: Int, _ table: [Int32: [[UInt8]]]) -> Bool {
        joined.withUnsafeBytes { raw in
            let token = UnsafeRawBufferPointer(rebasing: raw[start...])
            guard let candidates = table[MurmurHash3.hash32(token)] else { return false }
            return candidates.contains { $0.elementsEqual(token) }
        }
    }

    /// Calls `body` with each feature's UTF-8 bytes in scikit-learn's `_word_ngrams` order:
    /// the tokens (when `min_n` is 1), then the n-grams for n = 2, 3, … up to `max_n`.
    func forEachFeature(_ body: (UnsafeRawBufferPointer) -> Void) {
        let count = starts.count
        joined.withUnsafeBytes { raw in
            for n in minN ... maxN where n <= count {
                for i in 0 ... count - n {
                    body(UnsafeRawBufferPointer(rebasing: raw[starts[i] ..< ends[i + n - 1]]))
                }
            }
        }
    }
}
