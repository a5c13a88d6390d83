import Foundation
import SwiftMPI

/// Reads a CSV (a file, a folder of `.csv` files, or a glob) in bounded chunks: every rank its
/// byte range, aligned to record starts as ``CSVReader`` aligns them, one chunk of rows at a
/// time, so memory is bounded by the chunk size however large the input.
///
/// Each chunk is a ``Table`` of the selected columns with the given types (numeric,
/// categorical, datetime: nothing is inferred, so no chunk depends on another). A categorical
/// column's dictionary is the chunk's own: its codes mean nothing outside the chunk, and
/// consumers map values by string (the preprocessing steps do).
///
/// Only ``init(_:columns:types:options:skipBadRows:comm:)`` is collective (rank 0 reads the
/// headers; two allgathers align the ranges); ``next(rows:)`` is local, so ranks may read
/// different numbers of chunks.
///
/// A record that does not parse (too few fields, text in a numeric column, a bad date) stops
/// the read with file:line:column — or, with `skipBadRows`, is skipped and reported in the
/// chunk (``Chunk/skipped``) so the caller can write it as missing: no row is silently dropped.
/// After a bad record the reader resumes at the next line end (outside quotes, counted from
/// the failing field).
public final class CSVChunkReader {
    /// One chunk of this rank's rows.
    public struct Chunk {
        /// The rows read (`globalRowStart` is the position of the chunk's first row among this
        /// rank's rows; `globalRowCount` the rows this rank has read so far).
        public var table: Table
        /// For each skipped bad record, the row of `table` it came before (ascending; equal
        /// values for consecutive bad records; `table.rowCount` for one after the last row).
        public var skipped: [Int]
        /// Why each skipped record was skipped (file:line:column: message).
        public var skippedMessages: [String]
        /// The file location of row `row` of `table` and of a column (for a later step's
        /// error): computed on demand by re-reading the chunk's bytes.
        public var locate: @Sendable (_ row: Int, _ column: String) -> SourceLocation
    }

    let plan: CSVPlan
    let selection: [CSVSelected]
    let options: CSVOptions
    let delimiter: UInt8
    let skipBadRows: Bool
    let pieces: [CSVPiece]
    let mine: [Int]
    let starts: [Int]
    let recordEnds: [Int]
    let open: (Int) throws -> ByteFile
    var buffer: ReadBuffer
    /// Position: which of `mine`, the file offset of the buffer's first byte, bytes held.
    var current = 0
    var bufOffset = 0
    var have = 0
    var started = false
    /// Rows returned so far by this rank.
    public private(set) var rowsRead = 0
    /// Bad records skipped so far by this rank.
    public private(set) var skippedCount = 0

    /// Collective. Plans the read of `pathOrGlob` over the ranks of `comm`.
    /// - Parameters:
    ///   - columns: the columns to read, in the order wanted.
    ///   - types: the type of each (numeric, categorical or datetime; others numeric).
    ///   - options: dialect and missing markers (its columns, types and buffer size are set here).
    /// - Throws: as ``CSVReader/read(_:options:comm:)`` for missing files and unknown columns.
    public init(_ pathOrGlob: String, columns: [String], types: [String: ColumnType], options: CSVOptions = CSVOptions(),
                skipBadRows: Bool = false, comm: any Communicator) throws {
        var options = options
        options.columns = columns
        options.types = types
        options.defaultType = .numeric
        options.rebalance = false
        for (name, t) in types where t == .inferred {
            throw MPILearnError.invalidParameter(name: "types", value: "\(name): inferred", allowed: "numeric, categorical or datetime (a chunk cannot infer)")
        }
        self.options = options
        delimiter = try options.delimiterByte()
        self.skipBadRows = skipBadRows
        var plan: CSVPlan? = nil
        if comm.rank == 0 { plan = try CSVPlan.make(pathOrGlob, options: options, delimiter: delimiter) }
        self.plan = try comm.broadcastObject(plan, root: 0)
        selection = try self.plan.select(options)
        buffer = ReadBuffer(capacity: options.bufferSize)
        let aligned = try CSVReader.align(self.plan, comm: comm, buffer: &buffer)
        (pieces, mine, starts, recordEnds, open) = (aligned.pieces, aligned.mine, aligned.starts, aligned.recordEnds, aligned.file)
    }

    deinit { buffer.free() }

