// Cross-validation splitters: scikit-learn's `sklearn.model_selection` splitters over global
// row indices. Without randomness the folds equal scikit-learn's index for index; with it they
// come from Philox streams of `random_state` (never from anything rank-dependent), so every
// rank computes the same folds, with scikit-learn's sizes and per-class counts.

/// One train/test split of a cross-validation: sorted global row indices.
public struct Fold: Sendable, Equatable, Codable {
    /// The rows a model is fitted on, ascending.
    public var train: [Int]
    /// The rows a model is scored on, ascending.
    public var test: [Int]

    public init(train: [Int], test: [Int]) {
        self.train = train
        self.test = test
    }
}

/// A rule that splits rows `0 ..< nSamples` into train/test folds (scikit-learn's CV splitters).
///
/// A splitter only stores its parameters; ``split(nSamples:y:groups:)`` validates them against
/// the data and returns every fold at once. It is a pure function of its parameters and its
/// arguments: with global labels and groups (the same arrays on every rank) every rank gets
/// the same folds.
public protocol CrossValidator: Sendable {
    /// The number of folds this splitter yields (for ``PredefinedSplit``, the number of
    /// distinct test folds in its `testFold`).
    var nSplits: Int { get }
    /// Whether ``split(nSamples:y:groups:)`` needs class labels (the stratified splitters).
    var needsLabels: Bool { get }
    /// Whether ``split(nSamples:y:groups:)`` needs a group per row (``GroupKFold``).
    var needsGroups: Bool { get }
    /// The folds over rows `0 ..< nSamples`.
    ///
    /// - Parameters:
    ///   - nSamples: the number of rows over all ranks.
    ///   - y: a class code per row (any integers), for the stratified splitters; others ignore it.
    ///   - groups: a group id per row (any integers), for ``GroupKFold``; others ignore it.
    /// - Returns: ``nSplits`` folds, each with sorted, disjoint train and test rows.
    /// - Throws: ``MPILearnError/invalidParameter(name:value:allowed:)`` naming the parameter
    ///   (`n_splits`, `test_size`, `y`, `groups`, …) that does not fit the data.
    func split(nSamples: Int, y: [Int]?, groups: [Int]?) throws -> [Fold]
}

extension CrossValidator {
    public var needsLabels: Bool { false }
    public var needsGroups: Bool { false }
}

/// The size of a train or test set: a fraction of the rows or a row count (`test_size`,
/// `train_size`).
public enum SplitSize: Sendable, Codable, Equatable {
    /// A fraction in (0, 1) of the rows: rounded up for a test set, down for a train set.
    case fraction(Double)
    /// A number of rows in `1 ..< nSamples`.
    case count(Int)
}

/// The Philox domains of the splitters' streams (one per splitter, so equal seeds do not give
/// correlated folds across splitters).
enum SplitterDomain: UInt64 {
    case kFold = 0x4356_0001, stratifiedKFold, shuffleSplit, stratifiedShuffleSplit
}

// MARK: - K-fold

/// K-fold cross-validation: `nSplits` contiguous folds of consecutive rows (scikit-learn's `KFold`).
///
/// The first `nSamples % nSplits` folds have `nSamples / nSplits + 1` rows, the others
/// `nSamples / nSplits`. Without shuffling the folds are scikit-learn's exactly. With
/// `shuffle` the rows are permuted first by a Philox stream of `randomState` (a nil
/// `randomState` means seed 0, so every rank and every run gets the same folds): the folds
/// then have scikit-learn's sizes but not its rows, which come from NumPy's generator.
public struct KFold: CrossValidator, Codable, Equatable {
    /// The number of folds (≥ 2, ≤ the number of rows).
    public var nSplits: Int
    /// Whether to permute the rows before cutting them into folds.
    public var shuffle: Bool
    /// The seed of the permutation (nil: seed 0). Must be nil when `shuffle` is false, as in
    /// scikit-learn.
    public var randomState: UInt64?

