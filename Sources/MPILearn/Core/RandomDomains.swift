/// The registry of random-stream domains. Every random number in MPILearn comes from
/// `Philox(seed: random_state, domain: D, stream: S)` (or a block of it): the domain says what
/// the numbers are for, the stream which global row, tree, node, candidate or fold they belong
/// to. Two uses must never share a domain, or one seed would give them the same numbers; each
/// subsystem's domains lie in its range below, and a test checks the ranges are disjoint and
/// every domain in use lies in its subsystem's range.
public enum RandomDomains {
    /// Synthetic data generators (`Generators.Domain`).
    public static let generators: ClosedRange<UInt64> = 1 ... 0xFF
    /// SGD's per-epoch row shuffles: `sgdEpochBase + epoch`.
    public static let sgdEpochBase: UInt64 = 0x56D0
    public static let sgdEpochs: ClosedRange<UInt64> = 0x56D0 ... 0x56D0 + 0x1FFF
    /// Random forests: local bootstrap and features, global features and bootstrap.
    public static let forest: ClosedRange<UInt64> = 0x7F01 ... 0x7FFF
    public static let forestBootstrap: UInt64 = 0x7F01
    public static let forestFeatures: UInt64 = 0x7F02
    public static let globalForestFeatures: UInt64 = 0x7F03
    public static let globalForestBootstrap: UInt64 = 0x7F04
    /// Cross-validation splitters (`SplitterDomain`).
    public static let splitters: ClosedRange<UInt64> = 0x4356_0001 ... 0x4356_00FF
    /// Successive halving's subsampling.
    public static let halving: ClosedRange<UInt64> = 0x4A1F_5EED ... 0x4A1F_5EED
    /// k-means (`KMeansDomain`).
    public static let kmeans: ClosedRange<UInt64> = 0x4B4D_0001 ... 0x4B4D_00FF
    /// Randomised search's parameter draws.
    public static let parameterSampling: ClosedRange<UInt64> = 0x5E_A7C4 ... 0x5E_A7C4

    /// Every subsystem's range, by name.
    public static let ranges: [(name: String, range: ClosedRange<UInt64>)] = [
        ("generators", generators), ("sgd epochs", sgdEpochs), ("forest", forest), ("splitters", splitters),
        ("halving", halving), ("k-means", kmeans), ("parameter sampling", parameterSampling),
    ]
}
