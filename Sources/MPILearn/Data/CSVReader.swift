import Foundation
import SwiftMPI

/// What a parallel CSV read found, beyond the table: files, bytes, per-rank rows, missing
/// values, the types inferred, and time taken.
public struct CSVReadReport: Sendable {
    /// The files read, in order.
    public var files: [String]
    /// Bytes of all files (headers included).
    public var bytes: Int
    /// Rows each rank parsed (before any rebalance).
    public var rowsPerRank: [Int]
    /// Missing values per column over all ranks.
    public var missing: [String: Int]
    /// The type every column ended with (inferred ones resolved).
    public var types: [String: ColumnType]
    /// Wall-clock seconds of the read on this rank.
    public var seconds: Double
}

/// Reads CSV files in parallel: every rank parses its own byte range and the ranks agree on
/// column types and category codes through collectives.
///
/// ## How the work is split
/// The data bytes of all files (after their headers) are laid end to end and cut into `p`
/// equal byte ranges, so one big file is split by range, many small files are shared out by
/// bytes, and a very large file among small ones is split too. A record belongs to the range
/// in which it starts.
///
/// A newline inside a quoted field makes the usual "skip to the next newline" alignment
/// ambiguous. MPILearn never guesses: each rank first counts the quote characters in its
/// range, the counts are allgathered, and the parity of the quotes before a range tells
/// exactly whether it starts inside a quoted field (under RFC 4180 every quote opens, closes
/// or doubles, so the parity is the quoting state). The first newline outside quotes at or
/// after the range start is the record boundary. Ranges therefore partition the file exactly,
/// for any `p`, with quoted newlines, CRLF, blank lines and no final newline. A quote inside
/// an unquoted field breaks that rule and is reported as an error with its location.
///
/// ## Types and dictionaries
/// Numeric, datetime and categorical columns are parsed straight from the bytes. For
/// categorical columns each rank collects its distinct values; they are allgathered and
/// sorted (by UTF-8 bytes), so a value's code is the same on every rank and for any `p`.
/// Inferred columns keep their distinct values until the ranks have agreed (an allreduce of
/// "every value is a number / a date") on the type. An inferred column of numbers with some
/// text cells is a data error raised by the rank that read the first such cell (see
/// ``ColumnType/inferred``).
///
/// Collective: every rank of `comm` calls it with the same arguments.
public enum CSVReader {
    /// Reads `pathOrGlob` (a file, a folder of `*.csv` files, or a glob such as
    /// `data/part-*.csv`) and returns this rank's shard.
    ///
    /// - Parameters:
    ///   - pathOrGlob: what to read; rank 0 expands globs and folders and broadcasts the list.
    ///   - options: dialect, columns, types, missing values, dictionaries.
    ///   - comm: the ranks sharing the work (`LocalCommunicator.solo()` to read alone).
    /// - Returns: this rank's rows, a contiguous block of the global table in file order.
    /// - Throws: ``MPILearnError/cannotRead`` for missing or unreadable files,
    ///   ``MPILearnError/dataError`` naming file:line:column for malformed data,
    ///   ``MPILearnError/invalidParameter`` for bad options.
    public static func read(_ pathOrGlob: String, options: CSVOptions = CSVOptions(), comm: any Communicator) throws -> Table {
        try readWithReport(pathOrGlob, options: options, comm: comm).table
    }