    enum CodingKeys: String, CodingKey {
        case nSplits = "n_splits", shuffle, randomState = "random_state"
    }

    public init(nSplits: Int = 5, shuffle: Bool = false, randomState: UInt64? = nil) {
        self.nSplits = nSplits
        self.shuffle = shuffle
        self.randomState = randomState
    }

    /// The `nSplits` folds over rows `0 ..< nSamples`; `y` and `groups` are ignored.
    ///
    /// - Parameters:
    ///   - nSamples: the number of rows.
    ///   - y: ignored.
    ///   - groups: ignored.
    /// - Returns: fold `f` tests the `f`-th block of (possibly permuted) rows and trains on the rest.
    /// - Throws: ``MPILearnError/invalidParameter(name:value:allowed:)`` for `n_splits` < 2 or
    ///   above `nSamples`, or a `random_state` without `shuffle`.
    public func split(nSamples: Int, y: [Int]? = nil, groups: [Int]? = nil) throws -> [Fold] {
        try validateKFold(nSplits: nSplits, shuffle: shuffle, randomState: randomState, nSamples: nSamples)
        var order = Array(0 ..< nSamples)
        if shuffle {
            var rng = Philox(seed: randomState ?? 0, domain: SplitterDomain.kFold.rawValue)
            fisherYates(&order, using: &rng)
        }
        var assignment = [Int](repeating: 0, count: nSamples)
        let base = nSamples / nSplits, extra = nSamples % nSplits
        var start = 0
        for f in 0 ..< nSplits {
            let size = base + (f < extra ? 1 : 0)
            for p in start ..< start + size { assignment[order[p]] = f }
            start += size
        }
        return folds(assignment: assignment, count: nSplits)
    }
}

/// Stratified k-fold: k-fold whose test folds keep each class's share of the rows
/// (scikit-learn's `StratifiedKFold`).
///
/// Follows scikit-learn's allocation: classes are numbered in order of first appearance in
/// `y`; with the encoded labels sorted, position `j` goes to fold `j % nSplits`, which fixes
/// how many rows of each class each fold tests (every fold's count of a class is within one
/// of `classCount / nSplits`, and fold sizes differ by at most one); each class's rows are
/// then given, in row order, to fold 0's share, fold 1's share, and so on. Without shuffling
/// the folds equal scikit-learn's exactly.
///
/// With `shuffle`, each class's list of fold numbers is permuted by a Philox stream of
/// `randomState` (nil means seed 0) and the class's index, as scikit-learn permutes it with
/// NumPy's generator: the folds have scikit-learn's per-class counts, not its rows.
///
/// Unlike scikit-learn, which only warns, `nSplits` above the smallest class's count is an
/// error: a fold without a class cannot score it.
public struct StratifiedKFold: CrossValidator, Codable, Equatable {
    /// The number of folds (≥ 2, ≤ the number of rows of the smallest class).
    public var nSplits: Int
    /// Whether to permute each class's fold assignment.
    public var shuffle: Bool
    /// The seed of the permutations (nil: seed 0). Must be nil when `shuffle` is false.
    public var randomState: UInt64?

    public var needsLabels: Bool { true }

    enum CodingKeys: String, CodingKey {
        case nSplits = "n_splits", shuffle, randomState = "random_state"
    }

    public init(nSplits: Int = 5, shuffle: Bool = false, randomState: UInt64? = nil) {
        self.nSplits = nSplits
        self.shuffle = shuffle
        self.randomState = randomState
    }

