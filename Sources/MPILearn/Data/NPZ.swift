import Foundation
import SwiftMPI
import ZIPFoundation

/// scipy's sparse `.npz` files (`scipy.sparse.save_npz` / `load_npz`) for CSR matrices: a
/// zip archive of five `.npy` members — `indices.npy` and `indptr.npy` (int32 or int64),
/// `format.npy` (the byte string `csr`), `shape.npy` (rows and columns, int64) and `data.npy`
/// (float64 or float32) — stored (`save_npz(..., compressed=False)`) or deflated (the default,
/// `compressed=True`).
///
/// Reading checks every member and names the file, the member and what was wrong; writing
/// builds the archive in memory and replaces the target atomically (``AtomicFile``).
public enum NPZ {
    /// How ``writeCSR(_:to:compression:)`` stores the members.
    public enum Compression: String, Codable, Sendable, CaseIterable {
        /// Stored as they are (scipy's `compressed=False`): fastest, largest.
        case stored
        /// Deflated (scipy's `compressed=True`, the default of `save_npz`).
        case deflate
    }

    /// The members of a CSR `.npz` file, in the order scipy writes them.
    public static let csrMembers = ["indices", "indptr", "format", "shape", "data"]

    /// Reads a CSR matrix from a scipy `.npz` file (every rank that calls it reads the whole file).
    /// - Parameters:
    ///   - path: the file.
    ///   - type: the element type of the result (float64 and float32 data are converted).
    /// - Returns: the matrix, validated (``CSRMatrix/validate()``).
    /// - Throws: ``MPILearnError/cannotRead`` when the file cannot be opened;
    ///   ``MPILearnError/dataError`` naming the file and member for anything else: not a zip
    ///   archive, a member missing or unreadable (bad CRC, bad deflate stream), a format other
    ///   than `csr`, an unsupported element type, arrays of inconsistent lengths, or offsets
    ///   and column indices that do not make a CSR matrix.
    public static func readCSR<T: LinearAlgebraScalar>(_ path: String, as type: T.Type = Double.self) throws -> CSRMatrix<T> {
        func bad(_ member: String?, _ message: String) -> MPILearnError {
            .dataError(SourceLocation(file: path), (member.map { "member \($0).npy: " } ?? "") + message)
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw MPILearnError.cannotRead(path: path, reason: "no such file")
        }
        guard !isFolder.boolValue else { throw MPILearnError.cannotRead(path: path, reason: "it is a folder") }
        guard FileManager.default.isReadableFile(atPath: path) else { throw MPILearnError.cannotRead(path: path, reason: "permission denied") }
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw bad(nil, "not a zip archive (scipy.sparse.save_npz writes one): \(error)")
        }
        let names = archive.map(\.path)
        // A member's declared size is only a hint (a damaged archive can claim any size, and
        // reserving it would be a huge allocation): reserve at most what deflate can expand
        // the whole file to (1032:1).
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let sizeLimit = UInt64(fileSize) * 1032
        func member(_ name: String) throws -> NPY.InMemory {
            guard let entry = archive[name + ".npy"] else {
                throw bad(nil, "no member \(name).npy, so not a scipy sparse matrix file (members: \(names.isEmpty ? "none" : names.joined(separator: ", ")))")
            }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(Int(min(entry.uncompressedSize, sizeLimit)))
            let crc: UInt32
            do {
                crc = try archive.extract(entry, skipCRC32: false) { chunk in bytes.append(contentsOf: chunk) }
            } catch {
                throw bad(name, "cannot be extracted (a damaged archive): \(error)")
            }
            // ZIPFoundation returns the checksum of what it extracted; comparing is ours to do.
            guard crc == entry.checksum else {
                throw bad(name, "cannot be extracted (a damaged archive): its CRC-32 is \(String(crc, radix: 16)), the archive records \(String(entry.checksum, radix: 16))")
            }
            return try NPY.decode(bytes, source: "\(path) (member \(name).npy)")
        }

        let format = try member("format")
        guard let f = format.text else { throw bad("format", "not a byte string but a \(format.descr) array of shape \(format.shape)") }
        guard f == "csr" else {
            throw bad("format", "the matrix is '\(f)', and only 'csr' is read (convert with .tocsr() before save_npz)")
        }
        let shapeArray = try member("shape")
        guard let shape = shapeArray.integers, shape.count == 2, shape.allSatisfy({ $0 >= 0 }) else {
            throw bad("shape", "not two non-negative integers (\(shapeArray.descr), shape \(shapeArray.shape))")
        }
        guard shape[1] <= Int64(Int32.max) + 1 else { throw bad("shape", "\(shape[1]) columns do not fit Int32 column indices") }
        let rows = Int(shape[0]), columns = Int(shape[1])

