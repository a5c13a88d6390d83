import CHDF5
import Foundation
import SwiftMPI

// Parallel HDF5 input: a 2-D dataset, a 1-D dataset, a group of 1-D column datasets or a
// pandas `to_hdf(format='fixed')` frame, each rank reading its hyperslab of rows through
// MPI-IO (HDF5's `mpio` file driver). The writer is in HDF5+Write.swift.

// MARK: - Source

/// An HDF5 input or output: a file and an object in it, written `file.h5:/path/to/object`.
///
/// Without `:/…` the object is chosen when the file is opened: the only object at the
/// file's root. `file.h5:/` names the root group itself (its 1-D datasets as columns).
public struct HDF5Source: Sendable, Equatable, CustomStringConvertible {
    /// The file's path.
    public var file: String
    /// The object's absolute path in the file (`/group/data`), or nil for the default.
    public var object: String?

    /// File name endings taken as HDF5 (compared without case).
    public static let fileExtensions = [".h5", ".hdf5", ".hdf", ".he5"]

    public init(file: String, object: String? = nil) {
        self.file = file
        self.object = object.map(Self.normalized)
    }

    /// Splits `spec` at the `:/` that follows an HDF5 file extension (else at the first
    /// `:/`); with none, the whole of `spec` is the file.
    public init(parsing spec: String) {
        for ext in Self.fileExtensions {
            if let r = spec.range(of: ext + ":/", options: [.backwards, .caseInsensitive]) {
                let colon = spec.index(r.upperBound, offsetBy: -2)
                self.init(file: String(spec[..<colon]), object: String(spec[spec.index(after: colon)...]))
                return
            }
        }
        if let r = spec.range(of: ":/") {
            self.init(file: String(spec[..<r.lowerBound]), object: String(spec[spec.index(after: r.lowerBound)...]))
        } else {
            self.init(file: spec)
        }
    }

    /// True when `spec` names an HDF5 file (by its extension), with or without an object.
    public static func isHDF5(_ spec: String) -> Bool {
        let file = HDF5Source(parsing: spec).file.lowercased()
        return fileExtensions.contains { file.hasSuffix($0) }
    }

    public var description: String { object.map { "\(file):\($0)" } ?? file }

    /// `/a/b` from `a/b/`, `//a`; the root stays `/`.
    static func normalized(_ object: String) -> String {
        let parts = object.split(separator: "/", omittingEmptySubsequences: true)
        return "/" + parts.joined(separator: "/")
    }
}

// MARK: - Library access

/// Serialises calls into HDF5 and turns its error stack into messages.
///
/// Debian's parallel HDF5 is not built thread-safe, and ``LocalWorld`` runs ranks as threads
/// of one process, so every call MPILearn makes into HDF5 holds this (recursive) lock. Under
/// `mpirun` each rank is one thread and the lock is never contended. A collective of the
/// *communicator* must never be called while holding it (the other threads of a local world
/// could not enter it); HDF5's own MPI-IO collectives only happen with an MPI communicator,
/// one thread per process.
enum HDF5Library {
    private static let lock = NSRecursiveLock()
    nonisolated(unsafe) private static var started = false

    /// Runs `body` holding the library lock (HDF5's error printing is switched off once).
    static func locked<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        if !started {
            chdf5_silence_errors()
            started = true
        }
        return try body()
    }

    /// HDF5's explanation of the last failure (its innermost messages), clearing the stack.
    static func lastError() -> String {
        var buf = [CChar](repeating: 0, count: 512)
        chdf5_error_message(&buf, buf.count)
        let s = String(cString: buf)
        return s.isEmpty ? "HDF5 reported an error" : s
    }

    /// Closes `id` with `close`, ignoring failures (for cleanup paths).
    static func release(_ id: hid_t, _ close: (hid_t) -> herr_t) {
        if id >= 0 { _ = close(id) }
    }
}

/// Where an HDF5 problem is: the file and the object, for messages.
struct HDF5Place {
    var file: String
    var object: String
    var description: String { "\(file):\(object)" }

    /// ``MPILearnError/cannotRead`` naming the place, with `what` and HDF5's reason.
    func readFailure(_ what: String) -> MPILearnError {
        .cannotRead(path: description, reason: "\(what): \(HDF5Library.lastError())")
    }

    /// ``MPILearnError/dataError`` at the place.
    func dataError(_ message: String) -> MPILearnError {
        .dataError(SourceLocation(file: description), message)
    }
}

// MARK: - Reader

