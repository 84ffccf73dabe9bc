import Foundation
import Testing

/// Routing by key through the real daemon: allocation, its atomicity, and its persistence.
@Suite(.blocksWhileWaiting) struct RoutingTests {
    @Test func sixteenConnectionsRacingToWriteOneNewKeyEndOnOneShard() throws {
        let daemon = try Daemon(["--strategy", "random"])
        _ = try daemon.connect().result("createSchema", ["CREATE TABLE hits (who INTEGER)"])
        let sockets = try (0..<16).map { _ in try daemon.connect() }
        DispatchQueue.concurrentPerform(iterations: 16) { index in
            _ = try? sockets[index].result("run", ["racer", "INSERT INTO hits VALUES (?)", [index]])
        }
        let socket = try daemon.connect()
        let mapping = try #require(socket.result("allocate", ["racer"]) as? [String: Any])
        #expect(mapping["created"] as? Bool == false)
        let perShard = try #require(
            socket.result("allAllShards", ["SELECT count(*) AS n FROM hits"]) as? [[String: Any]]
        )
        let counts = perShard.map { (($0["results"] as? [[String: Any]])?.first?["n"] as? Int) ?? -1 }
        #expect(counts.sorted() == [0, 0, 16])
        let owner = try #require(perShard.first { (($0["results"] as? [[String: Any]])?.first?["n"] as? Int) == 16 })
        #expect(owner["shard"] as? String == mapping["shard"] as? String)
        let stats = try #require(socket.result("getShardStats") as? [[String: Any]])
        #expect(stats.map { $0["count"] as? Int ?? -1 }.reduce(0, +) == 1)
    }

    @Test func roundRobinAllocatesInOrderAndContinuesAfterARestart() throws {
        let daemon = try Daemon(["--strategy", "round-robin"])
        var shards: [String] = []
        for key in ["k1", "k2", "k3", "k4"] {
            shards.append(
                try #require((try daemon.connect().result("allocate", [key]) as? [String: Any])?["shard"] as? String)
            )
        }
        #expect(shards == ["db-1", "db-2", "db-3", "db-1"])
        try daemon.restart()
        let socket = try daemon.connect()
        #expect((try socket.result("allocate", ["k5"]) as? [String: Any])?["shard"] as? String == "db-2")
        let kept = try #require(socket.result("allocate", ["k3"]) as? [String: Any])
        #expect(kept["shard"] as? String == "db-3")
        #expect(kept["created"] as? Bool == false)
    }

    @Test func aReadOfAnUnmappedKeyRoutesButCreatesNoMapping() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        _ = try socket.result("first", ["ghost", "SELECT 1 AS one"])
        let stats = try #require(socket.result("getShardStats") as? [[String: Any]])
        #expect(stats.allSatisfy { $0["count"] as? Int == 0 })
        #expect((try socket.result("allocate", ["ghost"]) as? [String: Any])?["created"] as? Bool == true)
    }

    @Test func theOperationTypeComesFromSQLiteNotFromTheText() throws {
        // Reads go by hash, writes round-robin: only a write allocates.
        let daemon = try Daemon(["--read-strategy", "hash", "--write-strategy", "round-robin"])
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE t (v INTEGER)"])
        _ = try socket.result("all", ["commented-read", "/* INSERT */ -- DELETE\n SELECT 1"])
        _ = try socket.result("all", ["cte-write", "WITH v(x) AS (SELECT 7) INSERT INTO t SELECT x FROM v"])
        #expect((try socket.result("allocate", ["commented-read"]) as? [String: Any])?["created"] as? Bool == true)
        let write = try #require(socket.result("allocate", ["cte-write"]) as? [String: Any])
        #expect(write["created"] as? Bool == false)
        #expect(write["shard"] as? String == "db-1")
        let prepared = try #require(
            socket.result("prepare", ["cte-write", "WITH v(x) AS (SELECT 7) INSERT INTO t SELECT x FROM v"])
                as? [String: Any]
        )
        #expect(prepared["readOnly"] as? Bool == false)
        #expect(prepared["shard"] as? String == "db-1")
    }

    @Test func shardsComeFromFlagsInOrderWithExplicitPaths() throws {
        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let daemon = try Daemon(
            ["--shard", "alpha", "--shard", "beta=\(directory.path)/elsewhere/beta.db"],
            directory: directory
        )
        let socket = try daemon.connect()
        #expect(try socket.result("listKnownShards") as? [String] == ["alpha", "beta"])
        // A shard's file is made by its first write, not at start nor by a read.
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/elsewhere/beta.db"))
        _ = try socket.result("allAllShards", ["SELECT 1"])
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/elsewhere/beta.db"))
        _ = try socket.result("runAllShards", ["CREATE TABLE t (v INTEGER)"])
        #expect(FileManager.default.fileExists(atPath: directory.path + "/elsewhere/beta.db"))
        #expect(FileManager.default.fileExists(atPath: directory.path + "/data/shards/alpha.sqlite"))
    }

    @Test func aFullShardGetsNoNewKeys() throws {
        let daemon = try Daemon(["--strategy", "round-robin", "--max-database-size", "20000"])
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE blobs (b BLOB)", "db-1"])
        _ = try socket.result("runShard", ["db-1", "INSERT INTO blobs VALUES (zeroblob(40000))"])
        let shards = try (1...4).map { index in
            try #require((try socket.result("allocate", ["key-\(index)"]) as? [String: Any])?["shard"] as? String)
        }
        #expect(!shards.contains("db-1"))
    }
}
