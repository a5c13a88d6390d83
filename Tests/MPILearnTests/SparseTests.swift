import Foundation
@testable import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// CSR matrices: the kernels (products, row norms, XᵀX) against dense BLAS on random
/// matrices (empty rows, explicit zeros, Float), `Xᵀ·r` the same bits at every thread count, conversions, scipy `.npz`
/// files (round trips, corrupt files, scipy itself when it is installed) and the sparse case
/// of ``Dataset``.
final class SparseTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try MPIRun.temporaryDirectory("sparse") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A random `rows × columns` CSR matrix: about `density` of the entries stored, rows
    /// 0 and every 7th empty, and some explicit zeros; column indices unsorted in odd rows.
    static func random<T: LinearAlgebraScalar>(_: T.Type, rows: Int, columns: Int, density: Double, seed: UInt64) -> CSRMatrix<T> {
        var g = SplitMix(seed)
        var indptr: [Int64] = [0], indices: [Int32] = [], data: [T] = []
        for i in 0 ..< rows {
            if i % 7 != 0 {
                var cols: [Int32] = []
                for j in 0 ..< columns where g.unit() < density { cols.append(Int32(j)) }
                if i % 2 == 1 { cols.reverse() }
                for j in cols {
                    indices.append(j)
                    data.append(g.unit() < 0.1 ? 0 : T(g.unit() * 4 - 2))   // explicit zeros
                }
            }
            indptr.append(Int64(data.count))
        }
        return CSRMatrix(rows: rows, columns: columns, indptr: indptr, indices: indices, data: data)
    }

    struct SplitMix {
        var s: UInt64
        init(_ seed: UInt64) { s = seed }
        mutating func next() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
        mutating func vector<T: LinearAlgebraScalar>(_ n: Int) -> [T] { (0 ..< n).map { _ in T(unit() * 2 - 1) } }
    }

    /// A·B by BLAS (row-major, dense).
    static func gemm<T: LinearAlgebraScalar>(_ a: Matrix<T>, _ b: Matrix<T>, transA: Bool = false) -> Matrix<T> {
        let m = transA ? a.columns : a.rows, k = transA ? a.rows : a.columns
        var c = Matrix<T>(rows: m, columns: b.columns)
        a.storage.withUnsafeBufferPointer { ap in
            b.storage.withUnsafeBufferPointer { bp in
                c.storage.withUnsafeMutableBufferPointer { cp in
                    T.gemm(transA: transA, transB: false, m: m, n: b.columns, k: k, alpha: 1, a: ap.baseAddress!, lda: a.columns,
                           b: bp.baseAddress!, ldb: b.columns, beta: 0, c: cp.baseAddress!, ldc: b.columns)
                }
            }
        }
        return c
    }

    func assertClose<T: LinearAlgebraScalar>(_ a: [T], _ b: [T], tolerance: T, _ what: String, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() where abs(x - y) > tolerance * max(1, abs(y)) {
            return XCTFail("\(what): entry \(i) is \(x), BLAS says \(y)", line: line)
        }
    }

    func checkKernels<T: LinearAlgebraScalar>(_: T.Type, tolerance: T) {
        for (rows, columns, density, threads) in [(0, 5, 0.3, 1), (1, 1, 1.0, 2), (57, 13, 0.3, 1), (700, 40, 0.05, 3), (2000, 300, 0.02, 4)] {
            let x = Self.random(T.self, rows: rows, columns: columns, density: density, seed: UInt64(rows * 31 + columns))
            XCTAssertNoThrow(try x.validate())
            let dense = x.toDense()
            var g = SplitMix(99)
            let w: [T] = g.vector(columns), r: [T] = g.vector(rows)
            let what = "\(T.self) \(rows)×\(columns), \(threads) threads"
            // X·w + b
            let xw = Self.gemm(dense, Matrix(rows: columns, columns: 1, storage: w)).storage.map { $0 + T(0.5) }
            assertClose(x.multiply(w, intercept: 0.5, threads: threads), xw, tolerance: tolerance, "X·w \(what)")
            // Xᵀ·r, accumulating
            var acc = [T](repeating: 1, count: columns)
            x.transposeMultiply(r, into: &acc, threads: threads)
            let xtr = Self.gemm(dense, Matrix(rows: rows, columns: 1, storage: r), transA: true).storage.map { $0 + 1 }
            assertClose(acc, xtr, tolerance: tolerance, "Xᵀ·r \(what)")
            // X·W + b for 3 classes
            let k = 3
            let wm = Matrix<T>(rows: columns, columns: k, storage: g.vector(columns * k))
            let b: [T] = [1, -2, 0.25]
            var xwm = Self.gemm(dense, wm)
            for i in 0 ..< rows { for c in 0 ..< k { xwm.storage[i * k + c] += b[c] } }
            let got = x.multiply(wm, intercept: b, threads: threads)
            XCTAssertEqual(got.rows, rows)
            XCTAssertEqual(got.columns, k)
            assertClose(got.storage, xwm.storage, tolerance: tolerance, "X·W \(what)")
            assertClose(x.multiply(wm, threads: threads).storage, Self.gemm(dense, wm).storage, tolerance: tolerance, "X·W without intercept \(what)")
            // Squared row norms
            let norms = (0 ..< rows).map { i in dense.row(i).reduce(T(0)) { $0 + $1 * $1 } }
            assertClose(x.rowSquaredNorms(threads: threads), norms, tolerance: tolerance, "row norms \(what)")
            // l2 and l1 normalisation: unit rows, empty rows untouched
            var l2 = x
            l2.normalizeRows(.l2, threads: threads)
            var l1 = x
            l1.normalizeRows(.l1, threads: threads)
            for i in 0 ..< rows {
                let n2 = l2.range(ofRow: i).reduce(T(0)) { $0 + l2.data[$1] * l2.data[$1] }
                let n1 = l1.range(ofRow: i).reduce(T(0)) { $0 + abs(l1.data[$1]) }
                let before = x.range(ofRow: i).contains { x.data[$0] != 0 }
                XCTAssertEqual(Double(n2), before ? 1 : 0, accuracy: Double(tolerance) * 10, "l2 row \(i) \(what)")
                XCTAssertEqual(Double(n1), before ? 1 : 0, accuracy: Double(tolerance) * 10, "l1 row \(i) \(what)")
            }
        }
    }

    /// `XᵀX` by the sparse outer-product kernel against BLAS on the dense copy: random
    /// matrices (empty rows, explicit zeros, unsorted columns), duplicate columns within a
    /// row (counted as their sum, as scipy's `toarray` does), Float, and the symmetric result.
    func testGramMatchesBLAS() {
        for (rows, columns, density) in [(0, 4, 0.3), (1, 1, 1.0), (57, 13, 0.3), (700, 40, 0.05), (300, 120, 0.1)] {
            let x = Self.random(Double.self, rows: rows, columns: columns, density: density, seed: UInt64(rows * 17 + columns))
            let dense = x.toDense()
            let g = x.gram()
            XCTAssertEqual(g.rows, columns)
            XCTAssertEqual(g.columns, columns)
            assertClose(g.storage, Self.gemm(dense, dense, transA: true).storage, tolerance: 1e-12, "XᵀX \(rows)×\(columns)")
            XCTAssertEqual(g, g.transposed, "XᵀX \(rows)×\(columns) is symmetric")
            let f = Self.random(Float.self, rows: rows, columns: columns, density: density, seed: UInt64(rows * 17 + columns))
            let fd = f.toDense()
            assertClose(f.gram().storage, Self.gemm(fd, fd, transA: true).storage, tolerance: 1e-4, "Float XᵀX \(rows)×\(columns)")
        }
        // Row 0 holds column 1 twice (1 + 2 = 3) and column 0; row 1 column 2 three times.
        let dup = CSRMatrix<Double>(rows: 2, columns: 3, indptr: [0, 3, 6], indices: [1, 0, 1, 2, 2, 2], data: [1, 4, 2, 1, -1, 5])
        XCTAssertEqual(dup.gram().storage, Self.gemm(dup.toDense(), dup.toDense(), transA: true).storage)
        XCTAssertEqual(dup.gram().storage, [16, 12, 0, 12, 9, 0, 0, 0, 25])
    }

    func testKernelsMatchBLASInDouble() { checkKernels(Double.self, tolerance: 1e-12) }
    func testKernelsMatchBLASInFloat() { checkKernels(Float.self, tolerance: 1e-4) }

    /// `Xᵀ·r` sums its fixed slices in a fixed order: the same bits at 1…8 threads, with
    /// several slices in play.
    func testTransposeProductIsTheSameBitsAtEveryThreadCount() {
        let x = Self.random(Double.self, rows: 20_000, columns: 500, density: 0.03, seed: 4)
        XCTAssertGreaterThan(x.transposeSlices, 2)
        var g = SplitMix(7)
        let r: [Double] = g.vector(x.rows)
        let one = x.transposeMultiply(r, threads: 1)
        for t in 2 ... 8 {
            XCTAssertEqual(x.transposeMultiply(r, threads: t).map(\.bitPattern), one.map(\.bitPattern), "\(t) threads")
        }
        let f = Self.random(Float.self, rows: 20_000, columns: 500, density: 0.03, seed: 4)
        let rf = r.map { Float($0) }
        let oneF = f.transposeMultiply(rf, threads: 1)
        XCTAssertEqual(f.transposeMultiply(rf, threads: 5).map(\.bitPattern), oneF.map(\.bitPattern))
    }

    /// The feature-major products an optimiser calls (X·W + b and Xᵀ·R for k outputs) agree
    /// between the sparse kernels and dense BLAS, for one output and for several.
    func testFeatureMajorProductsSparseEqualDense() {
        let x = Self.random(Double.self, rows: 300, columns: 40, density: 0.1, seed: 11)
        let sparse = SparseDesign(x: x), dense = DenseDesign(x: x.toDense())
        var g = SplitMix(3)
        for k in [1, 3] {
            let w: [Double] = g.vector(40 * k), b: [Double] = g.vector(k), r: [Double] = g.vector(300 * k)
            var zs = [Double](repeating: 0, count: 300 * k), zd = zs
            var gs = [Double](repeating: .nan, count: 40 * k), gd = gs
            w.withUnsafeBufferPointer { wp in
                b.withUnsafeBufferPointer { bp in
                    sparse.multiply(featureMajor: wp.baseAddress!, outputs: k, intercept: bp.baseAddress, into: &zs)
                    dense.multiply(featureMajor: wp.baseAddress!, outputs: k, intercept: bp.baseAddress, into: &zd)
                }
            }
            r.withUnsafeBufferPointer { rp in
                sparse.transposeMultiply(rp.baseAddress!, outputs: k, into: &gs)
                dense.transposeMultiply(rp.baseAddress!, outputs: k, into: &gd)
            }
            for (a, e) in zip(zs, zd) { XCTAssertEqual(a, e, accuracy: 1e-12, "X·W, k=\(k)") }
            for (a, e) in zip(gs, gd) { XCTAssertEqual(a, e, accuracy: 1e-12, "Xᵀ·R, k=\(k)") }
        }
    }

    func testConversionsSubsetsAndStacking() throws {
        var m = Matrix<Double>(rows: 4, columns: 3)
        m.storage = [0, 1.5, 0, 0, 0, 0, -2, 0, .nan, 3, 4, 5]
        let x = CSRMatrix(dense: m)
        XCTAssertEqual(x.indptr, [0, 1, 1, 3, 6])
        XCTAssertEqual(x.indices, [1, 0, 2, 0, 1, 2])
        XCTAssertEqual(x.storedCount, 6)   // zeros dropped, NaN kept
        XCTAssertEqual(x.toDense().storage.map(\.bitPattern), m.storage.map(\.bitPattern))
        let sub = x.rows([3, 1, 3, 0])
        XCTAssertNoThrow(try sub.validate())
        XCTAssertEqual(sub.toDense().storage, [3, 4, 5, 0, 0, 0, 3, 4, 5, 0, 1.5, 0])
        let stacked = try CSRMatrix.vstack([x.rows([0, 1]), x.rows([]), x.rows([2, 3])])
        XCTAssertEqual(stacked.indptr, x.indptr)
        XCTAssertEqual(stacked.indices, x.indices)
        XCTAssertEqual(stacked.toDense().storage.map(\.bitPattern), m.storage.map(\.bitPattern))
        XCTAssertThrowsError(try CSRMatrix.vstack([x, CSRMatrix<Double>(rows: 1, columns: 4)])) { e in
            XCTAssertTrue("\(e)".contains("4 columns"), "\(e)")
        }
        // Duplicate entries add up in toDense, as in scipy.
        let dup = CSRMatrix<Float>(rows: 1, columns: 2, indptr: [0, 2], indices: [1, 1], data: [1, 2])
        XCTAssertEqual(dup.toDense().storage, [0, 3])
    }

    // MARK: - .npz

    func testNPZRoundTripStoredAndDeflated() throws {
        let x = Self.random(Double.self, rows: 300, columns: 50, density: 0.1, seed: 11)
        let f = Self.random(Float.self, rows: 40, columns: 7, density: 0.5, seed: 12)
        for compression in NPZ.Compression.allCases {
            let path = dir.appendingPathComponent("x-\(compression).npz").path
            try NPZ.writeCSR(x, to: path, compression: compression)
            XCTAssertEqual(try NPZ.readCSR(path), x)
            let pf = dir.appendingPathComponent("f-\(compression).npz").path
            try NPZ.writeCSR(f, to: pf, compression: compression)
            XCTAssertEqual(try NPZ.readCSR(pf, as: Float.self), f)
            XCTAssertEqual(try NPZ.readCSR(pf, as: Double.self).data, f.data.map(Double.init))
            // Overwriting replaces the file atomically (no temporary file is left behind).
            try NPZ.writeCSR(x.rows([1, 2]), to: path, compression: compression)
            XCTAssertEqual(try NPZ.readCSR(path).rows, 2)
        }
        let sizes = try NPZ.Compression.allCases.map { c in
            try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("f-\(c).npz").path)[.size] as! Int
        }
        XCTAssertLessThan(sizes[1], sizes[0], "deflate should be smaller")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }, [])
        // An empty matrix survives too.
        let empty = dir.appendingPathComponent("empty.npz").path
        try NPZ.writeCSR(CSRMatrix<Double>(rows: 0, columns: 3), to: empty)
        XCTAssertEqual(try NPZ.readCSR(empty), CSRMatrix<Double>(rows: 0, columns: 3))
        // As a sharded dataset: each rank its block of rows, sparse.
        let path = dir.appendingPathComponent("x-stored.npz").path
        try NPZ.writeCSR(x, to: path)
        let blocks = try LocalWorld.run(size: 3) { comm -> Dataset<Double> in try NPZ.readSparse(path, comm: comm) }
        XCTAssertEqual(blocks.map { $0.globalRowStart }, [0, 100, 200])
        XCTAssertTrue(blocks.allSatisfy { $0.features.isSparse && $0.globalRowCount == 300 })
        XCTAssertEqual(try CSRMatrix.vstack(blocks.map { d -> CSRMatrix<Double> in
            guard case .sparse(let m) = d.features else { fatalError() }
            return m
        }), x)
    }

    /// Writes an archive of `members` (name → .npy bytes) and returns its path.
    func archive(_ name: String, _ members: [(String, [UInt8])]) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try NPZ.writeArchive(members, to: path, compression: .stored)
        return path
    }

    func assertReadError(_ path: String, contains parts: [String], line: UInt = #line) {
        XCTAssertThrowsError(try NPZ.readCSR(path), line: line) { e in
            let text = "\(e)"
            for p in parts { XCTAssertTrue(text.contains(p), "\(text) should mention \(p)", line: line) }
        }
    }

    func testCorruptAndNonCSRFilesGiveClearErrors() throws {
        let good: [(String, [UInt8])] = [
            ("indices.npy", NPY.encode([Int32(0)])), ("indptr.npy", NPY.encode([Int32(0), 1])),
            ("format.npy", NPY.encode(byteString: "csr")), ("shape.npy", NPY.encode([Int64(1), 2])),
            ("data.npy", NPY.encode([2.5])),
        ]
        func replacing(_ name: String, _ bytes: [UInt8]?) -> [(String, [UInt8])] {
            good.compactMap { $0.0 == name ? bytes.map { (name, $0) } : $0 }
        }
        let ok = try archive("ok.npz", good)
        XCTAssertEqual(try NPZ.readCSR(ok).toDense().storage, [2.5, 0])

        let text = dir.appendingPathComponent("text.npz").path
        try "not a zip".write(toFile: text, atomically: true, encoding: .utf8)
        assertReadError(text, contains: ["text.npz", "not a zip archive"])
        assertReadError(dir.appendingPathComponent("missing.npz").path, contains: ["missing.npz", "no such file"])
        assertReadError(try archive("nodata.npz", replacing("data.npy", nil)), contains: ["nodata.npz", "no member data.npy", "indices.npy"])
        assertReadError(try archive("csc.npz", replacing("format.npy", NPY.encode(byteString: "csc"))), contains: ["csc.npz", "format.npy", "'csc'", "tocsr"])
        assertReadError(try archive("ints.npz", replacing("data.npy", NPY.encode([Int64(3)]))), contains: ["data.npy", "<i8"])
        assertReadError(try archive("shortptr.npz", replacing("indptr.npy", NPY.encode([Int64(0)]))), contains: ["indptr.npy", "1 row offsets for the 1 rows"])
        assertReadError(try archive("badcol.npz", replacing("indices.npy", NPY.encode([Int32(5)]))), contains: ["badcol.npz", "column 5, outside 0..<2"])
        assertReadError(try archive("count.npz", replacing("data.npy", NPY.encode([1.0, 2.0]))), contains: ["count.npz", "data.npy 2"])
        var truncated = NPY.encode([2.5])
        truncated.removeLast(3)
        assertReadError(try archive("trunc.npz", replacing("data.npy", truncated)), contains: ["trunc.npz", "data.npy", "truncated"])
        assertReadError(try archive("garbage.npz", replacing("shape.npy", [1, 2, 3])), contains: ["garbage.npz", "shape.npy", "not an NPY array"])

        // A damaged member: flip a byte of data.npy's values inside the stored archive (bad CRC).
        let damaged = dir.appendingPathComponent("damaged.npz").path
        try NPZ.writeCSR(CSRMatrix(dense: Matrix([[1.0, 2.0]])), to: damaged)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: damaged)))
        let needle = withUnsafeBytes(of: 2.0) { Array($0) }
        let at = (0 ... bytes.count - 8).last { Array(bytes[$0 ..< $0 + 8]) == needle }!
        bytes[at + 7] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: damaged))
        assertReadError(damaged, contains: ["damaged.npz", "data.npy", "cannot be extracted"])
    }

    /// scipy writes, MPILearn reads, and the other way round (only where scipy is installed).
    func testScipyReadsAndWritesTheSameFiles() throws {
        let probe = try MPIRun.run(["python3", "-c", "import scipy.sparse"], timeout: 60)
        try XCTSkipIf(probe.status != 0, "scipy is not installed: \(probe.stderr)")
        let x = Self.random(Double.self, rows: 50, columns: 20, density: 0.2, seed: 21)
        let ours = dir.appendingPathComponent("ours.npz").path, oursDeflated = dir.appendingPathComponent("ours-z.npz").path
        try NPZ.writeCSR(x, to: ours)
        try NPZ.writeCSR(x, to: oursDeflated, compression: .deflate)
        let script = """
        import sys, numpy as np, scipy.sparse as sp
        d = sys.argv[1]
        for name in ['ours.npz', 'ours-z.npz']:
            m = sp.load_npz(f'{d}/{name}')
            assert m.format == 'csr' and m.shape == (50, 20), (m.format, m.shape)
            np.save(f'{d}/{name}.dense.npy', m.toarray())
        rng = np.random.default_rng(3)
        a = sp.random(30, 12, density=0.25, format='csr', random_state=4, dtype=np.float64)
        a.data[::5] = 0   # explicit zeros stay stored
        sp.save_npz(f'{d}/theirs.npz', a, compressed=True)
        sp.save_npz(f'{d}/theirs-stored.npz', a.astype(np.float32), compressed=False)
        big = sp.csr_matrix((a.data, a.indices.astype(np.int64), a.indptr.astype(np.int64)), shape=a.shape)
        np.savez(f'{d}/theirs64.npz', indices=big.indices, indptr=big.indptr, format=b'csr', shape=big.shape, data=big.data)
        np.save(f'{d}/theirs.dense.npy', a.toarray())
        sp.save_npz(f'{d}/csc.npz', a.tocsc())
        """
        let out = try MPIRun.run(["python3", "-c", script, dir.path], timeout: 120)
        XCTAssertEqual(out.status, 0, "\(out)")
        let solo = LocalCommunicator.solo()
        for name in ["ours.npz", "ours-z.npz"] {
            let back = try NPY.read(dir.appendingPathComponent(name + ".dense.npy").path, comm: solo).matrix
            XCTAssertEqual(back, x.toDense(), name)
        }
        let dense = try NPY.read(dir.appendingPathComponent("theirs.dense.npy").path, comm: solo).matrix
        let theirs = try NPZ.readCSR(dir.appendingPathComponent("theirs.npz").path)
        XCTAssertEqual(theirs.toDense(), dense)
        XCTAssertTrue(theirs.data.contains(0), "explicit zeros are kept")
        XCTAssertEqual(try NPZ.readCSR(dir.appendingPathComponent("theirs64.npz").path), theirs)
        let stored = try NPZ.readCSR(dir.appendingPathComponent("theirs-stored.npz").path, as: Float.self)
        XCTAssertEqual(stored.toDense().storage, dense.storage.map { Float($0) })
        assertReadError(dir.appendingPathComponent("csc.npz").path, contains: ["csc.npz", "format.npy", "'csc'"])
    }

    // MARK: - Dataset

    func testSparseDatasetRowsDenseCopyAndMakeDense() throws {
        let x = Self.random(Double.self, rows: 30, columns: 6, density: 0.4, seed: 3)
        var d = Dataset(features: .sparse(x), target: (0 ..< 30).map { Double($0 % 2) })
        XCTAssertEqual(d.rowCount, 30)
        XCTAssertEqual(d.featureCount, 6)
        XCTAssertEqual(d.featureNames.count, 6)
        XCTAssertFalse(d.features.isDense)
        XCTAssertTrue(d.features.isSparse)
        let sub = d.rows([5, 2, 29])
        guard case .sparse(let s) = sub.features else { return XCTFail("a subset of sparse rows should stay sparse") }
        XCTAssertEqual(s, x.rows([5, 2, 29]))
        XCTAssertEqual(sub.target, [1, 0, 1])
        XCTAssertEqual(d.denseCopy(), x.toDense())
        XCTAssertThrowsError(try d.requireDense(for: "k-means")) { e in
            XCTAssertTrue("\(e)".contains("sparse 30 × 6") && "\(e)".contains("makeDense()"), "\(e)")
        }
        d.makeDense()
        XCTAssertTrue(d.features.isDense)
        XCTAssertEqual(d.matrix, x.toDense())
        var coded = Dataset(features: .sparse(x))
        coded.makeCoded()
        XCTAssertEqual(coded.denseCopy(), x.toDense())
    }

    func testForestRefusesSparseFeaturesWithAClearError() throws {
        let x = Self.random(Double.self, rows: 40, columns: 5, density: 0.5, seed: 8)
        let d = Dataset(features: .sparse(x), target: (0 ..< 40).map { Double($0 % 2) })
        var p = RandomForestParameters.classifier(nEstimators: 3)
        p.randomState = 1
        let solo = LocalCommunicator.solo()
        for fit in [{ _ = try RandomForestClassifier(p).fit(d, comm: solo) },
                    { _ = try RandomForestClassifier(p).fit(d, rows: Array(0 ..< 20), cache: FitCache(), comm: solo) },
                    { _ = try RandomForestRegressor(.regressor(nEstimators: 2)).fitLocal(d, comm: solo) }] {
            XCTAssertThrowsError(try fit()) { e in
                let text = "\(e)"
                XCTAssertTrue(text.contains("sparse 40 × 5 matrix with \(x.storedCount) stored entries"), text)
                XCTAssertTrue(text.contains("makeDense()") && text.contains("random forest"), text)
            }
        }
        // Made dense, it fits.
        XCTAssertNoThrow(try RandomForestClassifier(p).fit(d.densified(), comm: solo))
    }
}