    /// As ``read(_:options:comm:)``, also returning a ``CSVReadReport``.
    public static func readWithReport(_ pathOrGlob: String, options: CSVOptions = CSVOptions(),
                                      comm: any Communicator) throws -> (table: Table, report: CSVReadReport) {
        let start = Date()
        let trace = ProcessInfo.processInfo.environment["MPILEARN_CSV_TRACE"] != nil
        func mark(_ what: String) {
            if trace { Job.writeStandardError(String(format: "csv rank %d: %-10@ %.3f s\n", comm.rank, what as NSString, Date().timeIntervalSince(start))) }
        }
        let delimiter = try options.delimiterByte()
        try require(options.bufferSize >= 64, "buffer_size", options.bufferSize, "at least 64 bytes")

        // 1. Rank 0 lists the files and reads their headers; everyone gets the plan.
        var plan: CSVPlan? = nil
        if comm.rank == 0 { plan = try CSVPlan.make(pathOrGlob, options: options, delimiter: delimiter) }
        let thePlan = try comm.broadcastObject(plan, root: 0)
        let selection = try thePlan.select(options)
        mark("plan")

        // 2. Byte ranges, aligned to records by quote parity.
        var buffer = ReadBuffer(capacity: options.bufferSize)
        defer { buffer.free() }
        let aligned = try align(thePlan, comm: comm, buffer: &buffer)
        let pieces = aligned.pieces, mine = aligned.mine, starts = aligned.starts, recordEnds = aligned.recordEnds
        let file = aligned.file

        mark("align")
        // 3. Parse this rank's records.
        let parser = CSVShardParser(fieldCount: thePlan.header.count,
                                    fields: selection.map { ($0.field, $0.parseKind(float32: options.float32)) },
                                    delimiter: delimiter, missing: options.missingValues)
        do {
            for i in mine where starts[i] < recordEnds[i] {
                try parsePiece(parser, try file(pieces[i].file), starts[i] ..< recordEnds[i], piece: i, &buffer)
            }
        } catch let failure as CSVParseFailure {
            throw locate(failure, pieces: pieces, plan: thePlan, file: { try? file($0) })
        }

        mark("parse")
        // 4. Agree on types and codes, build the columns.
        let rowsPerRank = try comm.allgatherCounts(parser.rows)
        let globalStart = rowsPerRank[0 ..< comm.rank].reduce(0, +)
        let globalCount = rowsPerRank.reduce(0, +)
        var finisher = CSVFinisher(parser: parser, selection: selection, options: options, comm: comm,
                                   locate: { piece, offset, field, message in
                                       locate(CSVParseFailure(piece: piece, offset: offset, field: field, message: message),
                                              pieces: pieces, plan: thePlan, file: { try? file($0) })
                                   })
        let columns = try finisher.finish()
        var table = Table(columns: columns, rowCount: parser.rows, globalRowStart: globalStart, globalRowCount: globalCount)

        mark("finish")
        var missingLocal = table.columns.map { Int64($0.values.missingCount) }
        try comm.allreduce(&missingLocal, op: .sum)
        if options.rebalance { table = try table.rebalanced(comm: comm) }
        if !options.datetimeFeatures.isEmpty { table = table.addingDatetimeFeatures(options.datetimeFeatures) }
        mark("done")
        let report = CSVReadReport(
            files: thePlan.files.map(\.path), bytes: thePlan.files.reduce(0) { $0 + $1.size }, rowsPerRank: rowsPerRank,
            missing: Dictionary(uniqueKeysWithValues: zip(selection.map(\.name), missingLocal.map { Int($0) })),
            types: Dictionary(uniqueKeysWithValues: zip(selection.map(\.name), finisher.resolvedTypes)),
            seconds: Date().timeIntervalSince(start))
        return (table, report)
    }

    /// The column names of `pathOrGlob` (the first file's header, or `x0`, `x1`, ... without
    /// one), reading only the files' first records. Local: no communication.
    ///
    /// Lets a caller choose ``CSVOptions/columns`` and ``CSVOptions/types`` (or report columns
    /// that are missing) before the collective ``read(_:options:comm:)``.
    /// - Throws: as ``read(_:options:comm:)`` for missing files or inconsistent headers.
    public static func columnNames(_ pathOrGlob: String, options: CSVOptions = CSVOptions()) throws -> [String] {
        try CSVPlan.make(pathOrGlob, options: options, delimiter: try options.delimiterByte()).header
    }

