// libFuzzer target: the NPY reader (in-memory decode, the parallel file reader, the table
// reader) and the NPZ (zip of .npy) CSR reader on fuzzed bytes. Thrown errors are fine;
// crashes, traps, sanitizer reports, hangs and huge allocations are findings.
//
// Input: 1 option byte, then the file.
//   bits 0-2 entry: 0-1 NPY.decode (in memory), 2 NPY.read as Double, 3 as Float,
//            4 NPY.readTable, 5 NPY.readHeader, 6-7 NPZ.readCSR (file is a .npz)
//   bit 3    2 ranks instead of 1 for the collective readers

import Foundation
import FuzzSupport
import MPILearn
import SwiftMPI

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNPY(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = FuzzInput(data, size, optionBytes: 1)
    let ranks = input.flag(3) ? 2 : 1
    do {
        switch input.field(0, bits: 3) {
        case 0, 1:
            let a = try NPY.decode(Array(input.body), source: "fuzz.npy")
            _ = a.values(Double.self); _ = a.values(Float.self); _ = a.integers; _ = a.text
        case 2:
            let path = FuzzFile.write(input.body, name: "input.npy")
            _ = try LocalWorld.run(size: ranks) { comm in try NPY.read(path, as: Double.self, comm: comm).features.rowCount }
        case 3:
            let path = FuzzFile.write(input.body, name: "input.npy")
            _ = try LocalWorld.run(size: ranks) { comm in try NPY.read(path, as: Float.self, comm: comm).features.rowCount }
        case 4:
            let path = FuzzFile.write(input.body, name: "input.npy")
            _ = try LocalWorld.run(size: ranks) { comm in try NPY.readTable(path, comm: comm).rowCount }
        case 5:
            _ = try NPY.readHeader(FuzzFile.write(input.body, name: "input.npy"))
        default:
            let path = FuzzFile.write(input.body, name: "input.npz")
            let m = try NPZ.readCSR(path, as: Double.self)
            _ = m.rows
        }
    } catch {}
    return 0
}
