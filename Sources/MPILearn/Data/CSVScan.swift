import Foundation

// Low-level pieces of the CSV reader: positioned reads, exact number parsing, ISO 8601
// dates, and the byte-string hash table that assigns local category codes. They work on raw
// bytes (`UnsafePointer<UInt8>`) so the parse loop never builds a `String` per field.

// MARK: - positioned reads

/// A read-only file read with `pread` (no shared offset, so ranks and threads may share it).
final class ByteFile {
    let path: String
    let fd: Int32
    let size: Int

    /// Opens `path`.
    /// - Throws: ``MPILearnError/cannotRead`` with the system's reason.
    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw MPILearnError.cannotRead(path: path, reason: String(cString: strerror(errno))) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw MPILearnError.cannotRead(path: path, reason: reason)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw MPILearnError.cannotRead(path: path, reason: "is a folder")
        }
        self.fd = fd
        self.size = Int(st.st_size)
    }

    deinit { close(fd) }

    /// Reads up to `count` bytes at `offset` into `buffer`; returns the bytes read (fewer only
    /// at the end of the file).
    func read(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int) throws -> Int {
        var done = 0
        while done < count {
            let n = pread(fd, buffer + done, count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw MPILearnError.cannotRead(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// The 1-based line (LF count + 1) of byte `offset`, for error messages.
    func line(ofOffset offset: Int) -> Int {
        let chunk = 1 << 20
        let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk)
        defer { buf.deallocate() }
        var line = 1, pos = 0
        while pos < offset {
            let n = (try? read(into: buf, count: min(chunk, offset - pos), at: pos)) ?? 0
            if n == 0 { break }
            for i in 0 ..< n where buf[i] == 10 { line += 1 }
            pos += n
        }
        return line
    }
}

/// A growable byte buffer with `padding` spare bytes after the data, for chunked reads.
struct ReadBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int
    static let padding = 16

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity + ReadBuffer.padding)
    }

    /// Grows to at least `newCapacity`, keeping the first `keep` bytes.
    mutating func grow(to newCapacity: Int, keep: Int) {
        let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity + ReadBuffer.padding)
        nb.update(from: base, count: keep)
        base.deallocate()
        base = nb
        capacity = newCapacity
    }

    func free() { base.deallocate() }
}

// MARK: - numbers

/// Exact (correctly rounded) decimal-to-binary conversion of a field.
///
/// The fast path is Clinger's: when the decimal significand has at most 15 digits (so it is
/// an exact Double) and the power of ten is at most 22 in magnitude (also exact), one IEEE
/// multiplication or division gives the correctly rounded result. Everything else — long
/// significands, large exponents, `inf`, `nan` — goes to the C library's `strtod`/`strtof`
/// (correctly rounded in glibc) on a stack copy of the field. W. D. Clinger, "How to read
/// floating point numbers accurately", PLDI 1990.
struct NumberParser {
    /// 10^0 ... 10^22, each exact in binary64.
    let pow10: UnsafeMutablePointer<Double>

    init() {
        pow10 = .allocate(capacity: 23)
        var p = 1.0
        for i in 0 ... 22 {
            pow10[i] = p
            p *= 10
        }
    }

    func free() { pow10.deallocate() }

    /// The decimal significand and exponent of `[p, p+n)` if it is a plain decimal number
    /// with at most 19 significant digits: (negative, digits, significant digit count, exp10).
    @inline(__always)
    private func scan(_ p: UnsafePointer<UInt8>, _ n: Int) -> (neg: Bool, mant: UInt64, digits: Int, exp: Int)? {
        var i = 0
        var neg = false
        if n == 0 { return nil }
        if p[0] == UInt8(ascii: "-") { neg = true; i = 1 } else if p[0] == UInt8(ascii: "+") { i = 1 }
        var mant: UInt64 = 0
        var digits = 0, exp = 0, any = false
        while i < n {
            let d = p[i] &- 48
            if d > 9 { break }
            any = true
            if mant != 0 || d != 0 {
                if digits >= 19 { return nil }
                mant = mant &* 10 &+ UInt64(d)
                digits += 1
            }
            i += 1
        }
        if i < n && p[i] == UInt8(ascii: ".") {
            i += 1
            while i < n {
                let d = p[i] &- 48
                if d > 9 { break }
                any = true
                if mant != 0 || d != 0 {
                    if digits >= 19 { return nil }
                    mant = mant &* 10 &+ UInt64(d)
                    digits += 1
                }
                exp -= 1
                i += 1
            }
        }
        if !any { return nil }
        if i < n && (p[i] | 0x20) == UInt8(ascii: "e") {
            i += 1
            var eneg = false
            if i < n && (p[i] == UInt8(ascii: "-") || p[i] == UInt8(ascii: "+")) { eneg = p[i] == UInt8(ascii: "-"); i += 1 }
            var e = 0, edigits = 0
            while i < n {
                let d = p[i] &- 48
                if d > 9 { break }
                if e < 100_000 { e = e * 10 + Int(d) }
                edigits += 1
                i += 1
            }
            if edigits == 0 { return nil }
            exp += eneg ? -e : e
        }
        if i != n { return nil }
        return (neg, mant, digits, exp)
    }