        let indptrArray = try member("indptr")
        guard indptrArray.shape.count == 1, let indptr = indptrArray.values(Int64.self) ?? indptrArray.values(Int32.self)?.map(Int64.init) else {
            throw bad("indptr", "not a 1-D int32 or int64 array (\(indptrArray.descr), shape \(indptrArray.shape))")
        }
        guard indptr.count == rows + 1 else {
            throw bad("indptr", "\(indptr.count) row offsets for the \(rows) rows of shape.npy (need rows + 1)")
        }
        let indicesArray = try member("indices")
        guard indicesArray.shape.count == 1 else { throw bad("indices", "not a 1-D array (shape \(indicesArray.shape))") }
        let indices: [Int32]
        if let v = indicesArray.values(Int32.self) {
            indices = v
        } else if let v = indicesArray.values(Int64.self) {
            if let k = v.firstIndex(where: { $0 < 0 || $0 >= Int64(columns) }) {
                throw bad("indices", "entry \(k) has column \(v[k]), outside 0..<\(columns)")
            }
            indices = v.map { Int32($0) }
        } else {
            throw bad("indices", "not an int32 or int64 array (\(indicesArray.descr))")
        }
        let dataArray = try member("data")
        guard dataArray.shape.count == 1 else { throw bad("data", "not a 1-D array (shape \(dataArray.shape))") }
        let data: [T]
        if let v = dataArray.values(Double.self) {
            data = T.self == Double.self ? unsafeBitCast(v, to: [T].self) : v.map { T($0) }
        } else if let v = dataArray.values(Float.self) {
            data = T.self == Float.self ? unsafeBitCast(v, to: [T].self) : v.map { T($0) }
        } else {
            throw bad("data", "unsupported element type '\(dataArray.descr)' (supported: <f8, <f4; convert with .astype(np.float64))")
        }
        guard indices.count == data.count, Int(indptr[rows]) == data.count else {
            throw bad(nil, "inconsistent arrays: indptr.npy ends at \(indptr[rows]), indices.npy has \(indices.count) entries, data.npy \(data.count)")
        }
        let m = CSRMatrix<T>(rows: rows, columns: columns, indptr: indptr, indices: indices, data: data)
        do { try m.validate() } catch let MPILearnError.mismatch(message) { throw bad(nil, message) }
        return m
    }

    /// Collective. Reads a CSR `.npz` file as a dataset: every rank reads the file and keeps its
    /// block of rows (`Partition.block(count: rows, parts: size, index: rank)`), sparse.
    /// - Throws: as ``readCSR(_:as:)``.
    public static func readSparse<T: LinearAlgebraScalar>(_ path: String, as type: T.Type = Double.self, comm: any Communicator) throws -> Dataset<T> {
        let whole = try readCSR(path, as: type)
        let block = Partition.block(count: whole.rows, parts: comm.size, index: comm.rank)
        let mine = comm.size == 1 ? whole : whole.rows(Array(block))
        return Dataset(features: .sparse(mine), globalRowStart: block.lowerBound, globalRowCount: whole.rows, source: path)
    }

    /// Writes a CSR matrix as scipy's `save_npz` does (members `indices`, `indptr`, `format`,
    /// `shape`, `data`; int32 column indices; int32 row offsets when the stored entries fit,
    /// else int64), atomically: the archive is built in memory and renamed over `path`.
    /// - Throws: ``MPILearnError/cannotWrite`` naming the path and the reason.
    public static func writeCSR<T: LinearAlgebraScalar & NPYElement>(_ matrix: CSRMatrix<T>, to path: String, compression: Compression = .stored) throws {
        let indptr: [UInt8] = matrix.storedCount <= Int(Int32.max)
            ? NPY.encode(matrix.indptr.map { Int32($0) }) : NPY.encode(matrix.indptr)
        let members: [(String, [UInt8])] = [
            ("indices", NPY.encode(matrix.indices)),
            ("indptr", indptr),
            ("format", NPY.encode(byteString: "csr")),
            ("shape", NPY.encode([Int64(matrix.rows), Int64(matrix.columns)])),
            ("data", NPY.encode(matrix.data)),
        ]
        try writeArchive(members.map { ($0.0 + ".npy", $0.1) }, to: path, compression: compression)
    }

    /// Writes a zip archive of `members` (file name, bytes), in order, atomically.
    /// - Throws: ``MPILearnError/cannotWrite`` naming the path and the reason.
    static func writeArchive(_ members: [(String, [UInt8])], to path: String, compression: Compression) throws {
        let bytes: Data
        do {
            let archive = try Archive(accessMode: .create)
            for (name, content) in members {
                let data = Data(content)
                try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count),
                                     compressionMethod: compression == .deflate ? .deflate : .none) { position, size in
                    data.subdata(in: Int(position) ..< Int(position) + size)
                }
            }
            guard let d = archive.data else { throw MPILearnError.cannotWrite(path: path, reason: "the zip archive was not built in memory") }
            bytes = d
        } catch let e as MPILearnError {
            throw e
        } catch {
            throw MPILearnError.cannotWrite(path: path, reason: "building the zip archive: \(error)")
        }
        try AtomicFile.write(bytes, to: path)
    }
}