    /// The files `pathOrGlob` names: a file, every `*.csv` in a folder (sorted), or the sorted
    /// matches of a glob.
    /// - Throws: ``MPILearnError/cannotRead`` when nothing matches.
    public static func expand(_ pathOrGlob: String) throws -> [String] {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: pathOrGlob, isDirectory: &isDir) {
            guard isDir.boolValue else { return [pathOrGlob] }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: pathOrGlob)) ?? []
            let csv = names.filter { $0.lowercased().hasSuffix(".csv") && !$0.hasPrefix(".") }.sorted()
            guard !csv.isEmpty else { throw MPILearnError.cannotRead(path: pathOrGlob, reason: "the folder holds no .csv file") }
            return csv.map { (pathOrGlob as NSString).appendingPathComponent($0) }
        }
        return try globFiles(pathOrGlob, missing: "no such file or folder")
    }

    /// The byte ranges of every rank, aligned to record starts by quote parity (collective:
    /// two allgathers). `mine` are this rank's pieces; piece `i` holds the records in
    /// `starts[i] ..< recordEnds[i]`; `file` opens a plan file once (checking its size against
    /// rank 0's).
    static func align(_ thePlan: CSVPlan, comm: any Communicator, buffer: inout ReadBuffer) throws
        -> (pieces: [CSVPiece], mine: [Int], starts: [Int], recordEnds: [Int], file: (Int) throws -> ByteFile) {
        let pieces = thePlan.pieces(parts: comm.size)
        let mine = pieces.indices.filter { pieces[$0].owner == comm.rank }
        let files = FileCache(plan: thePlan)
        let file = files.open

        var myQuotes = [Int64]()
        for i in mine {
            // Only the quotes before a later piece of the same file matter: the last piece of
            // each file needs no count.
            let isLast = i + 1 == pieces.count || pieces[i + 1].file != pieces[i].file
            myQuotes.append(isLast ? 0 : Int64(try countQuotes(try file(pieces[i].file), pieces[i].start ..< pieces[i].end, &buffer)))
        }
        let allQuotes = try comm.allgatherv(myQuotes).values
        var parity = [Bool](repeating: false, count: pieces.count)
        var running: [Int: Int64] = [:]
        for (i, piece) in pieces.enumerated() {
            let before = running[piece.file, default: 0]
            parity[i] = before & 1 == 1
            running[piece.file] = before + allQuotes[i]
        }
        var myStarts = [Int64]()
        for i in mine {
            let f = try file(pieces[i].file)
            let s = pieces[i].start == thePlan.files[pieces[i].file].dataStart
                ? pieces[i].start
                : try firstRecordStart(f, from: pieces[i].start, inQuote: parity[i], &buffer)
            myStarts.append(Int64(s))
        }
        let starts = try comm.allgatherv(myStarts).values.map { Int($0) }
        var recordEnds = [Int](repeating: 0, count: pieces.count)
        for i in pieces.indices {
            let f = pieces[i].file
            recordEnds[i] = (i + 1 < pieces.count && pieces[i + 1].file == f) ? starts[i + 1] : thePlan.files[f].size
        }
        return (pieces, mine, starts, recordEnds, file)
    }

    /// The plan's files, each opened once.
    final class FileCache {
        let plan: CSVPlan
        var files: [Int: ByteFile] = [:]
        init(plan: CSVPlan) { self.plan = plan }
        func open(_ i: Int) throws -> ByteFile {
            if let f = files[i] { return f }
            let f = try ByteFile(path: plan.files[i].path)
            guard f.size == plan.files[i].size else {
                throw MPILearnError.cannotRead(path: f.path, reason: "its size on this rank (\(f.size) bytes) differs from rank 0's (\(plan.files[i].size) bytes)")
            }
            files[i] = f
            return f
        }
    }

    // MARK: - steps

    /// Number of quote bytes in `range` of `file` (a branch-free loop the compiler vectorises).
    static func countQuotes(_ file: ByteFile, _ range: Range<Int>, _ buffer: inout ReadBuffer) throws -> Int {
        var total = 0, pos = range.lowerBound
        while pos < range.upperBound {
            let n = try file.read(into: buffer.base, count: min(buffer.capacity, range.upperBound - pos), at: pos)
            if n == 0 { break }
            total += quoteCount(UnsafeRawPointer(buffer.base), n)
            pos += n
        }
        return total
    }

    /// Quote bytes in `[p, p+n)`, eight bytes at a time: XOR with `"` turns quotes into zero
    /// bytes, which the classic "has zero byte" bit trick marks with their high bit.
    @inline(__always)
    static func quoteCount(_ p: UnsafeRawPointer, _ n: Int) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101, high: UInt64 = 0x8080_8080_8080_8080, low: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        let q = ones &* 0x22
        var total = 0, i = 0
        while i + 8 <= n {
            let x = p.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ q
            let t = ((x & low) &+ low) | x
            total += (~t & high).nonzeroBitCount
            i += 8
        }
        while i < n {
            if p.load(fromByteOffset: i, as: UInt8.self) == 0x22 { total += 1 }
            i += 1
        }
        return total
    }

    /// The first record boundary at or after `offset`: `offset` itself if the byte before is a
    /// newline outside quotes, else the byte after the first newline outside quotes (or the
    /// end of the file).
    static func firstRecordStart(_ file: ByteFile, from offset: Int, inQuote: Bool, _ buffer: inout ReadBuffer) throws -> Int {
        var quoted = inQuote
        var pos = offset - 1
        // The byte before `offset` is a newline: quoted-ness at offset-1 equals that at offset.
        var first = true
        while pos < file.size {
            let n = try file.read(into: buffer.base, count: min(buffer.capacity, 1 << 16), at: pos)
            if n == 0 { break }
            let p = buffer.base
            for i in 0 ..< n {
                let c = p[i]
                if first {
                    first = false
                    if c == 10 && !quoted { return offset }
                    continue
                }
                if c == UInt8(ascii: "\"") {
                    quoted.toggle()
                } else if c == 10 && !quoted {
                    return pos + i + 1
                }
            }
            pos += n
        }
        return file.size
    }

    /// Parses `range` of `file` (whole records) chunk by chunk.
    static func parsePiece(_ parser: CSVShardParser, _ file: ByteFile, _ range: Range<Int>, piece: Int, _ buffer: inout ReadBuffer) throws {
        var bufOffset = range.lowerBound    // file offset of buffer[0]
        var have = 0                        // bytes in the buffer
        var estimated = false
        while true {
            let want = min(buffer.capacity - have, range.upperBound - bufOffset - have)
            if want > 0 {
                let n = try file.read(into: buffer.base + have, count: want, at: bufOffset + have)
                if n < want { throw MPILearnError.cannotRead(path: file.path, reason: "the file shrank while being read") }
                have += n
            }
            let final = bufOffset + have == range.upperBound
            let used = try parser.parse(buffer.base, from: 0, to: have, final: final, bufOffset: bufOffset, piece: piece)
            if !estimated && used > 0 && parser.rows > 0 {
                // Reserve for the whole range from the first chunk's bytes per row (+10%).
                estimated = true
                let perRow = Double(used) / Double(parser.rows)
                parser.reserve(Int(Double(range.count) / perRow * 1.1) + 1024)
            }
            if final { return }
            if used == 0 {
                buffer.grow(to: buffer.capacity * 2, keep: have)  // one record longer than the buffer
            } else {
                (buffer.base).update(from: buffer.base + used, count: have - used)
                have -= used
                bufOffset += used
            }
        }
    }

    /// A parse failure as a data error naming file, line and column.
    static func locate(_ failure: CSVParseFailure, pieces: [CSVPiece], plan: CSVPlan, file: (Int) -> ByteFile?) -> MPILearnError {
        let fileIndex = pieces[failure.piece].file
        let path = plan.files[fileIndex].path
        let line = file(fileIndex)?.line(ofOffset: failure.offset)
        var message = failure.message
        if let field = failure.field, field < plan.header.count { message = "column '\(plan.header[field])': " + message }
        return .dataError(SourceLocation(file: path, line: line, column: failure.field.map { $0 + 1 }), message)
    }
}

