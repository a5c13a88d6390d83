// libFuzzer target: the CSV scanner and parser (CSVReader, CSVChunkReader) on a file of
// fuzzed bytes, as `mpilearn ... --data FILE.csv` reads it. Thrown errors are the clear-error
// path and fine; crashes, traps, sanitizer reports, hangs and huge allocations are findings.
//
// Input: 2 option bytes, then the file.
//   bits 0-1 delimiter , ; tab |     bit 2  no header      bit 3 float32
//   bit 4    64-byte read buffer (records across buffer refills)
//   bits 5-6 ranks 1, 2, 3, 1 (LocalWorld threads: byte-range split, record alignment)
//   bit 7    also read with CSVChunkReader (3-row chunks)    bit 8 chunk reader skips bad rows
//   bits 9-10 default type inferred, numeric, categorical, datetime   bit 11 rebalance

import Foundation
import FuzzSupport
import MPILearn
import SwiftMPI

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = FuzzInput(data, size, optionBytes: 2)
    let path = FuzzFile.write(input.body, name: "input.csv")
    var options = CSVOptions()
    options.delimiter = [",", ";", "\t", "|"][input.field(0, bits: 2)]
    options.hasHeader = !input.flag(2)
    options.float32 = input.flag(3)
    if input.flag(4) { options.bufferSize = 64 }
    options.defaultType = [.inferred, .numeric, .categorical, .datetime][input.field(9, bits: 2)]
    options.rebalance = input.flag(11)
    let ranks = [1, 2, 3, 1][input.field(5, bits: 2)]
    do {
        let tables = try LocalWorld.run(size: ranks) { comm in try CSVReader.read(path, options: options, comm: comm) }
        // Touch every value, as a learner would.
        var sum = 0.0
        for t in tables { for c in t.columns { for i in 0 ..< c.values.count { sum += c.values.double(at: i) } } }
        _ = sum
    } catch {}
    if input.flag(7) {
        do {
            let names = try CSVReader.columnNames(path, options: options)
            var types: [String: ColumnType] = [:]
            for (j, n) in names.enumerated() { types[n] = [.numeric, .categorical, .datetime][j % 3] }
            let reader = try CSVChunkReader(path, columns: names, types: types, options: options,
                                            skipBadRows: input.flag(8), comm: LocalCommunicator.solo())
            while let chunk = try reader.next(rows: 3) { _ = chunk.table.rowCount }
        } catch {}
    }
    return 0
}
