import CKernels

/// The SMO solver of libsvm (Chang & Lin), for
///
///     min ½ αᵀQα + pᵀα   subject to  yᵀα = Δ,  0 ≤ α_i ≤ C_i
///
/// with the second-order working-set selection of Fan, Chen & Lin (JMLR 6, 2005),
/// shrinking, and libsvm's reconstruction of the gradient of shrunk variables from
/// `G_bar`. Every step is libsvm's, in libsvm's order (including the order of variables
/// after shrinking swaps, and the ties in the selection), so a fit reaches the same
/// solution along the same path: the same support vectors and dual coefficients as
/// scikit-learn's `SVC` to its tolerance.
///
/// With `nu`, the solver is libsvm's `Solver_NU` (ν-SVC, ν-SVR): the extra constraint eᵀα =
/// constant keeps each working pair within one sign of y, so the selection, the shrinking and
/// ρ are computed per sign, and the solution also has `r` (ν-SVC scales α, ρ and the
/// objective by 1/r).
///
/// Hand-written: no Swift package provides an SVM solver, and linking libsvm itself would
/// keep its scalar kernel rows (MPILearn computes them through BLAS, see ``KernelMatrix``).
struct SMOSolver {
    struct Solution {
        /// α in problem order (before multiplying by y).
        var alpha: [Double]
        var rho: Double
        /// The dual objective ½αᵀQα + pᵀα.
        var objective: Double
        var iterations: Int
        /// True when `max_iter` stopped the solver first.
        var hitMaxIter: Bool
        /// `Solver_NU`'s r ((r₁ + r₂) / 2); 0 for the standard solver.
        var r: Double = 0
    }

    static let tau = 1e-12
    static let lower: Int8 = 0, upper: Int8 = 1, free: Int8 = 2

