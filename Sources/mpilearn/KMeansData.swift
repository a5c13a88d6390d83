import Foundation
import MPILearn
import SwiftMPI

// Input and output for `mpilearn kmeans`, kept apart from the command so the data layer's
// readers (CSVReader, the NPY reader) can replace `loadKMeansData` without touching the rest.
//
// This is a deliberately small stand-in: an NPY v1/v2/v3 row-block reader (each rank reads
// only its rows, straight into its matrix) and a numeric-only CSV reader (each rank parses
// the lines starting in its byte range; no quoted fields).

/// Loads this rank's block of rows of a `.npy` or `.csv` file as a ``Dataset``.
///
/// Collective (the CSV path exchanges row counts). Rows are split in contiguous blocks, rank
/// order = file order, so `globalRowStart` is the row's index in the file.
/// - Throws: ``MPILearnError/cannotRead`` for a missing file, ``MPILearnError/dataError``
///   with the location for malformed content, ``MPILearnError/invalidParameter`` for an
///   unknown extension.
func loadKMeansData<T: LinearAlgebraScalar & MPIScalar>(_ type: T.Type, path: String, comm: any Communicator) throws -> Dataset<T> {
    let lower = path.lowercased()
    if lower.hasSuffix(".npy") { return try NPYBlockReader.read(T.self, path: path, comm: comm) }
    if lower.hasSuffix(".csv") { return try NumericCSVReader.read(T.self, path: path, comm: comm) }
    throw MPILearnError.invalidParameter(name: "--data", value: path, allowed: "a .npy or .csv file")
}

/// A read-only file descriptor with `pread` that names the file in errors.
struct InputFile {
    let fd: Int32
    let path: String
    let size: Int

    init(_ path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw MPILearnError.cannotRead(path: path, reason: String(cString: strerror(errno))) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(fd)
            throw MPILearnError.cannotRead(path: path, reason: "not a regular file")
        }
        size = Int(st.st_size)
    }

    func close() { _ = Glibc.close(fd) }

    /// Reads exactly `count` bytes at `offset` into `buffer`.
    func read(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int) throws {
        var done = 0
        while done < count {
            let r = pread(fd, buffer + done, min(count - done, 1 << 30), off_t(offset + done))
            if r < 0 {
                if errno == EINTR { continue }
                throw MPILearnError.cannotRead(path: path, reason: String(cString: strerror(errno)))
            }
            if r == 0 { throw MPILearnError.dataError(SourceLocation(file: path), "file is truncated: needs \(offset + count) bytes, has \(size)") }
            done += r
        }
    }

    func bytes(at offset: Int, count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        if count > 0 { try out.withUnsafeMutableBytes { try read(into: $0.baseAddress!, count: count, at: offset) } }
        return out
    }
}

/// NumPy `.npy` files (format versions 1-3): C-order 2-D (or 1-D: one feature) arrays of
/// `<f8`, `<f4`, `<i8` or `<i4`. Every rank parses the header and reads its row block with
/// `pread`; when the file's type is the requested one the bytes land directly in the matrix.
enum NPYBlockReader {
    struct Header {
        var descr: String
        var rows: Int
        var columns: Int
        var dataOffset: Int
        var itemSize: Int { descr.hasSuffix("8") ? 8 : 4 }
    }

