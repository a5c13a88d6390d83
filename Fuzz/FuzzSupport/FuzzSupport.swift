// Shared by the libFuzzer targets (built only with MPILEARN_FUZZ=1, see docs/fuzzing.md).

import Foundation

/// One fuzz input: leading option bytes, then the file's bytes.
public struct FuzzInput {
    public let options: [UInt8]
    public let body: UnsafeBufferPointer<UInt8>

    /// Splits `size` bytes at `data` into `optionBytes` option bytes (missing ones are 0)
    /// and the rest.
    public init(_ data: UnsafePointer<UInt8>, _ size: Int, optionBytes: Int) {
        let n = min(size, optionBytes)
        options = (0 ..< optionBytes).map { $0 < n ? data[$0] : 0 }
        body = UnsafeBufferPointer(start: data + n, count: size - n)
    }

    /// Option bit `bit` (0-based over all option bytes).
    public func flag(_ bit: Int) -> Bool { options[bit / 8] & (1 << UInt8(bit % 8)) != 0 }

    /// `bits` option bits starting at `bit`, as a number.
    public func field(_ bit: Int, bits: Int) -> Int {
        (0 ..< bits).reduce(0) { $0 | (flag(bit + $1) ? 1 << $1 : 0) }
    }
}

/// Files the targets write their inputs to: one private folder per process (libFuzzer's
/// `-fork`/`-jobs` run several), overwritten every execution.
public enum FuzzFile {
    public static let folder: String = {
        let dir = NSTemporaryDirectory() + "/mpilearn-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    /// Writes `bytes` to `name` in the process's folder and returns the path.
    public static func write(_ bytes: UnsafeBufferPointer<UInt8>, name: String) -> String {
        let path = folder + "/" + name
        guard let f = fopen(path, "wb") else { fatalError("fuzz: cannot write \(path)") }
        if bytes.count > 0 { precondition(fwrite(bytes.baseAddress!, 1, bytes.count, f) == bytes.count, "fuzz: short write to \(path)") }
        fclose(f)
        return path
    }
}
