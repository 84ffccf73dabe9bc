import CollegeDB
import CollegeDBServer
import Logging

/// Reads the config file again with the daemon's flags and applies it without dropping
/// connections, for SIGHUP and for the `reload` method alike: `RELOADING=1`, then `READY=1`.
/// A config that does not parse or asks for what needs a restart is refused: the old one keeps
/// running, the reason is logged and stays in `STATUS=` until a reload succeeds.
struct ConfigurationReloader: Sendable {
    let options: DaemonOptions
    let activation: SystemdSocketActivation
    let database: CollegeDB
    let notifier: SystemdNotifier
    let status: StatusService
    let logger: Logger

    /// Applies the configuration.
    ///
    /// - Returns: The shards the new configuration added.
    /// - Throws: `CollegeDBError` with code `CONFIG_REFUSED` and the reason, having changed
    ///   nothing.
    func reload() async throws -> [String] {
        notifier.reloading()
        do {
            let settings = try DaemonSettings(
                options: options,
                file: try options.configPath.map(ConfigFile.load),
                activation: activation
            )
            let added = try await database.reload(settings.database)
            let policy = database.coordinator.policy
            logger.notice(
                "reloaded the configuration",
                metadata: [
                    "added": "\(added.joined(separator: ","))",
                    "strategy": "\(policy.strategy.read.rawValue)/\(policy.strategy.write.rawValue)",
                    "maxDatabaseSize": "\(policy.maxDatabaseSize.map(String.init) ?? "none")",
                ]
            )
            status.note.set(nil)
            notifier.ready(status: await status.summary())
            return added
        } catch {
            let reason = (error as? CollegeDBError)?.message ?? "\(error)"
            logger.error("reload refused; the running configuration stays", metadata: ["error": "\(reason)"])
            status.note.set("reload refused: \(reason)")
            notifier.ready(status: await status.summary())
            throw CollegeDBError(.configRefused, "reload refused; the running configuration stays: \(reason)")
        }
    }
}
