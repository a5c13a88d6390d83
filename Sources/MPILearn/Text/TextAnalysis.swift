/// Python's text semantics that scikit-learn's default word analyzer depends on: `str.lower`
/// and the `re` module's `\w` and `\b` in `str` patterns. Swift's `lowercased()` has no final
/// sigma rule and ICU's `\w` includes combining marks, so both are written out here over
/// Unicode scalars (Python indexes strings by code point too).
///
/// Both follow the Unicode data of the Swift runtime; Python follows its own Unicode version
/// (Python 3.11: Unicode 14), so characters assigned or re-categorised between the two
/// versions can differ. PythonTextTests compares every scalar assigned in Python's
/// version against Tests/Fixtures/text/python-unicode.json (Python 3.11, Unicode 14): `\w` and
/// `lower()` agree on all of them; the final-sigma context differs only around U+0295 and
/// U+1171E, whose Cased / Case_Ignorable properties changed in later Unicode versions.
public enum PythonText {
    /// Python's `s.lower()`.
    public static func lower(_ s: String) -> String {
        let source = s.unicodeScalars.map(\.value)
        var out: [UInt32] = []
        out.reserveCapacity(source.count)
        source.withUnsafeBufferPointer { appendLowercased($0, to: &out) }
        var result = String.UnicodeScalarView()
        result.append(contentsOf: out.map { Unicode.Scalar($0)! })
        return String(result)
    }

    /// Whether Python's `re` matches `scalar` with `\w` in a `str` pattern.
    public static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool { isWordCharacter(scalar.value) }

    /// Whether `v` is a word character of Python's `re` for `str` patterns: `str.isalnum()`
    /// (general category Lu, Ll, Lt, Lm or Lo, or any numeric type: decimal, digit, numeric)
    /// or `_`. Combining marks (Mn, Mc) are not word characters.
    @inline(__always)
    static func isWordCharacter(_ v: UInt32) -> Bool {
        if v < 0x80 {
            return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5a) || (v >= 0x61 && v <= 0x7a) || v == 0x5f
        }
        guard let s = Unicode.Scalar(v) else { return false }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return true
        default:
            return s.properties.numericType != nil
        }
    }

    /// Appends Python's `s.lower()` of the scalars `src` to `out` (as scalar values): each
    /// scalar's full lower-case mapping (Unicode's SpecialCasing, so 'İ' becomes 'i' + U+0307),
    /// and capital sigma U+03A3 becomes final sigma 'ς' when it follows a cased letter (over
    /// case-ignorable ones) and no cased letter follows (over case-ignorable ones), else 'σ'
    /// (CPython's `handle_capital_sigma`).
    static func appendLowercased(_ src: UnsafeBufferPointer<UInt32>, to out: inout [UInt32]) {
        let n = src.count
        for i in 0 ..< n {
            let v = src[i]
            if v < 0x80 {
                out.append(v >= 0x41 && v <= 0x5a ? v + 0x20 : v)
                continue
            }
            if v == 0x3a3 {
                out.append(isFinalSigma(src, at: i) ? 0x3c2 : 0x3c3)
                continue
            }
            let s = Unicode.Scalar(v)!
            if !s.properties.changesWhenLowercased {
                out.append(v)
                continue
            }
            for m in s.properties.lowercaseMapping.unicodeScalars { out.append(m.value) }
        }
    }

    /// CPython's final-sigma context: `\p{cased}\p{case-ignorable}* Σ !(\p{case-ignorable}* \p{cased})`.
    static func isFinalSigma(_ src: UnsafeBufferPointer<UInt32>, at i: Int) -> Bool {
        var j = i - 1
        while j >= 0, properties(src[j]).isCaseIgnorable { j -= 1 }
        guard j >= 0, properties(src[j]).isCased else { return false }
        j = i + 1
        while j < src.count, properties(src[j]).isCaseIgnorable { j += 1 }
        return j == src.count || !properties(src[j]).isCased
    }

    @inline(__always)
    private static func properties(_ v: UInt32) -> Unicode.Scalar.Properties { Unicode.Scalar(v)!.properties }

    /// Appends the UTF-8 encoding of scalar value `v` to `out`.
    @inline(__always)
    static func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
        switch v {
        case 0 ..< 0x80:
            out.append(UInt8(v))
        case 0x80 ..< 0x800:
            out.append(UInt8(0xc0 | (v >> 6)))
            out.append(UInt8(0x80 | (v & 0x3f)))
        case 0x800 ..< 0x10000:
            out.append(UInt8(0xe0 | (v >> 12)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3f)))
            out.append(UInt8(0x80 | (v & 0x3f)))
        default:
            out.append(UInt8(0xf0 | (v >> 18)))
            out.append(UInt8(0x80 | ((v >> 12) & 0x3f)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3f)))
            out.append(UInt8(0x80 | (v & 0x3f)))
        }
    }
}

/// The token patterns MPILearn reproduces exactly: Python `re` patterns of the form
/// `(?u)\b\w…\w+\b` (scikit-learn's default `(?u)\b\w\w+\b`: words of at least two
/// characters), with or without `(?u)` (a no-op for `str` patterns), with or without the
/// final `+` (words of exactly that many characters). A match is then a maximal run of word
/// characters whose length is allowed.
struct WordPattern: Equatable {
    var minLength: Int
    var maxLength: Int

    init?(_ pattern: String) {
        var p = Substring(pattern)
        if p.hasPrefix("(?u)") { p = p.dropFirst(4) }
        guard p.hasPrefix(#"\b"#), p.hasSuffix(#"\b"#), p.count >= 6 else { return nil }
        p = p.dropFirst(2).dropLast(2)
        var plus = false
        if p.hasSuffix("+") { plus = true; p = p.dropLast() }
        var k = 0
        while p.hasPrefix(#"\w"#) { k += 1; p = p.dropFirst(2) }
        guard p.isEmpty, k >= 1 else { return nil }
        minLength = k
        maxLength = plus ? Int.max : k
    }
}