    /// Solves; `alpha0` is a feasible start (zeros for C-SVC).
    /// - Parameter gradient: a warm start's gradient at `alpha0` (Qα + p) and libsvm's `G_bar`
    ///   (Σ over the α at their bound of C_j Q_j), when the caller already knows them (the
    ///   cascade keeps them from its decision values); otherwise they are computed from the
    ///   rows of Q of every nonzero α.
    static func solve(q: SMOMatrix, p p0: [Double], y y0: [Int8], alpha alpha0: [Double], c c0: [Double],
                      eps: Double, shrinking: Bool, maxIter: Int, gradient: (g: [Double], gBar: [Double])? = nil, nu: Bool = false) -> Solution {
        let l = p0.count
        let n = max(1, l)
        let p = UnsafeMutablePointer<Double>.allocate(capacity: n); p.initialize(from: p0, count: l)
        let y = UnsafeMutablePointer<Int8>.allocate(capacity: n); y.initialize(from: y0, count: l)
        let alpha = UnsafeMutablePointer<Double>.allocate(capacity: n); alpha.initialize(from: alpha0, count: l)
        let c = UnsafeMutablePointer<Double>.allocate(capacity: n); c.initialize(from: c0, count: l)
        let status = UnsafeMutablePointer<Int8>.allocate(capacity: n)
        let active = UnsafeMutablePointer<Int>.allocate(capacity: n)
        let g = UnsafeMutablePointer<Double>.allocate(capacity: n)
        let gBar = UnsafeMutablePointer<Double>.allocate(capacity: n)
        defer {
            p.deallocate(); y.deallocate(); alpha.deallocate(); c.deallocate()
            status.deallocate(); active.deallocate(); g.deallocate(); gBar.deallocate()
        }
        let qd = q.diagonal
        @inline(__always) func updateStatus(_ i: Int) {
            if alpha[i] >= c[i] { status[i] = upper } else if alpha[i] <= 0 { status[i] = lower } else { status[i] = free }
        }
        for i in 0 ..< l { updateStatus(i) }
        for i in 0 ..< l { active[i] = i }
        var activeSize = l
        var unshrink = false

        if let gradient, gradient.g.count == l, gradient.gBar.count == l {
            g.initialize(from: gradient.g, count: l)
            gBar.initialize(from: gradient.gBar, count: l)
        } else {
            for i in 0 ..< l { g[i] = p[i]; gBar[i] = 0 }
            for i in 0 ..< l where status[i] != lower {
                let qi = q.row(i, l)
                mpl_svm_axpy_f32(l, alpha[i], qi, g)
                if status[i] == upper { mpl_svm_axpy_f32(l, c[i], qi, gBar) }
            }
        }

        func swapIndex(_ i: Int, _ j: Int) {
            q.swapIndex(i, j)
            swap(&y[i], &y[j]); swap(&g[i], &g[j]); swap(&status[i], &status[j]); swap(&alpha[i], &alpha[j])
            swap(&p[i], &p[j]); swap(&active[i], &active[j]); swap(&gBar[i], &gBar[j]); swap(&c[i], &c[j])
        }

        func reconstructGradient() {
            if activeSize == l { return }
            for j in activeSize ..< l { g[j] = gBar[j] + p[j] }
            var nFree = 0
            for j in 0 ..< activeSize where status[j] == free { nFree += 1 }
            if nFree * l > 2 * activeSize * (l - activeSize) {
                for i in activeSize ..< l {
                    let qi = q.row(i, activeSize)
                    var gi = g[i]
                    for j in 0 ..< activeSize where status[j] == free { gi += alpha[j] * Double(qi[j]) }
                    g[i] = gi
                }
            } else {
                for i in 0 ..< activeSize where status[i] == free {
                    let qi = q.row(i, l)
                    mpl_svm_axpy_f32(l - activeSize, alpha[i], qi + activeSize, g + activeSize)
                }
            }
        }

        /// select_i's result, computed with the last gradient update (nil after a shrink or
        /// a reconstruction changes the active set).
        var pendingI: (index: Int, gmax: Double)?

        /// `Solver_NU`'s selection: i maximises −y_i ∇f_i within each sign of y, j minimises
        /// the objective's decrease against the i of its own sign. 0 when a pair is found, 1
        /// when optimal.
        func selectWorkingSetNU(_ outI: inout Int, _ outJ: inout Int) -> Int {
            var gmaxp = -Double.infinity, gmaxp2 = -Double.infinity, gmaxn = -Double.infinity, gmaxn2 = -Double.infinity
            var ip = -1, iN = -1
            for t in 0 ..< activeSize {
                if y[t] == 1 {
                    if status[t] != upper && -g[t] >= gmaxp { gmaxp = -g[t]; ip = t }
                } else if status[t] != lower && g[t] >= gmaxn {
                    gmaxn = g[t]; iN = t
                }
            }
            // Both rows are held at once: the cache's budget keeps two full rows.
            let qp = ip >= 0 ? q.row(ip, activeSize) : nil
            let qn = iN >= 0 ? q.row(iN, activeSize) : nil
            var jMin = -1
            var objMin = Double.infinity
            for j in 0 ..< activeSize {
                if y[j] == 1 {
                    guard status[j] != lower else { continue }
                    let gradDiff = gmaxp + g[j]
                    if g[j] >= gmaxp2 { gmaxp2 = g[j] }
                    if gradDiff > 0, let qp {
                        let quad = qd[ip] + qd[j] - 2 * Double(qp[j])
                        let objDiff = -(gradDiff * gradDiff) / (quad > 0 ? quad : tau)
                        if objDiff <= objMin { jMin = j; objMin = objDiff }
                    }
                } else {
                    guard status[j] != upper else { continue }
                    let gradDiff = gmaxn - g[j]
                    if -g[j] >= gmaxn2 { gmaxn2 = -g[j] }
                    if gradDiff > 0, let qn {
                        let quad = qd[iN] + qd[j] - 2 * Double(qn[j])
                        let objDiff = -(gradDiff * gradDiff) / (quad > 0 ? quad : tau)
                        if objDiff <= objMin { jMin = j; objMin = objDiff }
                    }
                }
            }
            if max(gmaxp + gmaxp2, gmaxn + gmaxn2) < eps || jMin == -1 { return 1 }
            outI = y[jMin] == 1 ? ip : iN
            outJ = jMin
            return 0
        }

        /// 0 when a pair (i, j) is found, 1 when optimal.
        func selectWorkingSet(_ outI: inout Int, _ outJ: inout Int) -> Int {
            if nu { return selectWorkingSetNU(&outI, &outJ) }
            var gmax = -Double.infinity
            let i: Int
            if let pending = pendingI {
                (i, gmax) = pending
                pendingI = nil
            } else {
                i = mpl_svm_select_i(activeSize, y, g, status, &gmax)
            }
            var gmax2 = -Double.infinity
            var j = -1
            if i >= 0 {
                let qi = q.row(i, activeSize)
                j = mpl_svm_select_j(activeSize, y, g, status, qd, qi, qd[i], Int32(y[i]), gmax, tau, &gmax2)
            } else {
                // No I_up: grad_diff is -inf for every j, so only Gmax2 is computed.
                for t in 0 ..< activeSize {
                    if y[t] == 1 { if status[t] != lower && g[t] >= gmax2 { gmax2 = g[t] } }
                    else if status[t] != upper && -g[t] >= gmax2 { gmax2 = -g[t] }
                }
            }
            if gmax + gmax2 < eps || j == -1 { return 1 }
            outI = i
            outJ = j
            return 0
        }

        func beShrunk(_ i: Int, _ gmax1: Double, _ gmax2: Double) -> Bool {
            if status[i] == upper { return y[i] == 1 ? -g[i] > gmax1 : -g[i] > gmax2 }
            if status[i] == lower { return y[i] == 1 ? g[i] > gmax2 : g[i] > gmax1 }
            return false
        }

        func beShrunkNU(_ i: Int, _ m: (Double, Double, Double, Double)) -> Bool {
            if status[i] == upper { return y[i] == 1 ? -g[i] > m.0 : -g[i] > m.3 }
            if status[i] == lower { return y[i] == 1 ? g[i] > m.1 : g[i] > m.2 }
            return false
        }

        /// `Solver_NU`'s shrinking: the four maxima of ±∇f per sign of y.
        func doShrinkingNU() {
            var m = (-Double.infinity, -Double.infinity, -Double.infinity, -Double.infinity)
            for i in 0 ..< activeSize {
                if status[i] != upper {
                    if y[i] == 1 { if -g[i] > m.0 { m.0 = -g[i] } } else if -g[i] > m.3 { m.3 = -g[i] }
                }
                if status[i] != lower {
                    if y[i] == 1 { if g[i] > m.1 { m.1 = g[i] } } else if g[i] > m.2 { m.2 = g[i] }
                }
            }
            if !unshrink && max(m.0 + m.1, m.2 + m.3) <= eps * 10 {
                unshrink = true
                reconstructGradient()
                activeSize = l
            }
            var i = 0
            while i < activeSize {
                if beShrunkNU(i, m) {
                    activeSize -= 1
                    while activeSize > i {
                        if !beShrunkNU(activeSize, m) {
                            swapIndex(i, activeSize)
                            break
                        }
                        activeSize -= 1
                    }
                }
                i += 1
            }
        }

        func doShrinking() {
            pendingI = nil
            if nu { return doShrinkingNU() }
            var gmax1 = -Double.infinity, gmax2 = -Double.infinity
            for i in 0 ..< activeSize {
                if y[i] == 1 {
                    if status[i] != upper && -g[i] >= gmax1 { gmax1 = -g[i] }
                    if status[i] != lower && g[i] >= gmax2 { gmax2 = g[i] }
                } else {
                    if status[i] != upper && -g[i] >= gmax2 { gmax2 = -g[i] }
                    if status[i] != lower && g[i] >= gmax1 { gmax1 = g[i] }
                }
            }
            if !unshrink && gmax1 + gmax2 <= eps * 10 {
                unshrink = true
                reconstructGradient()
                activeSize = l
            }
            var i = 0
            while i < activeSize {
                if beShrunk(i, gmax1, gmax2) {
                    activeSize -= 1
                    while activeSize > i {
                        if !beShrunk(activeSize, gmax1, gmax2) {
                            swapIndex(i, activeSize)
                            break
                        }
                        activeSize -= 1
                    }
                }
                i += 1
            }
        }

        var iter = 0
        var counter = min(l, 1000) + 1
        var hitMaxIter = false
        while true {
            if maxIter != -1 && iter >= maxIter {
                hitMaxIter = true
                break
            }
            counter -= 1
            if counter == 0 {
                counter = min(l, 1000)
                if shrinking { doShrinking() }
            }
            var i = 0, j = 0
            if selectWorkingSet(&i, &j) != 0 {
                reconstructGradient()
                activeSize = l
                if selectWorkingSet(&i, &j) != 0 { break } else { counter = 1 }
            }
            iter += 1

            // Row i stays cached while j's is fetched: the budget holds two full rows, and
            // the least recently used rows go first.
            let qi = q.row(i, activeSize)
            let qj = q.row(j, activeSize)
            let ci = c[i], cj = c[j]
            let oldI = alpha[i], oldJ = alpha[j]
            if y[i] != y[j] {
                var quad = qd[i] + qd[j] + 2 * Double(qi[j])
                if quad <= 0 { quad = tau }
                let delta = (-g[i] - g[j]) / quad
                let diff = alpha[i] - alpha[j]
                alpha[i] += delta
                alpha[j] += delta
                if diff > 0 {
                    if alpha[j] < 0 { alpha[j] = 0; alpha[i] = diff }
                } else {
                    if alpha[i] < 0 { alpha[i] = 0; alpha[j] = -diff }
                }
                if diff > ci - cj {
                    if alpha[i] > ci { alpha[i] = ci; alpha[j] = ci - diff }
                } else {
                    if alpha[j] > cj { alpha[j] = cj; alpha[i] = cj + diff }
                }
            } else {
                var quad = qd[i] + qd[j] - 2 * Double(qi[j])
                if quad <= 0 { quad = tau }
                let delta = (g[i] - g[j]) / quad
                let sum = alpha[i] + alpha[j]
                alpha[i] -= delta
                alpha[j] += delta
                if sum > ci {
                    if alpha[i] > ci { alpha[i] = ci; alpha[j] = sum - ci }
                } else {
                    if alpha[j] < 0 { alpha[j] = 0; alpha[i] = sum }
                }
                if sum > cj {
                    if alpha[j] > cj { alpha[j] = cj; alpha[i] = sum - cj }
                } else {
                    if alpha[i] < 0 { alpha[i] = 0; alpha[j] = sum }
                }
            }
            let dI = alpha[i] - oldI, dJ = alpha[j] - oldJ
            let ui = status[i] == upper, uj = status[j] == upper
            updateStatus(i)
            updateStatus(j)
            // The gradient update and, in the same pass, the next selection's scan for i.
            var nextGmax = -Double.infinity
            let nextI = mpl_svm_update_select_i(activeSize, g, qi, qj, dI, dJ, y, status, &nextGmax)
            if !nu { pendingI = (nextI, nextGmax) }
            if ui != (status[i] == upper) {
                let r = q.row(i, l)
                mpl_svm_axpy_f32(l, ui ? -ci : ci, r, gBar)
            }
            if uj != (status[j] == upper) {
                let r = q.row(j, l)
                mpl_svm_axpy_f32(l, uj ? -cj : cj, r, gBar)
            }
        }
        // As scikit-learn's libsvm: at max_iter the solver stops where it is (rho from the
        // active variables).

        // rho
        var v = 0.0
        for i in 0 ..< l { v += alpha[i] * (g[i] + p[i]) }
        var out = [Double](repeating: 0, count: l)
        for i in 0 ..< l { out[active[i]] = alpha[i] }
        if nu {
            // Solver_NU's ρ and r from the free variables of each sign (or the bounds' midpoint).
            var free1 = 0, free2 = 0
            var ub1 = Double.infinity, ub2 = Double.infinity, lb1 = -Double.infinity, lb2 = -Double.infinity, sum1 = 0.0, sum2 = 0.0
            for i in 0 ..< activeSize {
                if y[i] == 1 {
                    if status[i] == upper { lb1 = max(lb1, g[i]) } else if status[i] == lower { ub1 = min(ub1, g[i]) } else { free1 += 1; sum1 += g[i] }
                } else {
                    if status[i] == upper { lb2 = max(lb2, g[i]) } else if status[i] == lower { ub2 = min(ub2, g[i]) } else { free2 += 1; sum2 += g[i] }
                }
            }
            let r1 = free1 > 0 ? sum1 / Double(free1) : (ub1 + lb1) / 2
            let r2 = free2 > 0 ? sum2 / Double(free2) : (ub2 + lb2) / 2
            return Solution(alpha: out, rho: (r1 - r2) / 2, objective: v / 2, iterations: iter, hitMaxIter: hitMaxIter, r: (r1 + r2) / 2)
        }
        var r: Double
        var nFree = 0
        var ub = Double.infinity, lb = -Double.infinity, sumFree = 0.0
        for i in 0 ..< activeSize {
            let yG = Double(y[i]) * g[i]
            if status[i] == upper {
                if y[i] == -1 { ub = min(ub, yG) } else { lb = max(lb, yG) }
            } else if status[i] == lower {
                if y[i] == 1 { ub = min(ub, yG) } else { lb = max(lb, yG) }
            } else {
                nFree += 1
                sumFree += yG
            }
        }
        r = nFree > 0 ? sumFree / Double(nFree) : (ub + lb) / 2
        return Solution(alpha: out, rho: r, objective: v / 2, iterations: iter, hitMaxIter: hitMaxIter)
    }
}
