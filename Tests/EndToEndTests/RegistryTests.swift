import Foundation
import Testing

/// The shard registry and its statistics, persisted across restarts.
@Suite(.blocksWhileWaiting) struct RegistryTests {
    func errorCode(_ response: [String: Any]) -> String? {
        ((response["error"] as? [String: Any])?["data"] as? [String: Any])?["code"] as? String
    }

    @Test func registeringAndUnregisteringPersist() throws {
        let daemon = try Daemon()
        var socket = try daemon.connect()
        _ = try socket.result("registerShard", ["db-4"])
        #expect(FileManager.default.fileExists(atPath: daemon.directory.path + "/data/shards/db-4.sqlite"))
        _ = try socket.result("registerShard", ["elsewhere", daemon.directory.path + "/other/e.sqlite"])
        #expect(errorCode(try socket.call("registerShard", ["db-4"])) == "SHARD_EXISTS")
        _ = try socket.result("setShardMapping", ["k", "db-1"])
        #expect(errorCode(try socket.call("unregisterShard", ["db-1"])) == "SHARD_NOT_EMPTY")
        _ = try socket.result("unregisterShard", ["db-2"])
        _ = try socket.result("unregisterShard", ["db-1", true])
        #expect(try socket.result("listKnownShards") as? [String] == ["db-3", "db-4", "elsewhere"])

        try daemon.restart()
        socket = try daemon.connect()
        #expect(try socket.result("listKnownShards") as? [String] == ["db-3", "db-4", "elsewhere"])
        _ = try socket.result("registerShard", ["db-1"])
        #expect(try socket.result("listKnownShards") as? [String] == ["db-3", "db-4", "elsewhere", "db-1"])
        #expect((try socket.result("getShardMapping", ["k"]) as? [String: Any])?["shard"] as? String == "db-1")
    }

    @Test func statisticsCanBeSetAndNeverGoBelowZero() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        func count(_ shard: String) throws -> Int? {
            (try socket.result("getShardStats") as? [[String: Any]])?.first { $0["binding"] as? String == shard }?[
                "count"
            ] as? Int
        }
        _ = try socket.result("updateShardStats", ["db-1", 10])
        _ = try socket.result("incrementShardCount", ["db-1"])
        #expect(try count("db-1") == 11)
        _ = try socket.result("decrementShardCount", ["db-2"])
        #expect(try count("db-2") == 0)
        #expect(errorCode(try socket.call("updateShardStats", ["db-1", -1])) == "INVALID_PARAMS")
        #expect(errorCode(try socket.call("incrementShardCount", ["nope"])) == "SHARD_NOT_FOUND")
    }

    @Test func shardMetadataCountsQueriesAndErrorsAcrossRestarts() throws {
        let daemon = try Daemon()
        var socket = try daemon.connect()
        _ = try socket.result("allShard", ["db-2", "SELECT 1"])
        _ = try socket.call("allShard", ["db-2", "SELECT * FROM missing"])
        _ = try socket.result("setShardMapping", ["k", "db-2"])
        func metadata() throws -> [String: Any] {
            try #require(
                (try socket.result("getShardMetadata") as? [[String: Any]])?.first {
                    $0["binding"] as? String == "db-2"
                }
            )
        }
        let before = try metadata()
        #expect(before["shardId"] as? String == "db-2")
        #expect(before["keyCount"] as? Int == 1)
        #expect(before["health"] as? String == "ok")
        #expect(before["activeConnections"] as? Int == 0)
        #expect(before["queryCount"] as? Int == 2)
        #expect(before["errorCount"] as? Int == 1)
        #expect(before["sizeBytes"] as? Int == 0, "read but never written: no file yet")
        #expect(before["lastUpdated"] is Int)
        try daemon.restart()
        socket = try daemon.connect()
        let after = try metadata()
        #expect(after["queryCount"] as? Int == 2)
        #expect(after["errorCount"] as? Int == 1)
        #expect(after["keyCount"] as? Int == 1)
    }

    @Test func metadataAndStatisticsPageInShardOrderWithACursor() throws {
        let names = (1...5).map { "s\($0)" }
        let daemon = try Daemon(names.flatMap { ["--shard", $0] })
        let socket = try daemon.connect()
        for method in ["getShardMetadata", "getShardStats"] {
            var seen: [String] = []
            var cursor: Any = NSNull()
            var pages = 0
            repeat {
                let page = try #require(socket.result(method, [["limit": 2, "cursor": cursor]]) as? [String: Any])
                let shards = try #require(page["shards"] as? [[String: Any]])
                seen += shards.compactMap { $0["binding"] as? String }
                cursor = page["cursor"] ?? NSNull()
                pages += 1
            } while !(cursor is NSNull) && pages < 10
            #expect(seen == names, "\(method): \(seen)")
            #expect(pages == 3)
            // Without options: every shard at once, as ever.
            #expect((try socket.result(method) as? [Any])?.count == 5)
            for bad in [["limit": 0], ["limit": 1001], ["cursor": "gone"], ["colour": "blue"]] as [[String: Any]] {
                let response = try socket.call(method, [bad])
                #expect((response["error"] as? [String: Any])?["code"] as? Int == -32602, "\(method) \(bad)")
            }
        }
    }
}