    static func header(_ file: InputFile) throws -> Header {
        let path = file.path
        func bad(_ m: String) -> MPILearnError { .dataError(SourceLocation(file: path), m) }
        let pre = try file.bytes(at: 0, count: min(12, file.size))
        guard pre.count >= 10, pre[0] == 0x93, Array(pre[1 ..< 6]) == Array("NUMPY".utf8) else { throw bad("not a NumPy .npy file (bad magic)") }
        let major = pre[6]
        let (lenBytes, len): (Int, Int)
        switch major {
        case 1: (lenBytes, len) = (2, Int(pre[8]) | Int(pre[9]) << 8)
        case 2, 3:
            guard pre.count >= 12 else { throw bad("truncated .npy header") }
            (lenBytes, len) = (4, Int(pre[8]) | Int(pre[9]) << 8 | Int(pre[10]) << 16 | Int(pre[11]) << 24)
        default: throw bad(".npy format version \(major) is not supported (1-3 are)")
        }
        let start = 8 + lenBytes
        guard start + len <= file.size else { throw bad("truncated .npy header") }
        let text = String(decoding: try file.bytes(at: start, count: len), as: UTF8.self)
        func value(_ key: String) -> Substring? {
            guard let r = text.range(of: "'\(key)':") else { return nil }
            return text[r.upperBound...].drop { $0 == " " }
        }
        guard let d = value("descr"), d.first == "'", let end = d.dropFirst().firstIndex(of: "'") else { throw bad(".npy header has no descr") }
        let descr = String(d[d.index(after: d.startIndex) ..< end])
        guard ["<f8", "<f4", "<i8", "<i4"].contains(descr) else {
            throw bad(".npy dtype '\(descr)' is not supported: k-means reads little-endian float64, float32, int64 or int32")
        }
        if let f = value("fortran_order"), f.hasPrefix("True") { throw bad(".npy array is in Fortran order; save it in C order") }
        guard let s = value("shape"), s.first == "(", let close = s.firstIndex(of: ")") else { throw bad(".npy header has no shape") }
        let dims = s[s.index(after: s.startIndex) ..< close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let ints = Optional(dims.compactMap { Int($0) }), ints.count == dims.count, (1 ... 2).contains(ints.count) else {
            throw bad(".npy shape (\(dims.joined(separator: ","))) is not 1-D or 2-D")
        }
        let h = Header(descr: descr, rows: ints[0], columns: ints.count == 2 ? ints[1] : 1, dataOffset: start + len)
        guard h.dataOffset + h.rows * h.columns * h.itemSize <= file.size else {
            throw bad("file is truncated: \(h.rows) × \(h.columns) \(descr) values need \(h.dataOffset + h.rows * h.columns * h.itemSize) bytes, the file has \(file.size)")
        }
        return h
    }

    static func read<T: LinearAlgebraScalar>(_ type: T.Type, path: String, comm: any Communicator) throws -> Dataset<T> {
        let file = try InputFile(path)
        defer { file.close() }
        let h = try header(file)
        let rows = Partition.block(count: h.rows, parts: comm.size, index: comm.rank)
        let d = h.columns, count = rows.count * d
        let offset = h.dataOffset + rows.lowerBound * d * h.itemSize
        let direct = (h.descr == "<f8" && T.self == Double.self) || (h.descr == "<f4" && T.self == Float.self)
        var storage = [T]()
        if direct {
            storage = try [T](unsafeUninitializedCapacity: count) { buf, n in
                if count > 0 { try file.read(into: buf.baseAddress!, count: count * h.itemSize, at: offset) }
                n = count
            }
        } else {
            // Convert through a bounded buffer of 1 Mi values.
            storage.reserveCapacity(count)
            let chunk = 1 << 20
            var raw = [UInt8](repeating: 0, count: min(count, chunk) * h.itemSize)
            var done = 0
            while done < count {
                let c = min(chunk, count - done)
                try raw.withUnsafeMutableBytes { try file.read(into: $0.baseAddress!, count: c * h.itemSize, at: offset + done * h.itemSize) }
                raw.withUnsafeBytes { p in
                    for i in 0 ..< c {
                        switch h.descr {
                        case "<f8": storage.append(T(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))))
                        case "<f4": storage.append(T(Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))))
                        case "<i8": storage.append(T(Int64(littleEndian: p.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))))
                        default: storage.append(T(Int32(littleEndian: p.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))))
                        }
                    }
                }
                done += c
            }
        }
        return Dataset(features: Matrix(rows: rows.count, columns: d, storage: storage),
                       featureNames: (0 ..< d).map { "x\($0)" }, globalRowStart: rows.lowerBound, globalRowCount: h.rows)
    }
}