/// Reads an HDF5 object as a table: all ranks together (``read(_:columns:comm:)``, each
/// rank its block of rows), or one block of rows at a time (``read(rows:columns:dictionaries:)``).
///
/// What an object may be:
/// - a 2-D numeric dataset (rows × columns), its columns named by a `columns` string
///   attribute when it has one (as ``HDF5Writer`` writes), else `x0, x1, …`;
/// - a 1-D numeric or string dataset: one column, named after the dataset;
/// - a group of 1-D datasets of equal length: one column per dataset, in creation order
///   when the group tracks it (as ``HDF5Writer`` does), else in name order (h5py's default);
/// - a pandas frame written by `DataFrame.to_hdf(path, key, format="fixed")`: its numeric
///   and boolean blocks, in the frame's column order. String columns of that format are
///   pickled Python objects and are refused with a message.
///
/// Integer, float and boolean (h5py's enum) datasets become float64 columns; string
/// datasets (fixed or variable length, ASCII or UTF-8) become categorical columns, the empty
/// string being missing. Only the rows asked for are read (a hyperslab, in blocks of at most
/// ``blockBytes``), whatever the dataset's chunked or contiguous layout.
///
/// With an MPI communicator the file is opened through MPI-IO by all ranks together and
/// each rank reads its rows independently. With another communicator (``LocalWorld``, in
/// tests) each rank opens the file with HDF5's default serial driver, read-only.
public final class HDF5Reader {
    /// How the object stores its columns.
    public enum Layout: String, Sendable {
        /// A 2-D dataset, rows × columns.
        case matrix
        /// A 1-D dataset: one column.
        case vector
        /// A group of 1-D datasets, one per column.
        case group
        /// A pandas `to_hdf(format="fixed")` frame.
        case pandasFrame = "pandas-frame"
    }

    /// One column of the object.
    public struct ColumnInfo: Sendable, Equatable {
        /// The column's name.
        public var name: String
        /// True for string data (read as a categorical column), false for numbers.
        public var isCategorical: Bool
        /// The stored type, e.g. `int64`, `float32`, `bool`, `string(8)`, `vlen string`.
        public var storage: String
    }

    /// The file and object read (the default object resolved).
    public let source: HDF5Source
    /// How the object stores its columns.
    public let layout: Layout
    /// Rows of the object.
    public let rowCount: Int
    /// The object's columns, in order.
    public let columns: [ColumnInfo]

    /// Bytes of one read block: rows are read in blocks of about this size.
    public static let blockBytes = 8 << 20

    private let place: HDF5Place
    private var file: hid_t
    private var datasets: [Stored]
    /// Per column: the stored dataset and the column's index in its rows.
    private let locations: [(dataset: Int, index: Int)]
    private let parallel: Bool

