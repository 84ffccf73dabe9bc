import Foundation

extension CollegeDB {
    /// Moves the rows `key` owns (all owning tables, or `table`) to `shard`, then the record's
    /// mapping, crash-safely, between two SQLite shards or two PostgreSQL shards
    /// (``ShardMover``). Requests for the record wait meanwhile and then see either the old
    /// shard or the new one, never a partial copy; other keys are not held up. Between
    /// PostgreSQL shards the requests of every daemon of a shared catalog wait too.
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
            let context = MoveContext(catalog: catalog, ownership: ownership, logger: logger)
            let mover = try source.mover(to: target, context: context)
            let moved = try await mover.move(key: key, recordID: current.id, table: table)
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
            guard let source = registry.shard(named: intent.from),
                let target = registry.shard(named: intent.to)
            else {
                logger.error(
                    "an unfinished move names a shard that is not configured; left as it is",
                    metadata: ["from": "\(intent.from)", "to": "\(intent.to)"]
                )
                continue
            }
            do {
                let context = MoveContext(catalog: catalog, ownership: ownership, logger: logger)
                try await source.mover(to: target, context: context).recover(intent)
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
