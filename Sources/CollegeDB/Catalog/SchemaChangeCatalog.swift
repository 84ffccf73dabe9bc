/// Where schema changes are recorded, beside the mappings: each change once, in order, and the
/// shards that have it. The shards themselves say for sure (each keeps a ledger of the changes
/// it ran, written in the change's own transaction); the catalog's list of shards is written
/// after the shard's ledger, so it may lag behind it but never runs ahead of it.
///
/// Both catalogs keep them: ``MappingStore`` for one daemon, ``PostgresCatalog`` for every
/// daemon that shares it. Every method blocks its caller until the catalog answers.
package protocol SchemaChangeCatalog: Sendable {
    /// Records a change named `name`, state `running`; or, when a change of that name exists
    /// with the same `sql` (byte for byte), sets it running again with `canary` and no failures,
    /// one attempt later (unless it is done), and returns it.
    /// - Throws: `INVALID_PARAMS` when a change of that name exists with other SQL.
    func recordSchemaChange(name: String, sql: String, canary: Int?) throws -> SchemaChange

    /// Every change, in the order recorded.
    func schemaChanges() throws -> [SchemaChange]

    /// Sets a change's state and the failures of its last pass, if it is still at `attempt`;
    /// returns whether it was (false: a call set it running again meanwhile).
    func setSchemaChangeState(
        _ id: Int64,
        _ state: SchemaChangeState,
        failures: [SchemaChangeFailure],
        ifAttempt attempt: Int64
    ) throws -> Bool

    /// The shards that have change `id`.
    func shards(withSchemaChange id: Int64) throws -> Set<String>

    /// The changes `shard` has.
    func schemaChanges(appliedOn shard: String) throws -> Set<Int64>

    /// Notes that `shard` has change `id` (idempotent).
    func markSchemaChangeApplied(_ id: Int64, shard: String) throws
}
