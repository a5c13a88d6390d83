import Foundation
@testable import MPILearn
import SwiftMPI
import XCTest

/// The vectorised k-means kernels (CKernels): every instruction-set variant this machine has
/// must give the bits of a plain scalar scan, for strides from one vector of centres to more
/// than the 64 centres one equality mask word covers, any feature count, and exact ties.
final class KMeansKernelTests: XCTestCase {
    static let variants = ["scalar", "avx2", "avx512"]

    override func tearDown() {
        _ = Kernels.use("avx512")   // back to the widest the machine has
    }

    /// n × d small integers (exact distances, frequent ties), from a fixed seed.
    func integerRows<T: KMeansScalar>(_: T.Type, n: Int, d: Int, seed: UInt64) -> [T] {
        var g = Philox(seed: seed)
        return (0 ..< n * d).map { _ in T(Int(g.next() % 7) - 3) }
    }

    /// Centres: rows of the data, with centre 1 a copy of centre 0 when `tie`, so every row
    /// nearest to centre 0 ties with centre 1 and must take 0.
    func centres<T: KMeansScalar>(_ x: [T], d: Int, k: Int, tie: Bool) -> [Double] {
        var c: [Double] = []
        for j in 0 ..< k { c += (0 ..< d).map { Double(x[((j * 7919) % (x.count / d)) * d + $0]) } }
        if tie && k > 1 { for f in 0 ..< d { c[d + f] = c[f] } }
        return c
    }

    struct Outcome: Equatable {
        var index: [Int32] = []
        var best: [Double] = []
        var accumulators: [UInt64] = []
        var labels: [Int32] = []
        var mind2: [UInt64] = []
        var phi: UInt64 = 0
    }

    /// Runs the argmin kernel on every distance block, then a Lloyd pass and a nearest-centre
    /// update, with the variant in use; and computes the same with scalar Swift loops.
    func outcome<T: KMeansScalar>(_ x: [T], n: Int, d: Int, c: [Double]) -> (kernel: Outcome, reference: Outcome) {
        x.withUnsafeBufferPointer { xs in
            let engine = KMeansEngine<T>(x: xs.baseAddress, rows: n, features: d, globalStart: 0, globalCount: n,
                                         comm: LocalCommunicator.solo(), threads: 1)
            engine.computeNorms()
            let centres = KMeansEngine<T>.Centres(c, d: d)
            let k = centres.count, stride = centres.stride
            var kernel = Outcome(), reference = Outcome()
            // Argmin per block, against a scan of the same distances.
            let rowsPerBlock = engine.blockRows(stride: stride)
            let work = UnsafeMutablePointer<T>.allocate(capacity: rowsPerBlock * stride)
            let best = UnsafeMutablePointer<T>.allocate(capacity: rowsPerBlock)
            let index = UnsafeMutablePointer<Int32>.allocate(capacity: rowsPerBlock)
            defer { work.deallocate(); best.deallocate(); index.deallocate() }
            var refSums = [Double](repeating: 0, count: engine.accumulatorCount(k: k))
            var refMind2: [Double] = []
            centres.transposed.withUnsafeBufferPointer { ct in
                centres.norms.withUnsafeBufferPointer { cn in
                    var start = 0
                    while start < n {
                        let b = min(rowsPerBlock, n - start)
                        engine.distances(xs.baseAddress!, start: start, rows: b, centres: ct.baseAddress!, stride: stride, work: work)
                        T.argmin(work, rows: b, stride: stride, norms: cn.baseAddress!, best: best, index: index)
                        for i in 0 ..< b {
                            kernel.index.append(index[i])
                            kernel.best.append(Double(best[i]))
                            var bj = 0, bv = cn[0] + work[i * stride]
                            for j in 1 ..< k where cn[j] + work[i * stride + j] < bv { bj = j; bv = cn[j] + work[i * stride + j] }
                            reference.index.append(Int32(bj))
                            reference.best.append(Double(bv))
                            // The Lloyd bookkeeping, in row order.
                            let r = start + i
                            for f in 0 ..< d { refSums[bj * d + f] += Double(xs[r * d + f]) }
                            refSums[k * d + bj] += 1
                            let d2 = max(0, engine.rowNorms[r] + Double(bv))
                            refSums[k * (d + 1)] += d2
                            refMind2.append(d2)
                        }
                        start += b
                    }
                }
            }
            refSums[k * (d + 1) + 1] = Double(n)   // every label changes from −1
            reference.accumulators = refSums.map(\.bitPattern)
            reference.labels = reference.index
            reference.mind2 = refMind2.map(\.bitPattern)
            kernel.accumulators = engine.assign(centres).map(\.bitPattern)
            // Without distances (Lloyd iterations): the same sums and labels, mind2 untouched.
            let lean = KMeansEngine<T>(x: xs.baseAddress, rows: n, features: d, globalStart: 0, globalCount: n,
                                       comm: LocalCommunicator.solo(), threads: 1)
            lean.computeNorms()
            XCTAssertEqual(lean.assign(centres, distances: false).map(\.bitPattern), kernel.accumulators)
            XCTAssertEqual(Array(UnsafeBufferPointer(start: lean.labels, count: n)), Array(UnsafeBufferPointer(start: engine.labels, count: n)))
            XCTAssertTrue(UnsafeBufferPointer(start: lean.mind2, count: n).allSatisfy { $0 == .infinity })
            kernel.labels = Array(UnsafeBufferPointer(start: engine.labels, count: n))
            kernel.mind2 = Array(UnsafeBufferPointer(start: engine.mind2, count: n)).map(\.bitPattern)
            // A nearest-centre update with the same centres changes nothing and gives Σ mind2.
            kernel.phi = engine.updateNearest(centres, offset: 0).bitPattern
            reference.phi = refMind2.reduce(0, +).bitPattern
            return (kernel, reference)
        }
    }

