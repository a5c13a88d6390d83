/// Philox4x32-10, a counter-based random number generator.
///
/// Salmon, Moraes, Dror, Shaw, "Parallel Random Numbers: As Easy as 1, 2, 3", SC 2011.
/// A stream is a pure function of (seed, domain, stream id): the random numbers of global
/// row 1,234,567 are the same whichever rank holds the row, which is how every MPILearn
/// result stays the same for any number of ranks. Hand-written because no Swift package on
/// this machine provides a counter-based generator; it is checked against the paper's
/// known-answer vectors in the tests.
public struct Philox: RandomNumberGenerator, Sendable {
    private var key: (UInt32, UInt32)
    private var counter: (UInt32, UInt32, UInt32, UInt32)
    private var buffer: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    private var used = 4

    /// A raw Philox stream: `key` and the starting 128-bit counter.
    public init(key: (UInt32, UInt32), counter: (UInt32, UInt32, UInt32, UInt32)) {
        self.key = key
        self.counter = counter
    }

    /// The stream for `(seed, domain, stream)`: `domain` separates uses (a generator's
    /// features from its labels, a k-means round from the next), `stream` is usually a
    /// global row or tree index.
    public init(seed: UInt64, domain: UInt64 = 0, stream: UInt64 = 0) {
        self.init(key: Philox.key(seed: seed, domain: domain),
                  counter: (0, 0, UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32)))
    }

    /// The key of the streams of `(seed, domain)`: with ``block(counter:key:)`` it gives
    /// random access to any block of any stream (block `q` of stream `s` is the counter
    /// `(q, q >> 32, s, s >> 32)`).
    public static func key(seed: UInt64, domain: UInt64) -> (UInt32, UInt32) {
        let k = Philox.mix(seed ^ Philox.mix(domain &+ 0x632B_E59B_D9B4_E019))
        return (UInt32(truncatingIfNeeded: k), UInt32(truncatingIfNeeded: k >> 32))
    }

    /// SplitMix64's finaliser: a bijective 64-bit mix.
    @inlinable
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// One Philox4x32-10 block for `counter` under `key`.
    public static func block(counter c: (UInt32, UInt32, UInt32, UInt32), key k: (UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        var (c0, c1, c2, c3) = c
        var (k0, k1) = k
        for _ in 0 ..< 10 {
            let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
            let n0 = UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0
            let n1 = UInt32(truncatingIfNeeded: p1)
            let n2 = UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1
            let n3 = UInt32(truncatingIfNeeded: p0)
            (c0, c1, c2, c3) = (n0, n1, n2, n3)
            k0 &+= 0x9E37_79B9
            k1 &+= 0xBB67_AE85
        }
        return (c0, c1, c2, c3)
    }

    @inline(__always)
    private mutating func next32() -> UInt32 {
        if used == 4 {
            buffer = Philox.block(counter: counter, key: key)
            counter.0 &+= 1
            if counter.0 == 0 { counter.1 &+= 1 }
            used = 0
        }
        defer { used += 1 }
        switch used {
        case 0: return buffer.0
        case 1: return buffer.1
        case 2: return buffer.2
        default: return buffer.3
        }
    }

    public mutating func next() -> UInt64 {
        UInt64(next32()) | (UInt64(next32()) << 32)
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inlinable
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Standard normal (Box–Muller; both variates are not cached so a stream's n-th draw is
    /// a fixed function of n).
    @inlinable
    public mutating func normal() -> Double {
        var u1 = uniform()
        while u1 == 0 { u1 = uniform() }
        let u2 = uniform()
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }

    /// Uniform integer in `0 ..< n` (Lemire's nearly-divisionless method via the stdlib).
    @inlinable
    public mutating func below(_ n: Int) -> Int {
        Int.random(in: 0 ..< n, using: &self)
    }
}

#if canImport(Glibc)
import Glibc
@usableFromInline func _log(_ x: Double) -> Double { Glibc.log(x) }
@usableFromInline func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#elseif canImport(Darwin)
import Darwin
@usableFromInline func _log(_ x: Double) -> Double { Darwin.log(x) }
@usableFromInline func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif
