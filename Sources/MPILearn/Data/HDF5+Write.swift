import CHDF5
import Foundation
import SwiftMPI

/// One HDF5 output written by all ranks: created together, filled by each rank at its own
/// rows (any number of blocks, at any offsets), finished together.
///
/// ```swift
/// let out = try HDF5Writer(path: "predictions.h5", object: "/predictions", rows: n,
///                          columns: ["p0", "p1"], comm: comm)
/// for chunk in myChunks { try out.write(chunk.probabilities, atRow: chunk.globalRow) }
/// try out.finish()
/// ```
///
/// Two layouts: ``Layout/matrix``, one 2-D dataset (rows × columns) of one type with a
/// `columns` attribute naming the columns (`h5py`: `f["/data"].attrs["columns"]`), and
/// ``Layout/columns``, a group holding one 1-D dataset per column (each its own type:
/// float64, int64 or fixed-length UTF-8 strings), in creation order. Both read back with
/// ``HDF5Reader`` and h5py; the columns layout is what `pandas.DataFrame({k: f[g][k][:]})`
/// wants.
///
/// The file appears atomically. Rank 0 resolves the path as every writer of the library
/// does (``OutputTarget``: a link is followed and the file it names replaced in its own
/// folder; a folder, socket, FIFO or device is an error, since HDF5 needs a regular file it
/// can seek in) and creates a temporary file next to the target; the ranks create the
/// datasets in it together, write, and on ``finish()`` rank 0 renames it over the target.
/// On an error the temporary file is removed; a job ended by `MPI_Abort` may leave one
/// (`.NAME.tmp-PID-RANDOM`).
///
/// With an MPI communicator every rank opens the temporary file through MPI-IO and writes
/// its hyperslabs itself (independent transfers). With another communicator of one rank the
/// file is written with HDF5's serial driver. With another communicator of several ranks
/// (``LocalWorld`` in tests: threads sharing one non-thread-safe HDF5) rank 0 writes its own
/// blocks and the other ranks keep theirs until ``finish()`` gathers them to rank 0: a
/// test-only path, holding those ranks' output in memory.
public final class HDF5Writer {
    /// How the columns are stored.
    public enum Layout: String, Codable, Sendable, CaseIterable {
        /// One 2-D dataset, rows × columns, with a `columns` string attribute.
        case matrix
        /// A group of 1-D datasets, one per column.
        case columns
    }

    /// The stored type of a column.
    public enum ElementType: Sendable, Equatable {
        /// IEEE 754 double, little-endian.
        case float64
        /// 64-bit signed integer, little-endian.
        case int64
        /// Fixed-length UTF-8 strings of at most `width` bytes, NUL-padded (h5py: `S<width>`).
        case string(width: Int)
    }

    /// A column to write: its name and stored type.
    public struct ColumnSpec: Sendable, Equatable {
        public var name: String
        public var type: ElementType
        public init(name: String, type: ElementType = .float64) {
            self.name = name
            self.type = type
        }
    }

    /// The path given (before links are followed).
    public let path: String
    /// The object's absolute path in the file.
    public let object: String
    /// Rows of the output, over all ranks.
    public let rowCount: Int
    public let columns: [ColumnSpec]
    public let layout: Layout

    /// Rows converted and written per HDF5 call.
    public static let blockRows = 1 << 16

    private let comm: any Communicator
    private let mode: Mode
    private var file: hid_t = -1
    private var datasets: [hid_t] = []
    private let target: String
    private let temporary: String
    private var rowsWritten = 0
    private var pending: [PendingBlock] = []
    private var finished = false

    private enum Mode {
        /// Every rank writes through MPI-IO.
        case parallel
        /// One rank, HDF5's serial driver.
        case serial
        /// Several ranks of a non-MPI communicator: rank 0 writes what the others send at the end.
        case gathered
    }

    /// What rank 0 decided about the path.
    private struct Plan: Codable {
        var target: String
        var temporary: String
        var mode: UInt32?
    }