    func check<T: KMeansScalar>(_ type: T.Type) {
        for variant in Self.variants {
            let inUse = Kernels.use(variant)
            for (n, d, k, tie) in [(1, 1, 1, false), (37, 3, 2, true), (300, 4, 8, true), (500, 20, 12, true), (257, 7, 16, false),
                                   (300, 23, 17, true), (200, 8, 24, false), (150, 5, 33, true), (130, 9, 70, true), (140, 2, 130, false)] {
                let x = integerRows(T.self, n: n, d: d, seed: UInt64(n * 131 + d * 7 + k))
                let (kernel, reference) = outcome(x, n: n, d: d, c: centres(x, d: d, k: k, tie: tie))
                let what = "\(T.self) \(inUse) n=\(n) d=\(d) k=\(k)"
                XCTAssertEqual(kernel.index, reference.index, "argmin index, \(what)")
                XCTAssertEqual(kernel.best.map(\.bitPattern), reference.best.map(\.bitPattern), "argmin value, \(what)")
                XCTAssertEqual(kernel.accumulators, reference.accumulators, "Lloyd sums, counts, inertia, changes, \(what)")
                XCTAssertEqual(kernel.labels, reference.labels, "labels, \(what)")
                XCTAssertEqual(kernel.mind2, reference.mind2, "squared distances, \(what)")
                XCTAssertEqual(kernel.phi, reference.phi, "potential, \(what)")
                if tie && k > 1 { XCTAssertFalse(kernel.index.contains(1), "a tie must go to the lower index, \(what)") }
            }
        }
    }

    func testEveryVariantMatchesTheScalarScanInFloat64() { check(Double.self) }

    func testEveryVariantMatchesTheScalarScanInFloat32() { check(Float.self) }

    func testVariantNamesAndEnvironmentCheck() throws {
        XCTAssertEqual(Kernels.use("scalar"), "scalar")
        XCTAssertEqual(Kernels.active, "scalar")
        XCTAssertTrue(Kernels.choices.contains(Kernels.use("avx512")))
        XCTAssertNoThrow(try Kernels.validateEnvironment(["MPILEARN_KERNELS": "avx2"]))
        XCTAssertNoThrow(try Kernels.validateEnvironment([:]))
        XCTAssertThrowsError(try Kernels.validateEnvironment(["MPILEARN_KERNELS": "sse9"])) { error in
            XCTAssertTrue("\(error)".contains("MPILEARN_KERNELS"), "\(error)")
        }
    }
}
