import Foundation

/// A parse error at a byte of a piece, turned into an ``MPILearnError/dataError`` with file,
/// line and column by the reader (which can count lines).
struct CSVParseFailure: Error {
    var piece: Int
    var offset: Int
    /// 0-based field index, or nil for a record-level problem.
    var field: Int?
    var message: String
    /// File offset of the record holding the failure (set by the parser).
    var recordStart: Int? = nil
}

/// What the parser does with each field of a record.
enum FieldKind: UInt8 {
    case skip = 0, float64, float32, categorical, datetime, inferred
}

/// Parses records into growable columns: one per selected column, plus a ``StringPool`` of
/// distinct values for categorical and inferred columns.
///
/// The hot loop walks raw bytes once per field (a 256-entry table marks the delimiter, LF and
/// the quote), then converts the field in place: numbers with ``NumberParser``, dates with
/// ``ISODatetime``, strings through the pool. Records are parsed whole or not at all: when a
/// record runs past the end of the buffer, `parse` stops before it and the caller refills.
final class CSVShardParser {
    let fieldCount: Int
    let kinds: UnsafeMutablePointer<UInt8>
    let slotOf: UnsafeMutablePointer<Int>
    let slotCount: Int
    let slotKinds: [FieldKind]
    let columns: UnsafeMutablePointer<GrowableColumn>
    let pools: UnsafeMutablePointer<StringPool>
    let special: UnsafeMutablePointer<UInt8>
    let delimiter: UInt8
    let numbers = NumberParser()
    /// Missing markers, as byte strings.
    let missing: [[UInt8]]
    var rows = 0
    var capacity = 0
    var scratch = ReadBuffer(capacity: 4096)

    /// - Parameters:
    ///   - fieldCount: fields per record.
    ///   - fields: for each selected column (slot), its field index and kind.
    init(fieldCount: Int, fields: [(field: Int, kind: FieldKind)], delimiter: UInt8, missing: Set<String>) {
        self.fieldCount = fieldCount
        self.delimiter = delimiter
        kinds = .allocate(capacity: max(fieldCount, 1))
        kinds.initialize(repeating: FieldKind.skip.rawValue, count: max(fieldCount, 1))
        slotOf = .allocate(capacity: max(fieldCount, 1))
        slotOf.initialize(repeating: -1, count: max(fieldCount, 1))
        slotCount = fields.count
        slotKinds = fields.map(\.kind)
        columns = .allocate(capacity: max(fields.count, 1))
        pools = .allocate(capacity: max(fields.count, 1))
        for (s, f) in fields.enumerated() {
            kinds[f.field] = f.kind.rawValue
            slotOf[f.field] = s
            let stride: Int
            switch f.kind {
            case .float64, .datetime: stride = 8
            default: stride = 4
            }
            (columns + s).initialize(to: GrowableColumn(stride: stride))
            (pools + s).initialize(to: StringPool())
        }
        special = .allocate(capacity: 256)
        special.initialize(repeating: 0, count: 256)
        special[0] = 1  // the sentinel after the data (a NUL inside a field is skipped over)
        special[Int(delimiter)] = 1
        special[10] = 1
        special[Int(UInt8(ascii: "\""))] = 1
        self.missing = missing.map { Array($0.utf8) }.sorted { $0.count < $1.count }
        reserve(4096)
    }

    deinit {
        for s in 0 ..< slotCount {
            columns[s].free()
            pools[s].free()
        }
        kinds.deallocate(); slotOf.deallocate(); columns.deallocate(); pools.deallocate(); special.deallocate()
        numbers.free()
        scratch.free()
    }

    /// Makes room for at least `n` rows.
    func reserve(_ n: Int) {
        guard n > capacity else { return }
        for s in 0 ..< slotCount { columns[s].reserve(n) }
        capacity = n
    }

    @inline(__always)
    func isMissing(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        for m in missing {
            if m.count > n { return false }
            if m.count == n && m.withUnsafeBufferPointer({ memcmp($0.baseAddress!, p, n) == 0 }) { return true }
        }
        return false
    }

    /// Flags of a newly seen distinct string (see ``StringPool``).
    @inline(never)
    func classify(_ p: UnsafePointer<UInt8>, _ n: Int, inferred: Bool) -> UInt8 {
        if isMissing(p, n) { return StringPool.missing }
        guard inferred else { return 0 }
        var f: UInt8 = 0
        if let v = numbers.double(p, n), !v.isNaN { f |= StringPool.numericOK }
        if ISODatetime.parse(p, n) != nil { f |= StringPool.datetimeOK }
        return f
    }