    /// The field as a Double, or nil if it is not a number.
    @inline(__always)
    func double(_ p: UnsafePointer<UInt8>, _ n: Int) -> Double? {
        if let s = scan(p, n) {
            if s.mant == 0 { return s.neg ? -0.0 : 0.0 }
            if s.digits <= 15 && s.exp >= -22 && s.exp <= 22 {
                let m = Double(s.mant)
                let v = s.exp >= 0 ? m * pow10[s.exp] : m / pow10[-s.exp]
                return s.neg ? -v : v
            }
        }
        return slowDouble(p, n)
    }

    /// The field as a Float (rounded once, from the decimal), or nil if it is not a number.
    @inline(__always)
    func float(_ p: UnsafePointer<UInt8>, _ n: Int) -> Float? {
        if let s = scan(p, n) {
            if s.mant == 0 { return s.neg ? -0.0 : 0.0 }
            // Float's significand holds 24 bits: at most 7 decimal digits and 10^10 are exact.
            if s.digits <= 7 && s.exp >= -10 && s.exp <= 10 {
                let m = Float(s.mant)
                let v = s.exp >= 0 ? m * Float(pow10[s.exp]) : m / Float(pow10[-s.exp])
                return s.neg ? -v : v
            }
        }
        return slowFloat(p, n)
    }

    /// Characters `strtod` may see: decimal numbers, inf/infinity/nan; not hex floats.
    private func plausible(_ p: UnsafePointer<UInt8>, _ n: Int) -> (start: Int, end: Int)? {
        var s = 0, e = n
        while s < e && (p[s] == 32 || p[s] == 9) { s += 1 }
        while e > s && (p[e - 1] == 32 || p[e - 1] == 9) { e -= 1 }
        if s == e || e - s > 400 { return nil }
        for i in s ..< e {
            let c = p[i] | 0x20
            if c == UInt8(ascii: "x") { return nil }
        }
        return (s, e)
    }

    @inline(never)
    func slowDouble(_ p: UnsafePointer<UInt8>, _ n: Int) -> Double? { slowParse(p, n, strtod) }

    @inline(never)
    func slowFloat(_ p: UnsafePointer<UInt8>, _ n: Int) -> Float? { slowParse(p, n, strtof) }

    /// Parses a plausible number with the C library (`strtod`/`strtof`: correctly rounded)
    /// from a NUL-terminated copy of the field; nil unless the whole field is consumed.
    func slowParse<R>(_ p: UnsafePointer<UInt8>, _ n: Int,
                      _ parse: (UnsafePointer<CChar>, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R? {
        guard let (s, e) = plausible(p, n) else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: e - s + 1) { tmp -> R? in
            let base = tmp.baseAddress!
            UnsafeMutableRawPointer(base).copyMemory(from: p + s, byteCount: e - s)
            base[e - s] = 0
            var end: UnsafeMutablePointer<CChar>? = nil
            let v = parse(base, &end)
            return end == base + (e - s) ? v : nil
        }
    }
}

// MARK: - ISO 8601

/// ISO 8601 dates and times to seconds since the Unix epoch (UTC), and back to fields.
///
/// Accepted: `YYYY-MM-DD`, optionally followed by `T` or a space and `HH:MM`, `HH:MM:SS` or
/// `HH:MM:SS.fff` (fractions are truncated to whole seconds), optionally followed by `Z`,
/// `±HH`, `±HHMM` or `±HH:MM`. Times without a zone are taken as UTC. Hand-written because
/// Foundation's `ISO8601DateFormatter` allocates per value and accepts one format at a time.
public enum ISODatetime {
    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-compatible
    /// low-level date algorithms").
    @inline(__always)
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date of a day count since 1970-01-01.
    public static func civil(days z0: Int) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    @inline(__always)
    static func isLeap(_ y: Int) -> Bool { y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) }

