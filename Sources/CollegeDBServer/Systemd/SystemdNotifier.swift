import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// Tells the service manager about the daemon's state through `sd_notify`. Without
/// `NOTIFY_SOCKET` (not started by systemd) every call does nothing.
public struct SystemdNotifier: Sendable {
    public init() {}

    /// Whether a service manager listens for notifications.
    public var isActive: Bool { sd_notify(0, "") > 0 }

    /// Sends one or more `KEY=VALUE` assignments, newline-separated, as one message.
    public func notify(_ assignments: String) {
        _ = sd_notify(0, assignments)
    }

    public func ready(status: String) { notify("READY=1\nSTATUS=\(status)") }

    public func status(_ status: String) { notify("STATUS=\(status)") }

    /// `RELOADING=1` with `MONOTONIC_USEC`, as `Type=notify-reload` expects.
    public func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let microseconds = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        notify("RELOADING=1\nMONOTONIC_USEC=\(microseconds)")
    }

    public func stopping() { notify("STOPPING=1") }

    public func watchdog() { notify("WATCHDOG=1") }

    /// The watchdog interval systemd set for this process, if any.
    public var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0,
            let interval = Int64(exactly: microseconds)
        else { return nil }
        return .microseconds(interval)
    }
}