    /// The `nSplits` stratified folds of rows `0 ..< nSamples`.
    ///
    /// - Parameters:
    ///   - nSamples: the number of rows.
    ///   - y: the class code of each row (required; any integers).
    ///   - groups: ignored.
    /// - Returns: folds whose test sets hold each class in proportion.
    /// - Throws: ``MPILearnError/invalidParameter(name:value:allowed:)`` for a bad `n_splits`
    ///   or `random_state`, a missing `y` or one of the wrong length, and (parameter `cv`)
    ///   `nSplits` above the number of rows of the smallest class.
    public func split(nSamples: Int, y: [Int]?, groups: [Int]? = nil) throws -> [Fold] {
        try validateKFold(nSplits: nSplits, shuffle: shuffle, randomState: randomState, nSamples: nSamples)
        let y = try requireLabels(y, nSamples: nSamples, splitter: "StratifiedKFold")
        let (encoded, codes, counts) = encodeByFirstAppearance(y)
        // The smallest class; among equals, the first to appear.
        let smallest = counts.indices.min { counts[$0] < counts[$1] }!
        if nSplits > counts[smallest] {
            throw MPILearnError.invalidParameter(
                name: "cv", value: "n_splits=\(nSplits)",
                allowed: "at most \(counts[smallest]) folds for StratifiedKFold: class \(codes[smallest]), the least populated class in y, has only \(counts[smallest]) member\(counts[smallest] == 1 ? "" : "s")")
        }
        // allocation[f][c]: rows of class c that fold f tests. scikit-learn's
        // bincount(sorted(y_encoded)[f::nSplits]): position j of the sorted labels goes to fold j % nSplits.
        let nClasses = codes.count
        var allocation = [[Int]](repeating: [Int](repeating: 0, count: nClasses), count: nSplits)
        var position = 0
        for c in 0 ..< nClasses {
            for _ in 0 ..< counts[c] {
                allocation[position % nSplits][c] += 1
                position += 1
            }
        }
        // Class c's rows, in row order, take fold numbers 0,0,…,1,1,… (shuffled when asked).
        var foldsForClass: [[Int]] = (0 ..< nClasses).map { c in
            (0 ..< nSplits).flatMap { f in repeatElement(f, count: allocation[f][c]) }
        }
        if shuffle {
            for c in 0 ..< nClasses {
                var rng = Philox(seed: randomState ?? 0, domain: SplitterDomain.stratifiedKFold.rawValue, stream: UInt64(c))
                fisherYates(&foldsForClass[c], using: &rng)
            }
        }
        var next = [Int](repeating: 0, count: nClasses)
        var assignment = [Int](repeating: 0, count: nSamples)
        for i in 0 ..< nSamples {
            let c = encoded[i]
            assignment[i] = foldsForClass[c][next[c]]
            next[c] += 1
        }
        return folds(assignment: assignment, count: nSplits)
    }
}

/// K-fold over groups: rows of a group are all in the same test fold (scikit-learn's
/// `GroupKFold` without shuffling).
///
/// scikit-learn's greedy balance: groups are taken by decreasing row count (among equal
/// counts, the larger group id first, as scikit-learn's reversed stable argsort does) and each
/// goes to the fold with the fewest rows so far (the lowest fold number among equals). The
/// folds equal scikit-learn's exactly.
public struct GroupKFold: CrossValidator, Codable, Equatable {
    /// The number of folds (≥ 2, ≤ the number of distinct groups).
    public var nSplits: Int

    public var needsGroups: Bool { true }

    enum CodingKeys: String, CodingKey { case nSplits = "n_splits" }

    public init(nSplits: Int = 5) {
        self.nSplits = nSplits
    }

