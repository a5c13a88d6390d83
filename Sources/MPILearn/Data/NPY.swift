import Foundation
import SwiftMPI

/// The NPY element types MPILearn reads and writes (little-endian).
public enum NPYDType: String, Codable, Sendable, CaseIterable {
    case float32 = "<f4", float64 = "<f8", int32 = "<i4", int64 = "<i8"

    public var itemSize: Int { self == .float32 || self == .int32 ? 4 : 8 }
}

/// An element type that can be written to an NPY file.
public protocol NPYElement: BitwiseCopyable {
    static var npyDType: NPYDType { get }
}
extension Double: NPYElement { public static var npyDType: NPYDType { .float64 } }
extension Float: NPYElement { public static var npyDType: NPYDType { .float32 } }
extension Int32: NPYElement { public static var npyDType: NPYDType { .int32 } }
extension Int64: NPYElement { public static var npyDType: NPYDType { .int64 } }

/// What an NPY header says: element type, shape and where the data starts.
public struct NPYHeader: Sendable, Equatable {
    public var dtype: NPYDType
    /// `[rows]` or `[rows, columns]`.
    public var shape: [Int]
    /// Byte offset of the first element.
    public var dataOffset: Int

    public var rows: Int { shape.first ?? 1 }
    public var columns: Int { shape.count == 2 ? shape[1] : 1 }
}

/// NumPy's `.npy` format (versions 1.0, 2.0 and 3.0; little-endian `f4`, `f8`, `i4`, `i8`;
/// C order; 1-D or 2-D), read and written in parallel.
///
/// Reading: every rank reads the header, then only its block of rows
/// (`Partition.block(count: rows, parts: size, index: rank)`) with `pread` at its offset.
/// Writing: rank 0 writes the header, every rank writes its rows at its offset, and the file
/// appears atomically (``ParallelFile``). Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
public enum NPY {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY

    /// Reads and checks the header of `path`.
    /// - Throws: ``MPILearnError/cannotRead`` if the file cannot be opened;
    ///   ``MPILearnError/dataError`` for a file that is not NPY, is truncated, or has an
    ///   unsupported element type or layout.
    public static func readHeader(_ path: String) throws -> NPYHeader {
        let file = try ByteFile(path: path)
        func bad(_ msg: String, offset: Int? = nil) -> MPILearnError {
            .dataError(SourceLocation(file: path), (offset.map { "byte \($0): " } ?? "") + msg)
        }
        var pre = [UInt8](repeating: 0, count: 12)
        let n = try pre.withUnsafeMutableBytes { try file.read(into: $0.baseAddress!, count: 12, at: 0) }
        guard n >= 10, Array(pre[0 ..< 6]) == magic else {
            throw bad("not an NPY file (it does not start with \\x93NUMPY)")
        }
        let major = pre[6]
        let headerLength: Int, prefix: Int
        switch major {
        case 1:
            headerLength = Int(pre[8]) | Int(pre[9]) << 8
            prefix = 10
        case 2, 3:
            guard n >= 12 else { throw bad("truncated NPY header") }
            headerLength = Int(pre[8]) | Int(pre[9]) << 8 | Int(pre[10]) << 16 | Int(pre[11]) << 24
            prefix = 12
        default:
            throw bad("unsupported NPY format version \(major).\(pre[7]) (supported: 1.0, 2.0, 3.0)", offset: 6)
        }
        guard prefix + headerLength <= file.size else {
            throw bad("truncated NPY header: it declares \(headerLength) bytes, the file has \(file.size - prefix)", offset: prefix)
        }
        var text = [UInt8](repeating: 0, count: headerLength)
        _ = try text.withUnsafeMutableBytes { try file.read(into: $0.baseAddress!, count: headerLength, at: prefix) }
        let dict = String(decoding: text, as: UTF8.self)
        guard let descr = value(of: "descr", in: dict), let order = value(of: "fortran_order", in: dict),
              let shapeText = value(of: "shape", in: dict) else {
            throw bad("malformed NPY header: \(dict.trimmingCharacters(in: .whitespacesAndNewlines))", offset: prefix)
        }
        let d = descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
        guard let dtype = NPYDType(rawValue: normalizedDescr(d)) else {
            throw bad("unsupported NPY dtype '\(d)' (supported: \(NPYDType.allCases.map(\.rawValue).joined(separator: ", ")))", offset: prefix)
        }
        guard order == "False" else { throw bad("Fortran-order arrays are not supported (save with np.ascontiguousarray)", offset: prefix) }
        guard let shape = parseShape(shapeText), (1 ... 2).contains(shape.count) else {
            throw bad("unsupported shape \(shapeText) (1-D or 2-D arrays only)", offset: prefix)
        }
        let header = NPYHeader(dtype: dtype, shape: shape, dataOffset: prefix + headerLength)
        let need = header.rows * header.columns * dtype.itemSize
        guard file.size - header.dataOffset >= need else {
            throw bad("truncated: shape \(shape) of \(dtype.rawValue) needs \(need) bytes of data, the file has \(file.size - header.dataOffset)",
                      offset: header.dataOffset)
        }
        return header
    }