    @inline(__always)
    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Parses `[p, p+n)`; nil if it is not an ISO 8601 date or date-time.
    @inline(__always)
    static func parse(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int64? {
        @inline(__always) func dig(_ i: Int) -> Int? {
            let d = p[i] &- 48
            return d <= 9 ? Int(d) : nil
        }
        @inline(__always) func two(_ i: Int) -> Int? {
            guard i + 1 < n, let a = dig(i), let b = dig(i + 1) else { return nil }
            return a * 10 + b
        }
        guard n >= 10, let y0 = two(0), let y1 = two(2), p[4] == UInt8(ascii: "-"), let month = two(5),
              p[7] == UInt8(ascii: "-"), let day = two(8) else { return nil }
        let year = y0 * 100 + y1
        guard month >= 1 && month <= 12 && day >= 1 && day <= daysIn(month: month, year: year) else { return nil }
        var secs = days(year: year, month: month, day: day) * 86_400
        var i = 10
        if i == n { return Int64(secs) }
        guard p[i] == UInt8(ascii: "T") || p[i] == UInt8(ascii: " ") || p[i] == UInt8(ascii: "t") else { return nil }
        i += 1
        guard let hh = two(i), i + 2 < n, p[i + 2] == UInt8(ascii: ":"), let mm = two(i + 3) else { return nil }
        guard hh <= 23 && mm <= 59 else { return nil }
        secs += hh * 3600 + mm * 60
        i += 5
        if i < n && p[i] == UInt8(ascii: ":") {
            guard let ss = two(i + 1), ss <= 60 else { return nil }
            secs += ss
            i += 3
            if i < n && (p[i] == UInt8(ascii: ".") || p[i] == UInt8(ascii: ",")) {
                i += 1
                let s = i
                while i < n && dig(i) != nil { i += 1 }
                if i == s { return nil }
            }
        }
        if i == n { return Int64(secs) }
        if p[i] == UInt8(ascii: "Z") || p[i] == UInt8(ascii: "z") { return i + 1 == n ? Int64(secs) : nil }
        guard p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") else { return nil }
        let sign = p[i] == UInt8(ascii: "+") ? 1 : -1
        i += 1
        guard let oh = two(i), oh <= 23 else { return nil }
        i += 2
        var om = 0
        if i < n {
            if p[i] == UInt8(ascii: ":") { i += 1 }
            guard let m = two(i), m <= 59 else { return nil }
            om = m
            i += 2
        }
        guard i == n else { return nil }
        // Local time = UTC + offset, so UTC = local − offset.
        return Int64(secs - sign * (oh * 3600 + om * 60))
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch.
    public static func format(_ seconds: Int64) -> String {
        let s = Int(seconds)
        let d = s >= 0 ? s / 86_400 : (s - 86_399) / 86_400
        let rem = s - d * 86_400
        let (y, m, day) = civil(days: d)
        func p2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(p2(m))-\(p2(day))T\(p2(rem / 3600)):\(p2(rem / 60 % 60)):\(p2(rem % 60))Z"
    }
}

// MARK: - hashing distinct strings

/// A 64-bit hash of a byte string (word-at-a-time multiply–xorshift, SplitMix finaliser).
@inline(__always)
func hashBytes(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
    if n <= 16 {
        // Short strings (most categories): two masked word loads; callers guarantee 16
        // readable bytes after the data.
        let raw = UnsafeRawPointer(p)
        let m0: UInt64 = n >= 8 ? ~0 : (1 << UInt64(n * 8)) &- 1
        let m1: UInt64 = n <= 8 ? 0 : n >= 16 ? ~0 : (1 << UInt64((n - 8) * 8)) &- 1
        let a = raw.loadUnaligned(as: UInt64.self) & m0
        let b = raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self) & m1
        var h = (a ^ UInt64(truncatingIfNeeded: n) << 59) &* 0x9E37_79B9_7F4A_7C15
        h = (h ^ (h >> 29) ^ b) &* 0xBF58_476D_1CE4_E5B9
        return h ^ (h >> 32)
    }
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15 &+ UInt64(truncatingIfNeeded: n)
    var i = 0
    let raw = UnsafeRawPointer(p)
    while i + 8 <= n {
        let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        h = (h ^ w) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        i += 8
    }
    if i < n {
        var w: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            w |= UInt64(p[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ w) &* 0x94D0_49BB_1331_11EB
    }
    return Philox.mix(h)
}

/// The distinct byte strings of one column on one rank, each with a local code (its index in
/// first-seen order), and per string: where it was first seen and what it parses as.
///
/// An open-addressing hash table over an arena of bytes, with manual memory so the parse
/// loop does no reference counting. Hand-written because `Dictionary<String, Int32>` would
/// need a `String` built (and hashed with SipHash) per field, several times slower.
struct StringPool {
    /// Per distinct string: parses as a number / as an ISO 8601 date / is a missing marker.
    static let numericOK: UInt8 = 1, datetimeOK: UInt8 = 2, missing: UInt8 = 4

    /// An open-addressing slot: the key is the string itself (zero-padded) when it has at most
    /// 8 bytes, so a lookup touches one cache line; longer strings key by hash.
    struct Slot {
        var key: UInt64
        var entry: Int32
        var length: Int32
    }
    private var slots: UnsafeMutablePointer<Slot>
    private var mask: Int
    private var keys: UnsafeMutablePointer<UInt64>
    private(set) var count = 0
    private var entryCapacity: Int
    private var hashes: UnsafeMutablePointer<UInt64>
    private var offsets: UnsafeMutablePointer<Int>
    private var lengths: UnsafeMutablePointer<Int32>
    private(set) var flags: UnsafeMutablePointer<UInt8>
    /// (piece index, file offset) of the first occurrence, for error messages.
    private(set) var firstPiece: UnsafeMutablePointer<Int32>
    private(set) var firstOffset: UnsafeMutablePointer<Int>
    private var arena: UnsafeMutablePointer<UInt8>
    private var arenaCount = 0, arenaCapacity: Int

    init() {
        mask = 63
        slots = .allocate(capacity: 64)
        slots.initialize(repeating: Slot(key: 0, entry: -1, length: 0), count: 64)
        entryCapacity = 32
        keys = .allocate(capacity: 32)
        hashes = .allocate(capacity: 32)
        offsets = .allocate(capacity: 32)
        lengths = .allocate(capacity: 32)
        flags = .allocate(capacity: 32)
        firstPiece = .allocate(capacity: 32)
        firstOffset = .allocate(capacity: 32)
        arenaCapacity = 1024
        arena = .allocate(capacity: 1024 + 16)
    }

    func free() {
        slots.deallocate(); keys.deallocate(); hashes.deallocate(); offsets.deallocate(); lengths.deallocate()
        flags.deallocate(); firstPiece.deallocate(); firstOffset.deallocate(); arena.deallocate()
    }

    /// The bytes of entry `i`.
    func bytes(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: arena + offsets[i], count: Int(lengths[i]))
    }

    func string(_ i: Int) -> String { String(decoding: bytes(i), as: UTF8.self) }

    /// The local code of `[p, p+n)`; `isNew` when it was added by this call. At least 16
    /// bytes after `p` must be readable.
    @inline(__always)
    mutating func code(_ p: UnsafePointer<UInt8>, _ n: Int) -> (code: Int32, isNew: Bool) {
        if n <= 8 {
            let m: UInt64 = n == 8 ? ~0 : (1 << UInt64(n * 8)) &- 1
            let w = UnsafeRawPointer(p).loadUnaligned(as: UInt64.self) & m
            var h = (w ^ (UInt64(truncatingIfNeeded: n) << 56)) &* 0xBF58_476D_1CE4_E5B9
            h = (h ^ (h >> 31)) &* 0x94D0_49BB_1331_11EB
            h ^= h >> 29
            var s = Int(truncatingIfNeeded: h) & mask
            while true {
                let slot = slots[s]
                if slot.entry < 0 { break }
                if slot.key == w && Int(slot.length) == n { return (slot.entry, false) }
                s = (s + 1) & mask
            }
            return (insert(p, n, key: w, hash: h, slot: s), true)
        }
        let h = hashBytes(p, n)
        var s = Int(truncatingIfNeeded: h) & mask
        while true {
            let slot = slots[s]
            if slot.entry < 0 { break }
            if slot.key == h && Int(slot.length) == n && StringPool.equal(arena + offsets[Int(slot.entry)], p, n) { return (slot.entry, false) }
            s = (s + 1) & mask
        }
        return (insert(p, n, key: h, hash: h, slot: s), true)
    }

    @inline(never)
    private mutating func insert(_ p: UnsafePointer<UInt8>, _ n: Int, key: UInt64, hash h: UInt64, slot: Int) -> Int32 {
        if count == entryCapacity {
            let c = entryCapacity * 2
            func grow<T>(_ ptr: inout UnsafeMutablePointer<T>) {
                let np = UnsafeMutablePointer<T>.allocate(capacity: c)
                np.moveInitialize(from: ptr, count: count)
                ptr.deallocate()
                ptr = np
            }
            grow(&keys); grow(&hashes); grow(&offsets); grow(&lengths); grow(&flags); grow(&firstPiece); grow(&firstOffset)
            entryCapacity = c
        }
        if arenaCount + n > arenaCapacity {
            let c = max(arenaCapacity * 2, arenaCount + n)
            let na = UnsafeMutablePointer<UInt8>.allocate(capacity: c + 16)
            na.update(from: arena, count: arenaCount)
            arena.deallocate()
            arena = na
            arenaCapacity = c
        }
        (arena + arenaCount).update(from: p, count: n)
        let e = count
        keys[e] = key
        hashes[e] = h
        offsets[e] = arenaCount
        lengths[e] = Int32(n)
        flags[e] = 0
        firstPiece[e] = -1
        firstOffset[e] = 0
        arenaCount += n
        count += 1
        slots[slot] = Slot(key: key, entry: Int32(e), length: Int32(n))
        if count * 2 > mask + 1 { rehash() }
        return Int32(e)
    }

    private mutating func rehash() {
        let newSize = (mask + 1) * 2
        slots.deallocate()
        slots = .allocate(capacity: newSize)
        slots.initialize(repeating: Slot(key: 0, entry: -1, length: 0), count: newSize)
        mask = newSize - 1
        for e in 0 ..< count {
            var s = Int(truncatingIfNeeded: hashes[e]) & mask
            while slots[s].entry >= 0 { s = (s + 1) & mask }
            slots[s] = Slot(key: keys[e], entry: Int32(e), length: lengths[e])
        }
    }

    /// Byte equality; strings up to 16 bytes are compared as two masked 8-byte words (both
    /// the arena and the read buffer have 16 readable bytes of slack after their data).
    @inline(__always)
    static func equal(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        if n > 16 { return memcmp(a, b, n) == 0 }
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        let m0: UInt64 = n >= 8 ? ~0 : (1 << UInt64(n * 8)) &- 1
        let w0 = (ra.loadUnaligned(as: UInt64.self) ^ rb.loadUnaligned(as: UInt64.self)) & m0
        if n <= 8 { return w0 == 0 }
        let m1: UInt64 = n >= 16 ? ~0 : (1 << UInt64((n - 8) * 8)) &- 1
        let w1 = (ra.loadUnaligned(fromByteOffset: 8, as: UInt64.self) ^ rb.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) & m1
        return w0 | w1 == 0
    }

    /// Records what entry `e` parses as and where it was first seen.
    mutating func annotate(_ e: Int32, flags f: UInt8, piece: Int, offset: Int) {
        flags[Int(e)] = f
        firstPiece[Int(e)] = Int32(piece)
        firstOffset[Int(e)] = offset
    }
}

/// A column under construction: manually managed storage grown with `realloc` (which moves
/// large blocks by remapping pages, so growth never holds two copies).
struct GrowableColumn {
    var base: UnsafeMutableRawPointer?
    let stride: Int

