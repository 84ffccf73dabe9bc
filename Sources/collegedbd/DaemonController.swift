import CollegeDB
import CollegeDBRPC
import CollegeDBServer

/// The running daemon as the `reload` and `metrics` methods see it.
struct DaemonController: DaemonControl {
    let reloader: ConfigurationReloader
    let metrics: DaemonMetrics
    let database: CollegeDB
    let connections: ConnectionCounter

    func reloadConfiguration() async throws -> [String] { try await reloader.reload() }

    func metricsText() async -> String { await metrics.render(database: database, connections: connections) }
}