// MARK: - plan

/// One input file as rank 0 saw it.
struct CSVPlanFile: Codable {
    var path: String
    var size: Int
    /// Offset of the first data byte (after the byte order mark and header).
    var dataStart: Int
}

/// A byte range of one file read by one rank.
struct CSVPiece {
    var file: Int
    var start: Int
    var end: Int
    var owner: Int
}

/// A selected column: its field index, name and type.
struct CSVSelected {
    var field: Int
    var name: String
    var type: ColumnType
    var dictionary: CategoryDictionary?

    func parseKind(float32: Bool) -> FieldKind {
        switch type {
        case .numeric: return float32 ? .float32 : .float64
        case .categorical: return .categorical
        case .datetime: return .datetime
        case .inferred: return dictionary != nil ? .categorical : .inferred
        }
    }
}

/// The files, their headers and data offsets: made by rank 0, broadcast to all.
struct CSVPlan: Codable {
    var files: [CSVPlanFile]
    var header: [String]

    static func make(_ pathOrGlob: String, options: CSVOptions, delimiter: UInt8) throws -> CSVPlan {
        let paths = try CSVReader.expand(pathOrGlob)
        var files: [CSVPlanFile] = []
        var header: [String]? = nil
        for path in paths {
            let f = try ByteFile(path: path)
            let (fields, dataStart) = try readFirstRecord(f, delimiter: delimiter)
            let names = options.hasHeader ? fields : (0 ..< fields.count).map { "x\($0)" }
            if let h = header, h != names {
                if options.hasHeader {
                    let j = (0 ..< min(names.count, h.count)).first { names[$0] != h[$0] } ?? min(names.count, h.count)
                    let here = j < names.count ? "'\(names[j])'" : "nothing", there = j < h.count ? "'\(h[j])'" : "nothing"
                    throw MPILearnError.dataError(SourceLocation(file: path, line: 1, column: j + 1),
                                                  "header differs from the first file's (\(paths[0])): column \(j + 1) is \(here) here and \(there) there "
                                                      + "(\(names.count) vs \(h.count) columns; here: \(listPreview(names, separator: ",")); "
                                                      + "first file: \(listPreview(h, separator: ",")))")
                }
                throw MPILearnError.dataError(SourceLocation(file: path, line: 1),
                                              "\(names.count) fields per record where the first file (\(paths[0])) has \(h.count)")
            }
            header = names
            files.append(CSVPlanFile(path: path, size: f.size, dataStart: options.hasHeader ? dataStart : f.firstDataByte))
        }
        return CSVPlan(files: files, header: header ?? [])
    }

