import Foundation

extension CollegeDB {
    /// Moves the rows `key` owns (all owning tables, or `table`) to `shard`, then the record's
    /// mapping, crash-safely. Requests for the record wait meanwhile and then see either the old
    /// shard or the new one, never a partial copy; other keys are not held up.
    public func reassignShard(key: String, to shard: String, table: String? = nil) async throws -> Reassignment {
        try Self.validate(key: key)
        let target = try coordinator.registry.database(named: shard).sqliteDatabase(for: "reassignShard")
        let store = catalog
        guard let record = try await BlockingWork.run({ try store.record(forKey: key) }) else {
            throw CollegeDBError.mappingNotFound(key)
        }
        let mover = await self.mover()
        return try await coordinator.locks.moving(record.id) {
            guard let current = try await BlockingWork.run({ try store.record(forKey: key) }) else {
                throw CollegeDBError.mappingNotFound(key)
            }
            guard current.shard != shard else { return Reassignment(from: current.shard, to: shard, rowsMoved: 0) }
            let source = try coordinator.registry.mappedDatabase(named: current.shard, key: key)
                .sqliteDatabase(for: "reassignShard")
            let moved = try await BlockingWork.run {
                try mover.move(key: key, recordID: current.id, from: source, to: target, table: table)
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
        let store = catalog
        let registry = coordinator.registry
        let mover = await self.mover()
        let logger = self.logger
        try await BlockingWork.run {
            for intent in try store.unfinishedMoves() {
                guard let source = try? registry.database(named: intent.from).sqliteDatabase(for: "a move"),
                    let target = try? registry.database(named: intent.to).sqliteDatabase(for: "a move")
                else {
                    logger.error(
                        "an unfinished move names a shard that is not configured; left as it is",
                        metadata: ["from": "\(intent.from)", "to": "\(intent.to)"]
                    )
                    continue
                }
                try mover.recover(intent, source: source, target: target)
                logger.notice(
                    intent.state == .flipped ? "completed an interrupted move" : "undid an interrupted move",
                    metadata: ["from": "\(intent.from)", "to": "\(intent.to)", "rows": "\(intent.plan.rowCount)"]
                )
            }
        }
    }

    private func mover() async -> RecordMover {
        RecordMover(
            store: catalog,
            ownership: await coordinator.configuration.ownership,
            killPoint: .fromEnvironment
        )
    }
}

/// What `reassignShard` did.
public struct Reassignment: Sendable, Hashable {
    public var from: String
    public var to: String
    public var rowsMoved: Int
}
