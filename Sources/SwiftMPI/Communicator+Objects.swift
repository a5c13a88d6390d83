import Foundation

// Whole-value collectives: any Codable value is encoded, moved as bytes, and decoded.
// They allocate and serialise, so they are named `...Object` to keep them out of hot loops.

extension Communicator {
    private func encode<V: Codable>(_ value: V) throws -> [UInt8] {
        let enc = PropertyListEncoder()
        enc.outputFormat = .binary
        return [UInt8](try enc.encode(Box(value: value)))
    }

    private func decode<V: Codable>(_ bytes: ArraySlice<UInt8>, as: V.Type, op: String) throws -> V {
        do {
            return try PropertyListDecoder().decode(Box<V>.self, from: Data(bytes)).value
        } catch {
            throw CommunicatorError(operation: op, message: "could not decode \(V.self): \(error)")
        }
    }

    /// Collective. Returns `root`'s `value` on every rank; the other ranks may pass `nil`.
    public func broadcastObject<V: Codable>(_ value: V?, root: Int = 0) throws -> V {
        var bytes: [UInt8] = []
        if rank == root {
            guard let value else { throw CommunicatorError(operation: "broadcastObject", message: "root \(root) passed no value") }
            bytes = try encode(value)
        }
        try broadcast(&bytes, root: root)
        return try decode(bytes[...], as: V.self, op: "broadcastObject")
    }

    /// Collective. `root` receives every rank's value in rank order; the others get `nil`.
    public func gatherObject<V: Codable>(_ value: V, root: Int = 0) throws -> [V]? {
        guard let (bytes, layout) = try gatherv(try encode(value), root: root) else { return nil }
        return try (0 ..< size).map { try decode(bytes[layout.range(of: $0)], as: V.self, op: "gatherObject") }
    }

    /// Collective. Every rank receives every rank's value in rank order.
    public func allgatherObject<V: Codable>(_ value: V) throws -> [V] {
        let (bytes, layout) = try allgatherv(try encode(value))
        return try (0 ..< size).map { try decode(bytes[layout.range(of: $0)], as: V.self, op: "allgatherObject") }
    }
}

/// Property-list encoders need a keyed container at the top level; this wraps any value.
private struct Box<V: Codable>: Codable { var value: V }