    /// `d` with the native-order prefixes of little-endian machines made explicit (`f8` and
    /// `=f8` become `<f8`); other strings unchanged.
    static func normalizedDescr(_ d: String) -> String {
        d == "<f8" || d == "f8" || d == "=f8" ? "<f8" : d == "=f4" || d == "f4" ? "<f4"
            : d == "=i4" || d == "i4" ? "<i4" : d == "=i8" || d == "i8" ? "<i8" : d
    }

    /// The dimensions of a header's shape tuple (`()`, `(3,)`, `(2, 5)`), or nil when one is
    /// not a non-negative integer.
    static func parseShape(_ text: String) -> [Int]? {
        let dims = text.trimmingCharacters(in: CharacterSet(charactersIn: "() ")).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let shape = dims.compactMap { Int($0) }
        guard shape.count == dims.count, shape.allSatisfy({ $0 >= 0 }) else { return nil }
        return shape
    }

    /// The text after `'key':` in a header dict, up to the next top-level comma.
    private static func value(of key: String, in dict: String) -> String? {
        guard let r = dict.range(of: "'\(key)':") ?? dict.range(of: "\"\(key)\":") else { return nil }
        var depth = 0
        var out = ""
        for c in dict[r.upperBound...] {
            if c == "(" { depth += 1 }
            if c == ")" { depth -= 1 }
            if (c == "," && depth == 0) || c == "}" { break }
            out.append(c)
        }
        return out.trimmingCharacters(in: .whitespaces)
    }

    /// Collective. Reads this rank's block of rows of `path`, converted to `T`.
    /// - Returns: a dataset with features `x0, x1, ...`, no target, and the block's global rows.
    public static func read<T: LinearAlgebraScalar>(_ path: String, as type: T.Type = Double.self, comm: any Communicator) throws -> Dataset<T> {
        // Called from another module, a public generic runs unspecialised: filling a
        // 40-million-element matrix then goes through a value witness per element (0.2 s).
        // Concrete calls let the optimizer specialise the body.
        if T.self == Double.self { return try readSpecialised(path, as: Double.self, comm: comm) as! Dataset<T> }
        if T.self == Float.self { return try readSpecialised(path, as: Float.self, comm: comm) as! Dataset<T> }
        return try readSpecialised(path, as: T.self, comm: comm)
    }

    static func readSpecialised<T: LinearAlgebraScalar>(_ path: String, as type: T.Type, comm: any Communicator) throws -> Dataset<T> {
        let header = try readHeader(path)
        let rows = Partition.block(count: header.rows, parts: comm.size, index: comm.rank)
        let cols = header.columns
        var m = Matrix<T>(rows: rows.count, columns: cols)
        let count = rows.count * cols
        if count > 0 {
            let file = try ByteFile(path: path)
            let offset = header.dataOffset + rows.lowerBound * cols * header.dtype.itemSize
            // Same element type: the bytes land in the matrix directly (no second copy).
            if (T.self == Double.self && header.dtype == .float64) || (T.self == Float.self && header.dtype == .float32) {
                let bytes = count * header.dtype.itemSize
                let n = try m.storage.withUnsafeMutableBytes { try file.read(into: $0.baseAddress!, count: bytes, at: offset) }
                guard n == bytes else {
                    throw MPILearnError.dataError(SourceLocation(file: path), "byte \(offset + n): truncated while reading rows \(rows)")
                }
                return Dataset(features: m, globalRowStart: rows.lowerBound, globalRowCount: header.rows)
            }
            let raw = UnsafeMutableRawPointer.allocate(byteCount: count * header.dtype.itemSize, alignment: 8)
            defer { raw.deallocate() }
            let n = try file.read(into: raw, count: count * header.dtype.itemSize, at: offset)
            guard n == count * header.dtype.itemSize else {
                throw MPILearnError.dataError(SourceLocation(file: path), "byte \(offset + n): truncated while reading rows \(rows)")
            }
            m.storage.withUnsafeMutableBufferPointer { out in
                switch header.dtype {
                case .float64: let s = raw.assumingMemoryBound(to: Double.self); for i in 0 ..< count { out[i] = T(s[i]) }
                case .float32: let s = raw.assumingMemoryBound(to: Float.self); for i in 0 ..< count { out[i] = T(s[i]) }
                case .int32: let s = raw.assumingMemoryBound(to: Int32.self); for i in 0 ..< count { out[i] = T(s[i]) }
                case .int64: let s = raw.assumingMemoryBound(to: Int64.self); for i in 0 ..< count { out[i] = T(s[i]) }
                }
            }
        }
        return Dataset(features: m, globalRowStart: rows.lowerBound, globalRowCount: header.rows)
    }

