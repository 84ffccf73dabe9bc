import Foundation

extension CollegeDB {
    /// Moves the rows `key` owns (all owning tables, or `table`) to `shard`, then the record's
    /// mapping, crash-safely, between two SQLite shards or two PostgreSQL shards. Requests for
    /// the record wait meanwhile and then see either the old shard or the new one, never a
    /// partial copy; other keys are not held up. Between PostgreSQL shards the requests of
    /// every daemon of a shared catalog wait too (``PostgresRecordMover``).
    public func reassignShard(key: String, to shard: String, table: String? = nil) async throws -> Reassignment {
        try Self.validate(key: key)
        let target = try coordinator.registry.database(named: shard)
        let catalog = self.catalog
        guard let record = try await BlockingWork.run({ try catalog.record(forKey: key) }) else {
            throw CollegeDBError.mappingNotFound(key)
        }
        let ownership = await coordinator.configuration.ownership
        return try await coordinator.locks.moving(record.id) {
            guard let current = try await BlockingWork.run({ try catalog.record(forKey: key) }) else {
                throw CollegeDBError.mappingNotFound(key)
            }
            guard current.shard != shard else { return Reassignment(from: current.shard, to: shard, rowsMoved: 0) }
            let source = try coordinator.registry.mappedDatabase(named: current.shard, key: key)
            let moved: Int
            if let source = source as? PostgresShard, let target = target as? PostgresShard {
                let mover = PostgresRecordMover(catalog: catalog, ownership: ownership, killPoint: .fromEnvironment)
                moved = try await mover.move(key: key, recordID: current.id, from: source, to: target, table: table)
            } else {
                let source = try source.sqliteDatabase(for: "reassignShard between a SQLite and a PostgreSQL shard")
                let target = try target.sqliteDatabase(for: "reassignShard between a SQLite and a PostgreSQL shard")
                let mover = RecordMover(store: catalog, ownership: ownership, killPoint: .fromEnvironment)
                moved = try await BlockingWork.run {
                    try mover.move(key: key, recordID: current.id, from: source, to: target, table: table)
                }
            }
            logger.info(
                "moved a record",
                metadata: ["from": "\(current.shard)", "to": "\(shard)", "rows": "\(moved)"]
            )
            return Reassignment(from: current.shard, to: shard, rowsMoved: moved)
        }
    }

    /// Finishes or undoes every move a crash left unfinished; runs when the engine opens.
    func recoverMoves() async throws {
        let catalog = self.catalog
        let registry = coordinator.registry
        let ownership = await coordinator.configuration.ownership
        for intent in try await BlockingWork.run({ try catalog.unfinishedMoves() }) {
            let source = try? registry.database(named: intent.from)
            let target = try? registry.database(named: intent.to)
            do {
                if let source = source as? PostgresShard, let target = target as? PostgresShard {
                    let mover = PostgresRecordMover(catalog: catalog, ownership: ownership, killPoint: .fromEnvironment)
                    try await mover.recover(intent, source: source, target: target)
                } else if let source = source as? ShardDatabase, let target = target as? ShardDatabase {
                    let mover = RecordMover(store: catalog, ownership: ownership, killPoint: .fromEnvironment)
                    try await BlockingWork.run { try mover.recover(intent, source: source, target: target) }
                } else {
                    logger.error(
                        "an unfinished move names a shard that is not configured; left as it is",
                        metadata: ["from": "\(intent.from)", "to": "\(intent.to)"]
                    )
                    continue
                }
            } catch {
                // A shard that does not serve, a client's trigger that refuses the delete
                // (RAISE(ABORT)): the catalog names the record's shard either way, so the daemon
                // starts and serves, and the next start tries again.
                logger.error(
                    "an interrupted move could not be finished; left for the next start",
                    metadata: ["from": "\(intent.from)", "to": "\(intent.to)", "error": "\(String(reflecting: error))"]
                )
                continue
            }
            logger.notice(
                intent.state == .flipped ? "completed an interrupted move" : "undid an interrupted move",
                metadata: ["from": "\(intent.from)", "to": "\(intent.to)", "rows": "\(intent.plan.rowCount)"]
            )
        }
    }
}

/// What `reassignShard` did.
public struct Reassignment: Sendable, Hashable {
    public var from: String
    public var to: String
    public var rowsMoved: Int
}
