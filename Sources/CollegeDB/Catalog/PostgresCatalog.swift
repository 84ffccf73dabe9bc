import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The catalog in a PostgreSQL database (`--catalog postgresql://…`), shared by every daemon
/// started with the same URL: records and their lookup keys, the shard registry, per-shard
/// record counts, the round-robin position and move intents, in the schema `collegedb`
/// (created at the first start; see `PostgresCatalog+Schema.swift`).
///
/// Racing first writes of one key, from any daemon, end on one shard: a key is claimed by
/// inserting it into `collegedb.lookup_key`, whose primary key lets one transaction win; the
/// others wait for it and then route to its record. Every re-point or removal of a record
/// (a trigger on `collegedb.record`) notifies the channel `collegedb_mappings` with the
/// record's id, so every daemon drops its cached route before it routes that key again; while
/// a daemon cannot listen, it routes without its cache (see ``watchChanges(changed:listening:)``).
///
/// Each call blocks its caller (a blocking-work thread) while postgres-nio talks to the server.
/// Query and error counts are each daemon's own since its start: they are not kept here.
package final class PostgresCatalog: MappingCatalog {
    package let address: PostgresShardAddress
    package let keyCodec: MappingKeyCodec
    package var isShared: Bool { true }
    let client: PostgresClient
    /// The one connection that listens for changes, in a pool of its own (named
    /// ``listenerApplicationName``): it never answers calls, and a lost one never reaches them.
    private let listenerClient: PostgresClient
    let logger: Logger
    private let running: PostgresClientRun
    private let listenerRunning: PostgresClientRun
    private let listener = Mutex<Task<Void, Never>?>(nil)
    /// Why the catalog's server could not be reached, and when it was last tried.
    private let outage = Mutex<(reason: String, lastTried: ContinuousClock.Instant)?>(nil)

    /// The channel every daemon listens on: a record id whose mapping changed, `*`, or a
    /// ``SharedCatalogChange`` (from triggers on its tables).
    static let changesChannel = "collegedb_mappings"

    /// The `application_name` of the connection that listens for changes, as
    /// `pg_stat_activity` shows it (the others are `collegedbd`).
    package static let listenerApplicationName = "collegedbd-listener"

    /// Connects to the catalog at `address`, creating its schema when missing. A catalog made
    /// with the other key hashing setting is refused: its keys could never be found.
    /// - Throws: `MAPPING_STORE_FAILED` when the server cannot be reached or refuses.
    package init(
        address: PostgresShardAddress,
        keyCodec: MappingKeyCodec,
        clients: PostgresClients,
        logger: Logger
    ) throws {
        self.address = address
        self.keyCodec = keyCodec
        self.logger = logger
        client = PostgresClient(configuration: try address.clientConfiguration(), backgroundLogger: logger)
        var listening = try address.clientConfiguration(applicationName: Self.listenerApplicationName)
        listening.options.maximumConnections = 1
        listenerClient = PostgresClient(configuration: listening, backgroundLogger: logger)
        running = try clients.start(client)
        do {
            listenerRunning = try clients.start(listenerClient)
        } catch {
            running.requestStop()
            throw error
        }
        do {
            try createSchema(hashing: keyCodec.digest.rawValue)
        } catch {
            running.requestStop()
            listenerRunning.requestStop()
            throw error
        }
    }

    // MARK: Routing

    package func record(forKey key: String) throws -> (id: Int64, shard: String)? {
        let stored = storedKey(key)
        return try run { connection in
            try await Self.firstRow(
                connection.queryWhileOpen(
                    """
                    SELECT r.id, r.shard FROM collegedb.lookup_key k JOIN collegedb.record r ON r.id = k.record_id
                    WHERE k.key = \(stored)
                    """,
                    logger: self.logger
                ),
                as: (Int64, String).self
            ).map { (id: $0.0, shard: $0.1) }
        }
    }

    package func shard(forKey key: String) throws -> String? {
        try record(forKey: key)?.shard
    }

    package func mapping(forKey key: String) throws -> ShardMapping? {
        let stored = storedKey(key)
        return try run { connection in
            try await Self.firstRow(
                connection.queryWhileOpen(
                    """
                    SELECT r.shard, r.created_at, r.updated_at
                    FROM collegedb.lookup_key k JOIN collegedb.record r ON r.id = k.record_id WHERE k.key = \(stored)
                    """,
                    logger: self.logger
                ),
                as: (String, Int64, Int64).self
            ).map { ShardMapping(shard: $0.0, createdAt: $0.1, updatedAt: $0.2) }
        }
    }

    package func shard(ofRecord id: Int64) throws -> String? {
        try AsyncBridge.wait { try await self.currentShard(ofRecord: id) }
    }

    /// Asks the server straight from the calling task, with no thread waiting.
    package func currentShard(ofRecord id: Int64) async throws -> String? {
        try await answer { connection in
            try await Self.firstRow(
                connection.queryWhileOpen("SELECT shard FROM collegedb.record WHERE id = \(id)", logger: self.logger),
                as: String.self
            )
        }
    }

    /// Claims `key` for a new record on the shard `choose` picks, in one transaction whose
    /// insert of the key either wins or waits for the daemon that inserts it first and then
    /// yields; the loser answers with the winner's shard. The round-robin position is read
    /// before the transaction: racing allocations may use one position twice, which only
    /// shifts the rotation.
    package func allocate(
        key: String,
        choose: (_ roundRobinPosition: Int64) throws -> (shard: String, consumesPosition: Bool),
        onCreate: (_ record: Int64) -> Void
    ) throws -> Allocation {
        let stored = storedKey(key)
        for _ in 0..<Self.allocationAttempts {
            if let existing = try record(forKey: key) { return Allocation(shard: existing.shard, created: false) }
            let choice = try choose(try roundRobinPosition())
            let now = MappingStore.nowMilliseconds()
            let created: Int64?
            do {
                created = try run { connection in
                    try await self.transaction(on: connection) {
                        let id = try await Self.insertedID(
                            connection.queryWhileOpen(
                                """
                                INSERT INTO collegedb.record (shard, created_at, updated_at)
                                VALUES (\(choice.shard), \(now), \(now)) RETURNING id
                                """,
                                logger: self.logger
                            )
                        )
                        let claimed = try await Self.firstRow(
                            connection.queryWhileOpen(
                                """
                                INSERT INTO collegedb.lookup_key (key, record_id) VALUES (\(stored), \(id))
                                ON CONFLICT (key) DO NOTHING RETURNING record_id
                                """,
                                logger: self.logger
                            ),
                            as: Int64.self
                        )
                        guard claimed != nil else { throw LostRace() }
                        if choice.consumesPosition {
                            try await connection.queryWhileOpen(
                                """
                                UPDATE collegedb.meta
                                SET value = (CASE WHEN value::bigint < 9223372036854775807 THEN value::bigint + 1 ELSE 0 END)::text
                                WHERE name = \(Self.roundRobinName)
                                """,
                                logger: self.logger
                            )
                        }
                        return id
                    }
                }
            } catch is LostRace {
                created = nil
            }
            if let created {
                onCreate(created)
                return Allocation(shard: choice.shard, created: true, record: created)
            }
        }
        throw CollegeDBError(
            .mappingStoreFailed,
            "key '\(key)' was claimed and removed again \(Self.allocationAttempts) times while this daemon allocated it"
        )
    }

    /// How often an allocation that lost a race to a record removed again is tried.
    static let allocationAttempts = 5

    /// Another daemon claimed the key first: this transaction is rolled back.
    private struct LostRace: Error {}

    package func roundRobinPosition() throws -> Int64 {
        try run { connection in
            try await Self.firstRow(
                connection.queryWhileOpen(
                    "SELECT value::bigint FROM collegedb.meta WHERE name = \(Self.roundRobinName)",
                    logger: self.logger
                ),
                as: Int64.self
            ) ?? 0
        }
    }

    package func identifierNode(ofShard shard: String) throws -> Int64 {
        let name = "id_node:" + shard
        return try run { connection in
            try await self.transaction(on: connection) {
                // Daemons giving nodes at once take turns, so no node is given twice.
                try await connection.queryWhileOpen(
                    "SELECT pg_advisory_xact_lock(\(Self.identifierNodeLock))",
                    logger: self.logger
                )
                if let node = try await Self.firstRow(
                    connection.queryWhileOpen(
                        "SELECT value::bigint FROM collegedb.meta WHERE name = \(name)",
                        logger: self.logger
                    ),
                    as: Int64.self
                ) {
                    return node
                }
                let highest = try await Self.firstRow(
                    connection.queryWhileOpen(
                        "SELECT coalesce(max(value::bigint), 0) FROM collegedb.meta WHERE starts_with(name, 'id_node:')",
                        logger: self.logger
                    ),
                    as: Int64.self
                )
                let node = try ClusterIdentifiers.node(after: highest)
                try await connection.queryWhileOpen(
                    "INSERT INTO collegedb.meta (name, value) VALUES (\(name), \(String(node)))",
                    logger: self.logger
                )
                return node
            }
        }
    }

    /// The advisory lock daemons giving `collegedb_id()` nodes take in turn.
    static let identifierNodeLock: Int64 = 0x636f_6c6c_6964_6e6f

    package func reserveIdentifiers(_ count: Int64) throws -> Int64 {
        try run { connection in
            guard
                let first = try await Self.firstRow(
                    connection.queryWhileOpen(
                        """
                        INSERT INTO collegedb.meta (name, value) VALUES ('id_next', \(String(count)))
                        ON CONFLICT (name) DO UPDATE SET value = (collegedb.meta.value::bigint + \(count))::text
                        RETURNING value::bigint - \(count)
                        """,
                        logger: self.logger
                    ),
                    as: Int64.self
                )
            else { throw CollegeDBError(.mappingStoreFailed, "the catalog reserved no collegedb_id() counters") }
            return first
        }
    }

    package func statistics() throws -> [String: ShardStatistics] {
        try run { connection in
            var statistics: [String: ShardStatistics] = [:]
            let rows = try await connection.queryWhileOpen(
                "SELECT shard, record_count, last_updated FROM collegedb.shard_stats",
                logger: self.logger
            )
            for (shard, count, lastUpdated) in try rows.decode((String, Int64, Int64?).self) {
                statistics[shard] = ShardStatistics(shard: shard, count: count, lastUpdated: lastUpdated)
            }
            return statistics
        }
    }

    @discardableResult
    package func clearAll() throws -> Int {
        try run { connection in
            try await self.transaction(on: connection) {
                let deleted = try await self.truncateRecords(on: connection)
                try await connection.queryWhileOpen("DELETE FROM collegedb.shard_stats", logger: self.logger)
                try await connection.queryWhileOpen(
                    "UPDATE collegedb.meta SET value = '0' WHERE name = \(Self.roundRobinName)",
                    logger: self.logger
                )
                return deleted
            }
        }
    }

    package func isHealthy() -> Bool {
        // Any error is the answer: not healthy.
        (try? run { connection in
            try await Self.firstRow(connection.queryWhileOpen("SELECT 1", logger: self.logger), as: Int.self)
        }) == 1
    }

    package func close() throws {
        listener.withLock { $0?.cancel() }
        running.requestStop()
        listenerRunning.requestStop()
    }

    // MARK: Changes from other daemons

    /// Listens on ``changesChannel`` on a connection of its own, for as long as the catalog is
    /// open. Once the server has taken the `LISTEN`, says `changed(nil)` and
    /// `othersChanged` of every kind (anything may have changed while no one listened) and then
    /// `listening(true)`.
    ///
    /// Every ``probeInterval`` the listening connection answers a `SELECT 1`; the server sends
    /// a connection the notifications of every transaction committed before it answers, so a
    /// connection that answers has told of every change up to then. One that fails or takes
    /// longer than ``probeTimeout`` says `listening(false)`, is dropped and is made again a
    /// second later. So a daemon routes by a cached mapping at most about
    /// `probeInterval + probeTimeout` after the catalog stopped telling it of changes.
    package func watchChanges(
        changed: @escaping @Sendable (_ record: Int64?) -> Void,
        othersChanged: @escaping @Sendable (SharedCatalogChange) -> Void,
        listening: @escaping @Sendable (Bool) -> Void
    ) {
        let client = listenerClient
        let logger = logger
        let connectTimeout = address.connectTimeout
        let task = Task {
            while !Task.isCancelled {
                do {
                    try await client.withConnection(leasedWithin: connectTimeout) { connection in
                        try await connection.listen(on: Self.changesChannel) { notifications in
                            changed(nil)
                            for change in SharedCatalogChange.allCases { othersChanged(change) }
                            listening(true)
                            try await withThrowingTaskGroup(of: Void.self) { group in
                                group.addTask {
                                    for try await notification in notifications {
                                        if let change = SharedCatalogChange(rawValue: notification.payload) {
                                            othersChanged(change)
                                        } else {
                                            // Record ids, comma-separated; a payload that is not
                                            // one empties the whole cache (nil).
                                            let ids = notification.payload.split(separator: ",").map { Int64($0) }
                                            if ids.isEmpty || ids.contains(nil) {
                                                changed(nil)
                                            } else {
                                                for id in ids { changed(id) }
                                            }
                                        }
                                    }
                                    throw ListenerLost()
                                }
                                group.addTask {
                                    while true {
                                        try await Task.sleep(for: Self.probeInterval)
                                        try await Self.probe(connection, logger: logger)
                                    }
                                }
                                defer { group.cancelAll() }
                                try await group.next()
                            }
                        }
                    }
                } catch {
                    if Task.isCancelled { break }
                    listening(false)
                    logger.warning(
                        "cannot hear the catalog's changes; routing without the mapping cache",
                        metadata: ["reason": "\(error)"]
                    )
                }
                listening(false)
                // Cancelled, the loop ends at its next check; otherwise a pause before listening again.
                try? await Task.sleep(for: .seconds(1))
            }
        }
        listener.withLock { $0 = task }
    }

    /// How often the listening connection is asked to answer.
    static let probeInterval: Duration = .milliseconds(500)
    /// How long it has to answer before it counts as lost.
    static let probeTimeout: Duration = .seconds(1)

    /// Answers once `connection` has answered a `SELECT 1`; throws when it fails or does not
    /// answer within ``probeTimeout``.
    private static func probe(_ connection: PostgresConnection, logger: Logger) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await connection.queryWhileOpen("SELECT 1", logger: logger)
                return true
            }
            group.addTask {
                try await Task.sleep(for: probeTimeout)
                return false
            }
            defer { group.cancelAll() }
            guard try await group.next() == true else { throw ListenerLost() }
        }
    }

    /// The listening connection stopped answering or delivering.
    private struct ListenerLost: Error {}

    // MARK: Helpers

    static let roundRobinName = "round_robin_next"

    /// The stored form of `key` as the catalog's `bytea` column holds it: its digest's bytes,
    /// or its UTF-8 text.
    func storedKey(_ key: String) -> ByteBuffer {
        Self.buffer(keyCodec.storedValue(for: key))
    }

    static func buffer(_ stored: StoredKey) -> ByteBuffer {
        switch stored {
        case .digest(let bytes): ByteBuffer(bytes: bytes)
        case .text(let text): ByteBuffer(string: text)
        }
    }

    /// A stored key read from the catalog: a digest's bytes, or the text of a plain key.
    func storedKey(_ stored: ByteBuffer) -> StoredKey {
        keyCodec.hashesKeys ? .digest(Data(stored.readableBytesView)) : .text(String(buffer: stored))
    }

    /// Deletes every record and key at once, telling every daemon; returns how many records
    /// there were.
    func truncateRecords(on connection: PostgresConnection) async throws -> Int {
        let count =
            try await Self.firstRow(
                connection.queryWhileOpen("SELECT count(*) FROM collegedb.record", logger: logger),
                as: Int64.self
            ) ?? 0
        try await connection.queryWhileOpen("TRUNCATE collegedb.lookup_key, collegedb.record", logger: logger)
        try await connection.queryWhileOpen("SELECT pg_notify(\(Self.changesChannel), '*')", logger: logger)
        return Int(count)
    }

    /// Runs `body` on a pooled connection and waits for it; translates failures.
    @discardableResult
    func run<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) throws -> T {
        try AsyncBridge.wait { try await self.answer(body) }
    }

    /// Runs `body` on a pooled connection; translates failures. While the server is down,
    /// answers at once, except for one call a second (``PostgresShard/retryInterval``) that tries
    /// it, so that calls do not pile up on the blocking-work threads for a connect timeout each.
    private func answer<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let now = ContinuousClock.now
        let fastFailure: String? = outage.withLock { outage in
            guard let known = outage else { return nil }
            if now - known.lastTried >= PostgresShard.retryInterval {
                outage?.lastTried = now
                return nil
            }
            return known.reason
        }
        if let fastFailure { throw Self.unreachable(address, fastFailure) }
        do {
            let value = try await client.withConnection(leasedWithin: address.connectTimeout, body)
            outage.withLock { $0 = nil }
            return value
        } catch let error as LostRace {
            throw error
        } catch let error as CollegeDBError {
            outage.withLock { $0 = nil }
            throw error
        } catch {
            if let reason = PostgresShard.connectionFailure(error, leased: true) {
                outage.withLock { $0 = (reason, ContinuousClock.now) }
                logger.warning("the catalog cannot be reached", metadata: ["reason": "\(reason)"])
                throw Self.unreachable(address, reason)
            }
            throw Self.translated(error, address: address)
        }
    }

    /// `body` between `BEGIN` and `COMMIT`, rolled back when it throws.
    func transaction<T>(on connection: PostgresConnection, _ body: () async throws -> T) async throws -> T {
        try await connection.queryWhileOpen("BEGIN", logger: logger)
        do {
            let value = try await body()
            try await connection.queryWhileOpen("COMMIT", logger: logger)
            return value
        } catch {
            // The body's error is the one to report; a connection whose ROLLBACK fails is dropped
            // by the pool, which rolls the transaction back with the session.
            _ = try? await connection.queryWhileOpen("ROLLBACK", logger: logger)
            throw error
        }
    }

    /// The first row of `rows`, decoded, or nil when there is none.
    static func firstRow<Row: PostgresDecodable & Sendable>(
        _ rows: PostgresCollectedRows,
        as type: Row.Type
    ) throws -> Row? {
        try rows.first(Row.self)
    }

    static func firstRow<A: PostgresDecodable & Sendable, B: PostgresDecodable & Sendable>(
        _ rows: PostgresCollectedRows,
        as type: (A, B).Type
    ) throws -> (A, B)? {
        try rows.first((A, B).self)
    }

    static func firstRow<
        A: PostgresDecodable & Sendable,
        B: PostgresDecodable & Sendable,
        C: PostgresDecodable & Sendable
    >(
        _ rows: PostgresCollectedRows,
        as type: (A, B, C).Type
    ) throws -> (A, B, C)? {
        try rows.first((A, B, C).self)
    }

    /// The id an `INSERT … RETURNING id` gave.
    /// - Throws: `MAPPING_STORE_FAILED` when it gave none (a rule or trigger someone added to
    ///   the catalog's tables swallowed the row).
    static func insertedID(_ rows: PostgresCollectedRows) throws -> Int64 {
        guard let id = try firstRow(rows, as: Int64.self) else {
            throw CollegeDBError(.mappingStoreFailed, "the catalog returned no id for a row it inserted")
        }
        return id
    }

    static func unreachable(_ address: PostgresShardAddress, _ reason: String) -> CollegeDBError {
        CollegeDBError(.mappingStoreFailed, "the catalog at \(address) cannot be reached: \(reason)")
    }

    /// What the engine reports for a statement the catalog's server failed.
    static func translated(_ error: any Error, address: PostgresShardAddress) -> CollegeDBError {
        if let error = error as? PSQLError, let sqlState = error.sqlState {
            let message = error.serverInfo?[.message] ?? sqlState
            if sqlState == "53100" { return CollegeDBError(.storageFull, "the catalog at \(address): \(message)") }
            return CollegeDBError(.mappingStoreFailed, "the catalog at \(address) failed: \(message) (\(sqlState))")
        }
        return CollegeDBError(.mappingStoreFailed, "the catalog at \(address) failed: \(error)")
    }
}
