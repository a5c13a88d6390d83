/// MurmurHash3_x86_32 (Austin Appleby's public-domain SMHasher), the hash scikit-learn's
/// `murmurhash3_32` and its feature hashers use.
///
/// scikit-learn reads the 32-bit result as a signed integer (`positive=False`), and hashes
/// `str` keys as their UTF-8 bytes: `murmurhash3_32("foo", 0) == -156908512`.
public enum MurmurHash3 {
    /// The signed 32-bit hash of `bytes` with `seed` (scikit-learn's `murmurhash3_bytes_s32`).
    @inlinable
    public static func hash32(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> Int32 {
        let c1: UInt32 = 0xcc9e_2d51
        let c2: UInt32 = 0x1b87_3593
        let n = bytes.count
        var h = seed
        var i = 0
        // Body: four-byte little-endian blocks.
        while i + 4 <= n {
            var k = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
            k &*= c1
            k = (k << 15) | (k >> 17)
            k &*= c2
            h ^= k
            h = (h << 13) | (h >> 19)
            h = h &* 5 &+ 0xe654_6b64
            i += 4
        }
        // Tail: the last one to three bytes.
        var k: UInt32 = 0
        let rest = n - i
        if rest == 3 { k ^= UInt32(bytes[i + 2]) << 16 }
        if rest >= 2 { k ^= UInt32(bytes[i + 1]) << 8 }
        if rest >= 1 {
            k ^= UInt32(bytes[i])
            k &*= c1
            k = (k << 15) | (k >> 17)
            k &*= c2
            h ^= k
        }
        // Finalisation (fmix32).
        h ^= UInt32(truncatingIfNeeded: n)
        h ^= h >> 16
        h &*= 0x85eb_ca6b
        h ^= h >> 13
        h &*= 0xc2b2_ae35
        h ^= h >> 16
        return Int32(bitPattern: h)
    }

    /// The signed 32-bit hash of `string`'s UTF-8 bytes with `seed`.
    public static func hash32(_ string: String, seed: UInt32 = 0) -> Int32 {
        var s = string
        return s.withUTF8 { hash32(UnsafeRawBufferPointer($0), seed: seed) }
    }

    /// The column scikit-learn's `_hashing_fast.transform` gives hash `h` among `nFeatures`
    /// columns: `abs(h) % n_features`, where for `h == Int32.min` (whose C `abs` is undefined)
    /// scikit-learn uses `(2147483647 - (n_features - 1)) % n_features`, which equals
    /// `2^31 % n_features`.
    @inlinable
    public static func column(ofHash h: Int32, nFeatures: Int) -> Int {
        if h == Int32.min { return (2_147_483_647 - (nFeatures - 1)) % nFeatures }
        return Int(h.magnitude) % nFeatures
    }
}
