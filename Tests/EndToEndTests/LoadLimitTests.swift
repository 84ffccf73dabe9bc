import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Slow queries and clients that never read cannot starve the others or grow the daemon
/// without bound.
@Suite(.blocksWhileWaiting) struct LoadLimitTests {
    static let endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"

    @Test func healthAndPointReadsAnswerWhileEightySlowQueriesRun() throws {
        let daemon = try Daemon(["--statement-timeout", "2"])
        let probe = try daemon.connect()
        _ = try probe.result("createSchema", ["CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"])
        _ = try probe.result("run", ["point", "INSERT INTO t VALUES (1, 'x')"])
        let outcomes = Mutex<[String: Int]>([:])
        let slow = try ClientThreads(daemon, count: 80) { index, socket in
            let response = try? socket.call("all", ["slow-\(index)", Self.endless])
            let code = ((response?["error"] as? [String: Any])?["data"] as? [String: Any])?["code"] as? String
            outcomes.withLock { $0[code ?? "answered", default: 0] += 1 }
        }
        Thread.sleep(forTimeInterval: 0.5)
        var latencies: [Double] = []
        for _ in 0..<100 {
            var started = Date()
            #expect((try probe.result("health") as? [String: Any])?["status"] as? String == "ok")
            latencies.append(Date().timeIntervalSince(started))
            started = Date()
            let row = try #require(probe.result("first", ["point", "SELECT v FROM t WHERE id = 1"]) as? [String: Any])
            #expect(row["v"] as? String == "x")
            latencies.append(Date().timeIntervalSince(started))
        }
        let stillSlow = outcomes.withLock { $0.values.reduce(0, +) } < 80
        latencies.sort()
        let p99 = latencies[latencies.count * 99 / 100]
        #expect(stillSlow, "the slow queries must still be running while the probe measures")
        #expect(p99 < 0.1, "p99 \(p99 * 1000) ms, max \(latencies.last! * 1000) ms")
        slow.wait()
        let seen = outcomes.withLock { $0 }
        #expect(Set(seen.keys).isSubset(of: ["STATEMENT_TIMEOUT", "OVERLOADED"]), "\(seen)")
        #expect(daemon.process.isRunning)
    }

    @Test func aClientThatNeverReadsHoldsBoundedMemory() throws {
        let daemon = try Daemon()
        let pid = daemon.process.processIdentifier
        let idle = try Self.residentBytes(of: pid)
        let greedy = try daemon.connect()
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(greedy.descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var sent = 0
        var peak = idle
        let request = Array(#"{"jsonrpc":"2.0","id":1,"method":"first","params":["k","SELECT 1 AS one"]}"#.utf8) + [10]
        let chunk = Array(repeating: request, count: 1000).flatMap { $0 }
        while sent < 1_000_000 {
            let written = chunk.withUnsafeBytes { write(greedy.descriptor, $0.baseAddress, $0.count) }
            if written <= 0 { break }
            sent += written / request.count
            if sent % 50_000 < 1000 { peak = max(peak, try Self.residentBytes(of: pid)) }
        }
        peak = max(peak, try Self.residentBytes(of: pid))
        #expect(sent < 1_000_000, "the daemon must stop reading from a client that does not read")
        #expect(peak - idle < 64 << 20, "grew \((peak - idle) >> 20) MiB over \(sent) pipelined requests")
        let other = try daemon.connect()
        #expect((try other.result("health") as? [String: Any])?["status"] as? String == "ok")
        greedy.disconnect()
        Thread.sleep(forTimeInterval: 0.5)
        let after = try Self.residentBytes(of: pid)
        #expect(after - idle < 32 << 20, "after the client left: \((after - idle) >> 20) MiB above idle")
    }

    @Test func aStatementWhoseClientLeftIsInterrupted() throws {
        let daemon = try Daemon(["--statement-timeout", "60"])
        do {
            let leaving = try daemon.connect()
            let request = #"{"jsonrpc":"2.0","id":1,"method":"allShard","params":["db-1",""# + Self.endless + #""]}"#
            try leaving.send(request + "\n")
            Thread.sleep(forTimeInterval: 0.3)
        }
        let probe = try daemon.connect()
        let deadline = Date().addingTimeInterval(5)
        var running = -1
        while Date() < deadline {
            let metadata = try #require(probe.result("getShardMetadata") as? [[String: Any]])
            running = metadata.first?["activeConnections"] as? Int ?? -1
            if running == 0 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(running == 0, "the endless statement must stop when its client goes, not at the 60 s limit")
    }

    static func residentBytes(of pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        let kilobytes = try #require(Int(line.split(separator: " ").dropFirst().first ?? ""))
        return kilobytes * 1024
    }
}
