/// The routing rules a running daemon may change on reload.
public struct RoutingPolicy: Sendable, Hashable {
    public var strategy: RoutingStrategy
    public var targetRegion: Region?
    /// Shards at or over this many bytes get no new keys.
    public var maxDatabaseSize: Int64?
    /// Whether `flush` and `clearAllMappings` may run.
    public var allowsFlush: Bool

    public init(strategy: RoutingStrategy, targetRegion: Region?, maxDatabaseSize: Int64?, allowsFlush: Bool) {
        self.strategy = strategy
        self.targetRegion = targetRegion
        self.maxDatabaseSize = maxDatabaseSize
        self.allowsFlush = allowsFlush
    }
}
