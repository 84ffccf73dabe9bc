import Foundation
import Testing

/// Mappings kept in memory never route a request to a shard its key no longer maps to.
@Suite(.blocksWhileWaiting) struct MappingCacheTests {
    static func shard(of response: Any) -> String? {
        ((response as? [String: Any])?["meta"] as? [String: Any])?["shard"] as? String
    }

    @Test func everyWayOfChangingAMappingIsSeenByTheNextRequest() throws {
        let daemon = try Daemon(["--allow-flush"])
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE t (id INTEGER PRIMARY KEY)"])
        _ = try socket.result("setShardMapping", ["hot", "db-1"])
        for _ in 0..<3 { #expect(Self.shard(of: try socket.result("all", ["hot", "SELECT 1 AS one"])) == "db-1") }
        _ = try socket.result("updateShardMapping", ["hot", "db-2"])
        #expect(Self.shard(of: try socket.result("all", ["hot", "SELECT 1 AS one"])) == "db-2")
        _ = try socket.result("setShardMapping", ["hot", "db-3"])
        #expect(Self.shard(of: try socket.result("all", ["hot", "SELECT 1 AS one"])) == "db-3")
        _ = try socket.result("reassignShard", ["hot", "db-1"])
        #expect(Self.shard(of: try socket.result("all", ["hot", "SELECT 1 AS one"])) == "db-1")
        _ = try socket.result("deleteShardMapping", ["hot"])
        #expect(try socket.result("getShardMapping", ["hot"]) is NSNull)
        _ = try socket.result("setShardMapping", ["hot", "db-2"])
        #expect(Self.shard(of: try socket.result("all", ["hot", "SELECT 1 AS one"])) == "db-2")
        _ = try socket.result("clearAllMappings", [true])
        _ = try socket.result("setShardMapping", ["hot", "db-3"])
        #expect(Self.shard(of: try socket.result("all", ["hot", "SELECT 1 AS one"])) == "db-3")
    }

    @Test func readsWhileKeysMoveBackAndForthNeverLandOnTheOldShard() throws {
        let daemon = try Daemon()
        let mover = try daemon.connect()
        _ = try mover.result("createSchema", ["CREATE TABLE t (id INTEGER PRIMARY KEY)"])
        // reassignShard moves the rows whose id is the key: the keys are the ids.
        for key in 0..<20 {
            _ = try mover.result("setShardMapping", ["\(key)", "db-1"])
            _ = try mover.result("run", ["\(key)", "INSERT INTO t VALUES (?)", [key]])
        }
        let stop = DispatchSemaphore(value: 0)
        let failures = LockedList()
        let readers = try ClientThreads(daemon, count: 4) { reader, socket in
            var iteration = reader
            while stop.wait(timeout: .now()) == .timedOut {
                let key = iteration % 20
                iteration += 1
                guard let row = try? socket.result("first", ["\(key)", "SELECT id FROM t WHERE id = ?", [key]])
                else {
                    failures.append("k\(key): no answer")
                    continue
                }
                // The row lives on exactly one shard at a time: a read routed to the old shard
                // after a move would find nothing.
                if (row as? [String: Any])?["id"] as? Int != key { failures.append("k\(key): \(row)") }
            }
        }
        for round in 0..<6 {
            for key in 0..<20 {
                let moved = try #require(
                    mover.result("reassignShard", ["\(key)", round % 2 == 0 ? "db-2" : "db-1"]) as? [String: Any]
                )
                #expect(moved["rowsMoved"] as? Int == 1)
            }
        }
        for _ in 0..<4 { stop.signal() }
        readers.wait()
        #expect(failures.items.isEmpty, "\(failures.items.prefix(5))")
    }
}