    /// Collective when `comm` is an MPI communicator (the file is opened through MPI-IO by
    /// every rank); otherwise local. Opens `source` and describes the object; nothing is
    /// read beyond its metadata. Close it with ``close()`` (collective likewise).
    /// - Parameters:
    ///   - source: the file and object; without an object, the only object at the root.
    ///   - comm: the ranks reading together, or nil for a serial open by this rank.
    /// - Throws: ``MPILearnError/cannotRead`` for a missing or non-HDF5 file or a missing
    ///   object (listing what the nearest group holds); ``MPILearnError/dataError`` for an
    ///   object of the wrong shape or type; both name the file and the object.
    public init(_ source: HDF5Source, comm: (any Communicator)? = nil) throws {
        let mpi = comm as? any MPIHandleProvider
        let fileName = source.file
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: fileName, isDirectory: &isDir) else {
            throw MPILearnError.cannotRead(path: source.description, reason: "no such file")
        }
        guard !isDir.boolValue else { throw MPILearnError.cannotRead(path: source.description, reason: "is a folder, not an HDF5 file") }
        parallel = mpi != nil
        let opened: (hid_t, String, Layout, Int, [ColumnInfo], [Stored], [(Int, Int)]) = try HDF5Library.locked {
            guard H5Fis_hdf5(fileName) > 0 else {
                _ = HDF5Library.lastError()
                throw MPILearnError.cannotRead(path: source.description, reason: "not an HDF5 file")
            }
            let fapl = H5Pcreate(chdf5_p_file_access())
            defer { HDF5Library.release(fapl, H5Pclose) }
            if let mpi {
                let rc = mpi.withUnsafeMPICommunicator { chdf5_set_fapl_mpio(fapl, $0) }
                if rc < 0 { throw HDF5Place(file: fileName, object: "/").readFailure("cannot use the MPI-IO driver") }
            }
            let f = H5Fopen(fileName, chdf5_acc_rdonly(), fapl)
            guard f >= 0 else { throw MPILearnError.cannotRead(path: source.description, reason: "cannot open: \(HDF5Library.lastError())") }
            do {
                let object = try source.object ?? Self.defaultObject(f, file: fileName)
                let d = try Self.describe(f, HDF5Place(file: fileName, object: object))
                return (f, object, d.layout, d.rows, d.columns, d.datasets, d.locations)
            } catch {
                _ = H5Fclose(f)
                throw error
            }
        }
        (file, layout, rowCount, columns, datasets, locations) = (opened.0, opened.2, opened.3, opened.4, opened.5, opened.6)
        self.source = HDF5Source(file: fileName, object: opened.1)
        place = HDF5Place(file: fileName, object: opened.1)
    }

    deinit {
        // A file opened through MPI-IO must be closed by every rank together (close()); a
        // serial one is closed here if close() was not called.
        if !parallel { try? close() }
    }

    /// Collective when opened with an MPI communicator. Closes the object's datasets and the
    /// file; later reads throw.
    public func close() throws {
        try HDF5Library.locked {
            guard file >= 0 else { return }
            for d in datasets { HDF5Library.release(d.id, H5Dclose) }
            datasets = []
            let rc = H5Fclose(file)
            file = -1
            if rc < 0 { throw place.readFailure("cannot close the file") }
        }
    }

    /// Local. Reads rows `rows` of the named columns (all when nil), in the object's column
    /// order, reading only those rows (in blocks of about ``blockBytes``).
    ///
    /// A string column is coded against `dictionaries[name]` when given (a value not in it
    /// is missing, code −1), else against a dictionary of the values in these rows: the
    /// collective ``read(_:columns:comm:)`` makes one dictionary for all ranks.
    /// - Returns: a table of `rows.count` rows with `globalRowStart = rows.lowerBound` and
    ///   `globalRowCount` the object's row count.
    /// - Throws: ``MPILearnError/invalidParameter`` for rows outside the object or an unknown
    ///   column (listing the columns); ``MPILearnError/cannotRead`` when HDF5 fails.
    public func read(rows: Range<Int>, columns names: [String]? = nil,
                     dictionaries: [String: CategoryDictionary] = [:]) throws -> Table {
        guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw MPILearnError.invalidParameter(name: "rows", value: "\(rows.lowerBound)..<\(rows.upperBound)",
                                                 allowed: "rows within 0..<\(rowCount) of \(place)")
        }
        let wanted = try columnIndices(names)
        return try HDF5Library.locked {
            guard file >= 0 else { throw MPILearnError.cannotRead(path: place.description, reason: "the reader is closed") }
            // Group the wanted columns by dataset, so each dataset's rows are read once.
            var byDataset: [Int: [Int]] = [:]
            for j in wanted { byDataset[locations[j].dataset, default: []].append(j) }
            var values: [Int: ColumnValues] = [:]
            for (d, cols) in byDataset.sorted(by: { $0.key < $1.key }) {
                let read = try readColumns(datasets[d], indices: cols.map { locations[$0].index }, rows: rows)
                for (k, j) in cols.enumerated() {
                    switch read[k] {
                    case .numbers(let v): values[j] = .float64(v)
                    case .strings(let s): values[j] = Self.categorical(s, dictionary: dictionaries[self.columns[j].name])
                    }
                }
            }
            let cols = wanted.map { Column(name: self.columns[$0].name, values: values[$0]!) }
            return Table(columns: cols, rowCount: rows.count, globalRowStart: rows.lowerBound, globalRowCount: rowCount)
        }
    }

    /// Collective. Opens `source` on every rank and reads this rank's block of rows
    /// (``Partition/block(count:parts:index:)``) of the named columns (all when nil). String
    /// columns are coded against one dictionary for all ranks (the sorted union of every
    /// rank's values), as the CSV reader does.
    /// - Throws: as ``init(_:comm:)`` and ``read(rows:columns:dictionaries:)``.
    public static func read(_ source: HDF5Source, columns names: [String]? = nil, comm: any Communicator) throws -> Table {
        let reader = try HDF5Reader(source, comm: comm)
        let block = Partition.block(count: reader.rowCount, parts: comm.size, index: comm.rank)
        var table: Table
        do {
            table = try reader.read(rows: block, columns: names)
        } catch {
            if !reader.parallel { try? reader.close() }
            throw error
        }
        try reader.close()
        // One dictionary per string column: every rank's distinct values, sorted.
        for c in table.columns {
            guard case .categorical(_, let local) = c.values else { continue }
            var lengths: [Int64] = []
            var bytes: [UInt8] = []
            for v in local.values {
                lengths.append(Int64(v.utf8.count))
                bytes.append(contentsOf: v.utf8)
            }
            let allLengths = try comm.allgatherv(lengths).values
            let allBytes = try comm.allgatherv(bytes).values
            var distinct = Set<String>()
            var o = 0
            for l in allLengths {
                distinct.insert(String(decoding: allBytes[o ..< o + Int(l)], as: UTF8.self))
                o += Int(l)
            }
            try table.recode(column: c.name, to: CategoryDictionary(distinct), policy: .error)
        }
        return table
    }

    /// Local. Opens `source` serially, describes it and closes it: rows and columns.
    public static func inspect(_ source: HDF5Source) throws -> (rows: Int, columns: [ColumnInfo], layout: Layout, source: HDF5Source) {
        let r = try HDF5Reader(source)
        defer { try? r.close() }
        return (r.rowCount, r.columns, r.layout, r.source)
    }

    private func columnIndices(_ names: [String]?) throws -> [Int] {
        guard let names else { return Array(columns.indices) }
        return try names.map { n in
            guard let j = columns.firstIndex(where: { $0.name == n }) else {
                throw MPILearnError.invalidParameter(name: "column", value: "'\(n)'",
                                                     allowed: "one of \(listPreview(columns.map(\.name))) (in \(place))")
            }
            return j
        }
    }

    private static func categorical(_ strings: [String], dictionary given: CategoryDictionary?) -> ColumnValues {
        let dictionary = given ?? CategoryDictionary(strings.lazy.filter { !$0.isEmpty })
        return .categorical(strings.map { $0.isEmpty ? -1 : dictionary.code(of: $0) ?? -1 }, dictionary)
    }

    // MARK: - Describing the object

    /// A dataset kept open, with what its elements are.
    struct Stored {
        var id: hid_t
        var path: String
        /// Elements per row: 1 for a 1-D dataset, the column count of a 2-D one.
        var width: Int
        var rows: Int
        var element: Element
    }

    /// How a dataset's elements are read.
    enum Element: Equatable {
        /// Integers or floats, converted by HDF5 to float64.
        case number(String)
        /// An enum over integers (h5py's bool) or a bitfield (PyTables' bool): read as stored,
        /// then taken as integers.
        case enumeration(size: Int, signed: Bool, name: String)
        /// Fixed-length strings of `size` bytes.
        case fixedString(size: Int, spacePadded: Bool)
        /// Variable-length strings.
        case variableString

        var storage: String {
            switch self {
            case let .number(n): return n
            case let .enumeration(_, _, n): return n
            case let .fixedString(size, _): return "string(\(size))"
            case .variableString: return "vlen string"
            }
        }
        var isString: Bool {
            switch self {
            case .fixedString, .variableString: return true
            default: return false
            }
        }
    }

    /// The root's only object, or an error listing the root's objects.
    private static func defaultObject(_ f: hid_t, file: String) throws -> String {
        let members = try groupMembers(f, "/", HDF5Place(file: file, object: "/"))
        if members.count == 1 { return "/" + members[0] }
        let listing = members.isEmpty ? "nothing" : listPreview(members.map { "/" + $0 + " (" + kindOf(f, "/" + $0) + ")" })
        throw MPILearnError.cannotRead(path: file, reason: "no object named and the file's root holds \(listing); "
            + "name one as \(file):/NAME\(members.isEmpty ? "" : ", or \(file):/ for the root's 1-D datasets as columns")")
    }

    /// The names of the members of the group at `path`, in creation order when the group
    /// tracks it, else in name order.
    static func groupMembers(_ f: hid_t, _ path: String, _ place: HDF5Place) throws -> [String] {
        let g = H5Gopen2(f, path, chdf5_p_default())
        guard g >= 0 else { throw place.readFailure("cannot open group \(path)") }
        defer { _ = H5Gclose(g) }
        var info = H5G_info_t()
        guard H5Gget_info(g, &info) >= 0 else { throw place.readFailure("cannot list group \(path)") }
        let n = Int(info.nlinks)
        func names(_ index: H5_index_t) -> [String]? {
            var out: [String] = []
            for i in 0 ..< n {
                let len = H5Lget_name_by_idx(g, ".", index, H5_ITER_INC, hsize_t(i), nil, 0, chdf5_p_default())
                guard len >= 0 else { return nil }
                var buf = [CChar](repeating: 0, count: Int(len) + 1)
                _ = H5Lget_name_by_idx(g, ".", index, H5_ITER_INC, hsize_t(i), &buf, buf.count, chdf5_p_default())
                out.append(String(cString: buf))
            }
            return out
        }
        if let byCreation = names(H5_INDEX_CRT_ORDER) { return byCreation }
        _ = HDF5Library.lastError() // not tracked: fall back to names
        guard let byName = names(H5_INDEX_NAME) else { throw place.readFailure("cannot list group \(path)") }
        return byName
    }

    /// A few words on what is at `path`, for listings: `2-D int64 dataset 100×3`, `group`.
    static func kindOf(_ f: hid_t, _ path: String) -> String {
        let o = H5Oopen(f, path, chdf5_p_default())
        guard o >= 0 else { _ = HDF5Library.lastError(); return "unreadable" }
        defer { _ = H5Oclose(o) }
        switch H5Iget_type(o) {
        case H5I_GROUP: return "group"
        case H5I_DATASET:
            let s = H5Dget_space(o), t = H5Dget_type(o)
            defer { HDF5Library.release(s, H5Sclose); HDF5Library.release(t, H5Tclose) }
            let dims = shape(s)
            return "\(dims.count)-D \(typeName(t)) dataset \(dims.map(String.init).joined(separator: "×"))"
        default: return "other object"
        }
    }

    static func shape(_ space: hid_t) -> [Int] {
        let n = Int(H5Sget_simple_extent_ndims(space))
        guard n > 0 else { return [] }
        var dims = [hsize_t](repeating: 0, count: n)
        _ = H5Sget_simple_extent_dims(space, &dims, nil)
        return dims.map { Int($0) }
    }

    static func typeName(_ t: hid_t) -> String {
        let size = Int(H5Tget_size(t))
        switch H5Tget_class(t) {
        case H5T_INTEGER: return (H5Tget_sign(t) == H5T_SGN_NONE ? "uint" : "int") + "\(size * 8)"
        case H5T_FLOAT: return "float\(size * 8)"
        case H5T_STRING: return H5Tis_variable_str(t) > 0 ? "vlen string" : "string(\(size))"
        case H5T_ENUM: return size == 1 ? "bool/enum" : "enum"
        case H5T_BITFIELD: return "bitfield\(size * 8)"
        case H5T_COMPOUND: return "compound"
        case H5T_VLEN: return "vlen"
        default: return "unsupported-type"
        }
    }

    private struct Description {
        var layout: Layout
        var rows: Int
        var columns: [ColumnInfo]
        var datasets: [Stored]
        var locations: [(Int, Int)]
    }

    /// Opens the object at `place.object` and works out its rows and columns.
    private static func describe(_ f: hid_t, _ place: HDF5Place) throws -> Description {
        let path = place.object
        let o = try openObject(f, place)
        let type = H5Iget_type(o)
        _ = H5Oclose(o)
        if type == H5I_DATASET {
            let d = try openDataset(f, path, place)
            switch d.dims.count {
            case 1:
                let name = path == "/" ? "x0" : (path as NSString).lastPathComponent
                return Description(layout: .vector, rows: d.stored.rows, columns: [ColumnInfo(name: name, isCategorical: d.stored.element.isString, storage: d.stored.element.storage)],
                                   datasets: [d.stored], locations: [(0, 0)])
            default:
                var names = (0 ..< d.stored.width).map { "x\($0)" }
                do {
                    if let attr = try stringAttribute(d.stored.id, "columns", place) {
                        let given = attr.count == 1 && d.stored.width > 1 ? attr[0].split(separator: ",").map(String.init) : attr
                        guard given.count == d.stored.width else {
                            throw place.dataError("its columns attribute names \(given.count) columns, but the dataset has \(d.stored.width)")
                        }
                        names = given
                    }
                } catch {
                    _ = H5Dclose(d.stored.id)
                    throw error
                }
                let info = names.map { ColumnInfo(name: $0, isCategorical: d.stored.element.isString, storage: d.stored.element.storage) }
                return Description(layout: .matrix, rows: d.stored.rows, columns: info, datasets: [d.stored],
                                   locations: (0 ..< d.stored.width).map { (0, $0) })
            }
        }
        guard type == H5I_GROUP else { throw place.dataError("is neither a dataset nor a group") }
        let g = H5Gopen2(f, path, chdf5_p_default())
        guard g >= 0 else { throw place.readFailure("cannot open the group") }
        let pandas = try stringAttribute(g, "pandas_type", place)?.first
        _ = H5Gclose(g)
        if let pandas {
            guard pandas == "frame" else {
                throw place.dataError("is a pandas \(pandas); only frames written with to_hdf(format=\"fixed\") are read")
            }
            return try describePandas(f, place)
        }
        var opened: [Stored] = []
        do {
            let members = try groupMembers(f, path, place)
            guard !members.isEmpty else { throw place.dataError("is an empty group; expected 1-D datasets, one per column") }
            var columns: [ColumnInfo] = []
            for m in members {
                let child = path == "/" ? "/" + m : path + "/" + m
                let o = try openObject(f, HDF5Place(file: place.file, object: child))
                let t = H5Iget_type(o)
                _ = H5Oclose(o)
                guard t == H5I_DATASET else {
                    throw place.dataError("holds \(m), a \(kindOf(f, child)); a group read as a table must hold only 1-D datasets, one per column")
                }
                let d = try openDataset(f, child, HDF5Place(file: place.file, object: child))
                opened.append(d.stored)
                guard d.dims.count == 1 else {
                    throw place.dataError("holds \(m), a \(kindOf(f, child)); a group read as a table must hold only 1-D datasets, one per column")
                }
                if let first = opened.first, first.rows != d.stored.rows {
                    throw place.dataError("its datasets differ in length: \(members[0]) has \(first.rows) rows, \(m) has \(d.stored.rows)")
                }
                columns.append(ColumnInfo(name: m, isCategorical: d.stored.element.isString, storage: d.stored.element.storage))
            }
            return Description(layout: .group, rows: opened[0].rows, columns: columns, datasets: opened,
                               locations: opened.indices.map { ($0, 0) })
        } catch {
            for d in opened { _ = H5Dclose(d.id) }
            throw error
        }
    }

    /// A pandas fixed-format frame: `axis0` (column names), `axis1` (index),
    /// `block<k>_items` and `block<k>_values` (rows × items).
    private static func describePandas(_ f: hid_t, _ place: HDF5Place) throws -> Description {
        let path = place.object
        func child(_ n: String) -> String { path == "/" ? "/" + n : path + "/" + n }
        let names = try readStringDataset(f, child("axis0"), place)
        var opened: [Stored] = []
        do {
            var where_: [String: (Int, Int)] = [:]
            var k = 0
            while H5Lexists(f, child("block\(k)_items"), chdf5_p_default()) > 0 {
                let items = try readStringDataset(f, child("block\(k)_items"), place)
                let valuesPath = child("block\(k)_values")
                let o = try openObject(f, HDF5Place(file: place.file, object: valuesPath))
                let t = H5Iget_type(o) == H5I_DATASET ? H5Dget_type(o) : -1
                let cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS
                HDF5Library.release(t, H5Tclose)
                _ = H5Oclose(o)
                guard cls == H5T_INTEGER || cls == H5T_FLOAT || cls == H5T_ENUM || cls == H5T_BITFIELD else {
                    throw place.dataError("pandas stores the column\(items.count == 1 ? "" : "s") \(listPreview(items)) as pickled Python objects "
                        + "(strings in to_hdf's fixed format), which only pandas can read; store strings with h5py or as numbers")
                }
                let d = try openDataset(f, valuesPath, HDF5Place(file: place.file, object: valuesPath))
                opened.append(d.stored)
                guard d.dims.count == 2, d.stored.width == items.count else {
                    throw place.dataError("\(valuesPath) has shape \(d.dims) for \(items.count) columns")
                }
                for (i, n) in items.enumerated() { where_[n] = (opened.count - 1, i) }
                k += 1
            }
            var columns: [ColumnInfo] = []
            var locations: [(Int, Int)] = []
            for n in names {
                guard let at = where_[n] else { throw place.dataError("pandas column \(n) is in axis0 but in no block") }
                columns.append(ColumnInfo(name: n, isCategorical: false, storage: opened[at.0].element.storage))
                locations.append(at)
            }
            let rows = opened.first?.rows ?? 0
            guard opened.allSatisfy({ $0.rows == rows }) else { throw place.dataError("its pandas blocks differ in length") }
            return Description(layout: .pandasFrame, rows: rows, columns: columns, datasets: opened, locations: locations)
        } catch {
            for d in opened { _ = H5Dclose(d.id) }
            throw error
        }
    }

    /// Opens the object at `place.object`, or throws naming it and listing what the nearest
    /// existing group holds.
    private static func openObject(_ f: hid_t, _ place: HDF5Place) throws -> hid_t {
        // Walk down so a missing link is reported with its parent's members.
        var parent = "/"
        for part in place.object.split(separator: "/") {
            let next = parent == "/" ? "/" + part : parent + "/" + part
            if H5Lexists(f, next, chdf5_p_default()) <= 0 {
                _ = HDF5Library.lastError()
                let members = (try? groupMembers(f, parent, place)) ?? []
                throw MPILearnError.cannotRead(path: place.description, reason: "no object \(next) in the file; \(parent) holds "
                    + (members.isEmpty ? "nothing" : listPreview(members.map { (parent == "/" ? "/" : parent + "/") + $0 })))
            }
            parent = next
        }
        let o = H5Oopen(f, place.object, chdf5_p_default())
        guard o >= 0 else { throw place.readFailure("cannot open the object") }
        return o
    }

    /// Opens a dataset and classifies its elements; only 1-D and 2-D datasets pass.
    private static func openDataset(_ f: hid_t, _ path: String, _ place: HDF5Place) throws -> (stored: Stored, dims: [Int]) {
        let d = H5Dopen2(f, path, chdf5_p_default())
        guard d >= 0 else { throw place.readFailure("cannot open the dataset") }
        let s = H5Dget_space(d), t = H5Dget_type(d)
        defer { HDF5Library.release(s, H5Sclose); HDF5Library.release(t, H5Tclose) }
        let dims = shape(s)
        guard dims.count == 1 || dims.count == 2 else {
            _ = H5Dclose(d)
            let shown = dims.isEmpty ? "a scalar" : "\(dims.count)-D (\(dims.map(String.init).joined(separator: "×")))"
            throw place.dataError("is \(shown); expected a 2-D dataset (rows × columns), a 1-D dataset, or a group of 1-D datasets")
        }
        let element: Element
        switch H5Tget_class(t) {
        case H5T_INTEGER, H5T_FLOAT:
            element = .number(typeName(t))
        case H5T_ENUM:
            let base = H5Tget_super(t)
            defer { HDF5Library.release(base, H5Tclose) }
            element = .enumeration(size: Int(H5Tget_size(base)), signed: H5Tget_sign(base) != H5T_SGN_NONE,
                                   name: H5Tget_size(base) == 1 ? "bool" : "enum")
        case H5T_BITFIELD where [1, 2, 4, 8].contains(H5Tget_size(t)):
            // PyTables (pandas) stores booleans as 8-bit bitfields.
            element = .enumeration(size: Int(H5Tget_size(t)), signed: false, name: H5Tget_size(t) == 1 ? "bool" : "bitfield")
        case H5T_STRING:
            element = H5Tis_variable_str(t) > 0 ? .variableString
                : .fixedString(size: Int(H5Tget_size(t)), spacePadded: H5Tget_strpad(t) == H5T_STR_SPACEPAD)
        default:
            _ = H5Dclose(d)
            throw place.dataError("holds \(typeName(t)) elements (a pandas format=\"table\" frame or a NumPy record array?); "
                + "expected numbers, booleans or strings")
        }
        let stored = Stored(id: d, path: path, width: dims.count == 2 ? dims[1] : 1, rows: dims[0], element: element)
        return (stored, dims)
    }

    /// A string attribute (scalar or 1-D; fixed or variable length), or nil if `object`
    /// has no attribute `name`.
    static func stringAttribute(_ object: hid_t, _ name: String, _ place: HDF5Place) throws -> [String]? {
        guard H5Aexists(object, name) > 0 else { return nil }
        let a = H5Aopen(object, name, chdf5_p_default())
        guard a >= 0 else { throw place.readFailure("cannot open attribute \(name)") }
        defer { _ = H5Aclose(a) }
        let t = H5Aget_type(a), s = H5Aget_space(a)
        defer { HDF5Library.release(s, H5Sclose); HDF5Library.release(t, H5Tclose) }
        guard H5Tget_class(t) == H5T_STRING else { return nil }
        let n = max(1, shape(s).reduce(1, *))
        if H5Tis_variable_str(t) > 0 {
            let mt = H5Tcopy(chdf5_c_s1())
            defer { _ = H5Tclose(mt) }
            _ = H5Tset_size(mt, chdf5_variable())
            _ = H5Tset_cset(mt, H5Tget_cset(t))
            var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: n)
            guard H5Aread(a, mt, &ptrs) >= 0 else { throw place.readFailure("cannot read attribute \(name)") }
            let out = ptrs.map { $0.map { String(cString: $0) } ?? "" }
            for p in ptrs { if let p { H5free_memory(p) } }
            return out
        }
        let size = Int(H5Tget_size(t))
        var buf = [UInt8](repeating: 0, count: n * size)
        guard H5Aread(a, t, &buf) >= 0 else { throw place.readFailure("cannot read attribute \(name)") }
        return (0 ..< n).map { fixedString(buf[$0 * size ..< ($0 + 1) * size], spacePadded: H5Tget_strpad(t) == H5T_STR_SPACEPAD) }
    }

    /// All of a 1-D string dataset (pandas' small `axis0` and `block_items`).
    private static func readStringDataset(_ f: hid_t, _ path: String, _ place: HDF5Place) throws -> [String] {
        let d = try openDataset(f, path, HDF5Place(file: place.file, object: path))
        defer { _ = H5Dclose(d.stored.id) }
        let reader = ColumnReader(place: HDF5Place(file: place.file, object: path), parallel: false)
        guard case .strings(let s) = try reader.read(d.stored, indices: [0], rows: 0 ..< d.stored.rows)[0] else {
            throw place.dataError("\(path) does not hold strings")
        }
        return s
    }

    static func fixedString(_ bytes: ArraySlice<UInt8>, spacePadded: Bool) -> String {
        var end = bytes.firstIndex(of: 0) ?? bytes.endIndex
        if spacePadded { while end > bytes.startIndex && bytes[end - 1] == 0x20 { end -= 1 } }
        return String(decoding: bytes[bytes.startIndex ..< end], as: UTF8.self)
    }

    private func readColumns(_ d: Stored, indices: [Int], rows: Range<Int>) throws -> [ColumnReader.Values] {
        try ColumnReader(place: HDF5Place(file: place.file, object: d.path), parallel: parallel).read(d, indices: indices, rows: rows)
    }
}

