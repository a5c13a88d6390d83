import Foundation
import CKernels
import CLinearAlgebra

/// The kernel's parameters, resolved (a number for gamma).
public struct KernelParameters: Sendable, Equatable, Codable {
    public var kernel: SVMKernel
    public var degree: Int
    public var gamma: Double
    public var coef0: Double

    public init(kernel: SVMKernel, degree: Int = 3, gamma: Double = 1, coef0: Double = 0) {
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
    }

    var code: Int32 {
        switch kernel {
        case .linear: return Int32(MPL_SVM_LINEAR)
        case .poly: return Int32(MPL_SVM_POLY)
        case .rbf: return Int32(MPL_SVM_RBF)
        case .sigmoid, .precomputed: return Int32(MPL_SVM_SIGMOID)
        }
    }

    /// libsvm's powi.
    static func powi(_ base: Double, _ times: Int) -> Double {
        var tmp = base, ret = 1.0, t = times
        while t > 0 {
            if t % 2 == 1 { ret *= tmp }
            tmp = tmp * tmp
            t /= 2
        }
        return ret
    }

    /// K(a, b) for one pair, in libsvm's training order of operations (`sqA`, `sqB` are the
    /// squared norms, used by RBF).
    func value(dot: Double, sqA: Double, sqB: Double) -> Double {
        switch kernel {
        case .linear: return dot
        case .poly: return Self.powi(gamma * dot + coef0, degree)
        case .rbf: return exp(-gamma * (sqA + sqB - 2 * dot))
        case .sigmoid: return tanh(gamma * dot + coef0)
        case .precomputed: return dot
        }
    }
}

/// A dense dot product in libsvm's order (one running sum).
@inline(__always)
func sequentialDot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ d: Int) -> Double {
    var s = 0.0
    for k in 0 ..< d { s += a[k] * b[k] }
    return s
}

/// The Q matrix an SMO solver reads: rows of Q (Float), its diagonal, and swaps of two
/// variables (shrinking moves inactive variables to the end).
protocol SMOMatrix: AnyObject {
    /// Q's row `i`, entries `0..<len` (the pointer stays valid until the next call).
    func row(_ i: Int, _ len: Int) -> UnsafePointer<Float>
    /// Q's diagonal (Double, as libsvm keeps it).
    var diagonal: UnsafeMutablePointer<Double> { get }
    func swapIndex(_ i: Int, _ j: Int)
}

/// The rows of one SVM problem, copied out of the training matrix in problem order, with
/// what the kernel needs: Q_ij = y_i y_j K(x_i, x_j) for classification (libsvm's SVC_Q),
/// or K itself when `y` is nil. A row of Q is computed for the active prefix at once: one
/// GEMV of the problem's rows against x_i through BLAS, then the kernel's function and the
/// signs in one C loop, into the LRU cache.
///
/// The rows are physically swapped with the solver's variables, so the active set is
/// always a prefix and one BLAS call covers it.
final class KernelMatrix: SMOMatrix {
    let l: Int
    let d: Int
    let kernel: KernelParameters
    /// l × d rows (for a precomputed kernel: l × n_train rows of the Gram matrix).
    private var x: UnsafeMutablePointer<Double>
    /// The same rows feature by feature (d × l, column-major l × d): a row of dot products
    /// is then one GEMV that streams d contiguous columns (BLAS's column kernel takes four at
    /// a time), where the row-major GEMV computes l dot products of length d each — far
    /// slower when d is small.
    private var xt: UnsafeMutablePointer<Double>
    /// Each row's original column in the Gram matrix (precomputed kernel only).
    private var column: UnsafeMutablePointer<Int>
    private var square: UnsafeMutablePointer<Double>
    private var y: UnsafeMutablePointer<Int8>?
    let diagonal: UnsafeMutablePointer<Double>
    private let cache: KernelCache
    /// Rows of K over a superset of this problem's rows, shared with other problems on them
    /// (the probability folds of one pair), and each row's place there.
    private let shared: KernelRowStore?
    /// Each row's place in `shared` (32-bit: the gather takes eight at a time).
    private var position: UnsafeMutablePointer<Int32>
    private var dots: UnsafeMutablePointer<Double>
    private let threads: Int
    /// Kernel rows computed (for the per-phase report).
    private(set) var rowsComputed = 0

