import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A shard that cannot be opened, or whose file goes bad while running, fails only its own
/// keys; health and statistics report it per shard.
@Suite(.blocksWhileWaiting) struct FaultContainmentTests {
    @Test func aShardThatCannotBeOpenedIsReportedAndTheOthersServe() throws {
        let directory = Daemon.makeDirectory()
        let notAFile = directory.appendingPathComponent("a-directory")
        try FileManager.default.createDirectory(at: notAFile, withIntermediateDirectories: true)
        let daemon = try Daemon(["--shard", "db-1", "--shard", "db-2=\(notAFile.path)"], directory: directory)
        defer {
            daemon.stop()
            try? FileManager.default.removeItem(at: directory)
        }
        let socket = try daemon.connect()
        let health = try #require(socket.result("health") as? [String: Any])
        #expect(health["status"] as? String == "degraded")
        #expect((health["shards"] as? [String: Any])?["db-2"] as? String == "unavailable")
        _ = try socket.result("setShardMapping", ["lost", "db-2"])
        let error = try #require(socket.call("first", ["lost", "SELECT 1"])["error"] as? [String: Any])
        #expect((error["data"] as? [String: Any])?["code"] as? String == "SHARD_UNAVAILABLE")
        let metadata = try #require(socket.result("getShardMetadata") as? [[String: Any]])
        #expect(metadata.map { $0["health"] as? String } == ["ok", "unavailable"])
        _ = try socket.result("createSchema", ["CREATE TABLE t (v INTEGER)", "db-1"])
        _ = try socket.result("runShard", ["db-1", "INSERT INTO t VALUES (1)"])
    }

    @Test func aShardWhoseFileIsOverwrittenWhileRunningIsMarkedFailed() throws {
        let daemon = try Daemon(["--shard", "db-1", "--shard", "db-2"])
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE t (v INTEGER)"])
        for value in 0..<100 { _ = try socket.result("runShard", ["db-1", "INSERT INTO t VALUES (?)", [value]]) }
        let file = daemon.directory.appendingPathComponent("data/shards/db-1.sqlite").path
        for suffix in ["", "-wal"] {
            if let handle = FileHandle(forWritingAtPath: file + suffix) {
                handle.write(Data(repeating: 0xA5, count: 65536))
                try handle.close()
            }
        }
        var failure: [String: Any]?
        for _ in 0..<3 where failure == nil {
            failure = try socket.call("allShard", ["db-1", "SELECT * FROM t"])["error"] as? [String: Any]
            if failure == nil {
                failure = try socket.call("runShard", ["db-1", "INSERT INTO t VALUES (1)"])["error"] as? [String: Any]
            }
        }
        #expect(failure != nil, "a shard overwritten with garbage must fail, not report success")
        let health = try #require(socket.result("health") as? [String: Any])
        #expect((health["shards"] as? [String: Any])?["db-1"] as? String == "failed", "\(health)")
        #expect(health["status"] as? String == "degraded")
        let metadata = try #require(socket.result("getShardMetadata") as? [[String: Any]])
        #expect(metadata.first?["health"] as? String == "failed")
        #expect(metadata.last?["health"] as? String == "ok")
        _ = try socket.result("runShard", ["db-2", "INSERT INTO t VALUES (1)"])
    }
}

/// A shard file the daemon's user cannot write is reported `read-only`, and the others serve.
/// The daemon runs as `nobody` (setpriv) so that file permissions bind it.
@Suite(.blocksWhileWaiting, .enabled(if: getuid() == 0, "running the daemon as another user needs root"))
struct ReadOnlyShardTests {
    @Test func aShardFileTheDaemonCannotWriteIsReportedReadOnly() throws {
        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let frozen = directory.appendingPathComponent("frozen.sqlite").path
        let create = Process()
        create.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        create.arguments = [frozen, "PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER);"]
        create.standardOutput = FileHandle.nullDevice
        try create.run()
        create.waitUntilExit()
        #expect(chown(directory.path, 65534, 65534) == 0)
        #expect(chmod(frozen, 0o644) == 0)
        let daemon = try Daemon(
            ["--shard", "db-1", "--shard", "db-2=\(frozen)"],
            directory: directory,
            launcher: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        )
        defer { daemon.stop() }
        let health = try #require(daemon.connect().result("health") as? [String: Any])
        #expect((health["shards"] as? [String: Any])?["db-2"] as? String == "read-only", "\(health)")
        #expect((health["shards"] as? [String: Any])?["db-1"] as? String == "ok")
        #expect(health["status"] as? String == "degraded")
    }
}