    /// The `nSplits` group folds of rows `0 ..< nSamples`.
    ///
    /// - Parameters:
    ///   - nSamples: the number of rows.
    ///   - y: ignored.
    ///   - groups: the group id of each row (required; any integers).
    /// - Returns: folds whose test sets are unions of whole groups.
    /// - Throws: ``MPILearnError/invalidParameter(name:value:allowed:)`` for a bad `n_splits`,
    ///   missing `groups` or ones of the wrong length, or fewer distinct groups than folds.
    public func split(nSamples: Int, y: [Int]? = nil, groups: [Int]?) throws -> [Fold] {
        try validateKFold(nSplits: nSplits, shuffle: false, randomState: nil, nSamples: nSamples)
        guard let groups else {
            throw MPILearnError.invalidParameter(name: "groups", value: "none",
                                                 allowed: "a group id for each of the \(nSamples) rows (GroupKFold splits by group)")
        }
        try requireLength(groups, "groups", nSamples: nSamples)
        // Groups numbered in ascending id order (numpy.unique).
        let ids = Array(Set(groups)).sorted()
        try require(nSplits <= ids.count, "n_splits", nSplits,
                    "at most \(ids.count), the number of distinct groups")
        var index = [Int: Int](minimumCapacity: ids.count)
        for (g, id) in ids.enumerated() { index[id] = g }
        let groupOfRow = groups.map { index[$0]! }
        var size = [Int](repeating: 0, count: ids.count)
        for g in groupOfRow { size[g] += 1 }
        // Largest first; ties to the larger group number (reversed stable ascending sort).
        let order = ids.indices.sorted { size[$0] != size[$1] ? size[$0] > size[$1] : $0 > $1 }
        var weight = [Int](repeating: 0, count: nSplits)
        var foldOfGroup = [Int](repeating: 0, count: ids.count)
        for g in order {
            let lightest = weight.indices.min { weight[$0] < weight[$1] }!
            weight[lightest] += size[g]
            foldOfGroup[g] = lightest
        }
        return folds(assignment: groupOfRow.map { foldOfGroup[$0] }, count: nSplits)
    }
}

/// Folds given by the user: row `i` is tested in fold `testFold[i]`, or never when it is -1
/// (scikit-learn's `PredefinedSplit`).
///
/// The folds are the distinct values of `testFold` other than -1, in ascending order; fold
/// `v` tests the rows whose value is `v` and trains on all the others (the rows marked -1
/// included).
public struct PredefinedSplit: CrossValidator, Codable, Equatable {
    /// The test fold of each row; -1 keeps a row in every training set.
    public var testFold: [Int]

    enum CodingKeys: String, CodingKey { case testFold = "test_fold" }

    public init(testFold: [Int]) {
        self.testFold = testFold
    }

    /// The distinct values of `testFold` other than -1.
    public var nSplits: Int { Set(testFold).subtracting([-1]).count }

    /// The predefined folds.
    ///
    /// - Parameters:
    ///   - nSamples: the number of rows; must equal `testFold.count`.
    ///   - y: ignored.
    ///   - groups: ignored.
    /// - Returns: one fold per distinct value of `testFold` other than -1, in ascending order
    ///   (none when every row is -1).
    /// - Throws: ``MPILearnError/invalidParameter(name:value:allowed:)`` (`test_fold`) when
    ///   `testFold` does not have one entry per row.
    public func split(nSamples: Int, y: [Int]? = nil, groups: [Int]? = nil) throws -> [Fold] {
        try requireLength(testFold, "test_fold", nSamples: nSamples)
        let values = Set(testFold).subtracting([-1]).sorted()
        var index = [Int: Int](minimumCapacity: values.count)
        for (f, v) in values.enumerated() { index[v] = f }
        return folds(assignment: testFold.map { $0 == -1 ? -1 : index[$0]! }, count: values.count)
    }
}

// MARK: - Shuffle splits

