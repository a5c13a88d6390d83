import Foundation
import SwiftMPI

// Timestamps to numbers: the `datetime-features` step, and the timestamp parser it uses (ISO
// 8601, or a strptime-style format), which a Swift program or the CLI can use on its own.

/// Parses timestamps to seconds since 1970-01-01T00:00:00Z (UTC; a value with an offset is
/// converted to UTC), either ISO 8601 or a strptime-style format.
///
/// ISO 8601 (format nil): `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH[:]MM]`, and the
/// same with a space instead of `T`. A format understands `%Y` (four digits), `%y` (two:
/// 69–99 are 19xx, 00–68 are 20xx, as POSIX), `%m`, `%d`, `%H`, `%M`, `%S` (one or two
/// digits), `%b` (a month abbreviation, any case: `Jan`), `%B` (a month name), `%j` (day of
/// the year, one to three digits), `%f` (a fraction of a second, one to nine digits, dropped:
/// times are whole seconds), `%z` (`Z`, `±HHMM` or `±HH:MM`) and `%%`. Whitespace in the format
/// matches one or more whitespace characters (Python's `strptime`); any other character matches
/// itself. Fields the format lacks default as Python's do: 1900-01-01 00:00:00.
public struct TimestampParser: Sendable, Equatable {
    /// The strptime-style format, or nil for ISO 8601.
    public let format: String?
    let pieces: [Piece]

    enum Piece: Sendable, Equatable {
        case literal(UInt8), space
        case year4, year2, month, day, hour, minute, second, monthAbbreviation, monthName, dayOfYear, fraction, zone
    }

    /// The ISO 8601 parser.
    public static let iso = TimestampParser(iso: ())

    private init(iso: Void) {
        format = nil
        pieces = []
    }

