import CollegeDBServer
import Glibc
import Logging

/// The process's limit on open files, raised at start so that the connection limits can be
/// reached: each connection holds a descriptor, and each SQLite connection three.
enum FileDescriptorLimit {
    /// Descriptors the daemon asks for: the default 1024 connections and the reserved ones, with
    /// room for the shards' and the mapping store's files.
    static let wanted: rlim_t = 16384

    /// Raises the soft limit towards `wanted`, within the hard limit; when it stays below what
    /// `connections` need, says so in the log.
    static func raise(for connections: Int, logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let target = min(max(limit.rlim_cur, wanted), limit.rlim_max)
        if target > limit.rlim_cur {
            var raised = limit
            raised.rlim_cur = target
            // Under the hardened unit setrlimit is filtered out; the unit sets LimitNOFILE itself.
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let needed = rlim_t(connections + ConnectionLimits.reservedForAdministrators + 256)
        if limit.rlim_cur < needed {
            logger.warning(
                "the open-file limit is below what the connection limit needs; connections may fail before it",
                metadata: ["limit": "\(limit.rlim_cur)", "needed": "\(needed)"]
            )
        }
    }
}
