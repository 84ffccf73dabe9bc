import CollegeDB
import ServiceLifecycle

/// Keeps systemd's `STATUS=` current: shards, mapped records, open connections.
package struct StatusService: Service {
    let database: CollegeDB
    let connections: ConnectionCounter
    let notifier: SystemdNotifier
    let interval: Duration
    /// A line shown after the summary until it is cleared (why the last reload was refused).
    package let note = StatusNote()

    /// - Parameters:
    ///   - database: The engine whose shards, records and running rebalance are summarized.
    ///   - connections: The open client connections.
    ///   - notifier: Where `STATUS=` goes.
    ///   - interval: How often `STATUS=` is sent again. The default is 5 seconds.
    package init(
        database: CollegeDB,
        connections: ConnectionCounter,
        notifier: SystemdNotifier,
        interval: Duration = .seconds(5)
    ) {
        self.database = database
        self.connections = connections
        self.notifier = notifier
        self.interval = interval
    }

    /// A one-line summary, such as `3 shards, 1200 keys, 4 connections`, and a running
    /// rebalance's progress, such as `; rebalance 2: 40% (800/2000 records), 5100 rows/s` (`automatic rebalance`
    /// for a plan the engine made by itself), a schema change being applied, such as
    /// `; schema change add-email: 120/300 shards`, a backup under way (`; backup: 3/10 shards`),
    /// then the note, if any, such as
    /// `; reload refused: …`.
    package func summary() async -> String {
        let shards = database.coordinator.registry.shards.count
        // The counts come from the store (an administrator can set one to Int64.max): summed
        // saturating, as the status line's "keys" is a rough figure anyway.
        let keys =
            (try? await database.shardStatistics().reduce(Int64(0)) { sum, shard in
                let (total, overflow) = sum.addingReportingOverflow(shard.count)
                return overflow ? .max : total
            }).map(String.init) ?? "unknown"
        var line = "\(shards) shards, \(keys) keys, \(connections.open) connections"
        if let job = await database.runningRebalance() {
            line +=
                "; \(job.automatic ? "automatic " : "")rebalance \(job.planID): \(job.percentDone)% "
                + "(\(job.recordsFinished)/\(job.records) records), \(job.wholeRowsPerSecond) rows/s"
        }
        if let change = await database.runningSchemaChange() {
            line += "; schema change \(change.name): \(change.applied)/\(change.shards) shards"
        }
        if let backup = database.runningBackup() {
            line += "; backup: \(backup.copied)/\(backup.shards) shards"
        }
        if let note = note.current { line += "; \(note)" }
        return line
    }

    package func run() async throws {
        guard notifier.isActive else { return try await gracefulShutdown() }
        // Ended by the graceful shutdown's cancellation, which is how this service stops.
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: interval)
                notifier.status(await summary())
            }
        }
    }
}
