import CollegeDB
import CollegeDBServer
import Logging
import ServiceLifecycle
import UnixSignals

/// On SIGHUP (systemd's `ExecReload=`), re-reads the config file with the same flags and applies
/// it without dropping connections: `RELOADING=1`, then `READY=1`. A config that does not parse
/// or asks for what needs a restart is refused with a log line, and the old one keeps running.
struct ReloadService: Service {
    let options: DaemonOptions
    let activation: SystemdSocketActivation
    let database: CollegeDB
    let notifier: SystemdNotifier
    let status: StatusService
    let logger: Logger

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
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
            } catch {
                logger.error("reload refused; the running configuration stays", metadata: ["error": "\(error)"])
            }
            notifier.ready(status: await status.summary())
        }
    }
}
