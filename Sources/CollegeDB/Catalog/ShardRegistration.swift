/// A shard added by `registerShard` (`registered`), or a configured one removed by
/// `unregisterShard` (not `registered`), as the catalog keeps it; `path` is where a
/// registered shard is: its file, or its PostgreSQL URL.
package struct ShardRegistration: Sendable, Hashable {
    package var name: String
    package var path: String?
    package var registered: Bool
}