extension SplitSize {
    /// The train and test row counts of a shuffle split (scikit-learn's `_validate_shuffle_split`).
    ///
    /// With both sizes nil the test set is `defaultTest`. A fraction in (0, 1) becomes
    /// `ceil(fraction · nSamples)` rows for the test set and `floor(fraction · nSamples)` for
    /// the train set; a count must lie in `1 ..< nSamples`. A nil size is the complement of
    /// the other.
    ///
    /// - Parameters:
    ///   - nSamples: the number of rows.
    ///   - testSize: `test_size`, or nil.
    ///   - trainSize: `train_size`, or nil.
    ///   - defaultTest: the test size when both are nil (scikit-learn: 0.1).
    /// - Returns: the number of train rows (≥ 1) and of test rows (≥ 1), together ≤ `nSamples`.
    /// - Throws: ``MPILearnError/invalidParameter(name:value:allowed:)`` naming `test_size`
    ///   or `train_size` for a size out of range, sizes that sum above the rows, or an empty
    ///   train set.
    public static func trainTestCounts(nSamples n: Int, testSize: SplitSize?, trainSize: SplitSize?,
                                       defaultTest: SplitSize = .fraction(0.1)) throws -> (train: Int, test: Int) {
        let testSize = testSize == nil && trainSize == nil ? defaultTest : testSize
        func check(_ size: SplitSize?, _ name: String) throws {
            switch size {
            case .fraction(let f)?:
                try require(f > 0 && f < 1, name, f, "a fraction in (0, 1) or a row count in 1..<\(n) (n_samples=\(n))")
            case .count(let c)?:
                try require(c > 0 && c < n, name, c, "a row count in 1..<\(n) (below n_samples=\(n)) or a fraction in (0, 1)")
            case nil:
                break
            }
        }
        try check(testSize, "test_size")
        try check(trainSize, "train_size")
        if case .fraction(let a)? = testSize, case .fraction(let b)? = trainSize, a + b > 1 {
            throw MPILearnError.invalidParameter(name: "test_size + train_size", value: "\(a) + \(b) = \(a + b)",
                                                 allowed: "a sum of fractions <= 1; reduce test_size and/or train_size")
        }
        func rows(_ size: SplitSize?, roundUp: Bool) -> Int? {
            switch size {
            case .fraction(let f)?: return Int((f * Double(n)).rounded(roundUp ? .up : .down))
            case .count(let c)?: return c
            case nil: return nil
            }
        }
        var nTest = rows(testSize, roundUp: true), nTrain = rows(trainSize, roundUp: false)
        if nTrain == nil { nTrain = n - nTest! } else if nTest == nil { nTest = n - nTrain! }
        let train = nTrain!, test = nTest!
        if train + test > n {
            throw MPILearnError.invalidParameter(
                name: "test_size + train_size", value: "\(test) + \(train) = \(train + test) rows",
                allowed: "at most n_samples=\(n) rows; reduce test_size and/or train_size")
        }
        if train == 0 {
            throw MPILearnError.invalidParameter(
                name: "train_size", value: "0 rows (n_samples=\(n), test_size=\(describe(testSize)), train_size=\(describe(trainSize)))",
                allowed: "a non-empty train set; adjust test_size or train_size")
        }
        return (train, test)
    }

    private static func describe(_ size: SplitSize?) -> String {
        switch size {
        case .fraction(let f)?: return "\(f)"
        case .count(let c)?: return "\(c)"
        case nil: return "none"
        }
    }
}

/// Random permutation cross-validation: `nSplits` independent random train/test splits
/// (scikit-learn's `ShuffleSplit`).
///
/// The sizes follow scikit-learn (``SplitSize/trainTestCounts(nSamples:testSize:trainSize:defaultTest:)``:
/// a 0.1 test fraction when neither size is given; a test fraction rounds up, a train
/// fraction down). Rows not in either set (when both sizes are given) are left out of the fold.
///
/// Split `i` draws from the Philox stream `(randomState, ShuffleSplit's domain, i)`; a nil
/// `randomState` means seed 0, so every rank and every run gets the same splits. They differ
/// from scikit-learn's (NumPy's generator), with the same sizes.
public struct ShuffleSplit: CrossValidator, Codable, Equatable {
    /// The number of splits (≥ 1).
    public var nSplits: Int
    /// `test_size` (nil: the complement of `trainSize`, or 0.1 when both are nil).
    public var testSize: SplitSize?
    /// `train_size` (nil: the complement of the test set).
    public var trainSize: SplitSize?
    /// The seed of the splits (nil: seed 0).
    public var randomState: UInt64?

