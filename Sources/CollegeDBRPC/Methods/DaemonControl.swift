/// What the daemon around the engine does for its clients beyond the engine's own methods:
/// apply its configuration again, and report its metrics. The daemon implements it; the
/// `reload` and `metrics` methods call it.
package protocol DaemonControl: Sendable {
    /// Reads the configuration again and applies it, returning the shards it added, once it is
    /// applied.
    ///
    /// - Returns: The names of the shards the new configuration added, in shard order.
    /// - Throws: `CollegeDBError` with code `CONFIG_REFUSED` when the configuration does not
    ///   parse or asks for what needs a restart; the running configuration then stays.
    func reloadConfiguration() async throws -> [String]

    /// Every metric the daemon keeps, in the Prometheus text exposition format (version 0.0.4).
    func metricsText() async -> String
}
