import Foundation
import XCTest
@testable import MPILearn

final class MemoryTuningTests: XCTestCase {
    /// Resident pages of this process now (not the peak), in bytes, from /proc/self/statm.
    private func residentBytes() throws -> Int {
        let fields = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
        return Int(fields[1])! * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Allocates `bytes`, writes every page, frees it.
    private func touchAndFree(_ bytes: Int) {
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        p.initializeMemory(as: UInt8.self, repeating: 1, count: bytes)
        p.deallocate()
    }

    /// With the threshold pinned, a freed 8 MiB block leaves no resident pages behind, even
    /// after an earlier one of the same size was freed (which, unpinned, makes glibc raise its
    /// threshold and serve the next one from the heap, whose freed pages stay resident).
    func testFreedLargeBlocksLeaveNothingResidentOncePinned() throws {
        #if canImport(Glibc)
        guard ProcessInfo.processInfo.environment["MALLOC_MMAP_THRESHOLD_"] == nil else {
            XCTAssertFalse(MemoryTuning.pinMmapThreshold(), "the environment's threshold stands")
            return
        }
        XCTAssertTrue(MemoryTuning.pinMmapThreshold())
        XCTAssertFalse(MemoryTuning.pinMmapThreshold(bytes: 0))
        let block = 8 << 20
        touchAndFree(block)
        let before = try residentBytes()
        for _ in 0 ..< 3 { touchAndFree(block) }
        let after = try residentBytes()
        XCTAssertLessThan(after - before, block / 4, "freed 8 MiB blocks stayed resident: \(before) → \(after) bytes")
        #endif
    }

    /// With freed heap kept (the kernel SVMs' setting), small blocks freed at the top of the
    /// heap stay resident for the next ones (no pages returned and faulted in again); glibc's
    /// default returns them. The default is restored at the end.
    func testKeepFreedHeapKeepsSmallBlocksResident() throws {
        #if canImport(Glibc)
        guard ProcessInfo.processInfo.environment["MALLOC_TRIM_THRESHOLD_"] == nil else {
            XCTAssertFalse(MemoryTuning.keepFreedHeap(), "the environment's threshold stands")
            return
        }
        XCTAssertFalse(MemoryTuning.keepFreedHeap(bytes: -1))
        defer { MemoryTuning.keepFreedHeap(bytes: 128 * 1024) }
        /// 2,000 blocks of 24 KiB (a kernel cache's rows), written, then freed in reverse.
        func churn() {
            let blocks = (0 ..< 2000).map { _ in UnsafeMutableRawPointer.allocate(byteCount: 24 << 10, alignment: 16) }
            for b in blocks { b.initializeMemory(as: UInt8.self, repeating: 1, count: 24 << 10) }
            for b in blocks.reversed() { b.deallocate() }
        }
        XCTAssertTrue(MemoryTuning.keepFreedHeap(bytes: 128 * 1024))
        let before = try residentBytes()
        churn()
        let returned = try residentBytes() - before
        XCTAssertTrue(MemoryTuning.keepFreedHeap())
        churn()
        let kept = try residentBytes() - before
        XCTAssertLessThan(returned, 8 << 20, "glibc's default returns the freed blocks")
        XCTAssertGreaterThan(kept, 24 << 20, "the freed blocks stay resident")
        #endif
    }
}
