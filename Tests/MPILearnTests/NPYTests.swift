import Foundation
import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// NPY files: NumPy-written fixtures read by blocks at p = 1...4, parallel writes NumPy reads
/// back, and clear errors for files we cannot read.
final class NPYTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try MPIRun.temporaryDirectory("npy")
        // Fixtures written by NumPy itself: value(i, j) = i * 10 + j (negative in odd rows).
        let script = """
        import numpy as np, sys
        d = sys.argv[1]
        a = np.arange(7 * 3, dtype=np.float64).reshape(7, 3)
        a = (np.arange(7)[:, None] * 10 + np.arange(3)[None, :]) * np.where(np.arange(7) % 2 == 1, -1, 1)[:, None]
        for t in ['f4', 'f8', 'i4', 'i8']:
            np.save(f'{d}/a_{t}.npy', a.astype('<' + t))
        np.save(f'{d}/vec.npy', np.arange(5, dtype='<f8') / 4)
        with open(f'{d}/v2.npy', 'wb') as f:
            np.lib.format.write_array(f, a.astype('<f8'), version=(2, 0))
        np.save(f'{d}/big_endian.npy', a.astype('>f8'))
        np.save(f'{d}/u2.npy', a.astype('<u2'))
        np.save(f'{d}/fortran.npy', np.asfortranarray(a.astype('<f8')))
        np.save(f'{d}/empty.npy', np.zeros((0, 3)))
        raw = open(f'{d}/a_f8.npy', 'rb').read()
        open(f'{d}/truncated.npy', 'wb').write(raw[:-9])
        open(f'{d}/text.npy', 'wb').write(b'x0,x1\\n1,2\\n')
        """
        let out = try MPIRun.run(["python3", "-c", script, dir.path], timeout: 60)
        try XCTSkipIf(out.status != 0 && out.stderr.contains("No module named 'numpy'"), "numpy not available")
        XCTAssertEqual(out.status, 0, "\(out)")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func expected(_ i: Int, _ j: Int) -> Double { Double(i * 10 + j) * (i % 2 == 1 ? -1 : 1) }

    func testReadsNumPyFilesInBlocksAtAnyRankCount() throws {
        for name in ["a_f4", "a_f8", "a_i4", "a_i8", "v2"] {
            let path = dir.appendingPathComponent("\(name).npy").path
            let header = try NPY.readHeader(path)
            XCTAssertEqual(header.shape, [7, 3], name)
            for p in 1 ... 4 {
                let parts = try LocalWorld.run(size: p) { comm in try NPY.read(path, as: Double.self, comm: comm) }
                XCTAssertEqual(parts.map(\.globalRowStart), (0 ..< p).map { Partition.block(count: 7, parts: p, index: $0).lowerBound })
                let all = parts.flatMap(\.matrix.storage)
                XCTAssertEqual(all, (0 ..< 7).flatMap { i in (0 ..< 3).map { expected(i, $0) } }, "\(name) p=\(p)")
            }
        }
        let vec = try NPY.read(dir.appendingPathComponent("vec.npy").path, as: Float.self, comm: LocalCommunicator.solo())
        XCTAssertEqual(vec.matrix.storage, [0, 0.25, 0.5, 0.75, 1])
        XCTAssertEqual(vec.featureCount, 1)
        let empty = try NPY.read(dir.appendingPathComponent("empty.npy").path, comm: LocalCommunicator.solo())
        XCTAssertEqual(empty.rowCount, 0)
    }

    func testParallelWriteIsReadByNumPy() throws {
        let path = dir.appendingPathComponent("out.npy").path
        let rows = 11, cols = 4
        for p in [1, 3] {
            _ = try LocalWorld.run(size: p) { comm in
                let block = Partition.block(count: rows, parts: p, index: comm.rank)
                let values = block.flatMap { i in (0 ..< cols).map { Double(i * cols + $0) + 0.5 } }
                try NPY.write(values, columns: cols, to: path, comm: comm)
                let ints = block.map { Int64($0) - 5 }
                try NPY.write(ints, columns: nil, to: path + ".i8.npy", comm: comm)
            }
            let check = """
            import numpy as np, sys
            a = np.load(sys.argv[1]); b = np.load(sys.argv[1] + '.i8.npy')
            assert a.dtype == np.float64 and a.shape == (11, 4), (a.dtype, a.shape)
            assert (a == np.arange(44).reshape(11, 4) + 0.5).all()
            assert b.dtype == np.int64 and b.shape == (11,) and (b == np.arange(11) - 5).all(), b
            print('ok')
            """
            let out = try MPIRun.run(["python3", "-c", check, path], timeout: 60)
            XCTAssertEqual(out.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "ok", "p=\(p): \(out)")
            // No temporary file is left behind.
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }
            XCTAssertEqual(leftovers, [])
        }
        // And our own reader agrees.
        let back = try NPY.read(path, comm: LocalCommunicator.solo())
        XCTAssertEqual(back.matrix.storage, (0 ..< 44).map { Double($0) + 0.5 })
    }

    func testBadFilesGiveClearErrors() throws {
        let cases = [("truncated", "truncated: shape [7, 3] of <f8 needs 168 bytes of data, the file has 159"),
                     ("text", "not an NPY file"),
                     ("big_endian", "unsupported NPY dtype '>f8'"),
                     ("u2", "unsupported NPY dtype '<u2'"),
                     ("fortran", "Fortran-order arrays are not supported")]
        for (name, message) in cases {
            let path = dir.appendingPathComponent("\(name).npy").path
            XCTAssertThrowsError(try NPY.read(path, comm: LocalCommunicator.solo()), name) { e in
                XCTAssertTrue("\(e)".contains(path), "\(e)")
                XCTAssertTrue("\(e)".contains(message), "\(name): \(e)")
                XCTAssertEqual((e as? MPILearnError)?.exitCode, .dataError)
            }
        }
        XCTAssertThrowsError(try NPY.read(dir.appendingPathComponent("missing.npy").path, comm: LocalCommunicator.solo())) { e in
            XCTAssertEqual((e as? MPILearnError)?.exitCode, .noInput, "\(e)")
        }
    }
}
