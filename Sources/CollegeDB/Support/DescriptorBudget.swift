import Glibc

/// The open files that open SQLite shards take, checked against the process's open-file limit
/// when the engine opens: a process out of descriptors fails in places that cannot report it
/// (a thread's wake-up pipe, a socket), so the engine keeps fewer shards open
/// (``CollegeDBConfiguration/maxOpenShards``) instead, or refuses to start when not even one fits.
///
/// An open SQLite shard holds its database file and its `-wal` on each of its open connections
/// (the clients' writer and readers, the daemon's own writer and reader once its work needed
/// them) and one `-shm` map: 3 to 7 descriptors measured, counted as ``perSQLiteShard``.
package struct DescriptorBudget: Sendable {
    /// Descriptors counted for each open SQLite shard: 8.
    package static let perSQLiteShard = 8
    /// Descriptors counted for the mapping store and the process's own (event loops, signals,
    /// the log): 64.
    package static let forTheEngine = 64

    /// Descriptors left for what is not a shard: client connections and their margin.
    let reservedForClients: Int

    package init(reservedForClients: Int) { self.reservedForClients = reservedForClients }

    /// The process's soft open-file limit now.
    static var processLimit: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return Int.max }
        return limit.rlim_cur >= rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    /// The descriptors `sqliteShards` open SQLite shards need with the reserve, saturating.
    package func needed(sqliteShards: Int) -> Int {
        let (shards, overflow) = sqliteShards.multipliedReportingOverflow(by: Self.perSQLiteShard)
        guard !overflow else { return Int.max }
        let (total, overflowed) = shards.addingReportingOverflow(Self.forTheEngine + max(reservedForClients, 0))
        return overflowed ? Int.max : total
    }

    /// How many open SQLite shards fit under `limit` open files beside the reserve (0 when
    /// none does).
    package func openShardsThatFit(limit: Int) -> Int {
        let left = limit - Self.forTheEngine - max(reservedForClients, 0)
        return left > 0 ? left / Self.perSQLiteShard : 0
    }

    /// Checks that `sqliteShards` open SQLite shards fit the process's open-file limit.
    /// - Throws: `OVERLOADED` naming the shards, what they need and the limit.
    func check(sqliteShards: Int) throws {
        let limit = Self.processLimit
        let needed = needed(sqliteShards: sqliteShards)
        guard needed > limit else { return }
        throw CollegeDBError(
            .overloaded,
            "\(sqliteShards) SQLite shards need about \(needed) open files (\(Self.perSQLiteShard) each, beside "
                + "\(Self.forTheEngine + reservedForClients) for the daemon and its client connections), but the "
                + "open-file limit is \(limit): raise LimitNOFILE (ulimit -n), lower --max-connections, or lower --max-open-shards"
        )
    }
}