    /// - Parameters:
    ///   - rows: the problem's rows, in problem order, as pointers into the caller's matrix
    ///     of width `width` (the features, or the Gram matrix's columns).
    ///   - columns: for a precomputed kernel, each row's own column index in the Gram matrix.
    ///   - y: ±1 per row for classification; nil for K itself.
    ///   - shared: rows of K over a superset of the rows (not for a precomputed kernel), with
    ///     each row's index there in `positions`: a row of Q is then read out of the
    ///     superset's row (computed once for every problem that shares the store) instead of
    ///     computed. The values are the same either way.
    init(rows: [UnsafePointer<Double>], width: Int, columns: [Int]?, y: [Int8]?, kernel: KernelParameters, cacheBytes: Int,
         shared: KernelRowStore? = nil, positions: [Int]? = nil, threads: Int = 1) {
        self.threads = threads
        l = rows.count
        d = width
        self.kernel = kernel
        x = .allocate(capacity: max(1, l * d))
        for (i, r) in rows.enumerated() { (x + i * d).update(from: r, count: d) }
        xt = .allocate(capacity: kernel.kernel == .precomputed ? 1 : max(1, l * d))
        if kernel.kernel != .precomputed { for i in 0 ..< l { for k in 0 ..< d { xt[k * l + i] = x[i * d + k] } } }
        column = .allocate(capacity: max(1, l))
        if let columns { for i in 0 ..< l { column[i] = columns[i] } }
        square = .allocate(capacity: max(1, l))
        for i in 0 ..< l { square[i] = kernel.kernel == .rbf ? sequentialDot(x + i * d, x + i * d, d) : 0 }
        if let y {
            self.y = .allocate(capacity: max(1, l))
            for i in 0 ..< l { self.y![i] = y[i] }
        }
        diagonal = .allocate(capacity: max(1, l))
        cache = KernelCache(l: l, bytes: cacheBytes)
        self.shared = kernel.kernel == .precomputed ? nil : shared
        position = .allocate(capacity: max(1, l))
        if let positions, self.shared != nil { for i in 0 ..< l { position[i] = Int32(positions[i]) } }
        dots = .allocate(capacity: max(1, l))
        for i in 0 ..< l { diagonal[i] = value(i, i) }
    }

    deinit {
        x.deallocate()
        xt.deallocate()
        position.deallocate()
        column.deallocate()
        square.deallocate()
        y?.deallocate()
        diagonal.deallocate()
        dots.deallocate()
    }

    /// K(x_i, x_j) as libsvm's kernel_function computes it.
    private func value(_ i: Int, _ j: Int) -> Double {
        if kernel.kernel == .precomputed { return x[i * d + column[j]] }
        return kernel.value(dot: sequentialDot(x + i * d, x + j * d, d), sqA: square[i], sqB: square[j])
    }

    func row(_ i: Int, _ len: Int) -> UnsafePointer<Float> {
        let (data, start) = cache.row(i, len)
        if start < len {
            if shared == nil { rowsComputed += 1 }
            let n = len - start
            if kernel.kernel == .precomputed {
                let yi = y.map { Double($0[i]) } ?? 1
                for j in start ..< len {
                    data[j] = Float(yi * (y.map { Double($0[j]) } ?? 1) * x[i * d + column[j]])
                }
            } else if let shared {
                shared.row(Int(position[i])) { k in
                    mpl_svm_gather_row32(n, k, position + start, y.map { $0 + start }, Int32(y?[i] ?? 1), data + start)
                }
            } else {
                KernelRow.compute(kernel, xt: xt, ld: l, d: d, xi: x + i * d, square: square, sqI: square[i], y: y.map { UnsafePointer($0) },
                                  yI: Int32(y?[i] ?? 1), rows: start ..< len, dots: dots, into: data, threads: threads)
            }
        }
        return UnsafePointer(data)
    }