/// A numeric-only CSV reader: a header line, then rows of numbers separated by commas. The
/// numeric columns are those whose value in the first data row is a number; the others are
/// skipped (and reported). Each rank parses the lines that start in its byte range.
enum NumericCSVReader {
    static func read<T: LinearAlgebraScalar & MPIScalar>(_ type: T.Type, path: String, comm: any Communicator) throws -> Dataset<T> {
        let file = try InputFile(path)
        defer { file.close() }
        // Header and first data line (every rank reads them itself).
        let head = try file.bytes(at: 0, count: min(file.size, 1 << 20))
        guard let nl = head.firstIndex(of: 10) ?? (head.count == file.size ? head.count : nil) else {
            throw MPILearnError.dataError(SourceLocation(file: path, line: 1), "header line is longer than 1 MiB")
        }
        let names = fields(head[0 ..< nl]).map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces) }
        let bodyStart = min(nl + 1, file.size)
        let firstEnd = head[bodyStart...].firstIndex(of: 10) ?? head.count
        let first = fields(head[bodyStart ..< firstEnd])
        guard bodyStart < file.size, !first.isEmpty, !(first.count == 1 && first[0].isEmpty) else {
            throw MPILearnError.dataError(SourceLocation(file: path, line: 2), "no data rows")
        }
        var numeric: [Int] = []
        for (j, f) in first.enumerated() where j < names.count && parse(f) != nil { numeric.append(j) }
        guard !numeric.isEmpty else {
            throw MPILearnError.dataError(SourceLocation(file: path, line: 2),
                                          "no numeric columns (columns: \(names.joined(separator: ", "))); k-means needs numeric features")
        }
        // This rank's lines: those whose first byte lies in its share of the body.
        func lineStart(_ b: Int) throws -> Int {
            if b <= bodyStart { return bodyStart }
            if b >= file.size { return file.size }
            var pos = b - 1
            while pos < file.size {
                let n = min(1 << 16, file.size - pos)
                let chunk = try file.bytes(at: pos, count: n)
                if let i = chunk.firstIndex(of: 10) { return pos + i + 1 }
                pos += n
            }
            return file.size
        }
        let body = file.size - bodyStart
        let share = Partition.block(count: body, parts: comm.size, index: comm.rank)
        let lo = try lineStart(bodyStart + share.lowerBound), hi = try lineStart(bodyStart + share.upperBound)
        let text = try file.bytes(at: lo, count: max(0, hi - lo))
        // Line numbers: count this rank's lines, exchange the counts.
        var lineCount = 0
        for b in text where b == 10 { lineCount += 1 }
        if let last = text.last, last != 10 { lineCount += 1 }
        let lineCounts = try comm.allgatherCounts(lineCount)
        var line = 2 + lineCounts[0 ..< comm.rank].reduce(0, +)
        let d = numeric.count
        var values: [T] = []
        var rows = 0
        var pos = 0
        while pos < text.count {
            let end = text[pos...].firstIndex(of: 10) ?? text.count
            var lineBytes = text[pos ..< end]
            if lineBytes.last == 13 { lineBytes = lineBytes.dropLast() }
            if !lineBytes.isEmpty {
                if lineBytes.contains(34) {
                    throw MPILearnError.dataError(SourceLocation(file: path, line: line), "quoted fields are not supported by the k-means CSV reader")
                }
                let f = fields(lineBytes)
                guard f.count == names.count else {
                    throw MPILearnError.dataError(SourceLocation(file: path, line: line), "\(f.count) fields; the header has \(names.count)")
                }
                for j in numeric {
                    guard let v = parse(f[j]) else {
                        throw MPILearnError.dataError(SourceLocation(file: path, line: line, column: j + 1),
                                                      "'\(String(decoding: f[j], as: UTF8.self))' in column \(names[j]) is not a number")
                    }
                    guard v.isFinite else {
                        throw MPILearnError.dataError(SourceLocation(file: path, line: line, column: j + 1),
                                                      "value \(String(decoding: f[j], as: UTF8.self)) in column \(names[j]) is not finite; k-means needs finite values")
                    }
                    values.append(T(v))
                }
                rows += 1
            }
            line += 1
            pos = end + 1
        }
        let rowCounts = try comm.allgatherCounts(rows)
        let start = rowCounts[0 ..< comm.rank].reduce(0, +), total = rowCounts.reduce(0, +)
        return Dataset(features: Matrix(rows: rows, columns: d, storage: values), featureNames: numeric.map { names[$0] },
                       globalRowStart: start, globalRowCount: total)
    }

    /// Splits a line on commas.
    static func fields(_ line: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        line.split(separator: 44, omittingEmptySubsequences: false)
    }

    /// The number in a field (surrounding blanks allowed), or nil. Uses `strtod`.
    static func parse(_ field: ArraySlice<UInt8>) -> Double? {
        var f = field
        while let c = f.first, c == 32 || c == 9 { f = f.dropFirst() }
        while let c = f.last, c == 32 || c == 9 || c == 13 { f = f.dropLast() }
        guard !f.isEmpty, f.count < 128 else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: f.count + 1) { buf in
            for (i, b) in f.enumerated() { buf[i] = CChar(bitPattern: b) }
            buf[f.count] = 0
            var end: UnsafeMutablePointer<CChar>? = nil
            let v = strtod(buf.baseAddress!, &end)
            return end == buf.baseAddress! + f.count ? v : nil
        }
    }
}

