import Foundation
import SwiftMPI

// Loading a model on every rank with one reader: rank 0 reads the file and checks its
// container, one broadcast gives every rank the bytes, every rank decodes the whole model.

extension ModelContainer {
    /// Collective. The bytes of the model file at `path` on every rank: rank 0 reads the file
    /// and checks its container (magic, version, checksums, kind), then broadcasts the bytes.
    ///
    /// A missing or bad file fails on rank 0 alone, before any rank waits for the bytes (the
    /// job then ends through ``Job``, as every error on one rank does).
    /// - Parameter expectedKinds: the kinds accepted; nil accepts any.
    /// - Throws: on rank 0, ``MPILearnError/cannotRead(path:reason:)`` or
    ///   ``MPILearnError/dataError(_:_:)`` for a missing or corrupt file.
    public static func broadcastFileBytes(_ path: String, expectedKinds: [String]?, comm: any Communicator) throws -> [UInt8] {
        var bytes: [UInt8] = []
        if comm.rank == 0 {
            bytes = try fileBytes(path)
            try decode(bytes: bytes, path: path, expectedKinds: expectedKinds) { _ in }
        }
        try comm.broadcast(&bytes)
        return bytes
    }
}

extension FittedModel {
    /// Collective. Reads a model file of this kind on rank 0 and gives every rank the whole
    /// model (see ``ModelContainer/broadcastFileBytes(_:expectedKinds:comm:)``).
    public static func load(from path: String, comm: any Communicator) throws -> Self {
        let bytes = try ModelContainer.broadcastFileBytes(path, expectedKinds: [kind], comm: comm)
        return try ModelContainer.decode(bytes: bytes, path: path, expectedKinds: [kind]) { try decode($0, path: path) }
    }
}

extension ModelRegistry {
    /// Collective. Reads a model file of any registered kind on rank 0 and gives every rank
    /// the whole model.
    public static func load(from path: String, comm: any Communicator) throws -> any FittedModel {
        let bytes = try ModelContainer.broadcastFileBytes(path, expectedKinds: nil, comm: comm)
        return try ModelContainer.decode(bytes: bytes, path: path) { try decode($0, path: path) }
    }
}

extension ForestModel {
    /// Collective. Reads a forest model file on rank 0 and gives every rank the whole forest
    /// (one reader, one broadcast of the file's bytes).
    /// - Parameter kinds: the forest kinds accepted (default: classifier and regressor).
    public static func load(from path: String, kinds: [String] = [classifierKind, regressorKind], comm: any Communicator) throws -> ForestModel {
        let bytes = try ModelContainer.broadcastFileBytes(path, expectedKinds: kinds, comm: comm)
        return try decode(fileBytes: bytes, path: path, kinds: kinds)
    }
}
