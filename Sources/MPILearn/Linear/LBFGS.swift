import CKernels
import Foundation
import SwiftMPI

/// Limited-memory BFGS for unconstrained problems, run the way scipy's L-BFGS-B runs it when
/// scikit-learn calls it (`method="L-BFGS-B"`, no bounds): so that a fit follows scikit-learn's
/// iterates, stops at the same iteration and reaches the same objective.
///
/// - The search direction is −H·g with the L-BFGS inverse Hessian of the last `memory` pairs
///   (Nocedal, "Updating quasi-Newton matrices with limited storage", Math. Comp. 1980; the
///   two-loop recursion of Nocedal & Wright, *Numerical Optimization*, Algorithm 7.4) and the
///   initial matrix (sᵀy / yᵀy)·I. Without bounds this is the direction L-BFGS-B's compact
///   form gives.
/// - The step comes from Moré and Thuente's line search ("Line search algorithms with
///   guaranteed sufficient decrease", ACM TOMS 20(3), 1994; MINPACK-2's `dcsrch`/`dcstep`),
///   as L-BFGS-B uses it: sufficient decrease 1e-3, curvature 0.9, interval tolerance 0.1,
///   steps in [0, 1e10], the first iteration's step 1/‖d‖ and every later one's 1, at most
///   `maxLineSearch` evaluations. A search that fails clears the memory and retries from
///   steepest descent; one that fails with an empty memory ends the fit with a warning.
/// - A pair is kept when sᵀy > ε·(−gᵀd)·step (L-BFGS-B's test); s is step·d.
/// - It stops when the largest gradient component is at most `gtol` (scipy's `gtol`,
///   scikit-learn's `tol`), when the relative decrease (f_k − f_{k+1}) / max(|f_k|, |f_{k+1}|, 1)
///   is at most `ftol`, or after `maxIter` iterations (with a warning).
///
/// **Across ranks** the coordinates are split: each rank holds one block of x, g, the search
/// direction and the correction pairs, and every inner product and the largest gradient
/// component are its block's partial result combined by `reduce` (an allreduce of a few
/// scalars). The objective function takes the rank's block of x and returns the full
/// objective and the rank's block of the gradient (it gathers x and reduces the gradient).
/// So the optimiser's vector work and memory are divided by the number of ranks instead of
/// repeated on each (with m = 10 pairs of a 10⁵-coefficient model the pairs alone are
/// larger than a core's caches). Every scalar that drives a branch is a reduced value, the
/// same on every rank, so every rank takes the same branches and makes the same number of
/// collective evaluations. The vector loops (`CKernels/vector.c`) sum in a fixed order.
/// Nothing is allocated per iteration.
struct LBFGS {
    var memory = 10
    var maxLineSearch = 50
    var maxIter: Int
    var gtol: Double
    var ftol: Double
    /// Combines each rank's partial values (sums, or one maximum): identical results on
    /// every rank. nil when one process holds all coordinates.
    var reduce: ((inout [Double], ReductionOp) throws -> Void)? = nil

    /// Where a checkpointed minimisation resumes: the state after an iteration.
    var resume: State? = nil
    /// Called after every iteration with the iteration count and the state (built only when
    /// asked for: a checkpoint boundary saves it only when due).
    var afterIteration: ((_ iteration: Int, _ state: () -> State) throws -> Void)? = nil

    /// This rank's whole state between two iterations (a checkpoint).
    struct State: Codable {
        var x: [Double], g: [Double], f: Double
        var s: [Double], y: [Double], rho: [Double]
        var head: Int, count: Int, iter: Int, evaluations: Int
    }

    struct Result {
        var x: [Double]
        var f: Double
        var gradient: [Double]
        var nIter: Int
        var evaluations: Int
        /// Why it stopped: nil when converged, else a message (max_iter, line search).
        var warning: String?
    }

    /// The objective: its value at `x` (this rank's block of coordinates), with the block's
    /// gradient written into `g` (`x.count` values).
    typealias Objective = (_ x: [Double], _ g: inout [Double]) throws -> Double

