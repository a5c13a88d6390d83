import Foundation

/// Limited-memory BFGS (Nocedal, "Updating quasi-Newton matrices with limited storage",
/// Math. Comp. 1980; Nocedal & Wright, *Numerical Optimization*, 2nd ed., Algorithm 7.4 and
/// 7.5) with a line search satisfying the strong Wolfe conditions (Algorithms 3.5 and 3.6).
///
/// The objective is evaluated by a caller-supplied function; in a distributed fit that
/// function is collective and returns the allreduced loss and gradient, so every rank sees
/// the same values, takes the same branches and holds the same iterate. The optimiser itself
/// never communicates.
///
/// Parameters follow scipy's L-BFGS-B as scikit-learn calls it: m = 10 correction pairs
/// (`maxcor`), sufficient decrease c₁ = 1e-3 and curvature c₂ = 0.9 (L-BFGS-B's `dcsrch`
/// `ftol` and `gtol`), at most 50 evaluations per line search (`maxls`), the first step
/// 1/‖g‖, later steps 1. It stops when the largest gradient component is at most `gtol`, or
/// when the relative decrease (f_k − f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) is at most `ftol`.
struct LBFGS {
    var memory = 10
    var c1 = 1e-3
    var c2 = 0.9
    var maxLineSearch = 50
    var maxIter: Int
    var gtol: Double
    var ftol: Double

    struct Result {
        var x: [Double]
        var f: Double
        var gradient: [Double]
        var nIter: Int
        var evaluations: Int
        /// Why it stopped: nil when converged, else a message (max_iter, line search).
        var warning: String?
    }

    /// Minimises `fg` (value and gradient) from `x0`.
    func minimize(_ x0: [Double], _ fg: ([Double]) throws -> (Double, [Double])) throws -> Result {
        var x = x0
        var (f, g) = try fg(x)
        var evaluations = 1
        let n = x.count
        var s: [[Double]] = [], y: [[Double]] = [], rho: [Double] = []
        if maxAbs(g) <= gtol { return Result(x: x, f: f, gradient: g, nIter: 0, evaluations: evaluations, warning: nil) }
        var iter = 0
        while iter < maxIter {
            iter += 1
            // Two-loop recursion: d = −H·g.
            var q = g
            var alpha = [Double](repeating: 0, count: s.count)
            for i in stride(from: s.count - 1, through: 0, by: -1) {
                alpha[i] = rho[i] * dot(s[i], q)
                axpy(-alpha[i], y[i], &q)
            }
            if let sl = s.last, let yl = y.last {
                let gamma = dot(sl, yl) / dot(yl, yl)
                for j in 0 ..< n { q[j] *= gamma }
            }
            for i in 0 ..< s.count {
                let beta = rho[i] * dot(y[i], q)
                axpy(alpha[i] - beta, s[i], &q)
            }
            var d = q.map { -$0 }
            var dg0 = dot(d, g)
            if !(dg0 < 0) {   // not a descent direction (rounding): restart from steepest descent
                s.removeAll(); y.removeAll(); rho.removeAll()
                d = g.map { -$0 }
                dg0 = dot(d, g)
            }
            let first = s.isEmpty ? 1 / max(sqrt(dot(g, g)), .leastNormalMagnitude) : 1.0
            let ls = try lineSearch(x: x, f0: f, g0: g, d: d, dg0: dg0, step: min(first, 1), fg)
            evaluations += ls.evaluations
            guard let accepted = ls.point else {
                return Result(x: x, f: f, gradient: g, nIter: iter, evaluations: evaluations,
                              warning: "the line search found no step satisfying the Wolfe conditions after \(ls.evaluations) evaluations (the objective is flat to rounding)")
            }
            let sNew = zip(accepted.x, x).map { $0 - $1 }, yNew = zip(accepted.g, g).map { $0 - $1 }
            let sy = dot(sNew, yNew)
            if sy > Double.ulpOfOne * dot(yNew, yNew) {
                if s.count == memory { s.removeFirst(); y.removeFirst(); rho.removeFirst() }
                s.append(sNew); y.append(yNew); rho.append(1 / sy)
            }
            let fOld = f
            (x, f, g) = (accepted.x, accepted.f, accepted.g)
            if maxAbs(g) <= gtol { return Result(x: x, f: f, gradient: g, nIter: iter, evaluations: evaluations, warning: nil) }
            if (fOld - f) / max(abs(fOld), abs(f), 1) <= ftol {
                return Result(x: x, f: f, gradient: g, nIter: iter, evaluations: evaluations, warning: nil)
            }
        }
        return Result(x: x, f: f, gradient: g, nIter: iter, evaluations: evaluations,
                      warning: "L-BFGS did not converge in max_iter=\(maxIter) iterations (largest gradient component \(maxAbs(g)) > tol=\(gtol)); increase max_iter or scale the data")
    }

