// Text input for the text workflows: documents read in parallel, each rank its share, in a
// global order that does not depend on the number of ranks.

import Foundation
import SwiftMPI

/// How the bytes of a text corpus become documents.
public enum TextFormat: Sendable, Equatable {
    /// One document per line (`\n`; a `\r` before it is dropped). An empty line is an empty
    /// document; the newline at the end of a file does not start one.
    case lines
    /// JSON Lines: one JSON object a line, the document in `textField` (a string) and, if
    /// given, its label in `labelField` (a string or a number). Blank lines are skipped.
    case jsonLines(textField: String, labelField: String?)
    /// A folder: every file one document, files in sorted order of their relative paths;
    /// with sub-folders, a document's label is the name of the sub-folder under the root
    /// holding it (scikit-learn's `load_files`).
    case folder
}

/// What to do with bytes that are not UTF-8 (scikit-learn's `decode_error`).
public enum TextDecodeError: String, Sendable, CaseIterable, Codable {
    /// An error naming the file and the byte offset.
    case strict
    /// The invalid bytes are dropped.
    case ignore
    /// Each invalid sequence becomes U+FFFD (Python's `errors="replace"`).
    case replace
}

/// One rank's documents of a corpus.
public struct TextDocuments: Sendable {
    public var texts: [String]
    /// A label per document, when the format has them.
    public var labels: [String]?
    /// Global index of this rank's first document, and documents over all ranks.
    public var globalRowStart: Int
    public var globalRowCount: Int
    /// What was read (the path or pattern).
    public var source: String
    /// Bytes of text read on this rank.
    public var bytes: Int
}