    /// Collective. This rank's block of rows as a table of Double columns `x0, x1, ...`.
    public static func readTable(_ path: String, comm: any Communicator) throws -> Table {
        let d = try read(path, as: Double.self, comm: comm)
        let n = d.rowCount, c = d.featureCount
        let columns = (0 ..< c).map { j in
            Column(name: "x\(j)", values: .float64((0 ..< n).map { d.matrix.storage[$0 * c + j] }))
        }
        return Table(columns: columns, rowCount: n, globalRowStart: d.globalRowStart, globalRowCount: d.globalRowCount)
    }

    /// The header bytes for `dtype` and `shape` (version 1.0 unless the header needs 2.0),
    /// padded so the data starts at a multiple of 64 bytes.
    public static func headerBytes(dtype: NPYDType, shape: [Int]) -> [UInt8] {
        headerBytes(descr: dtype.rawValue, shape: shape)
    }

    /// The header bytes for NumPy type string `descr` (e.g. `|S3`) and `shape` (`[]` for 0-d).
    static func headerBytes(descr: String, shape: [Int]) -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        let dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        var version: UInt8 = 1
        var prefix = 10
        if dict.utf8.count + 1 + prefix > 65_535 { version = 2; prefix = 12 }
        var body = Array(dict.utf8)
        let total = (prefix + body.count + 1 + 63) / 64 * 64
        body += [UInt8](repeating: 0x20, count: total - prefix - body.count - 1) + [0x0A]
        var out = magic + [version, 0]
        let len = body.count
        out += version == 1 ? [UInt8(len & 0xFF), UInt8(len >> 8)] : [UInt8(len & 0xFF), UInt8(len >> 8 & 0xFF), UInt8(len >> 16 & 0xFF), UInt8(len >> 24)]
        return out + body
    }

    /// Collective. Writes every rank's rows (row-major, `columns` per row), in rank order, to
    /// one NPY file at `path`. With `columns == nil` the array is 1-D.
    /// - Throws: ``MPILearnError/cannotWrite``; ``MPILearnError/mismatch`` if ranks disagree
    ///   on the column count.
    public static func write<E: NPYElement>(_ values: [E], columns: Int?, to path: String, comm: any Communicator) throws {
        let c = columns ?? 1
        guard c > 0, values.count % c == 0 else {
            throw MPILearnError.mismatch("NPY write: \(values.count) values do not fill rows of \(c) columns")
        }
        let agree = try comm.allreduce([Int64(c), -Int64(c)], op: .max)
        guard agree[0] == -agree[1] else { throw MPILearnError.mismatch("NPY write: ranks disagree on the column count (\(c) here)") }
        let rows = try comm.allreduce(Int64(values.count / c), op: .sum)
        let header = headerBytes(dtype: E.npyDType, shape: columns == nil ? [Int(rows)] : [Int(rows), c])
        try values.withUnsafeBytes { try ParallelFile.write(path, header: comm.rank == 0 ? header : [], bytes: $0, comm: comm) }
    }

    /// Collective. Writes every rank's matrix rows, in rank order, as one 2-D NPY file.
    public static func write<T: LinearAlgebraScalar & NPYElement>(_ matrix: Matrix<T>, to path: String, comm: any Communicator) throws {
        try write(matrix.storage, columns: matrix.columns, to: path, comm: comm)
    }
}

// MARK: - In memory (the members of an .npz archive)

extension NPY {
    /// An `.npy` array held in memory: NumPy's type string, its shape and its element bytes.
    public struct InMemory: Sendable, Equatable {
        /// NumPy's type string, native prefixes made explicit: `<f8`, `<i4`, `|S3`, `<U3`, ….
        public var descr: String
        /// The dimensions (`[]` for a 0-d array such as scipy's `format` member).
        public var shape: [Int]
        /// The elements' bytes, C order, exactly `count × itemSize` of them.
        public var bytes: [UInt8]

        public var count: Int { shape.reduce(1, *) }

        /// The element type, when it is one of ``NPYDType``'s.
        public var dtype: NPYDType? { NPYDType(rawValue: descr) }