    /// Collective. Creates the output's temporary file and its datasets with every column of
    /// one type `type`.
    /// - Parameters:
    ///   - path: the output file.
    ///   - object: the dataset (``Layout/matrix``) or group (``Layout/columns``) to create.
    ///   - rows: rows over all ranks (the same on every rank).
    ///   - columns: column names.
    ///   - type: the stored type of every column (strings only in the columns layout).
    ///   - layout: a 2-D dataset or a group of 1-D datasets.
    ///   - comm: the ranks writing.
    /// - Throws: ``MPILearnError/invalidParameter`` for a bad object, column name or shape;
    ///   ``MPILearnError/cannotWrite`` naming the path when the file cannot be created (on
    ///   every rank).
    public convenience init(path: String, object: String = "/data", rows: Int, columns: [String], type: ElementType = .float64,
                            layout: Layout = .matrix, comm: any Communicator) throws {
        try self.init(path: path, object: object, rows: rows, columns: columns.map { ColumnSpec(name: $0, type: type) },
                      layout: layout, comm: comm)
    }

    /// Collective. Creates the output's temporary file and its datasets, one column per
    /// `columns` entry (see the other initialiser).
    public init(path: String, object: String = "/data", rows: Int, columns: [ColumnSpec], layout: Layout = .columns,
                comm: any Communicator) throws {
        let object = HDF5Source.normalized(object)
        try require(object != "/", "object", object, "a dataset or group path below the root, such as /data")
        try require(rows >= 0, "rows", rows, "a row count ≥ 0")
        try require(!columns.isEmpty, "columns", "none", "at least one column")
        for c in columns {
            try require(!c.name.isEmpty && !c.name.contains("/") && c.name != "." , "column name", "'\(c.name)'",
                        "a non-empty name without '/' (it names an HDF5 dataset or a columns entry)")
            if case let .string(width) = c.type { try require(width >= 1, "string width", width, "at least 1 byte") }
        }
        try require(Set(columns.map(\.name)).count == columns.count, "columns", columns.map(\.name).joined(separator: ","), "distinct names")
        if layout == .matrix {
            try require(columns.allSatisfy { $0.type == columns[0].type } && !Self.isString(columns[0].type),
                        "type", "\(columns.map(\.type))", "one numeric type (float64 or int64) for the matrix layout; strings need the columns layout")
        }
        self.path = path
        self.object = object
        self.rowCount = rows
        self.columns = columns
        self.layout = layout
        self.comm = comm
        mode = comm is any MPIHandleProvider ? .parallel : (comm.size == 1 ? .serial : .gathered)

        // Rank 0 resolves the path and reserves a temporary file; every rank learns the
        // outcome, so a refusal is thrown everywhere.
        var decided: Result<Plan, MPILearnError>? = nil
        if comm.rank == 0 {
            decided = Result { try Self.plan(path) }.mapError { ($0 as? MPILearnError) ?? .cannotWrite(path: path, reason: "\($0)") }
        }
        let plan = try Self.agree(decided, comm: comm).get()
        target = plan.target
        temporary = plan.temporary

        // Create the file and datasets: every rank through MPI-IO, else rank 0 alone.
        var failure: MPILearnError? = nil
        if mode == .parallel || comm.rank == 0 {
            do { try HDF5Library.locked { try create() } } catch { failure = Self.asWriteError(error, path) }
        }
        if let message = try Self.firstFailure(failure, comm: comm) {
            // With MPI-IO a failed create failed on every rank (HDF5's create is collective).
            try? HDF5Library.locked { try closeAll() }
            if comm.rank == 0 { unlink(temporary) }
            finished = true
            throw message
        }
    }

    deinit {
        guard !finished else { return }
        // Abandoned after an error: a file open through MPI-IO can only be closed by every
        // rank together, so it is left to the process's end; the temporary file goes now.
        if mode != .parallel { try? HDF5Library.locked { try closeAll() } }
        if comm.rank == 0 { unlink(temporary) }
    }

