import ServiceLifecycle
import UnixSignals

/// Reloads the configuration on each SIGHUP (`kill -HUP`; the unit's `ExecReload=` uses the
/// `reload` method instead, which answers once the configuration is applied).
struct ReloadService: Service {
    let reloader: ConfigurationReloader

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            // A refusal is logged and shown in STATUS= by the reloader; nobody waits for it here.
            _ = try? await reloader.reload()
        }
    }
}