    /// Parses the complete records of `buf[pos ..< n]`.
    ///
    /// - Parameters:
    ///   - buf: bytes; `buf[0]` is at file offset `bufOffset`; `n + 16` bytes are addressable.
    ///   - final: no bytes follow `buf[n]` in this piece: a record cut by `n` ends there.
    ///   - piece: index of the piece being parsed (for error locations).
    /// - Returns: the position after the last complete record (where the caller resumes).
    func parse(_ buf: UnsafeMutablePointer<UInt8>, from pos: Int, to n: Int, final: Bool, bufOffset: Int, piece: Int) throws -> Int {
        let LF: UInt8 = 10, CR: UInt8 = 13, QUOTE = UInt8(ascii: "\"")
        let delim = delimiter
        let special = self.special
        let kinds = self.kinds
        let slotOf = self.slotOf
        let fieldCount = self.fieldCount
        let numbers = self.numbers
        let columns = self.columns
        let pools = self.pools
        var capacity = self.capacity
        let pow10 = numbers.pow10
        var p = pos
        var row = rows
        // On a failure the rows parsed before the failing record stay parsed (a reader that
        // skips bad rows resumes after it), and the failure names the record's start.
        var failingRecord = pos
        defer { rows = row }
        buf[n] = 0  // sentinel: every scan below stops at a byte that is not a digit and is special

        do {
        while p < n {
            let recStart = p
            failingRecord = p
            let c0 = buf[p]
            if c0 == LF { p += 1; continue }
            if c0 == CR {
                if p + 1 < n {
                    if buf[p + 1] == LF { p += 2; continue }
                } else if final {
                    p += 1
                    continue
                } else {
                    rows = row
                    return recStart
                }
            }
            if row == capacity {
                reserve(capacity + capacity / 2 + 1024)
                capacity = self.capacity
            }
            var f = 0
            while true {
                var cp: UnsafePointer<UInt8>
                var cl: Int
                var endOfRecord: Bool
                let fieldStart = p
                if f < fieldCount && kinds[f] == FieldKind.float64.rawValue {
                    // Fast path for the common case: [-]digits[.digits] then the delimiter or LF,
                    // at most 15 digits (exact in a Double, and 10^k exact for k <= 15: Clinger).
                    var q = p
                    let neg = buf[q] == UInt8(ascii: "-")
                    if neg { q += 1 }
                    var mant: UInt64 = 0, nd = 0, exp = 0
                    while true {
                        let d = buf[q] &- 48
                        if d > 9 { break }
                        mant = mant &* 10 &+ UInt64(d)
                        nd += 1
                        q += 1
                    }
                    if buf[q] == UInt8(ascii: ".") {
                        q += 1
                        while true {
                            let d = buf[q] &- 48
                            if d > 9 { break }
                            mant = mant &* 10 &+ UInt64(d)
                            nd += 1
                            exp -= 1
                            q += 1
                        }
                    }
                    let c = buf[q]
                    if q < n && nd > 0 && nd <= 15 && (c == delim || c == LF) {
                        let m = Double(mant)
                        let v = exp == 0 ? m : m / pow10[-exp]
                        columns[slotOf[f]].base!.assumingMemoryBound(to: Double.self)[row] = neg ? -v : v
                        p = q + 1
                        f += 1
                        if c == LF { break }
                        continue
                    }
                }
                if p < n && buf[p] == QUOTE {
                    var q = p + 1
                    var escaped = false
                    while true {
                        while q < n && buf[q] != QUOTE { q += 1 }
                        if q >= n {
                            if final {
                                throw CSVParseFailure(piece: piece, offset: bufOffset + fieldStart, field: f,
                                                      message: "unterminated quote: the quoted field starting here never ends")
                            }
                            rows = row
                            return recStart
                        }
                        if q + 1 < n {
                            if buf[q + 1] == QUOTE { escaped = true; q += 2; continue }
                        } else if !final {
                            rows = row
                            return recStart
                        }
                        break
                    }
                    cp = UnsafePointer(buf + p + 1)
                    cl = q - p - 1
                    if escaped { (cp, cl) = unescape(cp, cl) }
                    let a = q + 1
                    if a >= n {
                        if !final { rows = row; return recStart }
                        endOfRecord = true
                        p = n
                    } else {
                        let c = buf[a]
                        if c == delim {
                            endOfRecord = false
                            p = a + 1
                        } else if c == LF {
                            endOfRecord = true
                            p = a + 1
                        } else if c == CR && a + 1 < n && buf[a + 1] == LF {
                            endOfRecord = true
                            p = a + 2
                        } else if c == CR && a + 1 >= n {
                            if !final { rows = row; return recStart }
                            endOfRecord = true
                            p = n
                        } else {
                            throw CSVParseFailure(piece: piece, offset: bufOffset + a, field: f,
                                                  message: "unexpected character '\(Character(Unicode.Scalar(c)))' after a closing quote (expected the delimiter or the end of the line)")
                        }
                    }
                } else {
                    var q = p
                    while true {
                        while special[Int(buf[q])] == 0 { q += 1 }
                        if q < n && buf[q] == 0 { q += 1; continue }
                        break
                    }
                    if q >= n {
                        if !final { rows = row; return recStart }
                        endOfRecord = true
                        cp = UnsafePointer(buf + p)
                        cl = n - p
                        if cl > 0 && buf[n - 1] == CR { cl -= 1 }
                        p = n
                    } else {
                        let c = buf[q]
                        if c == QUOTE {
                            throw CSVParseFailure(piece: piece, offset: bufOffset + q, field: f,
                                                  message: "quote inside an unquoted field (enclose the whole field in quotes and double the inner quote)")
                        }
                        cp = UnsafePointer(buf + p)
                        cl = q - p
                        endOfRecord = c == LF
                        if endOfRecord && cl > 0 && buf[q - 1] == CR { cl -= 1 }
                        p = q + 1
                    }
                }

                if f < fieldCount {
                    let k = kinds[f]
                    if k != 0 {
                        let slot = slotOf[f]
                        let base = columns[slot].base!
                        switch k {
                        case FieldKind.float64.rawValue:
                            let dst = base.assumingMemoryBound(to: Double.self)
                            if cl == 0 {
                                dst[row] = .nan
                            } else if let v = numbers.double(cp, cl) {
                                dst[row] = v
                            } else if isMissing(cp, cl) {
                                dst[row] = .nan
                            } else {
                                throw notA("a number", cp, cl, piece: piece, offset: bufOffset + fieldStart, field: f)
                            }
                        case FieldKind.float32.rawValue:
                            let dst = base.assumingMemoryBound(to: Float.self)
                            if cl == 0 {
                                dst[row] = .nan
                            } else if let v = numbers.float(cp, cl) {
                                dst[row] = v
                            } else if isMissing(cp, cl) {
                                dst[row] = .nan
                            } else {
                                throw notA("a number", cp, cl, piece: piece, offset: bufOffset + fieldStart, field: f)
                            }
                        case FieldKind.datetime.rawValue:
                            let dst = base.assumingMemoryBound(to: Int64.self)
                            if cl == 0 {
                                dst[row] = .min
                            } else if let v = ISODatetime.parse(cp, cl) {
                                dst[row] = v
                            } else if isMissing(cp, cl) {
                                dst[row] = .min
                            } else {
                                throw notA("an ISO 8601 date", cp, cl, piece: piece, offset: bufOffset + fieldStart, field: f)
                            }
                        default:
                            let dst = base.assumingMemoryBound(to: Int32.self)
                            let (code, isNew) = pools[slot].code(cp, cl)
                            if isNew {
                                let flags = classify(cp, cl, inferred: k == FieldKind.inferred.rawValue)
                                pools[slot].annotate(code, flags: flags, piece: piece, offset: bufOffset + fieldStart)
                            }
                            dst[row] = code
                        }
                    }
                }
                f += 1
                if endOfRecord { break }
            }
            if f != fieldCount {
                throw CSVParseFailure(piece: piece, offset: bufOffset + recStart, field: min(f, fieldCount),
                                      message: "expected \(fieldCount) fields, found \(f)")
            }
            row += 1
        }
        } catch var failure as CSVParseFailure {
            failure.recordStart = bufOffset + failingRecord
            throw failure
        }
        rows = row
        return p
    }

    /// Copies a quoted field's content with doubled quotes made single into `scratch`.
    @inline(never)
    private func unescape(_ p: UnsafePointer<UInt8>, _ n: Int) -> (UnsafePointer<UInt8>, Int) {
        if scratch.capacity < n { scratch.grow(to: n, keep: 0) }
        let out = scratch.base
        var i = 0, o = 0
        while i < n {
            out[o] = p[i]
            o += 1
            i += p[i] == UInt8(ascii: "\"") ? 2 : 1
        }
        return (UnsafePointer(out), o)
    }

    @inline(never)
    private func notA(_ what: String, _ p: UnsafePointer<UInt8>, _ n: Int, piece: Int, offset: Int, field: Int) -> CSVParseFailure {
        let text = String(decoding: UnsafeBufferPointer(start: p, count: min(n, 60)), as: UTF8.self) + (n > 60 ? "..." : "")
        return CSVParseFailure(piece: piece, offset: offset, field: field, message: "expected \(what), found \"\(text)\"")
    }
}
