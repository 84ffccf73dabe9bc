import CollegeDBServer
import Glibc
import Logging

/// The process's limit on open files, raised at start so that the connection limits can be
/// reached: each connection holds a descriptor, and each SQLite connection three.
enum FileDescriptorLimit {
    /// Descriptors the daemon asks for at least: room for the shards' and the mapping store's
    /// SQLite connections beside the default connection limits.
    static let wanted: rlim_t = 16384

    /// Descriptors the daemon's own files take, beside its client connections.
    static let forFiles = 256

    /// Raises the soft limit to what `limits` need (at least `wanted`), within the hard limit;
    /// when it stays below what they need, says so in the log.
    static func raise(for limits: ConnectionLimits, logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let needed = rlim_t(limits.mostOpen + forFiles)
        let target = min(max(limit.rlim_cur, needed, wanted), limit.rlim_max)
        if target > limit.rlim_cur {
            var raised = limit
            raised.rlim_cur = target
            // Under the hardened unit setrlimit is filtered out; the unit sets LimitNOFILE itself.
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        if limit.rlim_cur < needed {
            logger.warning(
                "the open-file limit is below what the connection limit needs; connections may fail before it",
                metadata: ["limit": "\(limit.rlim_cur)", "needed": "\(needed)"]
            )
        }
    }
}