    /// Minimises `fg` from `x0` (this rank's block); returns the rank's block of the solution.
    func minimize(_ x0: [Double], _ fg: Objective) throws -> Result {
        let n = x0.count
        var x = x0, g = [Double](repeating: 0, count: n)
        var f = 0.0
        var evaluations = 0
        if let r = resume {
            guard r.x.count == n, r.g.count == n, r.s.count == memory * n, r.y.count == memory * n, r.rho.count == memory else {
                throw MPILearnError.mismatch("the L-BFGS checkpoint holds \(r.x.count) coordinates on this rank, and the problem has \(n)")
            }
            (x, g, f, evaluations) = (r.x, r.g, r.f, r.evaluations)
        } else {
            f = try fg(x, &g)
            evaluations = 1
        }
        var scalar = [0.0]
        func reduced(_ v: Double, _ op: ReductionOp) throws -> Double {
            guard let reduce else { return v }
            scalar[0] = v
            try reduce(&scalar, op)
            return scalar[0]
        }
        func dot(_ a: [Double], _ b: [Double]) throws -> Double { try reduced(localDot(a, b), .sum) }
        func maxAbs(_ a: [Double]) throws -> Double { try reduced(localMaxAbs(a), .max) }
        func result(_ iter: Int, _ warning: String?) -> Result {
            Result(x: x, f: f, gradient: g, nIter: iter, evaluations: evaluations, warning: warning)
        }
        if resume == nil, try maxAbs(g) <= gtol { return result(0, nil) }
        // The correction pairs, a ring of `memory` rows of n values each.
        var s = resume?.s ?? [Double](repeating: 0, count: memory * n), y = resume?.y ?? s
        var rho = resume?.rho ?? [Double](repeating: 0, count: memory), alpha = [Double](repeating: 0, count: memory)
        var head = resume?.head ?? 0, count = resume?.count ?? 0
        var d = [Double](repeating: 0, count: n), xOld = d, gOld = d
        var iter = resume?.iter ?? 0
        while iter < maxIter {
            // d = −H·g by the two-loop recursion (−g with an empty memory).
            try direction(g, &d, s: s, y: y, rho: rho, alpha: &alpha, head: head, count: count, n: n, reduced: reduced)
            let gdOld = try dot(g, d)
            xOld.withUnsafeMutableBufferPointer { p in _ = p.update(fromContentsOf: x) }
            gOld.withUnsafeMutableBufferPointer { p in _ = p.update(fromContentsOf: g) }
            let fOld = f
            var search = MoreThuente(f0: f, g0: gdOld, stpmax: 1e10)
            var stp = iter == 0 ? min(1 / (try dot(d, d)).squareRoot(), search.stpmax) : 1
            var evals = 0, accepted = false, gd = 0.0
            if gdOld < 0 {   // else: not a descent direction (rounding), a failed search
                while evals < maxLineSearch {
                    // x = xOld + stp·d
                    x.withUnsafeMutableBufferPointer { xp in
                        xOld.withUnsafeBufferPointer { op in d.withUnsafeBufferPointer { dp in
                            for j in 0 ..< n { xp[j] = op[j] + stp * dp[j] }
                        } }
                    }
                    f = try fg(x, &g)
                    evals += 1
                    gd = try dot(g, d)
                    let task = search.next(step: &stp, f: f, g: gd)
                    if task != .evaluate { accepted = true; break }
                }
            }
            evaluations += evals
            if !accepted {
                // Back to the last iterate; drop the memory and retry, or give up.
                x.withUnsafeMutableBufferPointer { p in _ = p.update(fromContentsOf: xOld) }
                g.withUnsafeMutableBufferPointer { p in _ = p.update(fromContentsOf: gOld) }
                f = fOld
                if count == 0 {
                    return result(iter + 1, "the line search found no step satisfying the Wolfe conditions after \(evals) evaluations (the objective is flat to rounding)")
                }
                count = 0
                head = 0
                continue
            }
            iter += 1
            if try maxAbs(g) <= gtol { return result(iter, nil) }
            if (fOld - f) <= ftol * max(abs(fOld), abs(f), 1) { return result(iter, nil) }
            if iter >= maxIter { break }
            // The new pair: s = stp·d, y = g − gOld, kept when sᵀy > ε·(−gᵀd)·stp.
            let sy = (gd - gdOld) * stp   // gd: gᵀd at the accepted step, from the line search
            if sy > Double.ulpOfOne * (-gdOld * stp) {
                let slot = (head + count) % memory
                let step = stp
                s.withUnsafeMutableBufferPointer { sp in
                    y.withUnsafeMutableBufferPointer { yp in
                        d.withUnsafeBufferPointer { dp in g.withUnsafeBufferPointer { gp in gOld.withUnsafeBufferPointer { op in
                            let so = slot * n
                            for j in 0 ..< n {
                                sp[so + j] = step * dp[j]
                                yp[so + j] = gp[j] - op[j]
                            }
                        } } }
                    }
                }
                rho[slot] = 1 / sy
                if count < memory { count += 1 } else { head = (head + 1) % memory }
            }
            try afterIteration?(iter) { State(x: x, g: g, f: f, s: s, y: y, rho: rho, head: head, count: count, iter: iter, evaluations: evaluations) }
        }
        return result(iter, "L-BFGS did not converge in max_iter=\(maxIter) iterations (largest gradient component \(try maxAbs(g)) > tol=\(gtol)); increase max_iter or scale the data")
    }