    /// A parser for `format` (nil: ISO 8601).
    /// - Throws: ``MPILearnError/invalidParameter`` for a directive the parser does not know,
    ///   or a format with no directive.
    public init(format: String?, parameter: String = "format") throws {
        self.format = format
        guard let format else {
            pieces = []
            return
        }
        let bytes = Array(format.utf8)
        var out: [Piece] = []
        var i = 0
        let allowed = "%Y %y %m %d %H %M %S %b %B %j %f %z %% and literal text"
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "%") {
                guard i + 1 < bytes.count else {
                    throw MPILearnError.invalidParameter(name: parameter, value: "'\(format)'", allowed: "\(allowed) (the format ends with a lone %)")
                }
                switch bytes[i + 1] {
                case UInt8(ascii: "Y"): out.append(.year4)
                case UInt8(ascii: "y"): out.append(.year2)
                case UInt8(ascii: "m"): out.append(.month)
                case UInt8(ascii: "d"): out.append(.day)
                case UInt8(ascii: "H"): out.append(.hour)
                case UInt8(ascii: "M"): out.append(.minute)
                case UInt8(ascii: "S"): out.append(.second)
                case UInt8(ascii: "b"): out.append(.monthAbbreviation)
                case UInt8(ascii: "B"): out.append(.monthName)
                case UInt8(ascii: "j"): out.append(.dayOfYear)
                case UInt8(ascii: "f"): out.append(.fraction)
                case UInt8(ascii: "z"): out.append(.zone)
                case UInt8(ascii: "%"): out.append(.literal(UInt8(ascii: "%")))
                default:
                    let d = String(decoding: bytes[i ... i + 1], as: UTF8.self)
                    throw MPILearnError.invalidParameter(name: parameter, value: "'\(format)'", allowed: "\(allowed) (unknown directive \(d))")
                }
                i += 2
            } else if Self.isSpace(b) {
                while i < bytes.count && Self.isSpace(bytes[i]) { i += 1 }
                out.append(.space)
            } else {
                out.append(.literal(b))
                i += 1
            }
        }
        guard out.contains(where: { if case .literal = $0 { return false }; return $0 != .space }) else {
            throw MPILearnError.invalidParameter(name: parameter, value: "'\(format)'", allowed: "a format with at least one directive: \(allowed)")
        }
        pieces = out
    }

    public static func == (a: TimestampParser, b: TimestampParser) -> Bool { a.format == b.format }

    /// `ISO 8601` or the format in quotes, for messages.
    public var formatDescription: String { format.map { "'\($0)'" } ?? "ISO 8601" }

    /// Seconds since 1970-01-01T00:00:00Z of `text`, or nil if it does not match.
    public func parse(_ text: String) -> Int64? {
        var s = text
        return s.withUTF8 { parse($0) }
    }

    /// Seconds since 1970-01-01T00:00:00Z of the UTF-8 bytes `b`, or nil if they do not match.
    public func parse(_ b: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard format != nil else {
            guard let base = b.baseAddress, b.count > 0 else { return nil }
            return ISODatetime.parse(base, b.count)
        }
        let n = b.count
        var i = 0
        var year = 1900, month = 1, day = 1, hour = 0, minute = 0, second = 0, offset = 0
        var dayOfYear: Int? = nil, haveDate = false

        func digits(_ minCount: Int, _ maxCount: Int) -> Int? {
            var v = 0, k = 0
            while k < maxCount && i < n {
                let d = b[i] &- 48
                guard d <= 9 else { break }
                v = v * 10 + Int(d)
                i += 1
                k += 1
            }
            return k >= minCount ? v : nil
        }
        func monthNamed(_ names: [String]) -> Int? {
            for (m, name) in names.enumerated() {
                let u = Array(name.utf8)
                guard i + u.count <= n else { continue }
                var ok = true
                for k in 0 ..< u.count where b[i + k] | 0x20 != u[k] | 0x20 {
                    ok = false
                    break
                }
                if ok {
                    i += u.count
                    return m + 1
                }
            }
            return nil
        }

        for piece in pieces {
            switch piece {
            case .literal(let c):
                guard i < n, b[i] == c else { return nil }
                i += 1
            case .space:
                guard i < n, Self.isSpace(b[i]) else { return nil }
                while i < n && Self.isSpace(b[i]) { i += 1 }
            case .year4:
                guard let v = digits(4, 4) else { return nil }
                year = v
            case .year2:
                guard let v = digits(2, 2) else { return nil }
                year = v >= 69 ? 1900 + v : 2000 + v
            case .month:
                guard let v = digits(1, 2), v >= 1, v <= 12 else { return nil }
                month = v
                haveDate = true
            case .day:
                guard let v = digits(1, 2), v >= 1, v <= 31 else { return nil }
                day = v
                haveDate = true
            case .hour:
                guard let v = digits(1, 2), v <= 23 else { return nil }
                hour = v
            case .minute:
                guard let v = digits(1, 2), v <= 59 else { return nil }
                minute = v
            case .second:
                guard let v = digits(1, 2), v <= 61 else { return nil }
                second = v
            case .monthAbbreviation:
                guard let m = monthNamed(Self.monthAbbreviations) else { return nil }
                month = m
                haveDate = true
            case .monthName:
                guard let m = monthNamed(Self.monthNames) else { return nil }
                month = m
                haveDate = true
            case .dayOfYear:
                guard let v = digits(1, 3), v >= 1, v <= 366 else { return nil }
                dayOfYear = v
            case .fraction:
                guard digits(1, 9) != nil else { return nil }
            case .zone:
                guard i < n else { return nil }
                if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                    i += 1
                    offset = 0
                    continue
                }
                guard b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") else { return nil }
                let sign = b[i] == UInt8(ascii: "+") ? 1 : -1
                i += 1
                guard let oh = digits(2, 2), oh <= 23 else { return nil }
                if i < n && b[i] == UInt8(ascii: ":") { i += 1 }
                guard let om = digits(2, 2), om <= 59 else { return nil }
                offset = sign * (oh * 3600 + om * 60)
            }
        }
        guard i == n else { return nil }
        var days: Int
        if let dayOfYear, !haveDate {
            guard dayOfYear <= (ISODatetime.isLeap(year) ? 366 : 365) else { return nil }
            days = ISODatetime.days(year: year, month: 1, day: 1) + dayOfYear - 1
        } else {
            guard day <= ISODatetime.daysIn(month: month, year: year) else { return nil }
            days = ISODatetime.days(year: year, month: month, day: day)
        }
        days = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Int64(days)
    }

    static let monthAbbreviations = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let monthNames = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"]

    @inline(__always)
    static func isSpace(_ b: UInt8) -> Bool { b == 32 || (b >= 9 && b <= 13) }
}

/// A number derived from a timestamp (UTC).
public enum TimestampFeature: String, Codable, Sendable, CaseIterable {
    case year, month, day, hour, minute, second
    /// Monday = 0 … Sunday = 6 (pandas' `dayofweek`).
    case dayOfWeek = "dayofweek"
    /// 1 … 366.
    case dayOfYear = "dayofyear"
    /// 1 on Saturday and Sunday, else 0.
    case isWeekend = "is_weekend"

