import CollegeDB
import Glibc
import Logging

/// The process's limit on open files, raised at start to the hard limit: each client
/// connection holds a descriptor, and each open SQLite shard several
/// (``CollegeDBConfiguration/descriptorsReservedForClients`` and the engine's own check, which
/// keeps fewer shards open than `--max-open-shards` when the limit cannot afford them, instead
/// of running out).
enum FileDescriptorLimit {
    /// Descriptors the daemon's own files take, beside its client connections.
    static let forFiles = 256

    /// Raises the soft limit to the hard limit; when that stays below what the connection
    /// limits and the SQLite shards kept open need, says so in the log (the engine then keeps
    /// fewer open).
    static func raise(for settings: DaemonSettings, logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        if limit.rlim_max > limit.rlim_cur {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            // Under the hardened unit setrlimit is filtered out; the unit sets LimitNOFILE itself.
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let configured =
            settings.database.shardDirectory == nil
            ? settings.database.shards.count { $0.postgres == nil } : settings.database.maxOpenShards
        let sqliteShards = min(configured, settings.database.maxOpenShards)
        let needed = DescriptorBudget(reservedForClients: settings.database.descriptorsReservedForClients)
            .needed(sqliteShards: sqliteShards)
        if limit.rlim_cur < rlim_t(needed) {
            logger.warning(
                "the open-file limit is below what the connection limits and the shards need",
                metadata: ["limit": "\(limit.rlim_cur)", "needed": "\(needed)"]
            )
        }
    }
}