    func swapIndex(_ i: Int, _ j: Int) {
        if i == j { return }
        cache.swapIndex(i, j)
        let a = x + i * d, b = x + j * d
        for k in 0 ..< d { let t = a[k]; a[k] = b[k]; b[k] = t }
        if kernel.kernel != .precomputed { for k in 0 ..< d { swap(&xt[k * l + i], &xt[k * l + j]) } }
        swap(&column[i], &column[j])
        swap(&position[i], &position[j])
        swap(&square[i], &square[j])
        if let y { swap(&y[i], &y[j]) }
        swap(&diagonal[i], &diagonal[j])
    }
}

/// One row of K (or of Q, with signs) against a block of rows stored feature by feature.
enum KernelRow {
    /// Rows per thread at least: below it a thread's start costs more than its share.
    static let rowsPerThread = 2048

    /// out[j] = y_i y_j K(x_i, x_j) for j in `rows` (K alone when `y` is nil): the dot
    /// products as one column-major GEMV over the features' columns (`xt`, leading dimension
    /// `ld`), then the kernel's function. `dots` holds at least `rows.count` values. With
    /// `threads` > 1 the rows go in chunks of a multiple of 64 rows to the threads, each
    /// chunk's GEMV and kernel on the same block grid as one call's: the same values.
    static func compute(_ kernel: KernelParameters, xt: UnsafePointer<Double>, ld: Int, d: Int, xi: UnsafePointer<Double>,
                        square: UnsafePointer<Double>, sqI: Double, y: UnsafePointer<Int8>?, yI: Int32, rows: Range<Int>,
                        dots: UnsafeMutablePointer<Double>, into out: UnsafeMutablePointer<Float>, threads: Int) {
        let lo = rows.lowerBound
        func part(_ a: Int, _ b: Int) {
            let dd = dots + (a - lo), n = b - a
            if d == 0 {
                dd.update(repeating: 0, count: n)
            } else {
                cblas_dgemv(CblasColMajor, CblasNoTrans, Int32(n), Int32(d), 1, xt + a, Int32(ld), xi, 1, 0, dd, 1)
            }
            mpl_svm_kernel_row(kernel.code, n, dd, square + a, sqI, y.map { $0 + a }, yI, kernel.gamma, kernel.coef0, Int32(kernel.degree), out + a)
        }
        let n = rows.count
        guard threads > 1, n >= 2 * rowsPerThread else { return part(lo, rows.upperBound) }
        let t = min(threads, n / rowsPerThread)
        let chunk = ((n + t - 1) / t + 63) / 64 * 64
        withoutActuallyEscaping(part) { f in
            let body = UncheckedSendable(f)
            DispatchQueue.concurrentPerform(iterations: (n + chunk - 1) / chunk) { c in
                body.value(lo + c * chunk, min(rows.upperBound, lo + (c + 1) * chunk))
            }
        }
    }
}

/// Full rows of K over a set of training rows U, for problems on subsets of U (a pair's five
/// probability folds each solve four fifths of its rows): a row is computed once over all of
/// U and kept while the budget lasts, and each problem reads its entries out of it. Rows are
/// kept first come, first kept (never evicted): the folds sweep the same rows in turn, where a
/// least-recently-used store smaller than the sweep would keep nothing useful.
final class KernelRowStore {
    let count: Int
    private let d: Int
    private let kernel: KernelParameters
    /// U's features, d × count (column-major count × d), and squared norms (rbf).
    private let xt: UnsafeMutablePointer<Double>
    private let x: UnsafeMutablePointer<Double>
    private let square: UnsafeMutablePointer<Double>
    private var slots: [UnsafeMutablePointer<Float>?]
    private var free: Int
    private let scratch: UnsafeMutablePointer<Float>
    private let dots: UnsafeMutablePointer<Double>
    /// Rows computed (for the per-phase report).
    private(set) var rowsComputed = 0