    /// The feature of `seconds` since 1970-01-01T00:00:00Z.
    @inline(__always)
    public func value(seconds: Int64) -> Double {
        let s = Int(seconds)
        let days = s >= 0 ? s / 86_400 : (s - 86_399) / 86_400
        let rem = s - days * 86_400
        switch self {
        case .year: return Double(ISODatetime.civil(days: days).year)
        case .month: return Double(ISODatetime.civil(days: days).month)
        case .day: return Double(ISODatetime.civil(days: days).day)
        case .hour: return Double(rem / 3600)
        case .minute: return Double(rem / 60 % 60)
        case .second: return Double(rem % 60)
        case .dayOfWeek: return Double(((days % 7) + 7 + 3) % 7)  // 1970-01-01 was a Thursday (3)
        case .dayOfYear: return Double(days - ISODatetime.days(year: ISODatetime.civil(days: days).year, month: 1, day: 1) + 1)
        case .isWeekend: return ((days % 7) + 7 + 3) % 7 >= 5 ? 1 : 0
        }
    }
}

/// What a timestamp that cannot be parsed becomes.
public enum TimestampErrorPolicy: String, Codable, Sendable, CaseIterable {
    /// A data error naming the value, file, line and column.
    case error
    /// Missing (NaN) in every feature of that row.
    case missing
}

/// The `datetime-features` step: numbers (hour, day of week, …) from timestamp columns.
///
/// Each column of ``columns`` becomes float64 columns `<column>_<feature>` placed where it
/// was (after it if ``drop`` is false), NaN where the timestamp is missing. A column may be
/// a datetime column (as the CSV reader infers from ISO 8601 text), a number of seconds since
/// 1970-01-01 UTC (float64 or float32; fractions dropped toward −∞), or a categorical column
/// of text, parsed with ``format``: each distinct value once per chunk of rows, so a chunk's
/// local dictionary is all it needs. Times are UTC.
///
/// Nothing is learned: the fitted step is the step (fit only checks the columns). Under
/// `on_error: missing` an unparsable value gives NaN features and is not counted anywhere.
public struct DatetimeFeatures: TableTransformer, FittedTableTransformer, Equatable {
    public typealias Fitted = DatetimeFeatures
    public static let transformerName = "datetime-features"

    /// The timestamp columns (required, non-empty).
    public var columns: [String]
    /// The features, in output order (default hour, dayofweek).
    public var features: [TimestampFeature]
    /// The strptime-style format of text columns (nil: ISO 8601). See ``TimestampParser``.
    public var format: String?
    /// What an unparsable text value becomes.
    public var onError: TimestampErrorPolicy
    /// Whether the source columns are removed.
    public var drop: Bool

    public init(columns: [String] = [], features: [TimestampFeature] = [.hour, .dayOfWeek], format: String? = nil,
                onError: TimestampErrorPolicy = .error, drop: Bool = true) {
        self.columns = columns
        self.features = features
        self.format = format
        self.onError = onError
        self.drop = drop
    }

    enum CodingKeys: String, CodingKey {
        case columns, features, format, drop
        case onError = "on_error"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = DatetimeFeatures()
        columns = try c.decodeIfPresent([String].self, forKey: .columns) ?? d.columns
        if let names = try c.decodeIfPresent([String].self, forKey: .features) {
            features = try names.map { name in
                guard let f = TimestampFeature(rawValue: name) else {
                    throw MPILearnError.invalidParameter(name: "\(Self.transformerName).features", value: "'\(name)'",
                                                         allowed: TimestampFeature.allCases.map(\.rawValue).joined(separator: ", "))
                }
                return f
            }
        } else {
            features = d.features
        }
        format = try c.decodeIfPresent(String.self, forKey: .format)
        if let p = try c.decodeIfPresent(String.self, forKey: .onError) {
            guard let v = TimestampErrorPolicy(rawValue: p) else {
                throw MPILearnError.invalidParameter(name: "\(Self.transformerName).on_error", value: "'\(p)'", allowed: "error, missing")
            }
            onError = v
        } else {
            onError = d.onError
        }
        drop = try c.decodeIfPresent(Bool.self, forKey: .drop) ?? d.drop
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(columns, forKey: .columns)
        try c.encode(features.map(\.rawValue), forKey: .features)
        if let format { try c.encode(format, forKey: .format) } else { try c.encodeNil(forKey: .format) }
        try c.encode(onError.rawValue, forKey: .onError)
        try c.encode(drop, forKey: .drop)
    }