    private static func isString(_ t: ElementType) -> Bool {
        if case .string = t { return true }
        return false
    }

    // MARK: - Writing

    /// Local. Writes `block` (one value array per column, in column order, all of the same
    /// length) at global rows `row ..< row + length`. Numbers go to float64 columns as they
    /// are and to int64 columns if integral; categorical columns are written as their
    /// strings (missing: the empty string), datetimes as seconds.
    /// - Throws: ``MPILearnError/invalidParameter`` for rows outside the output or a block of
    ///   the wrong shape; ``MPILearnError/mismatch`` for a value the column cannot hold;
    ///   ``MPILearnError/cannotWrite`` when HDF5 fails.
    public func write(_ block: [ColumnValues], atRow row: Int) throws {
        try require(!finished, "writer", path, "a writer not yet finished")
        try require(block.count == columns.count, "block", "\(block.count) columns", "\(columns.count) columns (\(columns.map(\.name).joined(separator: ",")))")
        let n = block.first?.count ?? 0
        try require(block.allSatisfy { $0.count == n }, "block", "columns of lengths \(block.map(\.count))", "columns of one length")
        try require(row >= 0 && row + n <= rowCount, "row", "\(row)..<\(row + n)", "rows within 0..<\(rowCount) of \(path):\(object)")
        var start = 0
        while start < n {
            let m = min(Self.blockRows, n - start)
            let converted = try (0 ..< columns.count).map { try convert(block[$0], column: $0, range: start ..< start + m, firstRow: row) }
            if mode == .gathered && comm.rank != 0 {
                pending.append(PendingBlock(row: row + start, columns: converted))
            } else {
                try HDF5Library.locked { try store(converted, atRow: row + start, count: m) }
            }
            start += m
        }
        rowsWritten += n
    }

    /// Local. Writes the rows of a row-major `matrix` (one column per output column) at
    /// global rows `row ..< row + matrix.rows` (see ``write(_:atRow:)-(ColumnValues)``).
    public func write(_ matrix: Matrix<Double>, atRow row: Int) throws {
        try require(matrix.columns == columns.count, "matrix", "\(matrix.rows)×\(matrix.columns)", "\(columns.count) columns")
        let c = matrix.columns
        let block = (0 ..< c).map { j in ColumnValues.float64((0 ..< matrix.rows).map { matrix.storage[$0 * c + j] }) }
        try write(block, atRow: row)
    }