    private let threads: Int

    /// `rows` of the training matrix `x` (width `width`), within a budget of `bytes` (rows
    /// computed on `threads` threads).
    init(rows: [Int], x source: UnsafePointer<Double>, width: Int, kernel: KernelParameters, bytes: Int, threads: Int = 1) {
        self.threads = threads
        count = rows.count
        d = width
        self.kernel = kernel
        let n = max(1, count)
        x = .allocate(capacity: max(1, count * d))
        xt = .allocate(capacity: max(1, count * d))
        square = .allocate(capacity: n)
        for (i, r) in rows.enumerated() {
            (x + i * d).update(from: source + r * d, count: d)
            for k in 0 ..< d { xt[k * count + i] = source[r * d + k] }
            square[i] = kernel.kernel == .rbf ? sequentialDot(source + r * d, source + r * d, d) : 0
        }
        slots = [UnsafeMutablePointer<Float>?](repeating: nil, count: count)
        free = bytes / MemoryLayout<Float>.size
        scratch = .allocate(capacity: n)
        dots = .allocate(capacity: n)
    }

    deinit {
        for s in slots { s?.deallocate() }
        x.deallocate(); xt.deallocate(); square.deallocate(); scratch.deallocate(); dots.deallocate()
    }

    /// Calls `body` with K(u_i, U) (`count` values; valid during the call only).
    func row(_ i: Int, _ body: (UnsafePointer<Float>) -> Void) {
        if let s = slots[i] { return body(s) }
        var out = scratch
        if free >= count {
            out = .allocate(capacity: max(1, count))
            slots[i] = out
            free -= count
        }
        rowsComputed += 1
        KernelRow.compute(kernel, xt: xt, ld: count, d: d, xi: x + i * d, square: square, sqI: square[i], y: nil, yI: 1,
                          rows: 0 ..< count, dots: dots, into: out, threads: threads)
        body(out)
    }
}

/// Kernel values between blocks of rows, for prediction: GEMMs of dot products through BLAS,
/// then the kernel's function in one C loop (RBF from |a|² + |b|² − 2a·b).
enum KernelBlock {
    /// Calls `body(r0, r1)` for consecutive blocks `r0..<r1` of `rows` rows, each block
    /// holding at most `values` kernel values when a row has `columns` of them (one row at
    /// least): the blocked computations' memory bound.
    static func forEachBlock(rows: Int, columns: Int, values: Int = SVCModel.predictionBlockValues,
                             _ body: (_ r0: Int, _ r1: Int) throws -> Void) rethrows {
        let step = max(1, values / max(1, columns))
        var r0 = 0
        while r0 < rows {
            let r1 = min(rows, r0 + step)
            try body(r0, r1)
            r0 = r1
        }
    }