    /// Fields of the first record of `file` and the offset after it.
    static func readFirstRecord(_ file: ByteFile, delimiter: UInt8) throws -> ([String], Int) {
        let start = file.firstDataByte
        guard start < file.size else {
            throw MPILearnError.dataError(SourceLocation(file: file.path, line: 1), "empty file: no header and no data")
        }
        var cap = min(1 << 16, file.size - start)
        while true {
            let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: cap)
            defer { buf.deallocate() }
            let n = try file.read(into: buf, count: cap, at: start)
            let atEnd = start + n >= file.size
            var fields: [String] = []
            var field: [UInt8] = []
            var i = 0, quoted = false, wasQuoted = false
            // Skip blank lines before the header.
            while !quoted && i < n && (buf[i] == 10 || buf[i] == 13) { i += 1 }
            if i == n && atEnd {
                throw MPILearnError.dataError(SourceLocation(file: file.path, line: 1), "empty file: only blank lines")
            }
            while i < n {
                let c = buf[i]
                if quoted {
                    if c == UInt8(ascii: "\"") {
                        if i + 1 < n && buf[i + 1] == UInt8(ascii: "\"") { field.append(c); i += 2; continue }
                        quoted = false
                    } else {
                        field.append(c)
                    }
                } else if c == UInt8(ascii: "\"") && field.isEmpty && !wasQuoted {
                    quoted = true
                    wasQuoted = true
                } else if c == delimiter {
                    fields.append(String(decoding: field, as: UTF8.self))
                    field = []
                    wasQuoted = false
                } else if c == 10 {
                    if !wasQuoted, field.last == 13 { field.removeLast() }
                    fields.append(String(decoding: field, as: UTF8.self))
                    return (fields, start + i + 1)
                } else if !(c == 13 && wasQuoted) {
                    field.append(c)
                }
                i += 1
            }
            if atEnd {
                if quoted {
                    throw MPILearnError.dataError(SourceLocation(file: file.path, line: 1), "unterminated quote in the first record")
                }
                if field.last == 13 { field.removeLast() }
                fields.append(String(decoding: field, as: UTF8.self))
                return (fields, file.size)
            }
            cap *= 4
        }
    }

    /// Every rank's byte ranges: the data bytes of all files end to end, cut in `parts` equal
    /// blocks (a block spanning files gives one piece per file), in rank order.
    func pieces(parts: Int) -> [CSVPiece] {
        let lengths = files.map { $0.size - $0.dataStart }
        let total = lengths.reduce(0, +)
        var out: [CSVPiece] = []
        for r in 0 ..< parts {
            let block = Partition.block(count: total, parts: parts, index: r)
            var v = 0
            for (i, f) in files.enumerated() {
                let lo = max(block.lowerBound, v), hi = min(block.upperBound, v + lengths[i])
                if lo < hi { out.append(CSVPiece(file: i, start: f.dataStart + lo - v, end: f.dataStart + hi - v, owner: r)) }
                v += lengths[i]
            }
        }
        return out
    }

    /// The selected columns with their types, in the order asked for.
    func select(_ options: CSVOptions) throws -> [CSVSelected] {
        let names = options.columns ?? header
        let first = files.first?.path ?? "input"
        for name in options.types.keys where !header.contains(name) {
            throw MPILearnError.dataError(SourceLocation(file: first, line: 1),
                                          "types names unknown column '\(name)'; columns are: \(listPreview(header))")
        }
        var seen = Set<String>()
        return try names.map { name in
            guard let field = header.firstIndex(of: name) else {
                throw MPILearnError.dataError(SourceLocation(file: first, line: 1),
                                              "unknown column '\(name)'; columns are: \(listPreview(header))")
            }
            guard seen.insert(name).inserted else {
                throw MPILearnError.invalidParameter(name: "columns", value: "'\(name)' twice", allowed: "each column at most once")
            }
            var type = options.types[name] ?? options.defaultType
            let dict = options.dictionaries[name]
            if dict != nil && type == .inferred { type = .categorical }
            if dict != nil && type != .categorical {
                throw MPILearnError.invalidParameter(name: "dictionaries", value: "'\(name)'", allowed: "categorical columns only (it is \(type.rawValue))")
            }
            return CSVSelected(field: field, name: name, type: type, dictionary: dict)
        }
    }
}

