/// The element types SwiftMPI's buffer collectives move: each maps to one MPI datatype.
public enum ScalarKind: Int, Sendable, CaseIterable {
    case double, float, int32, int64, uint8, uint32, uint64
}

/// A fixed-size numeric element type that collectives can send without conversion.
///
/// Conforming types are trivially copyable; the communicator maps ``scalarKind`` to the
/// matching MPI datatype (`MPI_DOUBLE`, `MPI_INT32_T`, ...), the way rsmpi's `Equivalence`
/// trait does.
public protocol MPIScalar: Numeric, Comparable, BitwiseCopyable, Sendable {
    static var scalarKind: ScalarKind { get }
}

extension Double: MPIScalar { public static var scalarKind: ScalarKind { .double } }
extension Float: MPIScalar { public static var scalarKind: ScalarKind { .float } }
extension Int32: MPIScalar { public static var scalarKind: ScalarKind { .int32 } }
extension Int64: MPIScalar { public static var scalarKind: ScalarKind { .int64 } }
extension UInt8: MPIScalar { public static var scalarKind: ScalarKind { .uint8 } }
extension UInt32: MPIScalar { public static var scalarKind: ScalarKind { .uint32 } }
extension UInt64: MPIScalar { public static var scalarKind: ScalarKind { .uint64 } }

extension ScalarKind {
    /// Size in bytes of one element.
    public var stride: Int {
        switch self {
        case .double, .int64, .uint64: return 8
        case .float, .int32, .uint32: return 4
        case .uint8: return 1
        }
    }
}

/// Element-wise reduction applied by `allreduce` and `reduce`.
public enum ReductionOp: Sendable, CaseIterable {
    case sum, product, min, max

    @inlinable
    func combine<T: MPIScalar>(_ a: T, _ b: T) -> T {
        switch self {
        case .sum: return a + b
        case .product: return a * b
        case .min: return Swift.min(a, b)
        case .max: return Swift.max(a, b)
        }
    }
}

/// Calls `body` with `T` bound to the Swift type of `kind` (used by generic reductions).
@inlinable
func withScalarType<R>(_ kind: ScalarKind, _ body: (any MPIScalar.Type) throws -> R) rethrows -> R {
    switch kind {
    case .double: return try body(Double.self)
    case .float: return try body(Float.self)
    case .int32: return try body(Int32.self)
    case .int64: return try body(Int64.self)
    case .uint8: return try body(UInt8.self)
    case .uint32: return try body(UInt32.self)
    case .uint64: return try body(UInt64.self)
    }
}