    /// K(a, b) · w without holding K: out (m × c, row-major) = Σ_j K(a_i, b_j) w_j for a (m × d),
    /// b (n × d) and w (n × c) row-major (added to `out` when `add`, else overwriting it). K goes tile by tile through one
    /// reused buffer of at most `tileValues` values (columns in tiles of 1,024): one GEMM of
    /// dot products through BLAS, the kernel's function in place, then a GEMM (a GEMV for
    /// c = 1) that adds the tile's share to `out`. A tile stays in the core's cache, so K never
    /// goes to memory and no buffer is allocated per tile. Not for a precomputed kernel.
    static func product(a: UnsafePointer<Double>, m: Int, b: UnsafePointer<Double>, n: Int, d: Int, kernel: KernelParameters,
                        w: UnsafePointer<Double>, c: Int, into out: UnsafeMutablePointer<Double>, add: Bool = false,
                        tileValues: Int = SVCModel.predictionBlockValues, threads: Int = 1) {
        if !add { out.update(repeating: 0, count: m * c) }
        guard m > 0, n > 0, c > 0 else { return }
        let tc = min(n, 1024), tr = max(1, min(m, tileValues / tc))
        let sa = UnsafeMutablePointer<Double>.allocate(capacity: m), sb = UnsafeMutablePointer<Double>.allocate(capacity: n)
        defer { sa.deallocate(); sb.deallocate() }
        sa.initialize(repeating: 0, count: m)
        sb.initialize(repeating: 0, count: n)
        if kernel.kernel == .rbf {
            for i in 0 ..< m { sa[i] = sequentialDot(a + i * d, a + i * d, d) }
            for j in 0 ..< n { sb[j] = sequentialDot(b + j * d, b + j * d, d) }
        }
        // Bands of tile rows: each writes its own rows of `out`, with the tiles one call makes.
        let bands = (m + tr - 1) / tr, t = max(1, min(threads, bands))
        func band(_ first: Int) {
            let buffer = UnsafeMutablePointer<Double>.allocate(capacity: tr * tc)
            defer { buffer.deallocate() }
            var r0 = first * tr
            while r0 < m {
                tile(r0, buffer)
                r0 += t * tr
            }
        }
        func tile(_ r0: Int, _ buffer: UnsafeMutablePointer<Double>) {
            let rr = min(tr, m - r0)
            var c0 = 0
            while c0 < n {
                let cc = min(tc, n - c0)
                if d > 0 {
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rr), Int32(cc), Int32(d), 1, a + r0 * d, Int32(d),
                                b + c0 * d, Int32(d), 0, buffer, Int32(cc))
                } else {
                    buffer.update(repeating: 0, count: rr * cc)
                }
                mpl_svm_kernel_block(kernel.code, 0, buffer, sa + r0, sb + c0, rr, cc, kernel.gamma, kernel.coef0, Int32(kernel.degree))
                // Row by row (a dot product, or a GEMV over the tile's coefficients): a row's
                // value then never depends on which rows share its tile (a GEMV or GEMM over
                // the tile's rows sums rows in groups whose order depends on the row's place),
                // so predictions are the same bit for bit for any chunking and rank count.
                for i in 0 ..< rr {
                    if c == 1 {
                        out[r0 + i] += cblas_ddot(Int32(cc), buffer + i * cc, 1, w + c0, 1)
                    } else {
                        cblas_dgemv(CblasColMajor, CblasNoTrans, Int32(c), Int32(cc), 1, w + c0 * c, Int32(c), buffer + i * cc, 1, 1,
                                    out + (r0 + i) * c, 1)
                    }
                }
                c0 += cc
            }
        }
        if t == 1 { return band(0) }
        withoutActuallyEscaping(band) { f in
            let body = UncheckedSendable(f)
            DispatchQueue.concurrentPerform(iterations: t) { body.value($0) }
        }
    }

    /// K(x, support vectors) · w for a fitted SVM (rows × w's columns), tile by tile (at most
    /// `blockValues` kernel values held). A precomputed kernel reads each support vector's
    /// column (its training row, `support`) of x, which must have `nTrainingRows` columns;
    /// otherwise x must have `featureCount` columns. Local.
    static func decisionValues(_ x: Matrix<Double>, kernel: KernelParameters, supportVectors: Matrix<Double>, support: [Int], nTrainingRows: Int,
                               featureCount: Int, coefficients w: Matrix<Double>, blockValues: Int, threads: Int) throws -> Matrix<Double> {
        if kernel.kernel == .precomputed {
            guard x.columns == nTrainingRows else {
                throw MPILearnError.mismatch("kernel='precomputed': the input must be n_samples × n_train = \(nTrainingRows) kernel values; it has \(x.columns) columns")
            }
        } else if x.columns != featureCount {
            throw MPILearnError.mismatch("input has \(x.columns) features but the model was trained on \(featureCount)")
        }
        let m = x.rows, n = support.count, c = w.columns
        var dec = Matrix<Double>(rows: m, columns: c)
        guard m > 0, n > 0 else { return dec }
        if kernel.kernel == .precomputed {
            try forEachBlock(rows: m, columns: n, values: blockValues) { r0, r1 in
                let b = r1 - r0
                var kv = [Double](repeating: 0, count: b * n)
                for i in 0 ..< b { for (j, s) in support.enumerated() { kv[i * n + j] = x[r0 + i, s] } }
                let part = try matmul(Matrix(rows: b, columns: n, storage: kv), w)
                for i in 0 ..< b { for q in 0 ..< c { dec[r0 + i, q] = part[i, q] } }
            }
        } else {
            product(a: x.storage, m: m, b: supportVectors.storage, n: n, d: x.columns, kernel: kernel, w: w.storage, c: c,
                    into: &dec.storage, tileValues: blockValues, threads: threads)
        }
        return dec
    }

    /// ``product(a:m:b:n:d:kernel:w:c:into:add:tileValues:)`` over arrays (empty ones allowed).
    static func product(a: [Double], m: Int, b: [Double], n: Int, d: Int, kernel: KernelParameters, w: [Double], c: Int,
                        into out: inout [Double], add: Bool = false, tileValues: Int = SVCModel.predictionBlockValues, threads: Int = 1) {
        guard m > 0 else { return }
        let a = a.nonEmpty, b = b.nonEmpty, w = w.nonEmpty
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                w.withUnsafeBufferPointer { wp in
                    out.withUnsafeMutableBufferPointer { o in
                        product(a: ap.baseAddress!, m: m, b: bp.baseAddress!, n: n, d: d, kernel: kernel, w: wp.baseAddress!, c: c,
                                into: o.baseAddress!, add: add, tileValues: tileValues, threads: threads)
                    }
                }
            }
        }
    }

    /// Rows `rows` of `x` (width `width`) copied into one row-major block.
    static func gather(_ rows: [Int], x: UnsafePointer<Double>, width: Int) -> [Double] {
        var out = [Double](repeating: 0, count: rows.count * width)
        out.withUnsafeMutableBufferPointer { o in
            for (i, r) in rows.enumerated() { (o.baseAddress! + i * width).update(from: x + r * width, count: width) }
        }
        return out
    }

    /// Σ_s coef_s K(x_r, x_s) for each row r of `rows`, over support rows `supportRows` of the
    /// same training matrix (a precomputed kernel reads x_r's column of the support row).
    static func decision(rows: [Int], supportRows: [Int], coefficients: [Double], x: UnsafePointer<Double>, width: Int,
                         kernel: KernelParameters, threads: Int = 1) -> [Double] {
        let m = rows.count, n = supportRows.count
        var out = [Double](repeating: 0, count: m)
        guard m > 0, n > 0 else { return out }
        if kernel.kernel == .precomputed {
            for (i, r) in rows.enumerated() {
                var s = 0.0
                for (j, sv) in supportRows.enumerated() { s += coefficients[j] * x[r * width + sv] }
                out[i] = s
            }
            return out
        }
        product(a: gather(rows, x: x, width: width), m: m, b: gather(supportRows, x: x, width: width), n: n, d: width, kernel: kernel,
                w: coefficients, c: 1, into: &out, threads: threads)
        return out
    }
}

extension Array where Element == Double {
    /// The array, or one zero when it is empty: a buffer pointer with a base address for
    /// BLAS calls that read nothing from it (0 features or rows).
    var nonEmpty: [Double] { isEmpty ? [0] : self }
}
