import Foundation
@testable import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// Parallel HDF5: what the writer writes the reader reads back, at any number of ranks; files
/// h5py and pandas wrote load; bad paths, objects and shapes are named in the error; a failed
/// write leaves nothing behind; and under `mpirun` h5py reads what `mpilearn convert` wrote.
final class HDF5Tests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try MPIRun.temporaryDirectory("hdf5") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    static var fixtures: URL { MPIRun.packageRoot.appendingPathComponent("Tests/Fixtures/hdf5") }
    func fixture(_ name: String) -> String { Self.fixtures.appendingPathComponent(name).path }

    /// Global row i of the test table: a, b numbers (b missing every 5th row), city strings
    /// (missing every 7th), when datetimes.
    static let cities = ["Lima", "Oslo", "Pune", "Zürich"]
    static func shard(rows: Int, comm: any Communicator) -> Table {
        let r = Partition.block(count: rows, parts: comm.size, index: comm.rank)
        let dictionary = CategoryDictionary(cities)
        return Table(columns: [
            Column(name: "a", values: .float64(r.map { Double($0) * 0.5 })),
            Column(name: "b", values: .float64(r.map { $0 % 5 == 0 ? .nan : -Double($0 * $0) })),
            Column(name: "city", values: .categorical(r.map { $0 % 7 == 0 ? -1 : Int32($0 % cities.count) }, dictionary)),
            Column(name: "when", values: .datetime(r.map { Int64(1_700_000_000 + $0 * 3600) })),
        ], rowCount: r.count, globalRowStart: r.lowerBound, globalRowCount: rows)
    }

    func assertSame(_ a: ColumnValues, _ b: ColumnValues, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, message, file: file, line: line)
        for i in 0 ..< min(a.count, b.count) {
            let x = a.double(at: i), y = b.double(at: i)
            if x.isNaN != y.isNaN || (!x.isNaN && x != y) {
                XCTFail("\(message): row \(i): \(x) ≠ \(y)", file: file, line: line)
                return
            }
        }
    }

    func strings(_ v: ColumnValues) -> [String?] {
        guard case let .categorical(codes, d) = v else { return [] }
        return codes.map { $0 < 0 ? nil : d.values[Int($0)] }
    }

    // MARK: - Round trips

    func testColumnsRoundTripAtOneToFourRanks() throws {
        for p in 1 ... 4 {
            let out = path("columns-\(p).h5")
            let results = try LocalWorld.run(size: p) { comm -> Bool in
                let table = Self.shard(rows: 23, comm: comm)
                try HDF5Writer.write(table, to: out, object: "/results/table", layout: .columns, comm: comm)
                let back = try HDF5Reader.read(HDF5Source(file: out, object: "/results/table"), comm: comm)
                XCTAssertEqual(back.columnNames, ["a", "b", "city", "when"], "p=\(p)")
                XCTAssertEqual(back.rowCount, table.rowCount)
                XCTAssertEqual(back.globalRowStart, table.globalRowStart)
                XCTAssertEqual(back.globalRowCount, 23)
                for j in [0, 1, 3] { self.assertSame(back.columns[j].values, table.columns[j].values, "p=\(p) \(table.columns[j].name)") }
                XCTAssertEqual(self.strings(back.columns[2].values), self.strings(table.columns[2].values), "p=\(p) city")
                return true
            }
            XCTAssertEqual(results, Array(repeating: true, count: p))
            let info = try HDF5Reader.inspect(HDF5Source(parsing: out + ":/results/table"))
            XCTAssertEqual(info.layout, .group)
            XCTAssertEqual(info.columns.map(\.storage), ["float64", "float64", "string(7)", "int64"], "Zürich is 7 UTF-8 bytes")
            XCTAssertEqual(info.columns.map(\.isCategorical), [false, false, true, false])
        }
    }

    func testMatrixRoundTripWithBlocksAtAnyOffsetAtOneToFourRanks() throws {
        let rows = 31, names = ["p0", "p1", "p2"]
        func value(_ i: Int, _ j: Int) -> Double { Double(i * 10 + j) + 0.25 }
        for p in 1 ... 4 {
            let out = path("matrix-\(p).h5")
            _ = try LocalWorld.run(size: p) { comm in
                let writer = try HDF5Writer(path: out, object: "/predictions", rows: rows, columns: names, comm: comm)
                // Each rank writes its block backwards, in pieces of 4 rows.
                let mine = Partition.block(count: rows, parts: comm.size, index: comm.rank)
                for start in stride(from: mine.lowerBound, to: mine.upperBound, by: 4).reversed() {
                    let n = min(4, mine.upperBound - start)
                    let m = Matrix(rows: n, columns: 3, storage: (0 ..< n).flatMap { i in (0 ..< 3).map { value(start + i, $0) } })
                    try writer.write(m, atRow: start)
                }
                try writer.finish()
                // Read back in blocks other than the writers'.
                let reader = try HDF5Reader(HDF5Source(file: out, object: "/predictions"), comm: comm)
                XCTAssertEqual(reader.layout, .matrix)
                XCTAssertEqual(reader.columns.map(\.name), names)
                let r = Partition.block(count: rows, parts: comm.size + 1, index: comm.rank)
                let t = try reader.read(rows: r, columns: ["p2", "p0"])
                try reader.close()
                XCTAssertEqual(t.columnNames, ["p2", "p0"])
                XCTAssertEqual(t.globalRowStart, r.lowerBound)
                self.assertSame(t.columns[0].values, .float64(r.map { value($0, 2) }), "p=\(p) p2")
                self.assertSame(t.columns[1].values, .float64(r.map { value($0, 0) }), "p=\(p) p0")
            }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }, [], "no temporary file left")
        }
    }

    func testInt64MatrixAndReadingAFewRowsOnly() throws {
        let out = path("ints.h5")
        _ = try LocalWorld.run(size: 1) { comm in
            let w = try HDF5Writer(path: out, object: "labels", rows: 5, columns: ["label"], type: .int64, comm: comm)
            try w.write([.float64([3, 1, 4, 1, 5])], atRow: 0)
            try w.finish()
        }
        let reader = try HDF5Reader(HDF5Source(parsing: out))   // the only object: /labels
        defer { try? reader.close() }
        XCTAssertEqual(reader.source.object, "/labels")
        XCTAssertEqual(reader.columns, [.init(name: "label", isCategorical: false, storage: "int64")])
        let t = try reader.read(rows: 2 ..< 4)
        assertSame(t.columns[0].values, .float64([4, 1]), "rows 2..<4")
        XCTAssertEqual(t.globalRowStart, 2)
        XCTAssertThrowsError(try reader.read(rows: 4 ..< 6)) { XCTAssertTrue("\($0)".contains("0..<5"), "\($0)") }
        // A non-integer for an int64 column is refused with the row.
        XCTAssertThrowsError(try LocalWorld.run(size: 1) { comm in
            let w = try HDF5Writer(path: out, object: "labels", rows: 1, columns: ["label"], type: .int64, comm: comm)
            try w.write([.float64([0.5])], atRow: 0)
        }) { XCTAssertTrue("\($0)".contains("row 0: 0.5 is not an integer"), "\($0)") }
    }

    // MARK: - Files written by h5py and pandas

    func testReadsH5pyAndPandasFiles() throws {
        let x = try HDF5Reader.inspect(HDF5Source(parsing: fixture("h5py_matrix.h5") + ":/X"))
        XCTAssertEqual(x.rows, 7)
        XCTAssertEqual(x.columns.map(\.name), ["a", "b", "c"], "names from the columns attribute")
        for p in 1 ... 3 {
            _ = try LocalWorld.run(size: p) { comm in
                let t = try HDF5Reader.read(HDF5Source(parsing: self.fixture("h5py_matrix.h5") + ":/X"), comm: comm)
                let r = Partition.block(count: 7, parts: comm.size, index: comm.rank)
                self.assertSame(t.columns[1].values, .float64(r.map { Double($0 * 3 + 1) / 4 }), "X[:, 1] p=\(p)")
                let g = try HDF5Reader.read(HDF5Source(parsing: self.fixture("h5py_columns.h5") + ":/table"), comm: comm)
                XCTAssertEqual(g.columnNames, ["age", "city", "height", "member", "name"], "h5py keeps no creation order: name order")
                self.assertSame(g.columns[0].values, .float64(Array([31.0, 45, 27, 62, 19, 38, 50][r])), "age")
                XCTAssertEqual(self.strings(g.columns[1].values), Array(["Oslo", "Lima", "Oslo", nil, "Pune", "Lima", "Oslo"][r]), "fixed-length strings, empty is missing")
                self.assertSame(g.columns[2].values, .float64(Array([1.70, 1.82, 1.65, 1.75, 1.90, 1.60, 1.68].map { Double(Float($0)) }[r])), "float32")
                self.assertSame(g.columns[3].values, .float64(Array([1.0, 0, 1, 1, 0, 0, 1][r])), "bool")
                XCTAssertEqual(self.strings(g.columns[4].values), Array(["Ada", "Bo", "Cy", "Dé", "Eve", "Fa", "Gus"][r]), "variable-length UTF-8")
                if case let .categorical(_, d) = g.columns[4].values { XCTAssertEqual(d.count, 7, "one dictionary over all ranks") }
            }
        }
        let y = try HDF5Reader(HDF5Source(parsing: fixture("h5py_matrix.h5") + ":/y"))
        assertSame(try y.read(rows: 0 ..< 7).columns[0].values, .float64((0 ..< 7).map { Double($0 * 10) }), "int32 1-D")
        XCTAssertEqual(y.columns.map(\.name), ["y"])
        let single = try HDF5Reader.inspect(HDF5Source(parsing: fixture("h5py_single.h5")))
        XCTAssertEqual(single.source.object, "/values", "the root's only object is the default")
        XCTAssertEqual(single.columns.map(\.name), ["x0"])

        let frame = try HDF5Reader(HDF5Source(parsing: fixture("pandas_fixed.h5")))
        defer { try? frame.close() }
        XCTAssertEqual(frame.layout, .pandasFrame)
        XCTAssertEqual(frame.columns.map(\.name), ["x", "k", "flag", "z"], "the frame's column order, across pandas' blocks")
        let t = try frame.read(rows: 1 ..< 4)
        assertSame(t.columns[0].values, .float64([1.5, 2.5, 3.5]), "x")
        assertSame(t.columns[1].values, .float64([3, 6, 9]), "k")
        assertSame(t.columns[2].values, .float64([0, 1, 0]), "flag")
        assertSame(t.columns[3].values, .float64([-1, -2, -3]), "z")
    }

    // MARK: - Errors

    func testBadInputsNameTheFileAndTheObject() throws {
        let matrix = fixture("h5py_matrix.h5")
        func message(_ spec: String) -> String {
            do {
                _ = try HDF5Reader.inspect(HDF5Source(parsing: spec))
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        let missing = message(path("nope.h5") + ":/x")
        XCTAssertTrue(missing.contains("nope.h5:/x") && missing.contains("no such file"), missing)
        let notHDF5 = path("text.h5")
        try "hello".write(toFile: notHDF5, atomically: true, encoding: .utf8)
        XCTAssertTrue(message(notHDF5).contains("not an HDF5 file"), message(notHDF5))
        let object = message(matrix + ":/nested/missing")
        XCTAssertTrue(object.contains("h5py_matrix.h5:/nested/missing") && object.contains("/nested holds /nested/cube"), object)
        let top = message(matrix + ":/Z")
        XCTAssertTrue(top.contains("/ holds /X, /nested, /y"), top)
        let cube = message(matrix + ":/nested/cube")
        XCTAssertTrue(cube.contains("h5py_matrix.h5:/nested/cube") && cube.contains("3-D (2×3×4)"), cube)
        XCTAssertThrowsError(try HDF5Reader.inspect(HDF5Source(parsing: matrix + ":/nested/cube"))) {
            XCTAssertEqual(($0 as? MPILearnError)?.exitCode, .dataError)
        }
        let noDefault = message(matrix)
        XCTAssertTrue(noDefault.contains("/X (2-D float64 dataset 7×3)") && noDefault.contains(":/NAME"), noDefault)
        let ragged = message(fixture("h5py_columns.h5") + ":/ragged")
        XCTAssertTrue(ragged.contains(":/ragged") && ragged.contains("p has 3 rows, q has 4"), ragged)
        let root = message(matrix + ":/")
        XCTAssertTrue(root.contains("holds X, a 2-D float64 dataset 7×3"), root)
        XCTAssertThrowsError(try HDF5Reader(HDF5Source(parsing: fixture("h5py_columns.h5") + ":/table")).read(rows: 0 ..< 1, columns: ["zip"])) {
            XCTAssertTrue("\($0)".contains("one of age, city, height, member, name"), "\($0)")
        }
    }

    func testFailedWritesLeaveNothingBehind() throws {
        // A folder that does not exist, a path below a regular file, a folder as the target.
        try Data().write(to: dir.appendingPathComponent("plain"))
        for (target, reason) in [(path("absent/out.h5"), "does not exist"), (path("plain/out.h5"), "plain"), (dir.path, "is a folder")] {
            for p in [1, 3] {
                XCTAssertThrowsError(try LocalWorld.run(size: p) { comm in
                    try HDF5Writer.write(Self.shard(rows: 5, comm: comm), to: target, comm: comm)
                }) { error in
                    XCTAssertEqual((error as? MPILearnError)?.exitCode, .ioError, "\(error)")
                    XCTAssertTrue("\(error)".contains(reason), "\(error)")
                }
            }
        }
        // A FIFO cannot hold an HDF5 file.
        let fifo = path("pipe")
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        XCTAssertThrowsError(try LocalWorld.run(size: 2) { comm in
            try HDF5Writer.write(Self.shard(rows: 5, comm: comm), to: fifo, comm: comm)
        }) { XCTAssertTrue("\($0)".contains("FIFO or a device"), "\($0)") }
        // Rows left unwritten: finish fails on every rank and removes the temporary file; an
        // existing target stays as it was.
        let out = path("kept.h5")
        try Data("old".utf8).write(to: URL(fileURLWithPath: out))
        for p in [1, 2, 3] {
            XCTAssertThrowsError(try LocalWorld.run(size: p) { comm in
                let w = try HDF5Writer(path: out, rows: 10, columns: ["a"], comm: comm)
                if comm.rank == 0 { try w.write([.float64([1, 2])], atRow: 0) }
                try w.finish()
            }) { XCTAssertTrue("\($0)".contains("wrote 2 rows of 10"), "\($0)") }
        }
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "old")
        if getuid() != 0 {
            let locked = path("locked")
            try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o555])
            XCTAssertThrowsError(try LocalWorld.run(size: 2) { comm in
                try HDF5Writer.write(Self.shard(rows: 5, comm: comm), to: locked + "/out.h5", comm: comm)
            })
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: locked), [])
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        XCTAssertEqual(left, ["kept.h5", "pipe", "plain"], "no temporary file left")
    }

    func testSourceParsing() {
        XCTAssertEqual(HDF5Source(parsing: "a/b.h5:/g/d"), HDF5Source(file: "a/b.h5", object: "/g/d"))
        XCTAssertEqual(HDF5Source(parsing: "run:2.h5:/x/"), HDF5Source(file: "run:2.h5", object: "/x"))
        XCTAssertEqual(HDF5Source(parsing: "data.hdf5"), HDF5Source(file: "data.hdf5"))
        XCTAssertEqual(HDF5Source(parsing: "f.h5:/").object, "/")
        XCTAssertTrue(HDF5Source.isHDF5("OUT.H5:/data"))
        XCTAssertFalse(HDF5Source.isHDF5("out.npy"))
    }

    // MARK: - Under mpirun

    func testConvertUnderMPIRunReadsBackWithH5py() throws {
        let probe = try MPIRun.run(["/usr/bin/python3", "-c", "import h5py"], timeout: 60)
        guard probe.status == 0 else { throw XCTSkip("/usr/bin/python3 has no h5py (apt-get install python3-h5py; scripts/setup does)") }
        var csv = "id,score,city\n"
        for i in 0 ..< 53 { csv += "\(i),\(i % 6 == 0 ? "" : String(Double(i) / 8)),\(i % 9 == 0 ? "" : ["Lima", "Oslo", "Pune"][i % 3])\n" }
        try csv.write(toFile: path("in.csv"), atomically: true, encoding: .utf8)
        let check = """
        import h5py, numpy as np, sys
        d, np_ = sys.argv[1], sys.argv[2]
        ids = np.arange(53.0)
        score = np.where(np.arange(53) % 6 == 0, np.nan, np.arange(53) / 8)
        city = [b'' if i % 9 == 0 else [b'Lima', b'Oslo', b'Pune'][i % 3] for i in range(53)]
        with h5py.File(f'{d}/cols-{np_}.h5', 'r') as f:
            g = f['out/table']
            assert list(g.keys()) == ['id', 'score', 'city'], list(g.keys())
            assert np.array_equal(g['id'][:], ids) and np.array_equal(g['score'][:], score, equal_nan=True)
            assert list(g['city'][:]) == city, g['city'][:]
        with h5py.File(f'{d}/mat-{np_}.h5', 'r') as f:
            m = f['data']
            assert m.shape == (53, 3) and m.dtype == np.float64, (m.shape, m.dtype)
            assert [c.decode() if isinstance(c, bytes) else c for c in m.attrs['columns']] == ['id', 'score', 'city']
            assert np.array_equal(m[:, 1], score, equal_nan=True)
        back = np.load(f'{d}/back-{np_}.npy')
        assert np.array_equal(back[:, :2], np.stack([ids, score], 1), equal_nan=True), back[:4]
        x = np.load(f'{d}/fixture-{np_}.npy')
        with h5py.File(sys.argv[3], 'r') as f:
            assert np.array_equal(x, f['X'][:]), x
        print('ok')
        """
        for np in 1 ... 4 {
            let runs = [
                ["convert", path("in.csv"), "--output", path("cols-\(np).h5") + ":/out/table", "--hdf5-layout", "columns"],
                ["convert", path("in.csv"), "--output", path("mat-\(np).h5")],
                ["convert", path("cols-\(np).h5") + ":/out/table", "--output", path("back-\(np).npy")],
                ["convert", fixture("h5py_matrix.h5") + ":/X", "--output", path("fixture-\(np).npy")],
            ]
            for args in runs {
                let out = try MPIRun.mpirun(np: np, "mpilearn", args, timeout: 120)
                XCTAssertEqual(out.status, 0, "np=\(np) \(args): \(out)")
            }
            let out = try MPIRun.run(["/usr/bin/python3", "-c", check, dir.path, String(np), fixture("h5py_matrix.h5")], timeout: 60)
            XCTAssertEqual(out.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "ok", "np=\(np): \(out)")
        }
        // A missing object ends the job with 66 and a message naming the file and the object.
        let bad = try MPIRun.mpirun(np: 2, "mpilearn", ["convert", fixture("h5py_matrix.h5") + ":/nope", "--output", path("x.npy")], timeout: 120)
        XCTAssertEqual(bad.status, 66, "\(bad)")
        XCTAssertTrue(bad.stderr.contains("h5py_matrix.h5:/nope") && bad.stderr.contains("/ holds /X, /nested, /y"), bad.stderr)
        // An output folder that does not exist: exit 74 and nothing written.
        let nowhere = try MPIRun.mpirun(np: 3, "mpilearn", ["convert", path("in.csv"), "--output", path("none/out.h5")], timeout: 120)
        XCTAssertEqual(nowhere.status, 74, "\(nowhere)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("none")))
    }
}
