import Foundation

/// The library's one way of running work on a rank's threads: items `0 ..< count` handed out
/// one at a time (dynamic scheduling, so uneven items balance) to at most `threads` workers,
/// each with its own worker index for per-thread scratch. Learners built on it give results
/// that do not depend on the thread count as long as each item's result depends on the item
/// alone.
public enum WorkerPool {
    /// Runs `body(item, worker)` for every item in `0 ..< count` on `min(threads, count)`
    /// workers (the calling thread alone when that is 1) and returns when all are done.
    public static func run(_ count: Int, threads: Int, _ body: (_ item: Int, _ worker: Int) -> Void) {
        let workers = min(max(1, threads), count)
        if workers <= 1 {
            for i in 0 ..< count { body(i, 0) }
            return
        }
        let lock = NSLock()
        var next = 0
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                while true {
                    lock.lock()
                    let i = next
                    next += 1
                    lock.unlock()
                    if i >= count { break }
                    body(i, w)
                }
            }
        }
    }
}
