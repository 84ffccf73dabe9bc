import CollegeDB
import Logging
import NIOCore
import ServiceLifecycle

/// Pets systemd's watchdog at half its interval, and only after every event loop and the
/// coordinator have answered: a wedged daemon stops petting and systemd restarts it.
package struct WatchdogService: Service {
    let interval: Duration
    let database: CollegeDB
    let group: any EventLoopGroup
    let notifier: SystemdNotifier

    package init(interval: Duration, database: CollegeDB, group: any EventLoopGroup, notifier: SystemdNotifier) {
        self.interval = interval
        self.database = database
        self.group = group
        self.notifier = notifier
    }

    package func run() async throws {
        // Ended by the graceful shutdown's cancellation, which is how this service stops.
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: interval / 2)
                for loop in group.makeIterator() {
                    try await loop.submit {}.get()
                }
                await database.coordinator.ping()
                notifier.watchdog()
            }
        }
    }
}
