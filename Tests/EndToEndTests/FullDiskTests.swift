import Foundation
import Testing

/// A shard that cannot grow (SQLite reports SQLITE_FULL, as for a full disk) answers with
/// STORAGE_FULL, loses nothing already written, and serves again once it can grow.
@Suite struct FullDiskTests {
    @Test func aFullShardAnswersStorageFullAndLosesNothing() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE big (id INTEGER PRIMARY KEY, b BLOB)", "db-1"])
        _ = try socket.result("setShardMapping", ["full", "db-1"])
        _ = try socket.result("run", ["full", "INSERT INTO big VALUES (1, zeroblob(1000))"])
        // A batch runs on the shard's writer connection; capping its file size there makes the
        // large write fail with SQLITE_FULL, and the whole batch roll back.
        let full = try socket.call(
            "batch",
            ["full", [["sql": "PRAGMA max_page_count = 8"], ["sql": "INSERT INTO big VALUES (2, zeroblob(200000))"]]]
        )
        let data = try #require((full["error"] as? [String: Any])?["data"] as? [String: Any])
        #expect(data["code"] as? String == "STORAGE_FULL")
        #expect((data["sqlite"] as? [String: Any])?["code"] as? Int == 13)
        let again = try socket.call("run", ["full", "INSERT INTO big VALUES (3, zeroblob(200000))"])
        #expect(((again["error"] as? [String: Any])?["data"] as? [String: Any])?["code"] as? String == "STORAGE_FULL")
        let rows = try #require(socket.result("all", ["full", "SELECT id FROM big"]) as? [String: Any])
        #expect(
            (rows["results"] as? [[String: Any]])?.map { $0["id"] as? Int } == [1],
            "nothing lost, nothing half-written"
        )
        _ = try socket.result("batch", ["full", [["sql": "PRAGMA max_page_count = 1073741823"]]])
        _ = try socket.result("run", ["full", "INSERT INTO big VALUES (2, zeroblob(200000))"])
        #expect(try socket.call("health")["result"] != nil)
    }
}