extension ByteFile {
    /// 3 if the file starts with a UTF-8 byte order mark, else 0.
    var firstDataByte: Int {
        guard size >= 3 else { return 0 }
        var bom = [UInt8](repeating: 0, count: 3)
        let n = (try? bom.withUnsafeMutableBytes { try read(into: $0.baseAddress!, count: 3, at: 0) }) ?? 0
        return n == 3 && bom == [0xEF, 0xBB, 0xBF] ? 3 : 0
    }
}

// MARK: - finishing: types, dictionaries, columns

/// Turns the parser's growable columns into ``Column``s, with the collectives that make types
/// and codes global. Every rank runs the same sequence of collectives.
struct CSVFinisher {
    let parser: CSVShardParser
    let selection: [CSVSelected]
    let options: CSVOptions
    let comm: any Communicator
    let locate: (_ piece: Int, _ offset: Int, _ field: Int?, _ message: String) -> MPILearnError
    var resolvedTypes: [ColumnType] = []

    init(parser: CSVShardParser, selection: [CSVSelected], options: CSVOptions, comm: any Communicator,
         locate: @escaping (Int, Int, Int?, String) -> MPILearnError) {
        self.parser = parser
        self.selection = selection
        self.options = options
        self.comm = comm
        self.locate = locate
    }

