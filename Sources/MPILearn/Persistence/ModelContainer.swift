import Foundation

/// MPILearn's versioned model file: one container for every model kind.
///
/// Layout (all integers little-endian):
///
/// | bytes | content |
/// |---|---|
/// | 8 | magic `MPILRNMD` |
/// | 4 | format version (UInt32), currently ``currentVersion`` |
/// | 4 | length of the kind string, then the kind in UTF-8 (`random-forest-classifier`, `kmeans`, ...) |
/// | 8 | length of the JSON header, then the header: feature names, classes, parameters, provenance |
/// | 4 | number of sections; each: 4-byte name length, name, 8-byte length, bytes |
/// | 4 | CRC-32 (IEEE) of every byte before it |
///
/// Readers reject a wrong magic, a newer version, another kind, a truncated file or a bad
/// checksum with a message that says which. Sections hold flat arrays (tree nodes, centres)
/// so a model of many trees loads without parsing JSON for every node.
public struct ModelContainer: Equatable {
    public static let magic = Array("MPILRNMD".utf8)
    /// The format version this build writes; it reads every version up to this one.
    public static let currentVersion: UInt32 = 1

    public var kind: String
    public var version: UInt32
    /// JSON metadata (the model's own Codable header type, encoded by the model).
    public var header: Data
    /// Named binary sections in order.
    public var sections: [(name: String, bytes: Data)]

    public init(kind: String, header: Data, sections: [(name: String, bytes: Data)], version: UInt32 = ModelContainer.currentVersion) {
        self.kind = kind
        self.header = header
        self.sections = sections
        self.version = version
    }

    public static func == (a: ModelContainer, b: ModelContainer) -> Bool {
        a.kind == b.kind && a.version == b.version && a.header == b.header
            && a.sections.map(\.name) == b.sections.map(\.name) && a.sections.map(\.bytes) == b.sections.map(\.bytes)
    }

    /// The section called `name`.
    public func section(_ name: String, in path: String = "model") throws -> Data {
        guard let s = sections.first(where: { $0.name == name }) else {
            throw MPILearnError.dataError(SourceLocation(file: path), "model file has no '\(name)' section; it is corrupt or not a \(kind) model")
        }
        return s.bytes
    }

    // MARK: encoding

    public func encoded() -> Data {
        var out = Data()
        // One allocation: a large model or checkpoint is not copied as the buffer grows.
        out.reserveCapacity(32 + kind.utf8.count + header.count + sections.reduce(0) { $0 + 12 + $1.name.utf8.count + $1.bytes.count })
        out.append(contentsOf: Self.magic)
        out.appendLE(version)
        let k = Data(kind.utf8)
        out.appendLE(UInt32(k.count))
        out.append(k)
        out.appendLE(UInt64(header.count))
        out.append(header)
        out.appendLE(UInt32(sections.count))
        for s in sections {
            let n = Data(s.name.utf8)
            out.appendLE(UInt32(n.count))
            out.append(n)
            out.appendLE(UInt64(s.bytes.count))
            out.append(s.bytes)
        }
        out.appendLE(CRC32.checksum(out))
        return out
    }

    /// Writes the container to `path` atomically.
    public func write(to path: String) throws {
        try AtomicFile.write(encoded(), to: path)
    }