    /// d = −H·g from the `count` pairs starting at ring slot `head` (oldest first); inner
    /// products reduced across ranks by `reduced`.
    private func direction(_ g: [Double], _ d: inout [Double], s: [Double], y: [Double], rho: [Double],
                           alpha: inout [Double], head: Int, count: Int, n: Int,
                           reduced: (Double, ReductionOp) throws -> Double) throws {
        try d.withUnsafeMutableBufferPointer { q in
            g.withUnsafeBufferPointer { gp in
                for j in 0 ..< n { q[j] = -gp[j] }
            }
            guard count > 0 else { return }
            try s.withUnsafeBufferPointer { sp in
                try y.withUnsafeBufferPointer { yp in
                    // A rank may hold no coordinates (nil pointers, nothing read); it still
                    // takes part in every reduction.
                    let qb = q.baseAddress
                    func sAt(_ k: Int) -> UnsafePointer<Double>? { sp.baseAddress.map { $0 + k * n } }
                    func yAt(_ k: Int) -> UnsafePointer<Double>? { yp.baseAddress.map { $0 + k * n } }
                    func slot(_ i: Int) -> Int { (head + i) % memory }
                    for i in stride(from: count - 1, through: 0, by: -1) {
                        let k = slot(i)
                        alpha[i] = rho[k] * (try reduced(mpl_vec_dot(n, sAt(k), qb), .sum))
                        mpl_vec_axpy(n, -alpha[i], yAt(k), qb)
                    }
                    let last = slot(count - 1)
                    let gamma = 1 / (rho[last] * (try reduced(mpl_vec_dot(n, yAt(last), yAt(last)), .sum)))
                    for j in 0 ..< n { q[j] *= gamma }
                    for i in 0 ..< count {
                        let k = slot(i)
                        let beta = rho[k] * (try reduced(mpl_vec_dot(n, yAt(k), qb), .sum))
                        mpl_vec_axpy(n, alpha[i] - beta, sAt(k), qb)
                    }
                }
            }
        }
    }
}

/// Moré and Thuente's line search (MINPACK-2 `dcsrch` with its step rule `dcstep`), driven by
/// reverse communication: ``next(step:f:g:)`` takes φ(step) and φ′(step) and either asks for
/// another evaluation at the step it writes back, or stops. Tolerances as L-BFGS-B sets them.
struct MoreThuente {
    enum Task { case evaluate, converged, warning }

    let ftol = 1e-3, gtol = 0.9, xtol = 0.1
    let stpmin = 0.0, stpmax: Double
    let finit: Double, ginit: Double, gtest: Double
    var brackt = false, stage1 = true
    var width: Double, width1: Double
    // The best step so far (x) and the other end of the interval (y), with φ and φ′.
    var stx = 0.0, fx: Double, gx: Double
    var sty = 0.0, fy: Double, gy: Double
    var stmin = 0.0, stmax = 0.0
    var started = false