        /// The elements as `E` when the type string is `E`'s, else nil.
        public func values<E: NPYElement>(_ type: E.Type) -> [E]? {
            guard descr == E.npyDType.rawValue else { return nil }
            return [E](unsafeUninitializedCapacity: count) { out, n in
                if count > 0 { bytes.withUnsafeBytes { src in _ = memcpy(out.baseAddress!, src.baseAddress!, count * MemoryLayout<E>.size) } }
                n = count
            }
        }

        /// The elements as integers when the type is `<i4` or `<i8`.
        public var integers: [Int64]? {
            if let v = values(Int32.self) { return v.map(Int64.init) }
            return values(Int64.self)
        }

        /// The text of a 0-d byte-string (`|S<n>`) or Unicode (`<U<n>`) array, trailing NULs
        /// dropped.
        public var text: String? {
            guard count == 1 else { return nil }
            if descr.hasPrefix("|S") {
                return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if descr.hasPrefix("<U") {
                var scalars = String.UnicodeScalarView()
                for k in stride(from: 0, to: bytes.count - 3, by: 4) {
                    let u = UInt32(bytes[k]) | UInt32(bytes[k + 1]) << 8 | UInt32(bytes[k + 2]) << 16 | UInt32(bytes[k + 3]) << 24
                    if u == 0 { break }
                    if let c = Unicode.Scalar(u) { scalars.append(c) }
                }
                return String(scalars)
            }
            return nil
        }
    }

    /// Decodes a whole `.npy` file held in memory: any little-endian or byte type whose item
    /// size the type string states (`<f8`, `<i4`, `|S3`, `<U3`, `|u1`, …), any number of
    /// dimensions, C order.
    /// - Parameter source: how errors name the bytes (a file and member).
    /// - Throws: ``MPILearnError/dataError`` naming `source` when the bytes are not NPY, the
    ///   header is malformed, the array is in Fortran order or big-endian, or the bytes are
    ///   fewer than the shape needs.
    public static func decode(_ bytes: [UInt8], source: String) throws -> InMemory {
        func bad(_ msg: String) -> MPILearnError { .dataError(SourceLocation(file: source), msg) }
        guard bytes.count >= 10, Array(bytes[0 ..< 6]) == magic else {
            throw bad("not an NPY array (it does not start with \\x93NUMPY)")
        }
        let headerLength: Int, prefix: Int
        switch bytes[6] {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            prefix = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw bad("truncated NPY header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            prefix = 12
        default:
            throw bad("unsupported NPY format version \(bytes[6]).\(bytes[7]) (supported: 1.0, 2.0, 3.0)")
        }
        guard prefix + headerLength <= bytes.count else {
            throw bad("truncated NPY header: it declares \(headerLength) bytes, there are \(bytes.count - prefix)")
        }
        let dict = String(decoding: bytes[prefix ..< prefix + headerLength], as: UTF8.self)
        guard let descrText = value(of: "descr", in: dict), let order = value(of: "fortran_order", in: dict),
              let shapeText = value(of: "shape", in: dict) else {
            throw bad("malformed NPY header: \(dict.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let descr = normalizedDescr(descrText.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")))
        guard order == "False" else { throw bad("Fortran-order arrays are not supported") }
        guard let shape = parseShape(shapeText) else { throw bad("malformed shape \(shapeText)") }
        guard descr.count >= 3, let endian = descr.first, endian == "<" || endian == "|",
              let itemSize = Int(descr.dropFirst(2)), itemSize > 0 else {
            throw bad("unsupported dtype '\(descr)' (little-endian or byte types only)")
        }
        let kind = descr.dropFirst().first!
        let size = kind == "U" ? 4 * itemSize : itemSize
        let count = shape.reduce(1, *)
        let start = prefix + headerLength
        let (need, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow, bytes.count - start >= need else {
            throw bad("truncated: shape \(shape) of \(descr) needs \(need) bytes of data, there are \(bytes.count - start)")
        }
        return InMemory(descr: descr, shape: shape, bytes: Array(bytes[start ..< start + need]))
    }

    /// The `.npy` bytes of `values` with `shape` (`[values.count]` when nil).
    public static func encode<E: NPYElement>(_ values: [E], shape: [Int]? = nil) -> [UInt8] {
        precondition((shape ?? [values.count]).reduce(1, *) == values.count, "NPY.encode: shape \(shape ?? []) for \(values.count) values")
        return headerBytes(descr: E.npyDType.rawValue, shape: shape ?? [values.count]) + values.withUnsafeBytes { Array($0) }
    }

    /// The `.npy` bytes of a 0-d byte string (NumPy's `np.array(b'csr')`, type `|S<n>`).
    public static func encode(byteString: String) -> [UInt8] {
        let utf8 = Array(byteString.utf8)
        return headerBytes(descr: "|S\(max(1, utf8.count))", shape: []) + (utf8.isEmpty ? [0] : utf8)
    }
}
