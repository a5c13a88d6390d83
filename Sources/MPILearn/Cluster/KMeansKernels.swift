import CKernels
import SwiftMPI

/// An element type k-means runs on: BLAS and MPI support plus the vectorised kernels that
/// follow the distance GEMM (CKernels, one instruction-set variant picked per process).
protocol KMeansScalar: LinearAlgebraScalar & MPIScalar {
    /// For each of `rows` rows of `work` (rows × `stride`), the column j minimising
    /// `norms[j] + work[i·stride + j]`, ties to the lower j, into `index`, and that value
    /// into `best`. `norms` has `stride` entries, +∞ past the real centres.
    static func argmin(_ work: UnsafePointer<Self>, rows: Int, stride: Int, norms: UnsafePointer<Self>,
                       best: UnsafeMutablePointer<Self>, index: UnsafeMutablePointer<Int32>)
    /// One Lloyd block (see `mpl_lloyd_block_f64`): argmin into `best` and `index`, then per row in order the
    /// per-centre sums and counts, inertia, `mind2` (when given) and `labels` (counting changes in `acc`).
    static func lloydBlock(_ x: UnsafePointer<Self>, rows: Int, features d: Int, work: UnsafePointer<Self>, stride: Int,
                           norms: UnsafePointer<Self>, rowNorms: UnsafePointer<Double>, labels: UnsafeMutablePointer<Int32>,
                           mind2: UnsafeMutablePointer<Double>?, best: UnsafeMutablePointer<Self>, index: UnsafeMutablePointer<Int32>,
                           acc: UnsafeMutablePointer<mpl_lloyd_acc>)
}

extension Double: KMeansScalar {
    @inline(__always)
    static func argmin(_ work: UnsafePointer<Double>, rows: Int, stride: Int, norms: UnsafePointer<Double>,
                       best: UnsafeMutablePointer<Double>, index: UnsafeMutablePointer<Int32>) {
        mpl_argmin_f64(work, rows, stride, norms, best, index)
    }
    @inline(__always)
    static func lloydBlock(_ x: UnsafePointer<Double>, rows: Int, features d: Int, work: UnsafePointer<Double>, stride: Int,
                           norms: UnsafePointer<Double>, rowNorms: UnsafePointer<Double>, labels: UnsafeMutablePointer<Int32>,
                           mind2: UnsafeMutablePointer<Double>?, best: UnsafeMutablePointer<Double>, index: UnsafeMutablePointer<Int32>,
                           acc: UnsafeMutablePointer<mpl_lloyd_acc>) {
        mpl_lloyd_block_f64(x, rows, d, work, stride, norms, rowNorms, labels, mind2, best, index, acc)
    }
}

extension Float: KMeansScalar {
    @inline(__always)
    static func argmin(_ work: UnsafePointer<Float>, rows: Int, stride: Int, norms: UnsafePointer<Float>,
                       best: UnsafeMutablePointer<Float>, index: UnsafeMutablePointer<Int32>) {
        mpl_argmin_f32(work, rows, stride, norms, best, index)
    }
    @inline(__always)
    static func lloydBlock(_ x: UnsafePointer<Float>, rows: Int, features d: Int, work: UnsafePointer<Float>, stride: Int,
                           norms: UnsafePointer<Float>, rowNorms: UnsafePointer<Double>, labels: UnsafeMutablePointer<Int32>,
                           mind2: UnsafeMutablePointer<Double>?, best: UnsafeMutablePointer<Float>, index: UnsafeMutablePointer<Int32>,
                           acc: UnsafeMutablePointer<mpl_lloyd_acc>) {
        mpl_lloyd_block_f32(x, rows, d, work, stride, norms, rowNorms, labels, mind2, best, index, acc)
    }
}

/// The instruction-set variant of the k-means kernels in this process.
public enum KMeansKernels {
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

extension KMeansKernels {
    /// Switches the kernels to `name` ("scalar", "avx2", "avx512"), or the widest variant
    /// below it this machine has, and returns the variant now in use. For tests and
    /// benchmarks comparing variants in one process; call it while no k-means pass runs.
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