    /// A search from φ(0) = `f0` with slope `g0` < 0.
    init(f0: Double, g0: Double, stpmax: Double) {
        self.stpmax = stpmax
        finit = f0
        ginit = g0
        gtest = ftol * g0
        width = stpmax - stpmin
        width1 = width / 0.5
        fx = f0; gx = g0; fy = f0; gy = g0
    }

    /// Takes φ and φ′ at `step` (the step last asked for, or the first trial step on the
    /// first call, which only records it) and writes the next trial step into `step`.
    mutating func next(step stp: inout Double, f: Double, g: Double) -> Task {
        if !started {
            // The caller evaluated the first trial step already; set the interval for it.
            started = true
            stmin = 0
            stmax = stp + 4 * stp
        }
        if !f.isFinite || !g.isFinite {
            // The step overflowed the objective: go back halfway towards the best step.
            stmax = stp
            stp = stx + 0.5 * (stp - stx)
            return .evaluate
        }
        let ftest = finit + stp * gtest
        if stage1 && f <= ftest && g >= 0 { stage1 = false }
        var task = Task.evaluate
        if brackt && (stp <= stmin || stp >= stmax) { task = .warning }            // rounding prevents progress
        if brackt && stmax - stmin <= xtol * stmax { task = .warning }               // the interval is tiny
        if stp == stpmax && f <= ftest && g <= gtest { task = .warning }
        if stp == stpmin && (f > ftest || g >= gtest) { task = .warning }
        if f <= ftest && abs(g) <= gtol * -ginit { task = .converged }
        if task != .evaluate { return task }

        if stage1 && f <= fx && f > ftest {
            // The modified function ψ(α) = φ(α) − φ(0) − ftol·α·φ′(0) predicts the step.
            var fxm = fx - stx * gtest, fym = fy - sty * gtest, gxm = gx - gtest, gym = gy - gtest
            let fm = f - stp * gtest, gm = g - gtest
            Self.step(stx: &stx, fx: &fxm, dx: &gxm, sty: &sty, fy: &fym, dy: &gym, stp: &stp, fp: fm, dp: gm,
                      brackt: &brackt, stpmin: stmin, stpmax: stmax)
            fx = fxm + stx * gtest
            fy = fym + sty * gtest
            gx = gxm + gtest
            gy = gym + gtest
        } else {
            Self.step(stx: &stx, fx: &fx, dx: &gx, sty: &sty, fy: &fy, dy: &gy, stp: &stp, fp: f, dp: g,
                      brackt: &brackt, stpmin: stmin, stpmax: stmax)
        }
        if brackt {
            // Bisect when the interval does not shrink enough.
            if abs(sty - stx) >= 0.66 * width1 { stp = stx + 0.5 * (sty - stx) }
            width1 = width
            width = abs(sty - stx)
            stmin = min(stx, sty)
            stmax = max(stx, sty)
        } else {
            stmin = stp + 1.1 * (stp - stx)
            stmax = stp + 4 * (stp - stx)
        }
        stp = min(max(stp, stpmin), stpmax)
        if brackt && (stp <= stmin || stp >= stmax) || brackt && stmax - stmin <= xtol * stmax { stp = stx }
        return .evaluate
    }

