import Foundation
import SwiftMPI

// Iterative least-squares solvers over rows spread across ranks, for features too wide for
// the Gram matrix (hashed text: 2^18 columns and more). The coefficient vectors live whole on
// every rank; the rows, and vectors with one value per row, stay on their rank. Each
// iteration applies the centred design once each way, and the one product that sums over
// rows (Xcᵀ·r) is one allreduce of the columns (plus a scalar where the method needs a
// norm over rows). Everything else is the same arithmetic on the same reduced values on
// every rank, so the ranks run identical iterations, stop together, and agree with a
// one-rank fit up to the order of the floating-point sums.

/// The centred design Xc = X − 1·μᵀ as an operator, without forming it (so sparse rows stay
/// sparse): Xc·v = X·v − (μᵀv)·1 on this rank's rows, and Xcᵀ·r = Xᵀ·r − μ·Σᵢrᵢ summed over
/// the ranks. With μ = 0 (no intercept) it is X itself. scikit-learn's sparse solvers use the
/// same implicit centring (`_get_rescaled_operator`, and LinearRegression's `LinearOperator`).
struct CentredOperator {
    let design: any LinearDesign
    /// The global column means (zeros without an intercept).
    let means: [Double]
    let comm: any Communicator

    var columns: Int { design.columns }
    var rows: Int { design.rows }

    /// Xc·v on this rank's rows (`rows` values). Local.
    func times(_ v: [Double]) throws -> [Double] {
        var z = Matrix<Double>(rows: rows, columns: 1)
        try design.decision(Matrix(rows: 1, columns: columns, storage: v), intercept: [-dot(means, v)], into: &z)
        return z.storage
    }

    /// Collective. Xcᵀ·r over every rank's rows (`r` holds this rank's `rows` values), and
    /// `extra` (a few scalars, the same count on every rank) summed over the ranks in the
    /// same allreduce.
    func transposeTimes(_ r: [Double], extra: [Double] = []) throws -> (product: [Double], extra: [Double]) {
        var g = Matrix<Double>(rows: 1, columns: columns)
        try design.transposeTimes(Matrix(rows: rows, columns: 1, storage: r), into: &g)
        var buffer = g.storage
        let sum = r.reduce(0, +)
        if sum != 0 { for j in 0 ..< columns { buffer[j] -= means[j] * sum } }
        buffer += extra
        try comm.allreduce(&buffer, op: .sum)
        return (Array(buffer[0 ..< columns]), Array(buffer[columns...]))
    }
}

/// What an iterative solve returns.
struct IterativeSolution {
    var x: [Double]
    /// Operator applications (iterations) done.
    var nIter: Int
    /// Whether the stopping test was met (false: the iteration limit ended it).
    var converged: Bool
}

/// Conjugate gradient for a symmetric positive-definite system A·x = b, as
/// `scipy.sparse.linalg.cg(A, b, rtol=rtol, maxiter=maxIter)` (x₀ = 0, no preconditioner):
/// before each iteration, stop if ‖r‖ < rtol·‖b‖; r is the recursively updated residual.
/// `b` and the iterates are whole on the caller; `apply` may be collective, so every rank
/// calling this with the same `b` and an `apply` that returns the same values runs the same
/// iterations.
///
/// Hestenes & Stiefel (1952); the loop is scipy's `cg` step for step. One difference: an
/// exactly zero residual (possible only with `rtol = 0`) stops instead of dividing 0 by 0.
/// - Parameters:
///   - b: the right-hand side.
///   - rtol: the relative residual to reach (scikit-learn's `tol` for `sparse_cg`).
///   - maxIter: iterations at most (scipy's default is 10 × the dimension).
///   - apply: v ↦ A·v.
func conjugateGradient(_ b: [Double], rtol: Double, maxIter: Int, apply: ([Double]) throws -> [Double]) rethrows -> IterativeSolution {
    let n = b.count
    var x = [Double](repeating: 0, count: n)
    let bNorm = dot(b, b).squareRoot()
    if bNorm == 0 { return IterativeSolution(x: x, nIter: 0, converged: true) }
    let atol = rtol * bNorm
    var r = b, p = [Double](repeating: 0, count: n)
    var rhoPrevious = 0.0
    for iteration in 0 ..< maxIter {
        let rho = dot(r, r)
        if rho.squareRoot() < atol || rho == 0 { return IterativeSolution(x: x, nIter: iteration, converged: true) }
        if iteration > 0 {
            let beta = rho / rhoPrevious
            for i in 0 ..< n { p[i] = beta * p[i] + r[i] }
        } else {
            p = r
        }
        let q = try apply(p)
        let alpha = rho / dot(p, q)
        for i in 0 ..< n {
            x[i] += alpha * p[i]
            r[i] -= alpha * q[i]
        }
        rhoPrevious = rho
    }
    return IterativeSolution(x: x, nIter: maxIter, converged: dot(r, r).squareRoot() < atol)
}