    mutating func finish() throws -> [Column] {
        let n = parser.rows
        // Inferred columns: four votes per column, reduced with min over ranks: every value is
        // a number; every value is a date; no value is a number; the lowest rank holding a
        // value that is not a number. Missing markers and empty cells do not vote (the numeric
        // parser reads an empty cell as missing whatever the markers).
        let inferredSlots = selection.indices.filter { parser.slotKinds[$0] == .inferred }
        var votes = [Int32]()
        for s in inferredSlots {
            var num: Int32 = 1, date: Int32 = 1, noNumber: Int32 = 1, textRank = Int32(comm.size)
            let pool = parser.pools[s]
            for e in 0 ..< pool.count {
                let f = pool.flags[e]
                if f & StringPool.missing != 0 || pool.bytes(e).isEmpty { continue }
                if f & StringPool.numericOK == 0 { num = 0; textRank = Int32(comm.rank) } else { noNumber = 0 }
                if f & StringPool.datetimeOK == 0 { date = 0 }
            }
            votes += [num, date, noNumber, textRank]
        }
        if !votes.isEmpty { try comm.allreduce(&votes, op: .min) }
        try rejectMixedColumns(inferredSlots, votes: votes)

        var columns: [Column] = []
        for (s, sel) in selection.enumerated() {
            let base = parser.columns[s].base!
            var type = sel.type
            if let k = inferredSlots.firstIndex(of: s) {
                type = votes[4 * k] == 1 ? .numeric : votes[4 * k + 1] == 1 ? .datetime : .categorical
            }
            resolvedTypes.append(type)
            let values: ColumnValues
            switch parser.slotKinds[s] {
            case .float64:
                values = .float64(hugeArray(base.assumingMemoryBound(to: Double.self), n))
            case .float32:
                values = .float32(hugeArray(base.assumingMemoryBound(to: Float.self), n))
            case .datetime:
                values = .datetime(hugeArray(base.assumingMemoryBound(to: Int64.self), n))
            case .categorical, .inferred:
                values = try finishPooled(slot: s, type: type, codes: base.assumingMemoryBound(to: Int32.self), rows: n)
            case .skip:
                fatalError("unreachable: selected columns are never skipped")
            }
            parser.columns[s].free()
            parser.columns[s] = GrowableColumn(stride: parser.columns[s].stride)
            columns.append(Column(name: sel.name, values: values))
        }
        return columns
    }

    /// Throws, on the rank holding the first offending cell, the data error for an inferred
    /// column that is numbers except for some text: a column with no number at all stays
    /// categorical, but one stray text cell must not turn a numeric column into categories
    /// (and so drop it from a learner's features). The error names file:line:column and the
    /// value, and says how to declare the column categorical if that was meant.
    ///
    /// Every rank calls it after the votes' allreduce. The other ranks return and block in the
    /// reader's next collective until the job is aborted (``Job``), or, in a ``LocalWorld``,
    /// throw ``CommunicatorError/aborted``: the one message comes from the rank that read the
    /// line, as for every other data error of the reader.
    /// - Parameter votes: per inferred slot: all numeric, all dates, no number, first text rank.
    private func rejectMixedColumns(_ inferredSlots: [Int], votes: [Int32]) throws {
        let mixed = inferredSlots.indices.filter { votes[4 * $0] == 0 && votes[4 * $0 + 2] == 0 }
        guard let owner = mixed.map({ Int(votes[4 * $0 + 3]) }).min(), owner == comm.rank else { return }
        // This rank holds the first text cell of some mixed column: the earliest one in file
        // order (pieces are numbered in file order, offsets grow within a piece).
        var first: (piece: Int, offset: Int, slot: Int, entry: Int)? = nil
        for k in mixed where Int(votes[4 * k + 3]) == owner {
            let s = inferredSlots[k]
            let pool = parser.pools[s]
            for e in 0 ..< pool.count {
                let f = pool.flags[e]
                if f & StringPool.missing != 0 || f & StringPool.numericOK != 0 || pool.bytes(e).isEmpty { continue }
                let at = (piece: Int(pool.firstPiece[e]), offset: pool.firstOffset[e])
                if first.map({ at < ($0.piece, $0.offset) }) ?? true { first = (at.piece, at.offset, s, e) }
            }
        }
        guard let first else { return }
        let name = selection[first.slot].name
        let value = parser.pools[first.slot].bytes(first.entry)
        let text = String(decoding: UnsafeBufferPointer(rebasing: value.prefix(60)), as: UTF8.self) + (value.count > 60 ? "..." : "")
        let markers = options.missingValues.filter { !$0.isEmpty }.sorted().map { "\"\($0)\"" }
        let missingHint = markers.isEmpty ? "an empty cell" : "an empty cell or one of the missing markers (\(listPreview(markers)))"
        throw locate(first.piece, first.offset, selection[first.slot].field,
                     "expected a number, found \"\(text)\" (the column's other values are numbers). "
                         + "Write a missing value as \(missingHint); "
                         + "if '\(name)' is categorical, declare it: --categorical \(name) on the mpilearn command line, "
                         + "or CSVOptions types [\"\(name)\": .categorical] in Swift")
    }