    /// `dcstep`: a safeguarded trial step from the cubic and quadratic interpolants of the
    /// interval's ends and the current step, and the updated interval.
    static func step(stx: inout Double, fx: inout Double, dx: inout Double, sty: inout Double, fy: inout Double,
                     dy: inout Double, stp: inout Double, fp: Double, dp: Double, brackt: inout Bool,
                     stpmin: Double, stpmax: Double) {
        let sgnd = signum(dp) * signum(dx)
        var stpf: Double
        if fp > fx {
            // A higher value: the minimum is bracketed. The cubic step if it is closer to stx
            // than the quadratic one, else their average.
            let theta = 3 * (fx - fp) / (stp - stx) + dx + dp
            let s = max(abs(theta), abs(dx), abs(dp))
            var gamma = s * ((theta / s) * (theta / s) - (dx / s) * (dp / s)).squareRoot()
            if stp < stx { gamma = -gamma }
            let p = (gamma - dx) + theta, q = ((gamma - dx) + gamma) + dp
            let stpc = stx + (p / q) * (stp - stx)
            let stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2) * (stp - stx)
            stpf = abs(stpc - stx) <= abs(stpq - stx) ? stpc : stpc + (stpq - stpc) / 2
            brackt = true
        } else if sgnd < 0 {
            // Derivatives of opposite sign: bracketed. The cubic or secant step, the farther.
            let theta = 3 * (fx - fp) / (stp - stx) + dx + dp
            let s = max(abs(theta), abs(dx), abs(dp))
            var gamma = s * ((theta / s) * (theta / s) - (dx / s) * (dp / s)).squareRoot()
            if stp > stx { gamma = -gamma }
            let p = (gamma - dp) + theta, q = ((gamma - dp) + gamma) + dx
            let stpc = stp + (p / q) * (stx - stp)
            let stpq = stp + (dp / (dp - dx)) * (stx - stp)
            stpf = abs(stpc - stp) > abs(stpq - stp) ? stpc : stpq
            brackt = true
        } else if abs(dp) < abs(dx) {
            // Same sign, the derivative's magnitude decreasing.
            let theta = 3 * (fx - fp) / (stp - stx) + dx + dp
            let s = max(abs(theta), abs(dx), abs(dp))
            var gamma = s * max(0, (theta / s) * (theta / s) - (dx / s) * (dp / s)).squareRoot()
            if stp > stx { gamma = -gamma }
            let p = (gamma - dp) + theta, q = (gamma + (dx - dp)) + gamma
            let r = p / q
            let stpc: Double
            if r < 0 && gamma != 0 { stpc = stp + r * (stx - stp) } else if stp > stx { stpc = stpmax } else { stpc = stpmin }
            let stpq = stp + (dp / (dp - dx)) * (stx - stp)
            if brackt {
                stpf = abs(stpc - stp) < abs(stpq - stp) ? stpc : stpq
                stpf = stp > stx ? min(stp + 0.66 * (sty - stp), stpf) : max(stp + 0.66 * (sty - stp), stpf)
            } else {
                stpf = abs(stpc - stp) > abs(stpq - stp) ? stpc : stpq
                stpf = min(max(stpf, stpmin), stpmax)
            }
        } else {
            // Same sign, the derivative's magnitude not decreasing.
            if brackt {
                let theta = 3 * (fp - fy) / (sty - stp) + dy + dp
                let s = max(abs(theta), abs(dy), abs(dp))
                var gamma = s * ((theta / s) * (theta / s) - (dy / s) * (dp / s)).squareRoot()
                if stp > sty { gamma = -gamma }
                let p = (gamma - dp) + theta, q = ((gamma - dp) + gamma) + dy
                stpf = stp + (p / q) * (sty - stp)
            } else {
                stpf = stp > stx ? stpmax : stpmin
            }
        }
        // The new interval.
        if fp > fx {
            sty = stp; fy = fp; dy = dp
        } else {
            if sgnd < 0 { sty = stx; fy = fx; dy = dx }
            stx = stp; fx = fp; dx = dp
        }
        stp = stpf
    }
}

/// −1, 0 or 1 (numpy's `sign`, as scipy's `dcstep` takes it).
@inline(__always) private func signum(_ v: Double) -> Double { v > 0 ? 1 : v < 0 ? -1 : 0 }

@inline(__always) private func localDot(_ a: [Double], _ b: [Double]) -> Double {
    a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in mpl_vec_dot(ap.count, ap.baseAddress, bp.baseAddress) } }
}

@inline(__always) private func localMaxAbs(_ a: [Double]) -> Double {
    a.withUnsafeBufferPointer { mpl_vec_max_abs($0.count, $0.baseAddress) }
}
