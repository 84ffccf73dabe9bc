import CollegeDB
import CollegeDBServer
import CoreMetrics
import Prometheus

/// The daemon's metrics in Prometheus' text format: what the dispatcher records through
/// swift-metrics as it happens (requests, errors and latency per method), and, read at each
/// scrape, the shards' state: totals over every shard (statements, errors, statement latency,
/// SQLite shards open, opened and closed to make room), and series per shard (records, size,
/// health, statements, errors, commits, statement latency) for the ``busiestShardSeries``
/// busiest shards only, so that a scrape stays small with any number of shards. Served by the
/// `metrics` method, so that a scraper needs no TCP port in the hardened unit.
struct DaemonMetrics: Sendable {
    let registry: PrometheusCollectorRegistry

    /// Shards that get series of their own, the busiest by statements run: 100.
    static let busiestShardSeries = 100

    /// The gauges each of the busiest shards gets: name, help, value.
    static let perShardGauges: [(String, String, @Sendable (ShardMetadata) -> Double)] = [
        ("shard_records", "Distinct records mapped to the shard.", { Double($0.keyCount) }),
        ("shard_size_bytes", "page_count * page_size of the shard's file.", { Double($0.sizeBytes ?? 0) }),
        ("shard_up", "1 when the shard serves reads and writes, else 0.", { $0.health == .ok ? 1 : 0 }),
        ("shard_statements_running", "Statements running on the shard now.", { Double($0.activeConnections) }),
        ("shard_statements", "Statements run on the shard, kept across restarts.", { Double($0.queryCount) }),
        ("shard_statement_errors", "Statements that failed, kept across restarts.", { Double($0.errorCount) }),
        ("shard_commits", "Write transactions committed for clients since the start.", { Double($0.commits) }),
        ("shard_writes_committed", "Client writes those commits carried.", { Double($0.writesCommitted) }),
    ]

    /// Makes Prometheus the process's swift-metrics backend. Call once, before the engine opens.
    static func bootstrap() -> DaemonMetrics {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = StatementDurations.bounds
        MetricsSystem.bootstrap(factory)
        return DaemonMetrics(registry: registry)
    }

    /// Renders every metric, reading the engine's state now.
    func render(database: CollegeDB, connections: ConnectionCounter) async -> String {
        var text = PrometheusText()
        text.gauge("connections_open", "Client connections open now.", [([], Double(connections.open))])
        let totals = database.shardTotals()
        text.counter(
            "statements_total",
            "Statements run on every shard, kept across restarts.",
            [([], Double(totals.statements))]
        )
        text.counter(
            "statement_errors_total",
            "Statements that failed on every shard, kept across restarts.",
            [([], Double(totals.errors))]
        )
        text.histogram(
            "statement_duration_seconds",
            "How long statements took on every shard since the start.",
            [([], totals.durations)]
        )
        text.gauge("sqlite_shards_open", "SQLite shards open now.", [([], Double(totals.openSQLiteShards))])
        text.counter(
            "sqlite_shard_opens_total",
            "SQLite shards opened since the start.",
            [([], Double(totals.sqliteShardOpens))]
        )
        text.counter(
            "sqlite_shard_evictions_total",
            "SQLite shards closed since the start to keep at most maxOpenShards open.",
            [([], Double(totals.sqliteShardEvictions))]
        )
        // A catalog that does not answer: no per-shard series in this scrape, the others as ever.
        let shards = (try? await database.busiestShardMetadata(limit: Self.busiestShardSeries)) ?? []
        func perShard(_ value: (ShardMetadata) -> Double) -> [([(String, String)], Double)] {
            shards.map { ([("shard", $0.shard)], value($0)) }
        }
        for (name, help, value) in Self.perShardGauges { text.gauge(name, help, perShard(value)) }
        text.histogram(
            "shard_statement_duration_seconds",
            "How long the shard's statements took since the start.",
            shards.compactMap { shard in shard.statementDurations.map { ([("shard", shard.shard)], $0) } }
        )
        return registry.emitToString() + text.output
    }
}
