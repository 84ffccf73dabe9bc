import Synchronization

/// How many SQLite shards may be open at once, and which to close when more are: every SQLite
/// shard of an engine shares one. A shard opens on its first use (``ShardDatabase``); when
/// that makes more than ``maximum`` open, the least recently used ones that nothing uses (no
/// call, transaction, group commit, move or backup) are closed, giving back their descriptors
/// and caches. A shard in use is never closed, so more than ``maximum`` may be open while calls
/// use that many at once, up to ``hardLimit`` (what the open-file limit affords): a shard that
/// would open past it is refused with `OVERLOADED` instead of running the process out of
/// descriptors.
///
/// It also keeps the file (device and inode) each shard opened, so that no two shards ever use
/// one file (a link, a second spelling), and a shard whose file was removed or replaced while
/// closed is not opened on a new, empty one.
package final class OpenShardSlots: Sendable {
    /// Shards kept open at once. The default is 256.
    package let maximum: Int
    /// Shards that may be open at once while in use. The default is twice ``maximum``, and at
    /// least 64 more.
    package let hardLimit: Int
    private let open = Mutex<[ObjectIdentifier: ShardDatabase]>([:])
    /// The file each shard opened, by its identity.
    private let files = Mutex<[ShardFileCheck.FileIdentity: String]>([:])
    private let clock = Atomic<UInt64>(0)
    private let opens = Atomic(0)
    private let evictions = Atomic(0)
    /// How many are open, readable without the lock on every release.
    private let openCount = Atomic(0)

    /// At most `maximum` shards open at once (at least 1) when idle, and `hardLimit` (at
    /// least `maximum`; nil for the default) while in use.
    package init(maximum: Int = 256, hardLimit: Int? = nil) {
        self.maximum = max(maximum, 1)
        self.hardLimit = max(hardLimit ?? max(2 * self.maximum, self.maximum + 64), self.maximum)
    }

    /// Makes room for one more open shard: closes idle ones when ``hardLimit`` shards are open.
    /// - Throws: `OVERLOADED` when that many are open and in use.
    func makeRoom(for shard: String) throws {
        // Other shards opening meanwhile may take the room made: again while idle ones close.
        for _ in 0..<Self.roomAttempts {
            guard openCount.load(ordering: .relaxed) >= hardLimit else { return }
            guard closeIdle(keeping: min(maximum, hardLimit - 1), sparing: nil) > 0 else { break }
        }
        guard openCount.load(ordering: .relaxed) >= hardLimit else { return }
        throw CollegeDBError(
            .overloaded,
            "shard '\(shard)' cannot open now: \(hardLimit) SQLite shards are open and in use, as many as the "
                + "open-file limit affords; try again when calls end (or raise LimitNOFILE)"
        )
    }

    /// Notes the file `shard` opened at `path`.
    /// - Throws: `SHARD_UNAVAILABLE` when another shard opened the same file.
    func claim(_ path: String, for shard: String) throws {
        guard let identity = ShardFileCheck.identity(of: path) else { return }
        try files.withLock { files in
            if let owner = files[identity], owner != shard {
                throw CollegeDBError(
                    .shardUnavailable,
                    "shard '\(shard)': \(path) is the file shard '\(owner)' opened (a link or another spelling); "
                        + "a file serves one shard"
                )
            }
            files[identity] = shard
        }
    }

    /// Whether `identity` is the file `shard` opened before.
    func isFile(_ identity: ShardFileCheck.FileIdentity, of shard: String) -> Bool {
        files.withLock { $0[identity] == shard }
    }

    /// A number that grows with each use, for least-recently-used order.
    func tick() -> UInt64 {
        clock.add(1, ordering: .relaxed).newValue
    }

    /// Shards open now, shards opened and shards closed to make room since the start.
    package var counts: (open: Int, opened: Int, evicted: Int) {
        (
            open.withLock { $0.count }, opens.load(ordering: .relaxed),
            evictions.load(ordering: .relaxed)
        )
    }

    /// Notes that `shard` opened, and closes the least recently used idle shards past the
    /// maximum. Call it holding no shard's lock.
    func opened(_ shard: ShardDatabase) {
        opens.add(1, ordering: .relaxed)
        open.withLock { open in
            open[ObjectIdentifier(shard)] = shard
            // Stored under the lock, so that the counts of racing opens and closes keep their order.
            openCount.store(open.count, ordering: .relaxed)
        }
        closeIdle(keeping: maximum, sparing: shard)
    }

    /// Notes that a use of a shard ended: when more than the maximum are open (the shards that
    /// were in use when others opened), the least recently used idle ones close now. Call it
    /// holding no shard's lock.
    func released() {
        guard openCount.load(ordering: .relaxed) > maximum else { return }
        closeIdle(keeping: maximum, sparing: nil)
    }

    /// How many times making room closes idle shards before it gives up: 16.
    private static let roomAttempts = 16

    /// Closes the least recently used idle shards (but `shard`) until `keeping` are open, and
    /// returns how many it closed.
    @discardableResult
    private func closeIdle(keeping: Int, sparing shard: ShardDatabase?) -> Int {
        let (excess, candidates) = open.withLock { open -> (Int, [ShardDatabase]) in
            guard open.count > keeping else { return (0, []) }
            return (open.count - keeping, open.values.filter { $0 !== shard })
        }
        guard excess > 0 else { return 0 }
        var closed = 0
        let oldestFirst = candidates.map { (lastUse: $0.lastUse, shard: $0) }.sorted { $0.lastUse < $1.lastUse }
        for (_, candidate) in oldestFirst where closed < excess {
            if candidate.closeIfIdle() {
                evictions.add(1, ordering: .relaxed)
                closed += 1
            }
        }
        return closed
    }

    /// Notes that `shard` closed.
    func closed(_ shard: ShardDatabase) {
        open.withLock { open in
            open.removeValue(forKey: ObjectIdentifier(shard))
            openCount.store(open.count, ordering: .relaxed)
        }
    }
}
