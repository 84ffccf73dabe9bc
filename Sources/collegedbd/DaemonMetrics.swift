import CollegeDB
import CollegeDBServer
import CoreMetrics
import Prometheus

/// The daemon's metrics in Prometheus' text format: what the engine and the dispatcher record
/// through swift-metrics as it happens (requests, errors and latency per method; statement
/// latency per shard), and, read at each scrape, per-shard state (records, size, health, queries,
/// errors, commits) and open connections. Served by the `metrics` method, so that a scraper
/// needs no TCP port in the hardened unit.
struct DaemonMetrics: Sendable {
    let registry: PrometheusCollectorRegistry

    /// Latency buckets from 25 µs (a short read answered on the event loop) to 10 s.
    static let latencyBuckets: [Duration] = [
        .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
        .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .seconds(2.5), .seconds(5), .seconds(10),
    ]

    /// Makes Prometheus the process's swift-metrics backend. Call once, before the engine opens.
    static func bootstrap() -> DaemonMetrics {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = latencyBuckets
        MetricsSystem.bootstrap(factory)
        return DaemonMetrics(registry: registry)
    }

    /// Sets the scrape-time gauges from the engine's state, then renders every metric.
    func render(database: CollegeDB, connections: ConnectionCounter) async -> String {
        gauge("connections_open", [], "Client connections open now.").set(Int64(connections.open))
        // A catalog that does not answer: no per-shard series in this scrape, the others as ever.
        let shards = (try? await database.shardMetadata()) ?? []
        for shard in shards {
            let labels = [("shard", shard.shard)]
            gauge("shard_records", labels, "Distinct records mapped to the shard.").set(shard.keyCount)
            gauge("shard_size_bytes", labels, "page_count * page_size of the shard's file.")
                .set(shard.sizeBytes ?? 0)
            gauge("shard_up", labels, "1 when the shard serves reads and writes, else 0.")
                .set(Int64(shard.health == .ok ? 1 : 0))
            gauge("shard_statements_running", labels, "Statements running on the shard now.")
                .set(Int64(shard.activeConnections))
            gauge("shard_statements", labels, "Statements run on the shard, kept across restarts.")
                .set(Int64(shard.queryCount))
            gauge("shard_statement_errors", labels, "Statements that failed, kept across restarts.")
                .set(Int64(shard.errorCount))
            gauge("shard_commits", labels, "Write transactions committed for clients since the start.")
                .set(Int64(shard.commits))
            gauge("shard_writes_committed", labels, "Client writes those commits carried.")
                .set(Int64(shard.writesCommitted))
        }
        return registry.emitToString()
    }

    /// The gauge `collegedb_NAME` (`NAME` ends in its unit, if any) with these labels.
    private func gauge(_ name: String, _ labels: [(String, String)], _ help: String) -> Prometheus.Gauge {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(namespace: "collegedb", metricName: name, unitName: "", helpText: help),
            labels: labels
        )
    }
}