    struct Point { var alpha: Double; var x: [Double]; var f: Double; var g: [Double]; var dg: Double }

    /// A step length satisfying the strong Wolfe conditions along `d`
    /// (f(x+αd) ≤ f + c₁α·gᵀd and |g(x+αd)ᵀd| ≤ c₂|gᵀd|), or nil.
    func lineSearch(x: [Double], f0: Double, g0: [Double], d: [Double], dg0: Double, step: Double,
                    _ fg: ([Double]) throws -> (Double, [Double])) throws -> (point: Point?, evaluations: Int) {
        var evaluations = 0
        func eval(_ a: Double) throws -> Point {
            evaluations += 1
            var xa = x
            axpy(a, d, &xa)
            let (fa, ga) = try fg(xa)
            return Point(alpha: a, x: xa, f: fa, g: ga, dg: dot(ga, d))
        }
        let start = Point(alpha: 0, x: x, f: f0, g: g0, dg: dg0)
        var best: Point? = nil   // the lowest sufficient-decrease point seen, a fallback
        func note(_ p: Point) { if p.f.isFinite, p.f <= f0 + c1 * p.alpha * dg0, p.f < (best?.f ?? .infinity) { best = p } }

        // Zoom between lo (sufficient decrease, lowest f so far) and hi (Algorithm 3.6).
        func zoom(_ lo0: Point, _ hi0: Point) throws -> Point? {
            var lo = lo0, hi = hi0
            while evaluations < maxLineSearch {
                let a = interpolate(lo, hi)
                let p = try eval(a)
                note(p)
                if !(p.f <= f0 + c1 * a * dg0) || p.f >= lo.f {
                    hi = p
                } else {
                    if abs(p.dg) <= -c2 * dg0 { return p }
                    if p.dg * (hi.alpha - lo.alpha) >= 0 { hi = lo }
                    lo = p
                }
                if abs(hi.alpha - lo.alpha) <= Double.ulpOfOne * max(1, lo.alpha) { break }
            }
            return best
        }

        var prev = start
        var a = step
        while evaluations < maxLineSearch {
            let p = try eval(a)
            note(p)
            if !(p.f <= f0 + c1 * a * dg0) || (evaluations > 1 && p.f >= prev.f) { return (try zoom(prev, p), evaluations) }
            if abs(p.dg) <= -c2 * dg0 { return (p, evaluations) }
            if p.dg >= 0 { return (try zoom(p, prev), evaluations) }
            prev = p
            a *= 4
        }
        return (best, evaluations)
    }

    /// The minimiser of the cubic through lo and hi (values and slopes), kept inside the
    /// middle 80% of the interval; bisection when the cubic has none.
    func interpolate(_ lo: Point, _ hi: Point) -> Double {
        let a0 = lo.alpha, a1 = hi.alpha
        let width = a1 - a0
        let lower = min(a0, a1) + 0.1 * abs(width), upper = max(a0, a1) - 0.1 * abs(width)
        if !hi.f.isFinite { return a0 + 0.5 * width }
        let d1 = lo.dg + hi.dg - 3 * (lo.f - hi.f) / (a0 - a1)
        let disc = d1 * d1 - lo.dg * hi.dg
        if disc >= 0 {
            let d2 = (a1 > a0 ? 1.0 : -1.0) * sqrt(disc)
            let t = a1 - (a1 - a0) * (hi.dg + d2 - d1) / (hi.dg - lo.dg + 2 * d2)
            if t.isFinite { return min(max(t, lower), upper) }
        }
        return a0 + 0.5 * width
    }
}

@inline(__always) fileprivate func dot(_ a: [Double], _ b: [Double]) -> Double {
    var s = 0.0
    for i in a.indices { s += a[i] * b[i] }
    return s
}

@inline(__always) fileprivate func axpy(_ alpha: Double, _ x: [Double], _ y: inout [Double]) {
    for i in y.indices { y[i] += alpha * x[i] }
}

@inline(__always) fileprivate func maxAbs(_ a: [Double]) -> Double { a.reduce(0) { max($0, abs($1)) } }
