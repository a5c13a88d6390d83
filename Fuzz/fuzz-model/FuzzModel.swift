// libFuzzer target: the model-file container and every registered model kind's decoder, as
// `mpilearn model inspect` and the predict commands load a model: decode the container,
// decode its model through ModelRegistry, print its summary, predict two rows. Thrown errors
// are fine; crashes, traps, sanitizer reports, hangs and huge allocations are findings.
//
// The container ends in a CRC-32 of the rest; a random mutation almost never keeps it, so
// the target rewrites the last 4 bytes with the right checksum before decoding (unless the
// first option bit is set), letting the fuzzer reach the model decoders. Mismatched
// checksums are covered by ModelContainerTests.
//
// Input: 1 option byte, then the file.  bit 0 keep the checksum as given.

import Foundation
import FuzzSupport
import MPILearn
import SwiftMPI

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModel(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = FuzzInput(data, size, optionBytes: 1)
    var bytes = Array(input.body)
    if !input.flag(0), bytes.count >= 16 {
        let crc = CRC32.checksum(bytes[0 ..< bytes.count - 4]).littleEndian
        withUnsafeBytes(of: crc) { for i in 0 ..< 4 { bytes[bytes.count - 4 + i] = $0[i] } }
    }
    let path = bytes.withUnsafeBufferPointer { FuzzFile.write($0, name: "input.model") }
    do {
        let c = try ModelContainer.read(from: path)
        let model = try ModelRegistry.decode(c, path: path)
        _ = model.summary()
        let features = model.featureNames.count
        guard features <= 4096 else { return 0 }
        let x = Matrix<Double>(rows: 2, columns: features, storage: (0 ..< 2 * features).map { Double($0 % 7) - 3 })
        switch model {
        case let m as any ClassifierModel: _ = try m.predict(x); _ = try m.predictProba(x)
        case let m as any RegressorModel: _ = try m.predict(x)
        case let m as any ClustererModel: _ = try m.predict(x)
        default: break
        }
    } catch {}
    return 0
}