    enum CodingKeys: String, CodingKey {
        case nSplits = "n_splits", testSize = "test_size", trainSize = "train_size", randomState = "random_state"
    }

    public init(nSplits: Int = 10, testSize: SplitSize? = nil, trainSize: SplitSize? = nil, randomState: UInt64? = nil) {
        self.nSplits = nSplits
        self.testSize = testSize
        self.trainSize = trainSize
        self.randomState = randomState
    }

    /// `nSplits` random splits of rows `0 ..< nSamples`.
    ///
    /// - Parameters:
    ///   - nSamples: the number of rows.
    ///   - y: ignored.
    ///   - groups: ignored.
    /// - Returns: folds of scikit-learn's train and test sizes.
    /// - Throws: ``MPILearnError/invalidParameter(name:value:allowed:)`` for `n_splits` < 1 or
    ///   sizes that do not fit `nSamples`.
    public func split(nSamples: Int, y: [Int]? = nil, groups: [Int]? = nil) throws -> [Fold] {
        try require(nSplits >= 1, "n_splits", nSplits, "an integer >= 1")
        try require(nSamples >= 0, "n_samples", nSamples, "an integer >= 0")
        let (nTrain, nTest) = try SplitSize.trainTestCounts(nSamples: nSamples, testSize: testSize, trainSize: trainSize)
        return (0 ..< nSplits).map { i in
            var rng = Philox(seed: randomState ?? 0, domain: SplitterDomain.shuffleSplit.rawValue, stream: UInt64(i))
            var rows = Array(0 ..< nSamples)
            partialShuffle(&rows, count: nTest + nTrain, using: &rng)
            return Fold(train: rows[nTest ..< nTest + nTrain].sorted(), test: rows[0 ..< nTest].sorted())
        }
    }
}

/// Stratified random splits: `nSplits` random train/test splits that keep each class's share
/// of the rows (scikit-learn's `StratifiedShuffleSplit`).
///
/// Sizes as ``ShuffleSplit``. Per split, the train rows of each class are scikit-learn's
/// approximate mode of the multivariate hypergeometric distribution (`_approximate_mode`:
/// each class's share `count / nSamples · nTrain` rounded down, the missing rows going to the
/// largest remainders), then the test rows likewise from the rows left; ties between equal
/// remainders are broken at random, as in scikit-learn. Each class's rows are then drawn
/// without replacement. Every class needs at least 2 rows, and both sets at least one row per
/// class.
///
/// Split `i` draws from the Philox stream `(randomState, StratifiedShuffleSplit's domain, i)`;
/// a nil `randomState` means seed 0. The splits differ from scikit-learn's (NumPy's
/// generator), with the same sizes and, up to those random tie-breaks, the same per-class counts.
public struct StratifiedShuffleSplit: CrossValidator, Codable, Equatable {
    /// The number of splits (≥ 1).
    public var nSplits: Int
    /// `test_size` (nil: the complement of `trainSize`, or 0.1 when both are nil).
    public var testSize: SplitSize?
    /// `train_size` (nil: the complement of the test set).
    public var trainSize: SplitSize?
    /// The seed of the splits (nil: seed 0).
    public var randomState: UInt64?

    public var needsLabels: Bool { true }

    enum CodingKeys: String, CodingKey {
        case nSplits = "n_splits", testSize = "test_size", trainSize = "train_size", randomState = "random_state"
    }

    public init(nSplits: Int = 10, testSize: SplitSize? = nil, trainSize: SplitSize? = nil, randomState: UInt64? = nil) {
        self.nSplits = nSplits
        self.testSize = testSize
        self.trainSize = trainSize
        self.randomState = randomState
    }

