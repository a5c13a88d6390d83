/// libsvm's kernel cache: rows of the Q matrix (as Float, the precision libsvm caches them
/// in), least recently used first out, within a budget of `cache_size` megabytes.
///
/// A row holds its first `len` entries (a shrunk solver asks for the active prefix only);
/// ``swapIndex(_:_:)`` follows the solver's swaps of two variables, swapping the two entries
/// in every cached row long enough to hold both and dropping the rows that hold only one.
/// The budget never goes below two full rows, so a cache smaller than one row still lets
/// the solver hold the two rows of a step (and converge, more slowly).
final class KernelCache {
    private let l: Int
    /// Floats still free.
    private var size: Int
    private var data: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>
    private var length: UnsafeMutablePointer<Int>
    /// A circular list through `prev`/`next`; index `l` is its head.
    private var prev: UnsafeMutablePointer<Int>
    private var next: UnsafeMutablePointer<Int>

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
        prev = .allocate(capacity: l + 1)
        next = .allocate(capacity: l + 1)
        prev[l] = l
        next[l] = l
    }

    deinit {
        for i in 0 ..< l { data[i]?.deallocate() }
        data.deallocate()
        length.deallocate()
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
        unlink(h)
        data[h]?.deallocate()
        data[h] = nil
        size += length[h]
        length[h] = 0
    }

    /// Row `index`'s storage for its first `len` entries, and the position from which the
    /// caller must fill it (≥ `len` when it is all cached).
    func row(_ index: Int, _ len: Int) -> (UnsafeMutablePointer<Float>, start: Int) {
        if length[index] > 0 { unlink(index) }
        let have = length[index]
        let more = len - have
        if more > 0 {
            while size < more {
                let old = next[l]
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

    /// Follows the solver's swap of variables `i` and `j`.
    func swapIndex(_ a: Int, _ b: Int) {
        if a == b { return }
        if length[a] > 0 { unlink(a) }
        if length[b] > 0 { unlink(b) }
        swap(&data[a], &data[b])
        swap(&length[a], &length[b])
        if length[a] > 0 { append(a) }
        if length[b] > 0 { append(b) }
        let i = min(a, b), j = max(a, b)
        var h = next[l]
        while h != l {
            let following = next[h]
            if length[h] > i {
                if length[h] > j {
                    let p = data[h]!
                    let t = p[i]
                    p[i] = p[j]
                    p[j] = t
                } else {
                    drop(h)
                }
            }
            h = following
        }
    }
}
