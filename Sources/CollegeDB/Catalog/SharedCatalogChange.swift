/// What another daemon of a shared catalog changed, beyond single mappings: each daemon reads
/// it from the catalog again when told.
package enum SharedCatalogChange: String, Sendable, CaseIterable {
    /// The shards drain plans keep from new keys (`collegedb.draining_shard`).
    case drainedShards = "draining"
    /// The shards registered or unregistered at run time (`collegedb.shard_registry`).
    case registeredShards = "registry"
}