    /// Collective. Checks that the ranks wrote every row, closes the file and renames it over
    /// the target. After an error on any rank the temporary file is removed and every rank
    /// throws.
    /// - Throws: ``MPILearnError/mismatch`` when the ranks wrote more or fewer rows than the
    ///   output has; ``MPILearnError/cannotWrite`` naming the path.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        var failure: MPILearnError? = nil
        if mode == .gathered {
            let blocks = try comm.gatherObject(pending, root: 0)
            pending = []
            if let blocks {
                do {
                    try HDF5Library.locked {
                        for b in blocks.joined() { try store(b.columns, atRow: b.row, count: b.columns.first?.count ?? 0) }
                    }
                } catch { failure = Self.asWriteError(error, path) }
            }
        }
        let total = try comm.allreduce([Int64(rowsWritten)], op: .sum)[0]
        if mode == .parallel || comm.rank == 0 {
            do { try HDF5Library.locked { try closeAll() } } catch { failure = failure ?? Self.asWriteError(error, path) }
        }
        if failure == nil && total != Int64(rowCount) {
            failure = .mismatch("\(path):\(object): the ranks wrote \(total) rows of \(rowCount); each row must be written once")
        }
        if let error = try Self.firstFailure(failure, comm: comm) {
            if comm.rank == 0 { unlink(temporary) }
            throw error
        }
        var renamed: Result<Bool, MPILearnError>? = nil
        if comm.rank == 0 {
            if rename(temporary, target) == 0 {
                renamed = .success(true)
            } else {
                renamed = .failure(.cannotWrite(path: path, reason: String(cString: strerror(errno))))
                unlink(temporary)
            }
        }
        _ = try Self.agree(renamed, comm: comm).get()
    }

    /// Collective. Writes `table` (every rank its shard, at its `globalRowStart`) to
    /// `object` of `path` in one go. Float columns become float64, datetimes int64 seconds,
    /// categorical columns fixed-length strings (``Layout/columns``) or their codes as
    /// float64, missing as NaN (``Layout/matrix``, as ``Table/matrix(_:columns:)``).
    public static func write(_ table: Table, to path: String, object: String = "/data", layout: Layout = .columns,
                             comm: any Communicator) throws {
        var specs: [ColumnSpec] = []
        var block: [ColumnValues] = []
        for c in table.columns {
            switch (c.values, layout) {
            case let (.categorical(_, dictionary), .columns):
                specs.append(ColumnSpec(name: c.name, type: .string(width: max(1, dictionary.values.map(\.utf8.count).max() ?? 1))))
                block.append(c.values)
            case (.datetime, .columns):
                specs.append(ColumnSpec(name: c.name, type: .int64))
                block.append(c.values)
            case (.float32(let v), _):
                specs.append(ColumnSpec(name: c.name, type: .float64))
                block.append(.float64(v.map(Double.init)))
            case (.float64, _):
                specs.append(ColumnSpec(name: c.name, type: .float64))
                block.append(c.values)
            default:
                specs.append(ColumnSpec(name: c.name, type: .float64))
                block.append(.float64((0 ..< c.values.count).map { c.values.double(at: $0) }))
            }
        }
        // Dictionaries are global, but a writer needs the same widths on every rank.
        let widths = specs.map { s -> Int in if case let .string(w) = s.type { return w } else { return 0 } }
        let agreed = try comm.allreduce(widths.map(Int64.init), op: .max)
        for (j, w) in agreed.enumerated() where w > 0 { specs[j].type = .string(width: Int(w)) }
        let writer = try HDF5Writer(path: path, object: object, rows: table.globalRowCount, columns: specs, layout: layout, comm: comm)
        var failure: MPILearnError? = nil
        do { try writer.write(block, atRow: table.globalRowStart) } catch { failure = asWriteError(error, path) }
        if let error = try firstFailure(failure, comm: comm) {
            writer.finished = true
            if writer.mode != .parallel { try? HDF5Library.locked { try writer.closeAll() } }
            if comm.rank == 0 { unlink(writer.temporary) }
            throw error
        }
        try writer.finish()
    }

    // MARK: - Internals

    /// A column's values in stored form.
    enum Stored: Codable {
        case float64([Double])
        case int64([Int64])
        case strings([String])

        var count: Int {
            switch self {
            case let .float64(v): return v.count
            case let .int64(v): return v.count
            case let .strings(v): return v.count
            }
        }
    }

    /// A block a rank of a non-MPI communicator keeps for rank 0.
    struct PendingBlock: Codable {
        var row: Int
        var columns: [Stored]
    }

    /// Rows `range` of `values` converted for column `j`.
    private func convert(_ values: ColumnValues, column j: Int, range: Range<Int>, firstRow: Int) throws -> Stored {
        let spec = columns[j]
        func bad(_ i: Int, _ what: String) -> MPILearnError {
            .mismatch("\(path):\(object): column \(spec.name), row \(firstRow + i): \(what)")
        }
        switch (spec.type, values) {
        case (.float64, _):
            if case let .float64(v) = values { return .float64(Array(v[range])) }
            return .float64(range.map { values.double(at: $0) })
        case (.int64, .datetime(let v)):
            return .int64(Array(v[range]))
        case (.int64, _):
            return .int64(try range.map { i in
                let x = values.double(at: i)
                guard x.isFinite, x == x.rounded(), abs(x) < 9.2e18 else { throw bad(i, "\(x) is not an integer, and the column stores int64") }
                return Int64(x)
            })
        case let (.string(width), .categorical(codes, dictionary)):
            return .strings(try range.map { i in
                let s = codes[i] < 0 ? "" : dictionary.values[Int(codes[i])]
                guard s.utf8.count <= width else { throw bad(i, "\"\(s)\" is longer than the column's \(width) bytes") }
                return s
            })
        case (.string, _):
            throw MPILearnError.invalidParameter(name: "block", value: "numbers for column \(spec.name)", allowed: "categorical values for a string column")
        }
    }

    /// Writes converted columns at `row` (the caller holds the library lock).
    private func store(_ values: [Stored], atRow row: Int, count n: Int) throws {
        guard n > 0 else { return }
        let place = HDF5Place(file: path, object: object)
        func fail(_ what: String) -> MPILearnError { .cannotWrite(path: place.description, reason: "\(what): \(HDF5Library.lastError())") }
        let dxpl = H5Pcreate(chdf5_p_dataset_xfer())
        defer { HDF5Library.release(dxpl, H5Pclose) }
        if mode == .parallel { _ = chdf5_set_dxpl_mpio(dxpl, 0) }
        func put(_ dataset: hid_t, _ memType: hid_t, offset: [hsize_t], count: [hsize_t], _ bytes: UnsafeRawPointer) throws {
            let fileSpace = H5Dget_space(dataset)
            defer { HDF5Library.release(fileSpace, H5Sclose) }
            var offset = offset, count = count
            let memSpace = H5Screate_simple(Int32(count.count), &count, nil)
            defer { HDF5Library.release(memSpace, H5Sclose) }
            guard fileSpace >= 0, memSpace >= 0, H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &offset, nil, &count, nil) >= 0,
                  H5Dwrite(dataset, memType, memSpace, fileSpace, dxpl, bytes) >= 0
            else { throw fail("cannot write rows \(row)..<\(row + n)") }
        }
        switch layout {
        case .matrix:
            let c = columns.count
            let offset = [hsize_t(row), 0], count = [hsize_t(n), hsize_t(c)]
            if columns[0].type == .int64 {
                var buf = [Int64](repeating: 0, count: n * c)
                for (j, v) in values.enumerated() { if case let .int64(x) = v { for i in 0 ..< n { buf[i * c + j] = x[i] } } }
                try put(datasets[0], chdf5_native_int64(), offset: offset, count: count, buf)
            } else {
                var buf = [Double](repeating: 0, count: n * c)
                for (j, v) in values.enumerated() { if case let .float64(x) = v { for i in 0 ..< n { buf[i * c + j] = x[i] } } }
                try put(datasets[0], chdf5_native_double(), offset: offset, count: count, buf)
            }
        case .columns:
            for (j, v) in values.enumerated() {
                switch v {
                case let .float64(x): try put(datasets[j], chdf5_native_double(), offset: [hsize_t(row)], count: [hsize_t(n)], x)
                case let .int64(x): try put(datasets[j], chdf5_native_int64(), offset: [hsize_t(row)], count: [hsize_t(n)], x)
                case let .strings(s):
                    guard case let .string(width) = columns[j].type else { continue }
                    var buf = [UInt8](repeating: 0, count: n * width)
                    for (i, str) in s.enumerated() { for (k, b) in str.utf8.prefix(width).enumerated() { buf[i * width + k] = b } }
                    let t = Self.stringType(width)
                    defer { _ = H5Tclose(t) }
                    try put(datasets[j], t, offset: [hsize_t(row)], count: [hsize_t(n)], buf)
                }
            }
        }
    }

    /// A fixed-length, NUL-padded UTF-8 string type of `width` bytes (close it).
    private static func stringType(_ width: Int) -> hid_t {
        let t = H5Tcopy(chdf5_c_s1())
        _ = H5Tset_size(t, width)
        _ = H5Tset_strpad(t, H5T_STR_NULLPAD)
        _ = H5Tset_cset(t, H5T_CSET_UTF8)
        return t
    }

    /// Creates the temporary file, the object and its datasets (the caller holds the lock).
    private func create() throws {
        let place = HDF5Place(file: path, object: object)
        func fail(_ what: String) -> MPILearnError { .cannotWrite(path: place.description, reason: "\(what): \(HDF5Library.lastError())") }
        let fapl = H5Pcreate(chdf5_p_file_access())
        defer { HDF5Library.release(fapl, H5Pclose) }
        if mode == .parallel, let mpi = comm as? any MPIHandleProvider {
            guard mpi.withUnsafeMPICommunicator({ chdf5_set_fapl_mpio(fapl, $0) }) >= 0 else { throw fail("cannot use the MPI-IO driver") }
        }
        file = H5Fcreate(temporary, chdf5_acc_trunc(), chdf5_p_default(), fapl)
        guard file >= 0 else { throw fail("cannot create \(temporary)") }
        let lcpl = H5Pcreate(chdf5_p_link_create())
        defer { HDF5Library.release(lcpl, H5Pclose) }
        _ = H5Pset_create_intermediate_group(lcpl, 1)
        let dcpl = H5Pcreate(chdf5_p_dataset_create())
        defer { HDF5Library.release(dcpl, H5Pclose) }
        // Contiguous storage, allocated at creation, no fill: every row is written once.
        _ = H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY)
        _ = H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER)
        func dataset(_ name: String, _ type: hid_t, _ dims: [hsize_t]) throws -> hid_t {
            var dims = dims
            let space = H5Screate_simple(Int32(dims.count), &dims, nil)
            defer { HDF5Library.release(space, H5Sclose) }
            let d = H5Dcreate2(file, name, type, space, lcpl, dcpl, chdf5_p_default())
            guard d >= 0 else { throw fail("cannot create dataset \(name)") }
            return d
        }
        func fileType(_ t: ElementType) -> hid_t {
            switch t {
            case .float64: return H5Tcopy(chdf5_ieee_f64le())
            case .int64: return H5Tcopy(chdf5_std_i64le())
            case let .string(width): return Self.stringType(width)
            }
        }
        switch layout {
        case .matrix:
            let t = fileType(columns[0].type)
            defer { _ = H5Tclose(t) }
            datasets = [try dataset(object, t, [hsize_t(rowCount), hsize_t(columns.count)])]
            try writeNames(datasets[0], columns.map(\.name), fail)
        case .columns:
            let gcpl = H5Pcreate(chdf5_p_group_create())
            defer { HDF5Library.release(gcpl, H5Pclose) }
            _ = H5Pset_link_creation_order(gcpl, UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED))
            let g = H5Gcreate2(file, object, lcpl, gcpl, chdf5_p_default())
            guard g >= 0 else { throw fail("cannot create group \(object)") }
            defer { _ = H5Gclose(g) }
            for c in columns {
                let t = fileType(c.type)
                defer { _ = H5Tclose(t) }
                datasets.append(try dataset(object + "/" + c.name, t, [hsize_t(rowCount)]))
            }
        }
    }

    /// The `columns` attribute: the column names as variable-length UTF-8 strings.
    private func writeNames(_ d: hid_t, _ names: [String], _ fail: (String) -> MPILearnError) throws {
        let t = H5Tcopy(chdf5_c_s1())
        defer { _ = H5Tclose(t) }
        _ = H5Tset_size(t, chdf5_variable())
        _ = H5Tset_cset(t, H5T_CSET_UTF8)
        var dims = [hsize_t(names.count)]
        let space = H5Screate_simple(1, &dims, nil)
        defer { HDF5Library.release(space, H5Sclose) }
        let a = H5Acreate2(d, "columns", t, space, chdf5_p_default(), chdf5_p_default())
        guard a >= 0 else { throw fail("cannot create the columns attribute") }
        defer { _ = H5Aclose(a) }
        let cstrings = names.map { strdup($0) }
        defer { cstrings.forEach { free($0) } }
        var pointers = cstrings.map { UnsafePointer<CChar>($0) }
        guard H5Awrite(a, t, &pointers) >= 0 else { throw fail("cannot write the columns attribute") }
    }

    /// Closes the datasets and the file (the caller holds the lock; collective with MPI-IO).
    private func closeAll() throws {
        var failed = false
        for d in datasets where H5Dclose(d) < 0 { failed = true }
        datasets = []
        if file >= 0 {
            if H5Fclose(file) < 0 { failed = true }
            file = -1
        }
        if failed { throw MPILearnError.cannotWrite(path: "\(path):\(object)", reason: "cannot close the file: \(HDF5Library.lastError())") }
    }

    /// Rank 0's decision: where the file goes, and a reserved temporary name next to it.
    private static func plan(_ path: String) throws -> Plan {
        switch try OutputTarget.resolve(path) {
        case let .stream(t):
            throw MPILearnError.cannotWrite(path: path, reason: "\(t == path ? "it" : t) is a FIFO or a device; an HDF5 file must be a regular file (HDF5 writes at offsets and renames into place)")
        case let .file(target, mode):
            let (fd, temporary) = try ParallelFile.createUnique(next: target, path: path)
            if let mode { fchmod(fd, mode) }
            close(fd)
            return Plan(target: target, temporary: temporary, mode: mode.map { UInt32($0) })
        }
    }

    /// Collective. Rank 0's `decided` outcome on every rank.
    private static func agree<V: Codable>(_ decided: Result<V, MPILearnError>?, comm: any Communicator) throws -> Result<V, MPILearnError> {
        var message: String? = nil
        var value: V? = nil
        if let decided {
            switch decided {
            case let .success(v): value = v
            case let .failure(e): message = encodeError(e)
            }
        }
        let o = try comm.broadcastObject(comm.rank == 0 ? AgreedOutcome(value: value, error: message) : nil, root: 0)
        if let e = o.error { return .failure(decodeError(e)) }
        return .success(o.value!)
    }

    /// Collective. The first rank's failure (by rank), on every rank, or nil when none failed.
    private static func firstFailure(_ failure: MPILearnError?, comm: any Communicator) throws -> MPILearnError? {
        let all = try comm.allgatherObject(failure.map(encodeError))
        return all.compactMap { $0 }.first.map(decodeError)
    }

    static func asWriteError(_ error: any Error, _ path: String) -> MPILearnError {
        (error as? MPILearnError) ?? .cannotWrite(path: path, reason: "\(error)")
    }
}

/// Rank 0's outcome of a step, broadcast.
private struct AgreedOutcome<T: Codable>: Codable {
    var value: T?
    var error: String?
}

// Errors travel between ranks as a kind and a message, so every rank throws the same error
// (and so the same exit code).
private func encodeError(_ e: MPILearnError) -> String {
    switch e {
    case let .cannotWrite(path, reason): return "w\u{1}\(path)\u{1}\(reason)"
    case .mismatch: return "m\u{1}\(e.description)"
    case let .cannotRead(path, reason): return "r\u{1}\(path)\u{1}\(reason)"
    case .invalidParameter, .unknownParameter: return "p\u{1}\(e.description)"
    default: return "d\u{1}\(e.description)"
    }
}

private func decodeError(_ s: String) -> MPILearnError {
    let parts = s.split(separator: "\u{1}", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
    switch parts.first {
    case "w": return .cannotWrite(path: parts[1], reason: parts[2])
    case "r": return .cannotRead(path: parts[1], reason: parts[2])
    case "m": return .mismatch(parts[1])
    case "p": return .invalidParameter(name: "output", value: parts[1], allowed: "see the message")
    default: return .dataError(SourceLocation(file: ""), parts.dropFirst().joined())
    }
}