    /// Local. The next chunk of about `rows` rows (more by at most one buffer's worth of
    /// records, fewer at the end of a file), or nil when this rank's range is done.
    public func next(rows: Int) throws -> Chunk? {
        // Skip empty pieces; start the current one.
        while current < mine.count {
            let i = mine[current]
            if !started {
                bufOffset = starts[i]
                have = 0
                started = true
            }
            if bufOffset + have < recordEnds[i] || have > 0 { break }
            current += 1
            started = false
        }
        guard current < mine.count else { return nil }
        let i = mine[current]
        let end = recordEnds[i]
        let file = try open(pieces[i].file)
        let chunkStart = bufOffset
        let parser = CSVShardParser(fieldCount: plan.header.count, fields: selection.map { ($0.field, $0.parseKind(float32: options.float32)) },
                                    delimiter: delimiter, missing: options.missingValues)
        parser.reserve(min(rows, 1 << 16) + 1024)
        var skipped: [Int] = [], messages: [String] = []
        var finished = false
        while parser.rows < rows && !finished {
            let want = min(buffer.capacity - have, end - bufOffset - have)
            if want > 0 {
                let n = try file.read(into: buffer.base + have, count: want, at: bufOffset + have)
                if n < want { throw MPILearnError.cannotRead(path: file.path, reason: "the file shrank while being read") }
                have += n
            }
            let final = bufOffset + have == end
            var used: Int
            do {
                used = try parser.parse(buffer.base, from: 0, to: have, final: final, bufOffset: bufOffset, piece: i)
            } catch let failure as CSVParseFailure {
                let error = CSVReader.locate(failure, pieces: pieces, plan: plan, file: { try? self.open($0) })
                guard skipBadRows else { throw error }
                // The records before the bad one are parsed: drop their bytes, then skip the
                // bad record (reading on until its end is in the buffer).
                consume((failure.recordStart ?? bufOffset) - bufOffset)
                var resume: Int? = nil
                while resume == nil {
                    resume = recordEnd(after: failure, end: end)
                    if resume == nil {
                        if buffer.capacity - have < buffer.capacity / 2 { buffer.grow(to: buffer.capacity * 2, keep: have) }
                        let more = min(buffer.capacity - have, end - bufOffset - have)
                        let n = try file.read(into: buffer.base + have, count: more, at: bufOffset + have)
                        if n < more { throw MPILearnError.cannotRead(path: file.path, reason: "the file shrank while being read") }
                        have += n
                    }
                }
                skipped.append(parser.rows)
                messages.append(error.description)
                skippedCount += 1
                used = resume! - bufOffset
            }
            if final && used >= have { finished = true }
            if used == 0 && !final {
                buffer.grow(to: buffer.capacity * 2, keep: have)   // one record longer than the buffer
                continue
            }
            consume(used)
        }
        if finished || (bufOffset >= end && have == 0) {
            current += 1
            started = false
        }
        // The chunk's columns (local dictionaries: no communication).
        let solo = LocalCommunicator.solo()
        let plan = self.plan, pieces = self.pieces
        var finisher = CSVFinisher(parser: parser, selection: selection, options: options, comm: solo,
                                   locate: { piece, offset, field, message in
                                       CSVReader.locate(CSVParseFailure(piece: piece, offset: offset, field: field, message: message),
                                                        pieces: pieces, plan: plan, file: { try? ByteFile(path: plan.files[$0].path) })
                                   })
        let columns = try finisher.finish()
        let n = parser.rows
        let table = Table(columns: columns, rowCount: n, globalRowStart: rowsRead, globalRowCount: rowsRead + n)
        rowsRead += n
        let path = plan.files[pieces[i].file].path, header = plan.header, delimiter = self.delimiter
        let skippedRows = skipped
        let locate: @Sendable (Int, String) -> SourceLocation = { row, column in
            // The record of `row`: count skipped records before it, then walk the chunk's records.
            let record = row + skippedRows.filter { $0 <= row }.count
            let offset = (try? CSVChunkReader.offsetOfRecord(record, path: path, from: chunkStart, delimiter: delimiter)) ?? nil
            let line = offset.flatMap { o in (try? ByteFile(path: path)).map { $0.line(ofOffset: o) } }
            return SourceLocation(file: path, line: line, column: header.firstIndex(of: column).map { $0 + 1 })
        }
        return Chunk(table: table, skipped: skipped, skippedMessages: messages, locate: locate)
    }

    /// Drops the first `count` bytes of the buffer.
    private func consume(_ count: Int) {
        guard count > 0 else { return }
        (buffer.base).update(from: buffer.base + count, count: have - count)
        have -= count
        bufOffset += count
    }

    /// The file offset after the bad record of `failure` (after the first line end from the
    /// failing field, outside quotes — except after a stray quote, where any line end counts;
    /// for a record with the wrong number of fields, from its start), the end of the range if
    /// it has no line end, or nil if the buffer holds no line end yet.
    private func recordEnd(after failure: CSVParseFailure, end: Int) -> Int? {
        let strayQuote = failure.message.hasPrefix("quote inside")
        let fieldCount = failure.message.hasPrefix("expected \(plan.header.count) fields")
        var p = max(0, (fieldCount ? (failure.recordStart ?? failure.offset) : failure.offset) - bufOffset)
        var inQuote = false
        while p < have {
            let c = buffer.base[p]
            if c == UInt8(ascii: "\"") && !strayQuote { inQuote.toggle() }
            if c == 10 && !inQuote { return bufOffset + p + 1 }
            p += 1
        }
        return bufOffset + have == end ? end : nil
    }

    /// The file offset of the `record`-th record (0-based, blank lines not counted) from
    /// `start`, walking quotes.
    static func offsetOfRecord(_ record: Int, path: String, from start: Int, delimiter: UInt8) throws -> Int? {
        let file = try ByteFile(path: path)
        let block = 1 << 20
        let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: block)
        defer { buf.deallocate() }
        var pos = start, seen = 0, inQuote = false, atStart = true
        while pos < file.size {
            let n = try file.read(into: buf, count: min(block, file.size - pos), at: pos)
            if n == 0 { break }
            for k in 0 ..< n {
                let c = buf[k]
                if atStart && !inQuote {
                    if c == 10 || c == 13 { continue }   // blank lines are not records
                    if seen == record { return pos + k }
                    atStart = false
                }
                if c == UInt8(ascii: "\"") { inQuote.toggle() }
                if c == 10 && !inQuote { seen += 1; atStart = true }
            }
            pos += n
        }
        return nil
    }
}