    /// Decodes a container, checking magic, version, checksum and (if given) kind.
    /// - Parameter expectedKinds: kinds the caller can use; another kind is an error.
    public static func decode(_ data: Data, path: String, expectedKinds: [String]? = nil) throws -> ModelContainer {
        func bad(_ msg: String) -> MPILearnError { .dataError(SourceLocation(file: path), msg) }
        guard data.count >= 12, Array(data.prefix(8)) == magic else {
            throw bad("not an MPILearn model file (the first bytes are not the MPILRNMD magic)")
        }
        var r = ByteReader(data: data, path: path)
        r.offset = 8
        let version: UInt32 = try r.read()
        guard version >= 1 && version <= currentVersion else {
            throw bad("model format version \(version) is newer than this MPILearn reads (up to \(currentVersion)); upgrade MPILearn")
        }
        guard data.count >= 16 else { throw bad("model file is truncated") }
        let stored = data.suffix(4).withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        let kindLen: UInt32 = try r.read()
        let kind = String(decoding: try r.bytes(length: kindLen), as: UTF8.self)
        if let expectedKinds, !expectedKinds.contains(kind) {
            throw bad("this is a '\(kind)' model; expected \(expectedKinds.map { "'\($0)'" }.joined(separator: " or "))")
        }
        guard CRC32.checksum(data.prefix(data.count - 4)) == stored else {
            throw bad("model file is truncated or corrupt (checksum mismatch)")
        }
        let headerLen: UInt64 = try r.read()
        let header = try r.bytes(length: headerLen)
        let count: UInt32 = try r.read()
        var sections: [(String, Data)] = []
        for _ in 0 ..< count {
            let nl: UInt32 = try r.read()
            let name = String(decoding: try r.bytes(length: nl), as: UTF8.self)
            let bl: UInt64 = try r.read()
            sections.append((name, try r.bytes(length: bl)))
        }
        guard r.offset == data.count - 4 else { throw bad("model file has \(data.count - 4 - r.offset) unexpected trailing bytes") }
        return ModelContainer(kind: kind, header: header, sections: sections, version: version)
    }

    /// The bytes of the file at `path`, read straight into one array (to broadcast a model
    /// file, or decode it with ``decode(bytes:path:expectedKinds:_:)``).
    public static func fileBytes(_ path: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else { throw MPILearnError.cannotRead(path: path, reason: "no such file") }
        let file = try ByteFile(path: path)
        return try [UInt8](unsafeUninitializedCapacity: file.size) { buf, n in
            n = try file.read(into: buf.baseAddress!, count: file.size, at: 0)
        }
    }

    /// Decodes the container in `bytes` without copying them and passes it to `body`; the
    /// container's sections are slices of `bytes`, valid only inside `body`.
    public static func decode<R>(bytes: [UInt8], path: String, expectedKinds: [String]? = nil,
                                 _ body: (ModelContainer) throws -> R) throws -> R {
        try bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return try body(decode(Data(), path: path, expectedKinds: expectedKinds)) }
            let data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: raw.count, deallocator: .none)
            return try body(decode(data, path: path, expectedKinds: expectedKinds))
        }
    }

    /// Reads and decodes the container at `path`.
    public static func read(from path: String, expectedKinds: [String]? = nil) throws -> ModelContainer {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MPILearnError.cannotRead(path: path, reason: FileManager.default.fileExists(atPath: path) ? "permission denied or not a file" : "no such file")
        }
        return try decode(data, path: path, expectedKinds: expectedKinds)
    }
}

/// `a × b` for sizes read from a model file, or nil when the product overflows: a damaged
/// header's sizes must give the caller's data error, not an overflow trap.
func checkedProduct(_ a: Int, _ b: Int) -> Int? {
    let r = a.multipliedReportingOverflow(by: b)
    return r.overflow ? nil : r.partialValue
}

/// Sequential little-endian reads with bounds checks that name the file.
public struct ByteReader {
    public let data: Data
    public let path: String
    public var offset = 0

    public init(data: Data, path: String) {
        self.data = data
        self.path = path
    }

    public mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) throws -> T {
        let b = try bytes(MemoryLayout<T>.size)
        return b.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(as: T.self)) }
    }

    /// The next `n` bytes, as a slice that shares `data`'s storage (no copy: a model's
    /// sections are most of its file, and copying them would double the memory of a load).
    public mutating func bytes(_ n: Int) throws -> Data {
        // `n <= count - offset`, not `offset + n <= count`: a corrupt length near Int.max
        // must be an error, not an overflow trap.
        guard n >= 0, n <= data.count - offset else { throw truncated(needing: "\(n)") }
        defer { offset += n }
        return data[data.startIndex + offset ..< data.startIndex + offset + n]
    }

    /// The next `length` bytes, `length` being a length field read from the file (a UInt64
    /// too large for Int is the same truncation error as any length past the end).
    public mutating func bytes<L: FixedWidthInteger>(length: L) throws -> Data {
        guard let n = Int(exactly: length) else { throw truncated(needing: "\(length)") }
        return try bytes(n)
    }

    private func truncated(needing n: String) -> MPILearnError {
        .dataError(SourceLocation(file: path), "model file is truncated (needs \(n) bytes at offset \(offset), has \(data.count - offset))")
    }
}

