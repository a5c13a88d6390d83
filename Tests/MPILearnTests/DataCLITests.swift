import Foundation
import TestSupport
import XCTest

/// The data commands under real `mpirun`: generate, convert and describe give the same bytes
/// for any number of ranks, and every bad input ends the whole job with a located message.
final class DataCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try MPIRun.temporaryDirectory("datacli") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func bytes(_ name: String) throws -> Data { try Data(contentsOf: dir.appendingPathComponent(name)) }

    func testGenerateWritesIdenticalFilesForOneToThreeRanks() throws {
        let runs: [(String, [String])] = [
            ("c.csv", ["generate", "classification", "--n-samples", "203", "--n-features", "5", "--n-informative", "3",
                       "--n-redundant", "1", "--n-classes", "3", "--random-state", "4"]),
            ("b.npy", ["generate", "blobs", "--n-samples", "101", "--n-features", "3", "--centers", "4", "--random-state", "2"]),
            ("r.csv", ["generate", "regression", "--n-samples", "50", "--n-features", "4", "--n-informative", "2", "--noise", "0.5",
                       "--target-output", "PLACEHOLDER"]),
        ]
        for (name, args) in runs {
            var reference: (Data, Data?)? = nil
            for np in 1 ... 3 {
                let target = path("\(name).y\(np).npy")
                let a = args.map { $0 == "PLACEHOLDER" ? target : $0 } + ["--output", path("\(np)-\(name)")]
                let out = try MPIRun.mpirun(np: np, "mpilearn", a, timeout: 120)
                XCTAssertEqual(out.status, 0, "\(name) np=\(np): \(out)")
                let got = (try bytes("\(np)-\(name)"), args.contains("--target-output") ? try bytes("\(name).y\(np).npy") : nil)
                if let r = reference {
                    XCTAssertEqual(got.0, r.0, "\(name): np=\(np) differs from np=1")
                    XCTAssertEqual(got.1, r.1, "\(name) target: np=\(np) differs from np=1")
                } else {
                    reference = got
                }
            }
        }
        let check = """
        import numpy as np, csv, sys
        d = sys.argv[1]
        b = np.load(d + '/1-b.npy'); assert b.shape == (101, 4) and b.dtype == np.float64, b.shape
        assert set(b[:, 3]) == {0.0, 1.0, 2.0, 3.0}
        rows = list(csv.reader(open(d + '/1-c.csv')))
        assert rows[0] == ['x0', 'x1', 'x2', 'x3', 'x4', 'y'], rows[0]
        assert len(rows) == 204 and {r[5] for r in rows[1:]} == {'0', '1', '2'}
        y = np.load(d + '/r.csv.y1.npy'); assert y.shape == (50,)
        r = np.loadtxt(d + '/1-r.csv', delimiter=',', skiprows=1); assert r.shape == (50, 4)
        print('ok')
        """
        let out = try MPIRun.run(["python3", "-c", check, dir.path], timeout: 60)
        XCTAssertEqual(out.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "ok", "\(out)")
    }

    func testConvertAndDescribeAreRankInvariant() throws {
        // Quoted newlines and delimiters, CRLF, blank lines, missing values, no final newline.
        var text = "id,name,score,when\r\n"
        for i in 0 ..< 240 {
            let name = i % 9 == 0 ? "\"multi\nline, \"\"\(i % 4)\"\"\"" : i % 13 == 0 ? "" : "n\(i % 7)"
            let score = i % 10 == 3 ? "NA" : "\(Double(i) / 8 - 3)"
            text += "\(i),\(name),\(score),2013-0\(1 + i % 9)-0\(1 + i % 8) 0\(i % 10):00:00" + (i == 239 ? "" : i % 17 == 0 ? "\r\n\r\n" : "\r\n")
        }
        try Data(text.utf8).write(to: dir.appendingPathComponent("t.csv"))
        var describeOut: String? = nil
        var reference: Data? = nil
        for np in 1 ... 4 {
            let out = try MPIRun.mpirun(np: np, "mpilearn", ["convert", path("t.csv"), "--output", path("t\(np).npy"), "--types", "name:categorical"])
            XCTAssertEqual(out.status, 0, "np=\(np): \(out)")
            let got = try bytes("t\(np).npy")
            if let r = reference { XCTAssertEqual(got, r, "convert np=\(np) differs") } else { reference = got }
            if np != 3 {
                let d = try MPIRun.mpirun(np: np, "mpilearn", ["describe", path("t.csv")])
                XCTAssertEqual(d.status, 0, "\(d)")
                if let r = describeOut { XCTAssertEqual(d.stdout, r, "describe np=\(np)") } else { describeOut = d.stdout }
            }
        }
        XCTAssertTrue(describeOut?.contains("rows: 240") ?? false, describeOut ?? "")
        // Python's csv module reads the same file; codes are the sorted distinct names.
        let check = """
        import numpy as np, csv, sys, datetime
        d = sys.argv[1]
        rows = [r for r in csv.reader(open(d + '/t.csv', newline='')) if r][1:]
        names = sorted({r[1] for r in rows if r[1] not in ('', 'NA')}, key=lambda s: s.encode())
        a = np.load(d + '/t1.npy')
        assert a.shape == (240, 4), a.shape
        for i, r in enumerate(rows):
            assert a[i, 0] == float(r[0])
            assert (np.isnan(a[i, 1]) if r[1] == '' else a[i, 1] == names.index(r[1])), (i, r, a[i])
            assert (np.isnan(a[i, 2]) if r[2] == 'NA' else a[i, 2] == float(r[2])), (i, r, a[i])
            t = datetime.datetime.strptime(r[3], '%Y-%m-%d %H:%M:%S').replace(tzinfo=datetime.timezone.utc).timestamp()
            assert a[i, 3] == t, (i, r, a[i])
        print('ok')
        """
        let out = try MPIRun.run(["python3", "-c", check, dir.path], timeout: 60)
        XCTAssertEqual(out.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "ok", "\(out)")
    }

    /// Runs `args` on `np` ranks and checks the job failed fast with the message from `rank`
    /// (nil: an error every rank finds, reported by whichever rank aborts first).
    func expectFailure(np: Int = 2, _ args: [String], rank: Int?, _ fragments: [String], code: Int32? = nil,
                       executable: String = "mpilearn", file: StaticString = #filePath, line: UInt = #line) throws {
        let out = try MPIRun.mpirun(np: np, executable, args, timeout: 60)
        XCTAssertFalse(out.timedOut, "job hung: \(out)", file: file, line: line)
        XCTAssertNotEqual(out.status, 0, "\(out)", file: file, line: line)
        if let code { XCTAssertEqual(out.status, code, "\(out)", file: file, line: line) }
        let pattern = rank.map { "rank \($0)/\(np): error:" } ?? "rank [0-9]+/\(np): error:"
        XCTAssertNotNil(out.stderr.range(of: pattern, options: .regularExpression), "\(out)", file: file, line: line)
        for f in fragments { XCTAssertTrue(out.stderr.contains(f), "missing '\(f)' in \(out)", file: file, line: line) }
    }

    func testBadInputsEndTheJobWithRankFileLineAndColumn() throws {
        // A valid body of 200 rows, then a bad row at the end (rank 1's byte range).
        var good = "a,b,c\n"
        for i in 0 ..< 200 { good += "\(i),x\(i % 3),\(i * 2)\n" }
        let bad: [(String, String, [String])] = [
            ("fields.csv", good + "200,x1\n", ["fields.csv:202:3: column 'c': expected 3 fields, found 2"]),
            ("nonnumeric.csv", good + "200,x1,abc\n", ["nonnumeric.csv:202:3: column 'c': expected a number, found \"abc\""]),
            ("unterminated.csv", good + "200,\"x1,3\n201,x2,4\n", ["unterminated.csv:202:2: column 'b': unterminated quote"]),
        ]
        for (name, text, fragments) in bad {
            try Data(text.utf8).write(to: dir.appendingPathComponent(name))
            try expectFailure(["describe", path(name), "--types", "c:numeric"], rank: 1, fragments, code: 65)
        }
        // Inferred, a column of numbers with one text cell is an error from the rank that read
        // it; --categorical reads it as categories.
        try Data((good + "200,x1,abc\n").utf8).write(to: dir.appendingPathComponent("mixed.csv"))
        try expectFailure(["describe", path("mixed.csv")], rank: 1,
                          ["mixed.csv:202:3: column 'c': expected a number, found \"abc\"", "--categorical c"], code: 65)
        let described = try MPIRun.mpirun(np: 2, "mpilearn", ["describe", path("mixed.csv"), "--categorical", "c"], timeout: 60)
        XCTAssertEqual(described.status, 0, "\(described)")
        try Data().write(to: dir.appendingPathComponent("empty.csv"))
        try expectFailure(["describe", path("empty.csv")], rank: nil, ["empty.csv:1: empty file"], code: 65)
        try Data(good.utf8).write(to: dir.appendingPathComponent("good.csv"))
        try expectFailure(["describe", path("good.csv"), "--columns", "a,zz"], rank: nil, ["good.csv:1: unknown column 'zz'"], code: 65)
        try expectFailure(["describe", path("nope.csv")], rank: nil, ["nope.csv: cannot read: no such file or folder"], code: 66)
        // Unreadable: as root permissions do not apply, so use a folder where a file is expected.
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("folder.npy"), withIntermediateDirectories: true)
        try expectFailure(["describe", path("folder.npy")], rank: nil, ["folder.npy: cannot read: is a folder"], code: 66)

        // NPY inputs.
        try Data("x0,x1\n1,2\n".utf8).write(to: dir.appendingPathComponent("text.npy"))
        try expectFailure(["describe", path("text.npy")], rank: nil, ["text.npy: not an NPY file"], code: 65)
        var header: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let dict = "{'descr': '<c16', 'fortran_order': False, 'shape': (2, 2), }"
        let padded = dict + String(repeating: " ", count: 128 - 10 - dict.utf8.count - 1) + "\n"
        header += [UInt8(padded.utf8.count), 0] + Array(padded.utf8)
        try Data(header + [UInt8](repeating: 0, count: 64)).write(to: dir.appendingPathComponent("complex.npy"))
        try expectFailure(["describe", path("complex.npy")], rank: nil, ["complex.npy: byte 10: unsupported NPY dtype '<c16'"], code: 65)
        let f8 = dict.replacingOccurrences(of: "<c16", with: "<f8")
        let padded8 = f8 + String(repeating: " ", count: 128 - 10 - f8.utf8.count - 1) + "\n"
        let truncated = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(padded8.utf8.count), 0] + Array(padded8.utf8) + [UInt8](repeating: 0, count: 20)
        try Data(truncated).write(to: dir.appendingPathComponent("truncated.npy"))
        try expectFailure(["describe", path("truncated.npy")], rank: nil, ["truncated.npy: byte 128: truncated"], code: 65)
    }

    func testFileMissingOnOneRankOnlyEndsTheJob() throws {
        // Each rank runs in its own folder (like node-local disks); only rank 0's has the file.
        var text = "a,b\n"
        for i in 0 ..< 100 { text += "\(i),\(i % 5)\n" }
        for r in 0 ..< 2 {
            let d = dir.appendingPathComponent("rank\(r)")
            try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
            if r == 0 { try Data(text.utf8).write(to: d.appendingPathComponent("data.csv")) }
        }
        let script = dir.appendingPathComponent("run.sh")
        try """
        #!/bin/sh
        r="${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}"
        cd "\(dir.path)/rank$r" && exec "\(MPIRun.executable("mpilearn"))" "$@"
        """.write(to: script, atomically: true, encoding: .utf8)
        chmod(script.path, 0o755)
        try expectFailure(["describe", "data.csv"], rank: 1, ["data.csv: cannot read: No such file or directory"], code: 66,
                          executable: script.path)
    }
}