/// LSQR for min ‖Xc·x − b‖ over every rank's rows, as `scipy.sparse.linalg.lsqr(A, b,
/// atol=atol, btol=btol)` with `damp = 0`, `conlim = 1e8`, `x0 = None` (what scikit-learn's
/// LinearRegression calls on sparse input). From x₀ = 0 it converges to the minimum-norm
/// least-squares solution.
///
/// Paige & Saunders (1982), "LSQR: an algorithm for sparse linear equations and sparse least
/// squares", ACM TOMS 8(1); the loop, the estimates (‖A‖, cond(A), ‖r‖, ‖Aᵀr‖, ‖x‖) and the
/// stopping tests are scipy's. The Golub–Kahan vectors u (one value per row) stay on their
/// rank; ‖u‖ travels in the allreduce of Xcᵀ·u, which is therefore taken before u is
/// normalised and then divided by ‖u‖ (the same vector up to rounding).
/// - Parameters:
///   - op: the centred design.
///   - b: this rank's right-hand sides (centred targets), one per row.
///   - atol, btol: scipy's stopping tolerances (scikit-learn passes its `tol` as both).
///   - iterationLimit: iterations at most (scipy's default: 2 × columns).
/// - Returns: the solution; `converged` is false only when the iteration limit stopped it.
func lsqr(_ op: CentredOperator, _ b: [Double], atol: Double, btol: Double, conlim: Double = 1e8,
          iterationLimit: Int) throws -> IterativeSolution {
    let n = op.columns
    let eps = Double.ulpOfOne
    var x = [Double](repeating: 0, count: n)
    let ctol = conlim > 0 ? 1 / conlim : 0
    var anorm = 0.0, acond = 0.0, ddnorm = 0.0, res2 = 0.0, xnorm = 0.0, xxnorm = 0.0, z = 0.0
    var cs2 = -1.0, sn2 = 0.0

    // beta·u = b, alfa·v = Aᵀu.
    var u = b
    let (atb, bb) = try op.transposeTimes(b, extra: [dot(b, b)])
    let bnorm = bb[0].squareRoot()
    var beta = bnorm
    var v: [Double], alfa: Double
    if beta > 0 {
        for i in u.indices { u[i] /= beta }
        v = atb.map { $0 / beta }
        alfa = dot(v, v).squareRoot()
    } else {
        v = x
        alfa = 0
    }
    if alfa > 0 { for j in 0 ..< n { v[j] /= alfa } }
    var w = v
    var rhobar = alfa, phibar = beta
    var arnorm = alfa * beta
    if arnorm == 0 { return IterativeSolution(x: x, nIter: 0, converged: true) }

    var itn = 0, istop = 0
    while itn < iterationLimit {
        itn += 1
        // beta·u = A·v − alfa·u, alfa·v = Aᵀ·u − beta·v.
        let av = try op.times(v)
        for i in u.indices { u[i] = av[i] - alfa * u[i] }
        let (atu, uu) = try op.transposeTimes(u, extra: [dot(u, u)])
        beta = uu[0].squareRoot()
        if beta > 0 {
            for i in u.indices { u[i] /= beta }
            anorm = (anorm * anorm + alfa * alfa + beta * beta).squareRoot()
            for j in 0 ..< n { v[j] = atu[j] / beta - beta * v[j] }
            alfa = dot(v, v).squareRoot()
            if alfa > 0 { for j in 0 ..< n { v[j] /= alfa } }
        }
        // damp = 0: no rotation eliminates the damping.
        let rhobar1 = rhobar, psi = 0.0
        // The rotation that eliminates beta (lower bidiagonal to upper).
        let (cs, sn, rho) = symOrtho(rhobar1, beta)
        let theta = sn * alfa
        rhobar = -cs * alfa
        let phi = cs * phibar
        phibar = sn * phibar
        let tau = sn * phi

        // x and w.
        let t1 = phi / rho, t2 = -theta / rho
        var dkNorm2 = 0.0
        for j in 0 ..< n {
            let wj = w[j]
            let dk = wj / rho
            dkNorm2 += dk * dk
            x[j] += t1 * wj
            w[j] = v[j] + t2 * wj
        }
        ddnorm += dkNorm2

        // The rotation on the right that estimates ‖x‖.
        let delta = sn2 * rho, gambar = -cs2 * rho
        let rhs = phi - delta * z
        let zbar = rhs / gambar
        xnorm = (xxnorm + zbar * zbar).squareRoot()
        let gamma = (gambar * gambar + theta * theta).squareRoot()
        cs2 = gambar / gamma
        sn2 = theta / gamma
        z = rhs / gamma
        xxnorm += z * z

        // The stopping tests.
        acond = anorm * ddnorm.squareRoot()
        let res1 = phibar * phibar
        res2 += psi * psi
        let rnorm = (res1 + res2).squareRoot()
        arnorm = alfa * abs(tau)
        let test1 = rnorm / bnorm
        let test2 = arnorm / (anorm * rnorm + eps)
        let test3 = 1 / (acond + eps)
        let t1Test = test1 / (1 + anorm * xnorm / bnorm)
        let rtol = btol + atol * anorm * xnorm / bnorm
        if itn >= iterationLimit { istop = 7 }
        if 1 + test3 <= 1 { istop = 6 }
        if 1 + test2 <= 1 { istop = 5 }
        if 1 + t1Test <= 1 { istop = 4 }
        if test3 <= ctol { istop = 3 }
        if test2 <= atol { istop = 2 }
        if test1 <= rtol { istop = 1 }
        if istop != 0 { break }
    }
    return IterativeSolution(x: x, nIter: itn, converged: istop != 7 && istop != 0)
}

/// A stable Givens rotation (c, s, r) with [c s; −s c]·[a; b] = [r; 0] (scipy's `_sym_ortho`,
/// after S.-C. Choi's SymOrtho).
private func symOrtho(_ a: Double, _ b: Double) -> (c: Double, s: Double, r: Double) {
    func sign(_ v: Double) -> Double { v > 0 ? 1 : (v < 0 ? -1 : 0) }
    if b == 0 { return (sign(a), 0, abs(a)) }
    if a == 0 { return (0, sign(b), abs(b)) }
    if abs(b) > abs(a) {
        let tau = a / b
        let s = sign(b) / (1 + tau * tau).squareRoot()
        return (s * tau, s, b / s)
    }
    let tau = b / a
    let c = sign(a) / (1 + tau * tau).squareRoot()
    return (c, c * tau, a / c)
}

/// Σᵢ aᵢ·bᵢ.
fileprivate func dot(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "dot: \(a.count) and \(b.count) values")
    return a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            var s = 0.0
            for i in 0 ..< pa.count { s += pa[i] * pb[i] }
            return s
        }
    }
}