    /// `nSplits` stratified random splits of rows `0 ..< nSamples`.
    ///
    /// - Parameters:
    ///   - nSamples: the number of rows.
    ///   - y: the class code of each row (required; any integers).
    ///   - groups: ignored.
    /// - Returns: folds of scikit-learn's sizes whose train and test sets hold each class in proportion.
    /// - Throws: ``MPILearnError/invalidParameter(name:value:allowed:)`` for `n_splits` < 1,
    ///   sizes that do not fit `nSamples`, a missing `y` or one of the wrong length, a class
    ///   with a single row (`y`), or a train or test set smaller than the number of classes.
    public func split(nSamples: Int, y: [Int]?, groups: [Int]? = nil) throws -> [Fold] {
        try require(nSplits >= 1, "n_splits", nSplits, "an integer >= 1")
        try require(nSamples >= 0, "n_samples", nSamples, "an integer >= 0")
        let (nTrain, nTest) = try SplitSize.trainTestCounts(nSamples: nSamples, testSize: testSize, trainSize: trainSize)
        let y = try requireLabels(y, nSamples: nSamples, splitter: "StratifiedShuffleSplit")
        // Classes in ascending code order (numpy.unique); each class's rows ascending.
        let classes = Array(Set(y)).sorted()
        var index = [Int: Int](minimumCapacity: classes.count)
        for (c, code) in classes.enumerated() { index[code] = c }
        var rowsOfClass = [[Int]](repeating: [], count: classes.count)
        for (i, code) in y.enumerated() { rowsOfClass[index[code]!].append(i) }
        let counts = rowsOfClass.map(\.count)
        let single = classes.indices.filter { counts[$0] < 2 }.map { classes[$0] }
        if !single.isEmpty {
            throw MPILearnError.invalidParameter(
                name: "y", value: "classes \(single) with only 1 member",
                allowed: "at least 2 members in every class for StratifiedShuffleSplit")
        }
        try require(nTrain >= classes.count, "train_size", "\(nTrain) rows",
                    "at least \(classes.count) rows, the number of classes")
        try require(nTest >= classes.count, "test_size", "\(nTest) rows",
                    "at least \(classes.count) rows, the number of classes")
        return (0 ..< nSplits).map { i in
            var rng = Philox(seed: randomState ?? 0, domain: SplitterDomain.stratifiedShuffleSplit.rawValue, stream: UInt64(i))
            let trainPerClass = approximateMode(counts, draws: nTrain, using: &rng)
            let left = zip(counts, trainPerClass).map { $0 - $1 }
            let testPerClass = approximateMode(left, draws: nTest, using: &rng)
            var train: [Int] = [], test: [Int] = []
            train.reserveCapacity(nTrain)
            test.reserveCapacity(nTest)
            for c in classes.indices {
                var rows = rowsOfClass[c]
                let a = min(trainPerClass[c], rows.count), b = min(a + testPerClass[c], rows.count)
                partialShuffle(&rows, count: b, using: &rng)
                train += rows[0 ..< a]
                test += rows[a ..< b]
            }
            return Fold(train: train.sorted(), test: test.sorted())
        }
    }
}

/// How many of `draws` rows to take from each class: scikit-learn's `_approximate_mode`, an
/// approximation of the mode of the multivariate hypergeometric distribution.
///
/// Each class gets `floor(count / total · draws)`; the rows still missing go to the classes
/// with the largest remainders, all of one remainder value before the next, and a random
/// subset (drawn from `rng`) of the classes sharing the last remainder value used. The
/// floating-point steps are scikit-learn's, so equal inputs give equal counts up to ties.
///
/// - Parameters:
///   - counts: rows per class.
///   - draws: rows to draw.
///   - rng: breaks ties between equal remainders.
/// - Returns: rows per class, summing to `draws` (and never above a class's count).
func approximateMode(_ counts: [Int], draws: Int, using rng: inout Philox) -> [Int] {
    let total = Double(counts.reduce(0, +))
    let continuous = counts.map { Double($0) / total * Double(draws) }
    var taken = continuous.map { $0.rounded(.down) }
    var needToAdd = draws - Int(taken.reduce(0, +))
    if needToAdd > 0 {
        let remainder = zip(continuous, taken).map { $0 - $1 }
        for value in Set(remainder).sorted(by: >) {
            var tied = remainder.indices.filter { remainder[$0] == value }
            let addNow = min(tied.count, needToAdd)
            partialShuffle(&tied, count: addNow, using: &rng)
            for c in tied[0 ..< addNow] { taken[c] += 1 }
            needToAdd -= addNow
            if needToAdd == 0 { break }
        }
    }
    return taken.map { Int($0) }
}

