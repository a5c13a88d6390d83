import CKernels

/// The instruction-set variant of MPILearn's vectorised C kernels (CKernels: the k-means
/// steps after the distance GEMM, the forest's binning and tree descent) in this process.
public enum Kernels {
    /// "avx512", "avx2" or "scalar": the widest the CPU and OS support, or narrower when the
    /// `MPILEARN_KERNELS` environment variable asks for it. Every variant gives the same bits.
    public static var active: String { String(cString: mpl_kernels_name(mpl_kernels_active())) }

    /// The values `MPILEARN_KERNELS` accepts.
    public static let choices = ["scalar", "avx2", "avx512"]

    /// Checks `MPILEARN_KERNELS`, if set, names a variant.
    /// - Throws: ``MPILearnError/invalidParameter`` naming the variable and the allowed values.
    public static func validateEnvironment(_ environment: [String: String]) throws {
        if let v = environment["MPILEARN_KERNELS"], !v.isEmpty, !choices.contains(v) {
            throw MPILearnError.invalidParameter(name: "MPILEARN_KERNELS", value: v, allowed: choices.joined(separator: ", "))
        }
    }
}

extension Kernels {
    /// Switches the kernels to `name` ("scalar", "avx2", "avx512"), or the widest variant
    /// below it this machine has, and returns the variant now in use. For tests and
    /// benchmarks comparing variants in one process; call it while no kernel runs.
    static func use(_ name: String) -> String {
        let isa: mpl_kernels_isa
        switch name {
        case "scalar": isa = MPL_KERNELS_SCALAR
        case "avx2": isa = MPL_KERNELS_AVX2
        default: isa = MPL_KERNELS_AVX512
        }
        return String(cString: mpl_kernels_name(mpl_kernels_use(isa)))
    }
}
