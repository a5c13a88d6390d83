// libFuzzer target: the text corpus reader (lines and JSON Lines, strict / ignore / replace
// decoding, 1-3 ranks) on a file of fuzzed bytes, as `mpilearn text ... --data FILE` reads
// it. Thrown errors are fine; crashes, traps, sanitizer reports, hangs and huge allocations
// are findings. (The folder format reads whole files as documents with the same decoder and
// is not fuzzed separately.)
//
// Input: 1 option byte, then the file.
//   bit 0 JSON Lines (fields "text" and "label") instead of lines   bit 1 JSON Lines without a label
//   bits 2-3 decode errors strict, ignore, replace, strict          bits 4-5 ranks 1, 2, 3, 1

import Foundation
import FuzzSupport
import MPILearn
import SwiftMPI

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzText(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = FuzzInput(data, size, optionBytes: 1)
    let path = FuzzFile.write(input.body, name: "input.txt")
    let format: TextFormat = input.flag(0) ? .jsonLines(textField: "text", labelField: input.flag(1) ? nil : "label") : .lines
    let decode: TextDecodeError = [.strict, .ignore, .replace, .strict][input.field(2, bits: 2)]
    let ranks = [1, 2, 3, 1][input.field(4, bits: 2)]
    do {
        let docs = try LocalWorld.run(size: ranks) { comm in try TextCorpus.read(path, format: format, decodeError: decode, comm: comm) }
        var total = 0
        for d in docs { total += d.texts.reduce(0) { $0 + $1.utf8.count } + (d.labels?.count ?? 0) }
        _ = total
    } catch {}
    return 0
}