// MARK: - Shared helpers

/// scikit-learn's k-fold checks: `n_splits` in `2 ... nSamples`, no `random_state` without `shuffle`.
private func validateKFold(nSplits: Int, shuffle: Bool, randomState: UInt64?, nSamples: Int) throws {
    try require(nSplits >= 2, "n_splits", nSplits, "an integer >= 2 (k-fold cross-validation needs at least one train/test split)")
    if !shuffle, let randomState {
        throw MPILearnError.invalidParameter(name: "random_state", value: "\(randomState)",
                                             allowed: "none when shuffle is false (it would have no effect); set shuffle or leave random_state unset")
    }
    try require(nSamples >= 0, "n_samples", nSamples, "an integer >= 0")
    try require(nSplits <= nSamples, "n_splits", nSplits, "at most n_samples=\(nSamples), the number of rows")
}

private func requireLength(_ values: [Int], _ name: String, nSamples: Int) throws {
    try require(values.count == nSamples, name, "\(values.count) entries", "one entry per row, n_samples=\(nSamples)")
}

private func requireLabels(_ y: [Int]?, nSamples: Int, splitter: String) throws -> [Int] {
    guard let y else {
        throw MPILearnError.invalidParameter(name: "y", value: "none",
                                             allowed: "a class code for each of the \(nSamples) rows (\(splitter) stratifies on them)")
    }
    try requireLength(y, "y", nSamples: nSamples)
    return y
}

/// Labels numbered by first appearance (scikit-learn's encoding in `StratifiedKFold`): the
/// number of each row's class, the class codes in that order, and the rows per class.
private func encodeByFirstAppearance(_ y: [Int]) -> (encoded: [Int], codes: [Int], counts: [Int]) {
    var number: [Int: Int] = [:]
    var codes: [Int] = [], counts: [Int] = []
    let encoded = y.map { code -> Int in
        if let c = number[code] {
            counts[c] += 1
            return c
        }
        number[code] = codes.count
        codes.append(code)
        counts.append(1)
        return codes.count - 1
    }
    return (encoded, codes, counts)
}

/// Folds from a test-fold number per row (-1: in every train set); rows come out ascending.
private func folds(assignment: [Int], count: Int) -> [Fold] {
    var testSize = [Int](repeating: 0, count: count)
    for f in assignment where f >= 0 { testSize[f] += 1 }
    return (0 ..< count).map { f in
        var fold = Fold(train: [], test: [])
        fold.test.reserveCapacity(testSize[f])
        fold.train.reserveCapacity(assignment.count - testSize[f])
        for (i, g) in assignment.enumerated() {
            if g == f { fold.test.append(i) } else { fold.train.append(i) }
        }
        return fold
    }
}

/// Fisher–Yates shuffle drawing from `rng`. Written out rather than the standard library's
/// `shuffle(using:)`, whose sequence of draws is not specified, so the folds are fixed here.
private func fisherYates<T>(_ a: inout [T], using rng: inout Philox) {
    var i = a.count - 1
    while i > 0 {
        a.swapAt(i, rng.below(i + 1))
        i -= 1
    }
}

/// Puts a uniform random sample of `count` elements, in random order, in `a[0 ..< count]`
/// (the first `count` steps of a forward Fisher–Yates shuffle).
private func partialShuffle(_ a: inout [Int], count: Int, using rng: inout Philox) {
    for i in 0 ..< min(count, a.count) {
        a.swapAt(i, i + rng.below(a.count - i))
    }
}
