/// The best split of a node found so far: codes `<= bin` of `feature` go left, missing values
/// left when `missingLeft`; `childImpurity` is the children's summed weighted impurity.
struct SplitCandidate {
    var feature = -1
    var bin = 0
    var missingLeft = false
    var childImpurity = Double.infinity
}

/// The split-scanning step of tree growth, shared by the serial learner (``TreeBuilder``)
/// and the data-parallel one (``HistogramGrower``): given one feature's histogram over a node
/// (statistics per bin: `[rows, w_0 … w_{K-1}]` or `[rows, w, wy, wy²]`), it evaluates every
/// threshold between non-empty bins in code order, with missing values tried on both sides
/// (scikit-learn ≥ 1.3's rule: with no missing values in the node they go to the child with
/// more rows), and keeps the first best in evaluation order (a strict `<`, so ties go to the
/// earlier feature and the lower bin). Both learners therefore pick the same split from the
/// same histogram, whichever rank count summed it.
final class SplitScanner {
    let K: Int
    let S: Int
    let criterion: Criterion
    let minLeaf: Double
    let cum: UnsafeMutablePointer<Double>, optL: UnsafeMutablePointer<Double>, optR: UnsafeMutablePointer<Double>

    init(classes: Int, criterion: Criterion, minSamplesLeaf: Int) {
        K = classes
        S = classes > 0 ? classes + 1 : 4
        self.criterion = criterion
        minLeaf = Double(minSamplesLeaf)
        cum = .allocate(capacity: S); optL = .allocate(capacity: S); optR = .allocate(capacity: S)
    }

    deinit { cum.deallocate(); optL.deallocate(); optR.deallocate() }

    /// Total weight and weighted impurity `W · impurity` of a statistics vector.
    @inline(__always)
    func weightedImpurity(_ s: UnsafePointer<Double>) -> (Double, Double) {
        let w: Double
        if K > 0 {
            var t = 0.0
            for c in 0 ..< K { t += s[1 + c] }
            w = t
        } else {
            w = s[1]
        }
        return (w, w * criterion.impurity(s + 1, classes: K))
    }

    /// At most one class has weight.
    @inline(__always)
    func isPureClass(_ s: UnsafePointer<Double>) -> Bool {
        var nonzero = 0
        for c in 0 ..< K where s[1 + c] > 0 { nonzero += 1 }
        return nonzero <= 1
    }

    /// Scans one feature's histogram: `hist + code * S` holds the statistics of each code,
    /// `touched[0 ..< count]` lists the non-empty codes ascending (the missing code, `missCode`,
    /// last if present). Updates `best`; returns false if the feature is constant in the node.
    func scan(hist: UnsafePointer<Double>, touched: UnsafePointer<Int32>, count nTouched: Int, missCode: Int,
              node: UnsafePointer<Double>, feature f: Int, best: inout SplitCandidate) -> Bool {
        let miss = hist + missCode * S
        let hasMissing = nTouched > 0 && Int(touched[nTouched - 1]) == missCode
        let nonMissingBins = hasMissing ? nTouched - 1 : nTouched
        let constant = nonMissingBins + (hasMissing ? 1 : 0) <= 1
        if constant { return false }
        for q in 0 ..< S { cum[q] = 0 }
        var prev = -1
        for t in 0 ..< nonMissingBins {
            let c = Int(touched[t])
            if prev >= 0 {
                // Candidate: codes <= prev go left.
                consider(bin: prev, left: cum, missing: miss, hasMissing: hasMissing, node: node, feature: f, best: &best)
            }
            let h = hist + c * S
            for q in 0 ..< S { cum[q] += h[q] }
            prev = c
        }
        if hasMissing && nonMissingBins >= 1 {
            // Every non-missing value left, missing right: threshold +inf.
            considerOne(bin: missCode - 1, missingLeft: false, lAdd: cum, lAdd2: nil, node: node, feature: f, best: &best, decideByCount: false)
        }
        return true
    }

    @inline(__always)
    func consider(bin: Int, left: UnsafePointer<Double>, missing: UnsafePointer<Double>, hasMissing: Bool,
                  node: UnsafePointer<Double>, feature: Int, best: inout SplitCandidate) {
        if hasMissing {
            considerOne(bin: bin, missingLeft: false, lAdd: left, lAdd2: nil, node: node, feature: feature, best: &best, decideByCount: false)
            considerOne(bin: bin, missingLeft: true, lAdd: left, lAdd2: missing, node: node, feature: feature, best: &best, decideByCount: false)
        } else {
            considerOne(bin: bin, missingLeft: false, lAdd: left, lAdd2: nil, node: node, feature: feature, best: &best, decideByCount: true)
        }
    }

    /// Evaluates the split whose left child has statistics `lAdd (+ lAdd2)`.
    @inline(__always)
    func considerOne(bin: Int, missingLeft: Bool, lAdd: UnsafePointer<Double>, lAdd2: UnsafePointer<Double>?,
                     node: UnsafePointer<Double>, feature: Int, best: inout SplitCandidate, decideByCount: Bool) {
        for q in 0 ..< S {
            let l = lAdd2 == nil ? lAdd[q] : lAdd[q] + lAdd2![q]
            optL[q] = l
            optR[q] = node[q] - l
        }
        if optL[0] < minLeaf || optR[0] < minLeaf { return }
        if K > 0 {
            for c in 1 ... K { if optR[c] < 0 { optR[c] = 0 } }
        } else if optR[1] < 0 { optR[1] = 0 }
        let child = weightedImpurity(optL).1 + weightedImpurity(optR).1
        if child < best.childImpurity {
            best.childImpurity = child
            best.feature = feature
            best.bin = bin
            best.missingLeft = decideByCount ? optL[0] >= optR[0] : missingLeft
        }
    }
}