public enum TextCorpus {
    /// Collective. Reads this rank's documents of `path`: a file, a glob pattern of files
    /// (`corpus/*.jsonl`, sorted), or a folder (``TextFormat/folder``).
    ///
    /// Files of lines are split by **byte ranges** as the CSV reader does: the files' bytes
    /// are divided evenly over the ranks and a rank reads the lines that start in its range,
    /// so each rank reads about its share of the bytes and no rank reads the whole corpus. A
    /// folder's files are divided in contiguous blocks. Documents are numbered in file order,
    /// then line order, on any number of ranks.
    /// - Throws: ``MPILearnError/cannotRead`` for a missing file or pattern without matches,
    ///   ``MPILearnError/dataError`` with the file and line (or byte offset) for invalid
    ///   UTF-8 under `strict`, a JSON line that is not an object, or a missing field.
    public static func read(_ path: String, format: TextFormat, decodeError: TextDecodeError = .strict,
                            comm: any Communicator) throws -> TextDocuments {
        var texts: [String] = [], labels: [String] = [], bytes = 0
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if format == .folder {
            guard exists, isDirectory.boolValue else {
                throw MPILearnError.cannotRead(path: path, reason: exists ? "not a folder (the folder format reads a folder of files)" : "no such folder")
            }
            let (files, labelled) = try folderFiles(path)
            let mine = Partition.block(count: files.count, parts: comm.size, index: comm.rank)
            for i in mine {
                let data = try Data(contentsOf: URL(fileURLWithPath: files[i].path))
                bytes += data.count
                texts.append(try decode(Array(data), file: files[i].path, offset: 0, mode: decodeError))
                if labelled { labels.append(files[i].label!) }
            }
            return try finish(texts, labelled ? labels : nil, source: path, bytes: bytes, comm: comm)
        }
        let files = try expand(path)
        let sizes = try files.map { f -> Int in
            let attributes = try FileManager.default.attributesOfItem(atPath: f)
            return (attributes[.size] as? NSNumber)?.intValue ?? 0
        }
        let total = sizes.reduce(0, +)
        // This rank's global byte range; a line is read by the rank its first byte falls in.
        let mine = Partition.block(count: total, parts: comm.size, index: comm.rank)
        let lo = mine.lowerBound, hi = mine.upperBound
        var fileStart = 0
        var hasLabels = false
        for (f, size) in zip(files, sizes) {
            defer { fileStart += size }
            let s = max(lo, fileStart) - fileStart, e = min(hi, fileStart + size) - fileStart
            guard s < e else { continue }
            let chunk = try readLines(f, from: s, to: e)
            bytes += chunk.bytes.count
            try forEachLine(chunk.bytes, start: chunk.start) { line, offset in
                switch format {
                case .lines:
                    texts.append(try decode(line, file: f, offset: offset, mode: decodeError))
                case .jsonLines(let textField, let labelField):
                    guard line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { return }
                    let text = try decode(line, file: f, offset: offset, mode: decodeError)
                    let at = { try SourceLocation(file: f, line: lineNumber(f, offset: offset)) }
                    guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) as? [String: Any] else {
                        throw MPILearnError.dataError(try at(), "not a JSON object (JSON Lines holds one object a line)")
                    }
                    guard let doc = object[textField] as? String else {
                        throw MPILearnError.dataError(try at(), object[textField] == nil
                            ? "no field \"\(textField)\" (--text-field); fields: \(listPreview(object.keys.sorted()))"
                            : "field \"\(textField)\" is not a string")
                    }
                    texts.append(doc)
                    if let labelField {
                        hasLabels = true
                        switch object[labelField] {
                        case let s as String: labels.append(s)
                        case let n as NSNumber: labels.append(n.stringValue)
                        case nil: throw MPILearnError.dataError(try at(), "no field \"\(labelField)\" (--label-field)")
                        default: throw MPILearnError.dataError(try at(), "field \"\(labelField)\" is not a string or a number")
                        }
                    }
                case .folder:
                    break
                }
            }
        }
        if case .jsonLines(_, let labelField) = format, labelField != nil { hasLabels = true }
        return try finish(texts, hasLabels ? labels : nil, source: path, bytes: bytes, comm: comm)
    }

    /// The files of a path or glob pattern, sorted.
    static func expand(_ path: String) throws -> [String] {
        if FileManager.default.fileExists(atPath: path) { return [path] }
        return try globFiles(path, missing: "no such file")
    }

    /// A folder's files (hidden ones skipped), sorted by relative path, with their labels:
    /// the first path component when the folder has sub-folders.
    static func folderFiles(_ root: String) throws -> ([(path: String, label: String?)], Bool) {
        let base = URL(fileURLWithPath: root).standardizedFileURL
        guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles]) else {
            throw MPILearnError.cannotRead(path: root, reason: "cannot list the folder")
        }
        var relative: [String] = []
        for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true {
            relative.append(String(url.standardizedFileURL.path.dropFirst(base.path.count + 1)))
        }
        relative.sort()
        let nested = relative.filter { $0.contains("/") }
        if nested.isEmpty { return (relative.map { (root + "/" + $0, nil) }, false) }
        let loose = relative.filter { !$0.contains("/") }
        guard loose.isEmpty else {
            throw MPILearnError.dataError(SourceLocation(file: root), "files outside a category sub-folder: \(listPreview(loose)) (a document's label is the name of its sub-folder)")
        }
        return (relative.map { (root + "/" + $0, String($0.split(separator: "/")[0])) }, true)
    }

    /// The bytes of `path` from the first line that starts in `s ..< e` through the end of
    /// the last one, and the file offset of the first byte.
    static func readLines(_ path: String, from s: Int, to e: Int) throws -> (bytes: [UInt8], start: Int) {
        guard let h = FileHandle(forReadingAtPath: path) else { throw MPILearnError.cannotRead(path: path, reason: "cannot open") }
        defer { try? h.close() }
        // Start just before the range: a line starts at s only if the byte before it is a newline.
        let from = max(0, s - 1)
        try h.seek(toOffset: UInt64(from))
        var bytes = [UInt8](try h.read(upToCount: e - from) ?? Data())
        var start = from
        if s > 0 {
            guard let nl = bytes.firstIndex(of: 0x0A) else { return ([], s) }   // no line starts here
            bytes.removeSubrange(0 ... nl)
            start = from + nl + 1
            if start >= e { return ([], s) }
        }
        // Finish the last line, which may run past the range.
        if bytes.last != 0x0A {
            while let more = try h.read(upToCount: 1 << 16), !more.isEmpty {
                if let nl = more.firstIndex(of: 0x0A) {
                    bytes += more[more.startIndex ... nl]
                    break
                }
                bytes += more
            }
        }
        return (bytes, start)
    }

    /// Calls `body` with each line (without `\n` and a `\r` before it) and its file offset.
    static func forEachLine(_ bytes: [UInt8], start: Int, _ body: (ArraySlice<UInt8>, Int) throws -> Void) throws {
        var i = 0
        while i < bytes.count {
            let end = bytes[i...].firstIndex(of: 0x0A) ?? bytes.count
            var line = bytes[i ..< end]
            if line.last == 0x0D { line = line.dropLast() }
            try body(line, start + i)
            i = end + 1
        }
    }

    /// The 1-based line of byte `offset` in `path` (counted only for a message).
    static func lineNumber(_ path: String, offset: Int) throws -> Int {
        guard let h = FileHandle(forReadingAtPath: path) else { return 0 }
        defer { try? h.close() }
        let prefix = try h.read(upToCount: offset) ?? Data()
        return prefix.reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
    }

    /// Decodes UTF-8 under `mode`; `strict` names the file and the byte offset of the first
    /// invalid byte (`offset` is the file offset of `bytes`' first byte).
    static func decode<C: Collection>(_ bytes: C, file: String, offset: Int, mode: TextDecodeError) throws -> String where C.Element == UInt8 {
        if let s = String(validating: bytes, as: UTF8.self) { return s }
        switch mode {
        case .replace:
            return String(decoding: bytes, as: UTF8.self)
        case .strict, .ignore:
            var scalars = String.UnicodeScalarView()
            var parser = Unicode.UTF8.ForwardParser()
            var iterator = bytes.makeIterator()
            var at = 0
            loop: while true {
                switch parser.parseScalar(from: &iterator) {
                case .valid(let encoded):
                    scalars.append(Unicode.UTF8.decode(encoded))
                    at += encoded.count
                case .error(let length):
                    if mode == .strict {
                        throw MPILearnError.dataError(SourceLocation(file: file),
                                                      "invalid UTF-8 at byte offset \(offset + at) (--decode-error ignore or replace to read on)")
                    }
                    at += length
                case .emptyInput:
                    break loop
                }
            }
            return String(scalars)
        }
    }

    /// Numbers the documents over the ranks.
    static func finish(_ texts: [String], _ labels: [String]?, source: String, bytes: Int, comm: any Communicator) throws -> TextDocuments {
        let counts = try comm.allgatherCounts(texts.count)
        return TextDocuments(texts: texts, labels: labels, globalRowStart: counts[..<comm.rank].reduce(0, +),
                             globalRowCount: counts.reduce(0, +), source: source, bytes: bytes)
    }
}
