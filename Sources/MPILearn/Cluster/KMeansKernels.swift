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
    /// Bounded pass over one block (`mpl_bounds_pass_f64`): counts the rows whose bounds prove their label,
    /// lists the others' offsets in `fail` and returns how many failed.
    static func boundsPass(_ x: UnsafePointer<Self>, rows: Int, features d: Int, context: UnsafePointer<mpl_bounds_ctx>,
                           rowNorms: UnsafePointer<Double>, labels: UnsafeMutablePointer<Int32>, lower: UnsafeMutablePointer<Double>,
                           fail: UnsafeMutablePointer<Int32>, acc: UnsafeMutablePointer<mpl_lloyd_acc>) -> Int
    /// The failed rows of a block (`mpl_bounds_assign_f64`), from their distance rows in `work`.
    static func boundsAssign(_ x: UnsafePointer<Self>, features d: Int, work: UnsafePointer<Self>, stride: Int, norms: UnsafePointer<Self>,
                             failed: Int, fail: UnsafePointer<Int32>, context: UnsafePointer<mpl_bounds_ctx>, rowNorms: UnsafePointer<Double>,
                             labels: UnsafeMutablePointer<Int32>, lower: UnsafeMutablePointer<Double>, acc: UnsafeMutablePointer<mpl_lloyd_acc>)
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
    @inline(__always)
    static func boundsPass(_ x: UnsafePointer<Double>, rows: Int, features d: Int, context: UnsafePointer<mpl_bounds_ctx>,
                           rowNorms: UnsafePointer<Double>, labels: UnsafeMutablePointer<Int32>, lower: UnsafeMutablePointer<Double>,
                           fail: UnsafeMutablePointer<Int32>, acc: UnsafeMutablePointer<mpl_lloyd_acc>) -> Int {
        mpl_bounds_pass_f64(x, rows, d, context, rowNorms, labels, lower, fail, acc)
    }
    @inline(__always)
    static func boundsAssign(_ x: UnsafePointer<Double>, features d: Int, work: UnsafePointer<Double>, stride: Int, norms: UnsafePointer<Double>,
                             failed: Int, fail: UnsafePointer<Int32>, context: UnsafePointer<mpl_bounds_ctx>, rowNorms: UnsafePointer<Double>,
                             labels: UnsafeMutablePointer<Int32>, lower: UnsafeMutablePointer<Double>, acc: UnsafeMutablePointer<mpl_lloyd_acc>) {
        mpl_bounds_assign_f64(x, d, work, stride, norms, failed, fail, context, rowNorms, labels, lower, acc)
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
    @inline(__always)
    static func boundsPass(_ x: UnsafePointer<Float>, rows: Int, features d: Int, context: UnsafePointer<mpl_bounds_ctx>,
                           rowNorms: UnsafePointer<Double>, labels: UnsafeMutablePointer<Int32>, lower: UnsafeMutablePointer<Double>,
                           fail: UnsafeMutablePointer<Int32>, acc: UnsafeMutablePointer<mpl_lloyd_acc>) -> Int {
        mpl_bounds_pass_f32(x, rows, d, context, rowNorms, labels, lower, fail, acc)
    }
    @inline(__always)
    static func boundsAssign(_ x: UnsafePointer<Float>, features d: Int, work: UnsafePointer<Float>, stride: Int, norms: UnsafePointer<Float>,
                             failed: Int, fail: UnsafePointer<Int32>, context: UnsafePointer<mpl_bounds_ctx>, rowNorms: UnsafePointer<Double>,
                             labels: UnsafeMutablePointer<Int32>, lower: UnsafeMutablePointer<Double>, acc: UnsafeMutablePointer<mpl_lloyd_acc>) {
        mpl_bounds_assign_f32(x, d, work, stride, norms, failed, fail, context, rowNorms, labels, lower, acc)
    }
}