    public func validate() throws {
        let name = Self.transformerName
        guard !columns.isEmpty else {
            throw MPILearnError.invalidParameter(name: "\(name).columns", value: "[]", allowed: "one or more timestamp columns")
        }
        if let dup = firstDuplicate(columns) {
            throw MPILearnError.invalidParameter(name: "\(name).columns", value: "'\(dup)'", allowed: "each column once")
        }
        guard !features.isEmpty else {
            throw MPILearnError.invalidParameter(name: "\(name).features", value: "[]",
                                                 allowed: "one or more of \(TimestampFeature.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let dup = firstDuplicate(features.map(\.rawValue)) {
            throw MPILearnError.invalidParameter(name: "\(name).features", value: "'\(dup)'", allowed: "each feature once")
        }
        _ = try TimestampParser(format: format, parameter: "\(name).format")
    }

    /// Collective in name only: checks the columns exist and are timestamps, numbers or text.
    public func fit(_ table: Table, comm: any Communicator) throws -> DatetimeFeatures {
        try validate()
        for name in columns { _ = try table.requireColumn(name, for: Self.transformerName) }
        return self
    }

    public func transform(_ table: Table, context: TransformContext) throws -> Table {
        let parser = try TimestampParser(format: format, parameter: "\(Self.transformerName).format")
        var t = table
        for name in columns {
            let column = t.columns[try t.requireColumn(name, for: Self.transformerName)]
            let outNames = features.map { "\(name)_\($0.rawValue)" }
            for o in outNames where t.columns.contains(where: { $0.name == o }) && !(drop && o == name) {
                throw MPILearnError.mismatch("\(Self.transformerName): the output column '\(o)' (from '\(name)') exists already in the input")
            }
            var outputs: [Column] = []
            switch column.values {
            case .categorical(let codes, let dict):
                // Each distinct value parsed once, its features computed once; then codes mapped.
                var seconds = [Int64](repeating: .min, count: dict.count)
                var bad = [Bool](repeating: false, count: dict.count), anyBad = false
                for (k, v) in dict.values.enumerated() {
                    if let s = parser.parse(v) { seconds[k] = s } else { bad[k] = true; anyBad = true }
                }
                // The error names the first row holding an unparsable value.
                if anyBad && onError == .error, let row = codes.firstIndex(where: { $0 >= 0 && bad[Int($0)] }) {
                    throw context.error(row: row, of: table, column: name,
                                        "cannot parse '\(dict.values[Int(codes[row])])' as a timestamp (format \(parser.formatDescription))")
                }
                for (f, o) in zip(features, outNames) {
                    let byCode = seconds.map { $0 == .min ? Double.nan : f.value(seconds: $0) }
                    let v = [Double](unsafeUninitializedCapacity: codes.count) { out, k in
                        codes.withUnsafeBufferPointer { c in byCode.withUnsafeBufferPointer { m in
                            for i in 0 ..< c.count { out[i] = c[i] < 0 ? .nan : m[Int(c[i])] }
                        } }
                        k = codes.count
                    }
                    outputs.append(Column(name: o, values: .float64(v)))
                }
            case .datetime(let secs):
                outputs = columns(secs, names: outNames)
            case .float64(let v):
                outputs = columns(try seconds(v.lazy.map { $0 }, count: v.count, name: name, table: table, context: context), names: outNames)
            case .float32(let v):
                outputs = columns(try seconds(v.lazy.map { Double($0) }, count: v.count, name: name, table: table, context: context), names: outNames)
            }
            t = t.expanding(name, into: drop ? outputs : [column] + outputs)
        }
        return t
    }

    /// Seconds since the epoch, as Doubles, to whole seconds (`Int64.min` where missing).
    private func seconds<S: Sequence>(_ values: S, count: Int, name: String, table: Table, context: TransformContext) throws -> [Int64] where S.Element == Double {
        var out = [Int64](repeating: .min, count: count)
        var i = 0
        for x in values {
            defer { i += 1 }
            if x.isNaN { continue }
            guard x.isFinite, abs(x) < 1e15 else {
                if onError == .error {
                    throw context.error(row: i, of: table, column: name, "cannot use \(x) as a timestamp (seconds since 1970-01-01)")
                }
                continue
            }
            out[i] = Int64(x.rounded(.down))
        }
        return out
    }

    private func columns(_ secs: [Int64], names: [String]) -> [Column] {
        zip(features, names).map { f, o in
            let v = [Double](unsafeUninitializedCapacity: secs.count) { out, k in
                secs.withUnsafeBufferPointer { s in
                    for i in 0 ..< s.count { out[i] = s[i] == .min ? .nan : f.value(seconds: s[i]) }
                }
                k = secs.count
            }
            return Column(name: o, values: .float64(v))
        }
    }

    public func summary() -> [String] {
        ["columns: \(columns.joined(separator: ", "))",
         "features: \(features.map(\.rawValue).joined(separator: ", "))",
         "format: \(format.map { "'\($0)'" } ?? "ISO 8601"), on_error: \(onError.rawValue), drop: \(drop)"]
    }
}

/// The first value that occurs twice in `values`.
func firstDuplicate(_ values: [String]) -> String? {
    var seen: Set<String> = []
    for v in values where !seen.insert(v).inserted { return v }
    return nil
}
