import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// Tells the service manager about the daemon's state through `sd_notify`. Without
/// `NOTIFY_SOCKET` (not started by systemd) every call does nothing.
package struct SystemdNotifier: Sendable {
    package init() {}

    /// Whether a service manager listens for notifications.
    package var isActive: Bool { sd_notify(0, "") > 0 }

    /// Sends one or more `KEY=VALUE` assignments, newline-separated, as one message.
    package func notify(_ assignments: String) {
        _ = sd_notify(0, assignments)
    }

    package func ready(status: String) { notify("READY=1\nSTATUS=\(status)") }

    package func status(_ status: String) { notify("STATUS=\(status)") }

    /// `RELOADING=1` with `MONOTONIC_USEC`, as `Type=notify-reload` expects.
    package func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let microseconds = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        notify("RELOADING=1\nMONOTONIC_USEC=\(microseconds)")
    }

    package func stopping() { notify("STOPPING=1") }

    package func watchdog() { notify("WATCHDOG=1") }

    /// The watchdog interval systemd set for this process, if any.
    package var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0,
            let interval = Int64(exactly: microseconds)
        else { return nil }
        return .microseconds(interval)
    }
}