/// Writes one file of all ranks' labels in parallel: rank 0 creates a temporary file with
/// the header and the final size, every rank writes its bytes at its offset with `pwrite`,
/// and rank 0 renames the file into place after a barrier (so the output appears atomically).
/// `.npy` gives an int32 array of shape (N,); other extensions a text file, header `label`
/// then one label per line. The folder must be shared by all ranks (a parallel file system).
func writeLabelsParallel(_ labels: [Int32], globalStart: Int, globalCount: Int, path: String, comm: any Communicator) throws {
    let npy = path.lowercased().hasSuffix(".npy")
    var header = Data()
    var mine = Data()
    var offset = 0
    if npy {
        var dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (\(globalCount),), }"
        let unpadded = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        header.append(contentsOf: [0x93] + Array("NUMPY".utf8) + [1, 0])
        header.appendLE(UInt16(dict.utf8.count))
        header.append(Data(dict.utf8))
        mine = labels.withUnsafeBufferPointer { p in Data(buffer: p) }
        offset = header.count + globalStart * 4
    } else {
        header = Data("label\n".utf8)
        var text = ""
        text.reserveCapacity(labels.count * 3)
        for l in labels { text += "\(l)\n" }
        mine = Data(text.utf8)
        let counts = try comm.allgatherCounts(mine.count)
        offset = header.count + counts[0 ..< comm.rank].reduce(0, +)
    }
    let total = npy ? header.count + globalCount * 4 : header.count + (try comm.allreduce(Int64(mine.count), op: .sum)).asInt
    let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var tmp = ""
    if comm.isRoot {
        tmp = "\(dir)/.\(URL(fileURLWithPath: path).lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY, 0o644)
        guard fd >= 0 else { throw MPILearnError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let ok = header.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } == header.count && ftruncate(fd, off_t(total)) == 0
        guard ok else { throw MPILearnError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
    }
    tmp = try comm.broadcastObject(comm.isRoot ? tmp : nil)
    if !mine.isEmpty {
        let fd = open(tmp, O_WRONLY)
        guard fd >= 0 else { throw MPILearnError.cannotWrite(path: path, reason: "rank \(comm.rank) cannot open \(tmp): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var done = 0
        try mine.withUnsafeBytes { p in
            while done < p.count {
                let w = pwrite(fd, p.baseAddress! + done, p.count - done, off_t(offset + done))
                if w < 0 && errno == EINTR { continue }
                guard w > 0 else { throw MPILearnError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
                done += w
            }
        }
        fsync(fd)
    }
    try comm.barrier()
    if comm.isRoot {
        guard rename(tmp, path) == 0 else { throw MPILearnError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
    }
    try comm.barrier()
}

private extension Int64 { var asInt: Int { Int(self) } }
