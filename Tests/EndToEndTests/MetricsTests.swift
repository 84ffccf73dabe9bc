import Foundation
import Testing

/// The `metrics` method and `collegedb metrics`: Prometheus text that counts what clients did.
@Suite(.blocksWhileWaiting) struct MetricsTests {
    /// The value of the sample `name{labels}` in Prometheus text, or nil when it is absent.
    static func sample(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test func requestsErrorsAndShardLatenciesAreCountedAndMadeUpMethodsShareOneSeries() throws {
        let daemon = try Daemon(["--shard", "a", "--shard", "b"])
        defer { daemon.stop() }
        let socket = try daemon.connect()
        _ = try socket.call("run", ["k1", "CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER)"])
        _ = try socket.call("runAllShards", ["CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY, v INTEGER)"])
        for index in 0..<20 {
            _ = try socket.call("run", ["k\(index)", "INSERT INTO t VALUES (?, ?)", ["k\(index)", index]])
        }
        for index in 0..<30 {
            _ = try socket.call("first", ["k\(index % 20)", "SELECT v FROM t WHERE id = ?", ["k\(index % 20)"]])
        }
        _ = try socket.call("run", ["k1", "INSERT INTO t VALUES ('k1', 1)"])  // UNIQUE: QUERY_FAILED
        _ = try socket.call("run", ["k1", "BEGIN"])  // STATEMENT_REFUSED
        for index in 0..<5 { _ = try socket.call("madeUp\(index)") }

        let text = try #require(try socket.result("metrics") as? String)
        #expect(Self.sample(text, #"collegedb_requests_total{method="first"}"#) == 30)
        #expect(Self.sample(text, #"collegedb_requests_total{method="run"}"#) == 23)
        #expect(Self.sample(text, #"collegedb_request_errors_total{method="run",code="QUERY_FAILED"}"#) == 1)
        #expect(Self.sample(text, #"collegedb_request_errors_total{method="run",code="STATEMENT_REFUSED"}"#) == 1)
        #expect(Self.sample(text, #"collegedb_requests_total{method="other"}"#) == 5)
        #expect(!text.contains("madeUp"), "names clients make up never become series")
        #expect(Self.sample(text, #"collegedb_request_duration_seconds_count{method="first"}"#) == 30)

        let statements = ["a", "b"].compactMap {
            Self.sample(text, #"collegedb_shard_statement_duration_seconds_count{shard="\#($0)"}"#)
        }
        #expect(statements.count == 2)
        #expect(statements.reduce(0, +) >= 52, "every statement of both shards is timed: \(statements)")
        let records = ["a", "b"].compactMap { Self.sample(text, #"collegedb_shard_records{shard="\#($0)"}"#) }
        #expect(records.reduce(0, +) == 20)
        #expect(Self.sample(text, #"collegedb_shard_up{shard="a"}"#) == 1)
        #expect(Self.sample(text, "collegedb_connections_open") == 1)

        // The shell client prints the same text, ready for node_exporter's textfile collector.
        let client = Process()
        client.executableURL = SystemdUnitTests.shellClient
        client.arguments = ["--socket", daemon.socketPath, "metrics"]
        let output = Pipe()
        client.standardOutput = output
        try client.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        client.waitUntilExit()
        #expect(client.terminationStatus == 0)
        #expect(printed.hasSuffix("\n"))
        #expect(Self.sample(printed, #"collegedb_requests_total{method="metrics"}"#) == 1)
        #expect(printed.contains("# TYPE collegedb_request_duration_seconds histogram"))
    }
}
