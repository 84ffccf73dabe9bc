import Foundation
import GRDB
import Synchronization

/// What an open SQLite shard holds: the clients' connections, and the daemon's own GRDB pool,
/// opened when the daemon's work first needs it. A new or empty file is made a WAL database by
/// the pool before any client connection opens it.
final class OpenShardFiles: Sendable {
    let clients: ShardConnections
    private let path: String
    private let settings: ShardSettings
    private let daemonPool: Mutex<DatabasePool?>

    /// Opens the shard's file (creating it and its directory when missing).
    init(shard: String, path: String, settings: ShardSettings) throws {
        self.path = path
        self.settings = settings
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        let pool = Self.isWALDatabase(path) ? nil : try Self.openPool(path: path, settings: settings)
        daemonPool = Mutex(pool)
        clients = ShardConnections(shard: shard, path: path, settings: settings)
    }

    /// The daemon's own connections to the shard (never given a client's SQL).
    func pool() throws -> DatabasePool {
        try daemonPool.withLock { pool in
            if let pool { return pool }
            let opened = try Self.openPool(path: path, settings: settings)
            pool = opened
            return opened
        }
    }

    /// Checks that the file still answers a trivial query, on a reader when one is free now.
    func checkReadable() throws {
        guard clients.quickReads.tryEnter() else { return }
        defer { clients.quickReads.leave() }
        try clients.withReader { try $0.checkReadable() }
    }

    /// Closes the daemon's pool; the clients' connections close as they are released.
    func close() {
        let pool = daemonPool.withLock { pool in
            defer { pool = nil }
            return pool
        }
        // Nothing uses the pool any more: a connection GRDB could not close now is closed when
        // the pool is released.
        try? pool?.close()
    }

    private static func openPool(path: String, settings: ShardSettings) throws -> DatabasePool {
        let pool = try DatabasePool(path: path, configuration: ShardDatabase.configuration())
        let synchronous = settings.durability.synchronousPragma
        try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = \(synchronous)") }
        return pool
    }

    /// Whether `path` is a SQLite database in WAL mode (its header's read and write versions
    /// are 2), read from its first 20 bytes without opening it as a database.
    private static func isWALDatabase(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        // Read only: closing cannot lose anything.
        defer { try? handle.close() }
        guard let header = try? handle.read(upToCount: 20), header.count == 20 else { return false }
        return header.starts(with: Data("SQLite format 3\0".utf8)) && header[18] == 2 && header[19] == 2
    }
}
