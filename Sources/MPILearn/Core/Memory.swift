import CKernels
import Foundation

/// Process-wide allocator settings for programs built on MPILearn (the `mpilearn` CLI applies
/// them at start-up; a library never changes them on its own).
public enum MemoryTuning {
    /// The threshold ``pinMmapThreshold(bytes:)`` uses by default.
    public static let defaultMmapThreshold = 256 * 1024

    /// Fixes glibc's mmap threshold at `bytes`: every block of that size or more is mapped on
    /// its own and unmapped when freed.
    ///
    /// By default glibc raises the threshold to the size of each large block freed (up to
    /// 32 MiB); after that, large arrays come from the heap, and the pages a finished phase
    /// freed stay resident beside the next phase's. Measured on the flights forest (100
    /// trees, 14 features): the 2-rank peak above the process baseline fell from 39.9 to
    /// 32.4 MB, the 1-rank one from 77.5 to 61.9 MB, for about 0.3 s more system time in a
    /// 12 s fit.
    /// - Returns: whether the setting was applied: false when `MALLOC_MMAP_THRESHOLD_` is
    ///   set in the environment (the user's choice stands), when `bytes` is not in
    ///   1...Int32.max, on a C library other than glibc, or when glibc refuses the value.
    @discardableResult
    public static func pinMmapThreshold(bytes: Int = defaultMmapThreshold) -> Bool {
        guard bytes > 0, bytes <= Int(Int32.max), getenv("MALLOC_MMAP_THRESHOLD_") == nil else { return false }
        return mpl_pin_mmap_threshold(bytes) == 1
    }

    /// The threshold ``keepFreedHeap(bytes:)`` uses by default (1 GiB).
    public static let defaultTrimThreshold = 1 << 30

    /// Keeps up to `bytes` of freed memory at the top of glibc's heap instead of returning it
    /// to the system (glibc's default returns anything above 128 KiB).
    ///
    /// For the kernel SVMs: every SMO solve fills a kernel cache of up to `cache_size` rows of
    /// a few kilobytes each and frees it at the end, and a search or a probability fit runs
    /// hundreds of solves. Returning those pages and faulting them in again (zeroed) cost 10%
    /// of the tutorial's probability grid (43.4 s → 39.0 s at 2 ranks with the pages kept).
    /// The pages kept are reused by the next solve, so the peak does not grow beyond one
    /// solve's cache. Large arrays (at or above the mmap threshold) are unaffected.
    /// - Returns: whether the setting was applied: false when `MALLOC_TRIM_THRESHOLD_` is set
    ///   in the environment (the user's choice stands), when `bytes` is not in 0...Int32.max,
    ///   or on a C library other than glibc.
    @discardableResult
    public static func keepFreedHeap(bytes: Int = defaultTrimThreshold) -> Bool {
        guard bytes >= 0, bytes <= Int(Int32.max), getenv("MALLOC_TRIM_THRESHOLD_") == nil else { return false }
        return mpl_set_trim_threshold(bytes) == 1
    }
}