/// Reads rows of a 1-D or 2-D dataset, block by block, into columns.
struct ColumnReader {
    enum Values {
        case numbers([Double])
        case strings([String])
    }

    var place: HDF5Place
    var parallel: Bool

    /// Rows `rows` of the columns `indices` (positions within a row) of `d`. The caller
    /// holds the library lock.
    func read(_ d: HDF5Reader.Stored, indices: [Int], rows: Range<Int>) throws -> [Values] {
        let elementBytes: Int
        switch d.element {
        case .number: elementBytes = 8
        case let .enumeration(size, _, _): elementBytes = size
        case let .fixedString(size, _): elementBytes = size
        case .variableString: elementBytes = MemoryLayout<UnsafeRawPointer>.stride
        }
        let blockRows = max(1, HDF5Reader.blockBytes / max(1, d.width * elementBytes))
        var numbers = [[Double]](repeating: [], count: indices.count)
        var strings = [[String]](repeating: [], count: indices.count)
        if d.element.isString { for k in indices.indices { strings[k].reserveCapacity(rows.count) } } else { for k in indices.indices { numbers[k].reserveCapacity(rows.count) } }
        let fileSpace = H5Dget_space(d.id)
        guard fileSpace >= 0 else { throw place.readFailure("cannot get the dataspace") }
        defer { _ = H5Sclose(fileSpace) }
        let dxpl = H5Pcreate(chdf5_p_dataset_xfer())
        defer { HDF5Library.release(dxpl, H5Pclose) }
        if parallel { _ = chdf5_set_dxpl_mpio(dxpl, 0) }
        var start = rows.lowerBound
        while start < rows.upperBound {
            let n = min(blockRows, rows.upperBound - start)
            let twoD = d.width > 1 || H5Sget_simple_extent_ndims(fileSpace) == 2
            var offset: [hsize_t] = twoD ? [hsize_t(start), 0] : [hsize_t(start)]
            var count: [hsize_t] = twoD ? [hsize_t(n), hsize_t(d.width)] : [hsize_t(n)]
            guard H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &offset, nil, &count, nil) >= 0 else {
                throw place.readFailure("cannot select rows \(start)..<\(start + n)")
            }
            let memSpace = H5Screate_simple(Int32(count.count), &count, nil)
            defer { HDF5Library.release(memSpace, H5Sclose) }
            let total = n * d.width
            switch d.element {
            case .number:
                var buf = [Double](repeating: 0, count: total)
                guard H5Dread(d.id, chdf5_native_double(), memSpace, fileSpace, dxpl, &buf) >= 0 else {
                    throw place.readFailure("cannot read rows \(start)..<\(start + n)")
                }
                for (k, j) in indices.enumerated() { for i in 0 ..< n { numbers[k].append(buf[i * d.width + j]) } }
            case let .enumeration(size, signed, _):
                let ft = H5Dget_type(d.id)
                let mt = H5Tget_native_type(ft, H5T_DIR_ASCEND)
                defer { HDF5Library.release(mt, H5Tclose); HDF5Library.release(ft, H5Tclose) }
                var buf = [UInt8](repeating: 0, count: total * size)
                guard H5Dread(d.id, mt, memSpace, fileSpace, dxpl, &buf) >= 0 else {
                    throw place.readFailure("cannot read rows \(start)..<\(start + n)")
                }
                buf.withUnsafeBytes { raw in
                    func value(_ e: Int) -> Double {
                        switch (size, signed) {
                        case (1, true): return Double(raw.load(fromByteOffset: e, as: Int8.self))
                        case (1, false): return Double(raw[e])
                        case (2, true): return Double(raw.loadUnaligned(fromByteOffset: e * 2, as: Int16.self))
                        case (2, false): return Double(raw.loadUnaligned(fromByteOffset: e * 2, as: UInt16.self))
                        case (4, true): return Double(raw.loadUnaligned(fromByteOffset: e * 4, as: Int32.self))
                        case (4, false): return Double(raw.loadUnaligned(fromByteOffset: e * 4, as: UInt32.self))
                        case (8, true): return Double(raw.loadUnaligned(fromByteOffset: e * 8, as: Int64.self))
                        default: return Double(raw.loadUnaligned(fromByteOffset: e * 8, as: UInt64.self))
                        }
                    }
                    for (k, j) in indices.enumerated() { for i in 0 ..< n { numbers[k].append(value(i * d.width + j)) } }
                }
            case let .fixedString(size, spacePadded):
                let ft = H5Dget_type(d.id)
                defer { HDF5Library.release(ft, H5Tclose) }
                var buf = [UInt8](repeating: 0, count: total * size)
                guard H5Dread(d.id, ft, memSpace, fileSpace, dxpl, &buf) >= 0 else {
                    throw place.readFailure("cannot read rows \(start)..<\(start + n)")
                }
                for (k, j) in indices.enumerated() {
                    for i in 0 ..< n {
                        let e = i * d.width + j
                        strings[k].append(HDF5Reader.fixedString(buf[e * size ..< (e + 1) * size], spacePadded: spacePadded))
                    }
                }
            case .variableString:
                let ft = H5Dget_type(d.id)
                let mt = H5Tcopy(chdf5_c_s1())
                defer { HDF5Library.release(mt, H5Tclose); HDF5Library.release(ft, H5Tclose) }
                _ = H5Tset_size(mt, chdf5_variable())
                _ = H5Tset_cset(mt, H5Tget_cset(ft))
                var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: total)
                guard H5Dread(d.id, mt, memSpace, fileSpace, dxpl, &ptrs) >= 0 else {
                    throw place.readFailure("cannot read rows \(start)..<\(start + n)")
                }
                for (k, j) in indices.enumerated() {
                    for i in 0 ..< n { strings[k].append(ptrs[i * d.width + j].map { String(cString: $0) } ?? "") }
                }
                _ = H5Dvlen_reclaim(mt, memSpace, chdf5_p_default(), &ptrs)
            }
            start += n
        }
        return d.element.isString ? strings.map { .strings($0) } : numbers.map { .numbers($0) }
    }
}