    init(stride: Int) { self.stride = stride }

    mutating func reserve(_ capacity: Int) {
        base = realloc(base, max(1, capacity) * stride)
        if base == nil { fatalError("CSVReader: out of memory growing a column to \(capacity) rows") }
        adviseHugePages(base!, max(1, capacity) * stride)
    }

    func free() { Foundation.free(base) }
}

/// Asks the kernel to back a large buffer with transparent huge pages (where THP is in
/// `madvise` mode): one page fault per 2 MiB instead of per 4 KiB while a column fills.
func adviseHugePages(_ p: UnsafeMutableRawPointer, _ bytes: Int) {
    #if os(Linux)
    let huge = 2 << 20
    guard bytes >= 2 * huge else { return }
    let start = (Int(bitPattern: p) + huge - 1) & ~(huge - 1)
    let end = (Int(bitPattern: p) + bytes) & ~(huge - 1)
    if end > start { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_HUGEPAGE) }
    #endif
}

/// An array of `n` elements copied from `source`, its storage advised for huge pages before
/// it is written.
func hugeArray<T: BitwiseCopyable>(_ source: UnsafePointer<T>, _ n: Int) -> [T] {
    [T](unsafeUninitializedCapacity: n) { buf, count in
        if n > 0 {
            adviseHugePages(UnsafeMutableRawPointer(buf.baseAddress!), n * MemoryLayout<T>.stride)
            UnsafeMutableRawPointer(buf.baseAddress!).copyMemory(from: source, byteCount: n * MemoryLayout<T>.stride)
        }
        count = n
    }
}