    /// A column whose fields went through the string pool: converted to numbers or dates
    /// (inferred), or coded against the global or a fixed dictionary.
    private func finishPooled(slot s: Int, type: ColumnType, codes: UnsafeMutablePointer<Int32>, rows n: Int) throws -> ColumnValues {
        let pool = parser.pools[s]
        let sel = selection[s]
        func isMissing(_ e: Int) -> Bool { pool.flags[e] & StringPool.missing != 0 }
        switch type {
        case .numeric:
            if options.float32 {
                let table = (0 ..< pool.count).map { e -> Float in
                    isMissing(e) ? .nan : pool.bytes(e).withMemoryRebound(to: UInt8.self) { parser.numbers.float($0.baseAddress!, $0.count) } ?? .nan
                }
                return .float32((0 ..< n).map { table[Int(codes[$0])] })
            }
            let table = (0 ..< pool.count).map { e -> Double in
                isMissing(e) ? .nan : parser.numbers.double(pool.bytes(e).baseAddress!, pool.bytes(e).count) ?? .nan
            }
            return .float64((0 ..< n).map { table[Int(codes[$0])] })
        case .datetime:
            let table = (0 ..< pool.count).map { e -> Int64 in
                isMissing(e) ? .min : ISODatetime.parse(pool.bytes(e).baseAddress!, pool.bytes(e).count) ?? .min
            }
            return .datetime((0 ..< n).map { table[Int(codes[$0])] })
        default:
            let dictionary: CategoryDictionary
            if let fixed = sel.dictionary {
                dictionary = fixed
            } else {
                // Allgather every rank's distinct values (lengths, then bytes) and sort the union.
                var lengths: [Int64] = []
                var bytes: [UInt8] = []
                for e in 0 ..< pool.count where !isMissing(e) {
                    let b = pool.bytes(e)
                    lengths.append(Int64(b.count))
                    bytes.append(contentsOf: b)
                }
                let allLengths = try comm.allgatherv(lengths).values
                let allBytes = try comm.allgatherv(bytes).values
                var distinct = Set<String>()
                allBytes.withUnsafeBufferPointer { all in
                    var o = 0
                    for l in allLengths {
                        distinct.insert(String(decoding: UnsafeBufferPointer(rebasing: all[o ..< o + Int(l)]), as: UTF8.self))
                        o += Int(l)
                    }
                }
                dictionary = CategoryDictionary(distinct)
            }
            var map = [Int32](repeating: -1, count: pool.count)
            for e in 0 ..< pool.count where !isMissing(e) {
                let value = pool.string(e)
                if let c = dictionary.code(of: value) {
                    map[e] = c
                } else if options.unseenCategories == .error {
                    throw locate(Int(pool.firstPiece[e]), pool.firstOffset[e], sel.field,
                                 "category \"\(value)\" is not in the given dictionary of \(dictionary.count) categories (unseen category policy: error)")
                }
            }
            let out = [Int32](unsafeUninitializedCapacity: n) { buf, count in
                if n > 0 { adviseHugePages(UnsafeMutableRawPointer(buf.baseAddress!), n * 4) }
                map.withUnsafeBufferPointer { m in
                    for i in 0 ..< n { buf[i] = m[Int(codes[i])] }
                }
                count = n
            }
            return .categorical(out, dictionary)
        }
    }
}

/// The files a glob pattern (`*`, `?`, `[...]`) matches, sorted; the CSV and text readers'
/// one way of expanding a pattern.
/// - Throws: ``MPILearnError/cannotRead`` when `pattern` has no wildcard (with `missing` as
///   the reason) or matches nothing.
func globFiles(_ pattern: String, missing: String) throws -> [String] {
    guard pattern.contains(where: { "*?[".contains($0) }) else { throw MPILearnError.cannotRead(path: pattern, reason: missing) }
    var g = glob_t()
    defer { globfree(&g) }
    guard glob(pattern, 0, nil, &g) == 0, g.gl_pathc > 0 else {
        throw MPILearnError.cannotRead(path: pattern, reason: "no file matches the pattern")
    }
    return (0 ..< Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }.sorted()
}
