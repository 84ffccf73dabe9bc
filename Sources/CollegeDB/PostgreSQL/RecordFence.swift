import Logging
import PostgresNIO

/// Keeps a routed call on a PostgreSQL shard apart from a move of its record by any daemon of
/// a shared catalog.
///
/// The call's transaction first takes the record's shared transaction-level advisory lock on
/// the shard, then asks the catalog whether the record is still on this shard. A mover
/// (``PostgresRecordMover``) holds the record's exclusive lock on the source shard from before
/// it reads the rows until after the catalog points at the target and the source's rows are
/// deleted. So a call that had the shared lock first commits before the copy reads (the copy
/// holds its write), and one that gets the lock after the move finds the record gone, does
/// nothing and is routed again (``MovedAway``). A call waits for a move in progress, within its
/// statement timeout. Its cost: the transaction and the lock on the shard, and one catalog read.
struct RecordFence: Sendable {
    let record: Int64
    /// The shard the call was routed to.
    let shard: String
    let catalog: any MappingCatalog

    /// The fence of the routed call this task runs, if it needs one.
    @TaskLocal static var current: RecordFence?

    /// The record's advisory lock key: its id under the prefix `CD` (0x4344) in the top 16
    /// bits, so that it does not collide with an application's small lock numbers.
    static func lockKey(_ record: Int64) -> Int64 {
        (0x4344 << 48) | (record & 0x0000_FFFF_FFFF_FFFF)
    }

    /// Takes the shared lock in the transaction open on `connection` and checks that the
    /// record is still on ``shard``.
    /// - Throws: ``MovedAway`` when it is not (nothing was done).
    func hold(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.queryWhileOpen(
            "SELECT pg_advisory_xact_lock_shared(\(Self.lockKey(record)))",
            logger: logger
        )
        guard try await catalog.currentShard(ofRecord: record) == shard else { throw MovedAway() }
    }

    /// The record was moved off the shard before the call could lock it: route it again.
    struct MovedAway: Error {}
}