extension Data {
    /// Appends an integer in little-endian byte order.
    public mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        var le = v.littleEndian
        Swift.withUnsafeBytes(of: &le) { append(contentsOf: $0) }
    }

    /// The bytes of a flat array of trivially copyable values (native little-endian layout).
    public init<T: BitwiseCopyable>(flat values: [T]) {
        self = values.withUnsafeBytes { Data($0) }
    }

    /// Throws unless the bytes are exactly `count` values of `T` (a section's length check).
    public func requireValues<T: BitwiseCopyable>(_: T.Type, count: Int, path: String, what: String) throws {
        guard self.count == count * MemoryLayout<T>.stride else {
            throw MPILearnError.dataError(SourceLocation(file: path),
                "\(what) has \(self.count) bytes, not the \(count) \(T.self) values the model's tables call for; it is corrupt")
        }
    }

    /// `count` values of `T` starting at value `first` (native little-endian layout), copied
    /// straight from these bytes: a section is cut into its trees without an intermediate
    /// array of the whole section. The range must lie inside the bytes.
    public func values<T: BitwiseCopyable>(_: T.Type, from first: Int, count: Int) -> [T] {
        let size = MemoryLayout<T>.stride
        precondition(first >= 0 && count >= 0 && (first + count) * size <= self.count, "values outside the section")
        let lower = startIndex + first * size
        return [T](unsafeUninitializedCapacity: count) { buf, n in
            _ = self.copyBytes(to: UnsafeMutableRawBufferPointer(buf), from: lower ..< lower + count * size)
            n = count
        }
    }

    /// Reinterprets the bytes as a flat array of `T`.
    /// - Throws: ``MPILearnError/dataError`` if the length is not a multiple of `T`'s size.
    public func flatArray<T: BitwiseCopyable>(of: T.Type, path: String = "model") throws -> [T] {
        let size = MemoryLayout<T>.stride
        guard count % size == 0 else {
            throw MPILearnError.dataError(SourceLocation(file: path), "section of \(count) bytes is not a whole number of \(T.self) values")
        }
        return values(T.self, from: 0, count: count / size)
    }
}

/// CRC-32 (IEEE 802.3, the zlib/PNG polynomial), slicing-by-8 over raw bytes. Hand-written
/// (eight 256-entry tables) to avoid linking zlib for one checksum; checked against the
/// standard check value in the tests.
public enum CRC32 {
    static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0 ..< 256 {
            var c = UInt32(i)
            for _ in 0 ..< 8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[i] = c
        }
        for k in 1 ..< 8 {
            for i in 0 ..< 256 { t[k * 256 + i] = (t[(k - 1) * 256 + i] >> 8) ^ t[Int(t[(k - 1) * 256 + i] & 0xFF)] }
        }
        return t
    }()

    public static func checksum<D: DataProtocol>(_ data: D) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for region in data.regions {
            region.withUnsafeBytes { update(&c, $0) }
        }
        return c ^ 0xFFFF_FFFF
    }

    static func update(_ crc: inout UInt32, _ raw: UnsafeRawBufferPointer) {
        tables.withUnsafeBufferPointer { t in
            var c = crc
            var i = 0
            let n = raw.count
            while i + 8 <= n {
                let lo = raw.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian ^ c
                let hi = raw.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self).littleEndian
                c = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                c = t[Int((c ^ UInt32(raw[i])) & 0xFF)] ^ (c >> 8)
                i += 1
            }
            crc = c
        }
    }
}
