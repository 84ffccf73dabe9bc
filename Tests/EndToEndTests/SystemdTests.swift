import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The daemon under systemd's protocols, with systemd's own tools and a test-owned notify
/// socket: no PID 1 needed.
@Suite(.blocksWhileWaiting) struct SystemdTests {
    @Test func systemdSocketActivateStartsTheDaemonOnTheFirstConnection() throws {
        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let activatedPath = directory.appendingPathComponent("d.sock").path
        let daemon = try Daemon(
            directory: directory,
            launcher: ["/usr/bin/systemd-socket-activate", "-l", activatedPath, "--fdname=collegedb"]
        )
        #expect((try daemon.connect().result("listKnownShards") as? [String]) == ["db-1", "db-2", "db-3"])
        #expect(daemon.log.contains("the socket systemd passed"))
        #expect(daemon.stop() == 0)
        #expect(FileManager.default.fileExists(atPath: activatedPath), "an inherited socket is never unlinked")
    }

    @Test func readyStatusReloadingAndStoppingReachTheNotifySocket() throws {
        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let notify = try NotifyListener(directory: directory)
        let daemon = try Daemon(directory: directory, environment: ["NOTIFY_SOCKET": notify.path])
        let ready = try notify.waitFor { $0.contains("READY=1") }
        #expect(ready.contains("STATUS=3 shards, 0 keys"))
        #expect(try daemon.connect().call("health")["result"] != nil, "READY=1 comes once the socket answers")

        daemon.signal(SIGHUP)
        let reloading = try notify.waitFor { $0.contains("RELOADING=1") }
        #expect(reloading.contains("MONOTONIC_USEC="))
        try notify.waitFor { $0.contains("READY=1") }

        #expect(daemon.stop() == 0)
        try notify.waitFor { $0.contains("STOPPING=1") }
    }

    @Test func theWatchdogIsPettedAtHalfItsInterval() throws {
        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let notify = try NotifyListener(directory: directory)
        let daemon = try Daemon(
            directory: directory,
            environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"],
            launcher: ["/bin/sh", "-c", #"WATCHDOG_PID=$$ exec "$0" "$@""#]
        )
        try notify.waitFor { $0.contains("READY=1") }
        // 20 in two seconds at 100 ms; the range allows for a machine busy with other tests.
        let pets = notify.collect(seconds: 2.0).filter { $0.contains("WATCHDOG=1") }
        #expect((12...26).contains(pets.count), "about every 100 ms: \(pets.count) in two seconds")
        daemon.stop()
    }

    @Test func noWatchdogForAnotherProcess() throws {
        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let notify = try NotifyListener(directory: directory)
        let daemon = try Daemon(
            directory: directory,
            environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"]
        )
        try notify.waitFor { $0.contains("READY=1") }
        #expect(!notify.collect(seconds: 0.5).contains { $0.contains("WATCHDOG=1") })
        daemon.stop()
    }

    @Test func sighupAppliesAConfigThatAddsAShardAndRefusesABrokenOne() throws {
        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("collegedb.json")
        func writeConfig(_ text: String) throws { try text.write(to: config, atomically: true, encoding: .utf8) }
        try writeConfig(#"{"shards": [{"name": "a"}, {"name": "b"}], "strategy": "hash"}"#)
        let notify = try NotifyListener(directory: directory)
        let daemon = try Daemon(
            ["--config", config.path],
            directory: directory,
            environment: ["NOTIFY_SOCKET": notify.path]
        )
        try notify.waitFor { $0.contains("READY=1") }
        let socket = try daemon.connect()
        #expect(try socket.result("listKnownShards") as? [String] == ["a", "b"])

        try writeConfig(#"{"shards": [{"name": "a"}, {"name": "b"}, {"name": "c"}], "strategy": "round-robin"}"#)
        daemon.signal(SIGHUP)
        try notify.waitFor { $0.contains("RELOADING=1") }
        try notify.waitFor { $0.contains("READY=1") }
        #expect(
            try socket.result("listKnownShards") as? [String] == ["a", "b", "c"],
            "over a connection opened before"
        )
        let picks = try (1...3).map {
            try #require((try socket.result("allocate", ["after-reload-\($0)"]) as? [String: Any])?["shard"] as? String)
        }
        #expect(Set(picks) == ["a", "b", "c"], "round-robin now")

        try writeConfig(#"{"shards": [ this is not JSON"#)
        daemon.signal(SIGHUP)
        try notify.waitFor { $0.contains("RELOADING=1") }
        try notify.waitFor { $0.contains("READY=1") }
        #expect(try socket.result("listKnownShards") as? [String] == ["a", "b", "c"])
        #expect(daemon.log.contains("reload refused"))
        #expect(daemon.stop() == 0)
    }
}
