/// libsvm's kernel cache: rows of the Q matrix (as Float, the precision libsvm caches them
/// in), least recently used first out, within a budget of `cache_size` megabytes.
///
/// A row holds its first `len` entries (a shrunk solver asks for the active prefix only).
/// When the solver swaps two variables i < j, libsvm walks every cached row at once,
/// swapping entries i and j of the rows that hold both and dropping the rows that hold i but
/// not j. Here the swaps go to a log instead, and a row replays the swaps it has not seen when
/// it is next read, with the same rules: the same values, but a swap costs O(1) rather than
/// a walk over every cached row (libsvm's walks take most of a long linear-kernel fit).
/// The budget never goes below two full rows, so a cache smaller than one row still lets
/// the solver hold the two rows of a step (and converge, more slowly).
final class KernelCache {
    private let l: Int
    /// Floats still free.
    private var size: Int
    private var data: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>
    private var length: UnsafeMutablePointer<Int>
    /// How many logged swaps each row has replayed.
    private var synced: UnsafeMutablePointer<Int>
    /// A circular list through `prev`/`next`; index `l` is its head.
    private var prev: UnsafeMutablePointer<Int>
    private var next: UnsafeMutablePointer<Int>
    /// The swaps (i < j), in order.
    private var log: [(Int32, Int32)] = []

    /// A cache for `l` rows within `bytes` bytes.
    init(l: Int, bytes: Int) {
        self.l = l
        // As libsvm: the budget in floats, less the row headers, at least two rows.
        let headerBytes = 32
        size = max(bytes / MemoryLayout<Float>.size - l * headerBytes / MemoryLayout<Float>.size, 2 * l)
        data = .allocate(capacity: l)
        data.initialize(repeating: nil, count: l)
        length = .allocate(capacity: l)
        length.initialize(repeating: 0, count: l)
        synced = .allocate(capacity: l)
        synced.initialize(repeating: 0, count: l)
        prev = .allocate(capacity: l + 1)
        next = .allocate(capacity: l + 1)
        prev[l] = l
        next[l] = l
    }

    deinit {
        for i in 0 ..< l { data[i]?.deallocate() }
        data.deallocate()
        length.deallocate()
        synced.deallocate()
        prev.deallocate()
        next.deallocate()
    }

    private func unlink(_ h: Int) {
        next[prev[h]] = next[h]
        prev[next[h]] = prev[h]
    }

    private func append(_ h: Int) {
        next[h] = l
        prev[h] = prev[l]
        next[prev[h]] = h
        prev[l] = h
    }

    private func drop(_ h: Int) {
        data[h]?.deallocate()
        data[h] = nil
        size += length[h]
        length[h] = 0
    }

    /// Replays on row h the swaps it has not seen.
    private func replay(_ h: Int) {
        var t = synced[h]
        let n = log.count
        if t == n { return }
        if length[h] > 0 {
            let p = data[h]!
            while t < n && length[h] > 0 {
                let (i, j) = (Int(log[t].0), Int(log[t].1))
                let len = length[h]
                if len > i {
                    if len > j {
                        let v = p[i]
                        p[i] = p[j]
                        p[j] = v
                    } else {
                        drop(h)
                    }
                }
                t += 1
            }
        }
        synced[h] = n
    }

    /// Row `index`'s storage for its first `len` entries, and the position from which the
    /// caller must fill it (≥ `len` when it is all cached).
    func row(_ index: Int, _ len: Int) -> (UnsafeMutablePointer<Float>, start: Int) {
        if length[index] > 0 {
            unlink(index)
            replay(index)
        }
        synced[index] = log.count
        let have = length[index]
        let more = len - have
        if more > 0 {
            while size < more {
                let old = next[l]
                unlink(old)
                drop(old)
            }
            let fresh = UnsafeMutablePointer<Float>.allocate(capacity: len)
            if let old = data[index] {
                fresh.update(from: old, count: have)
                old.deallocate()
            }
            data[index] = fresh
            size -= more
            length[index] = len
        }
        append(index)
        return (data[index]!, have)
    }

    /// Follows the solver's swap of variables `a` and `b`.
    func swapIndex(_ a: Int, _ b: Int) {
        if a == b { return }
        // The two rows trade places first (their pending swaps travel with them).
        if length[a] > 0 { unlink(a) }
        if length[b] > 0 { unlink(b) }
        swap(&data[a], &data[b])
        swap(&length[a], &length[b])
        swap(&synced[a], &synced[b])
        if length[a] > 0 { append(a) }
        if length[b] > 0 { append(b) }
        log.append((Int32(min(a, b)), Int32(max(a, b))))
    }
}
