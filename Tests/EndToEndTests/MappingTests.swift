import Crypto
import Foundation
import Testing

/// The KVShardMapper methods over the socket: records with many keys, paging, privacy.
@Suite(.blocksWhileWaiting) struct MappingTests {
    static func digest(_ key: String) -> String {
        SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    func errorCode(_ response: [String: Any]) -> String? {
        ((response["error"] as? [String: Any])?["data"] as? [String: Any])?["code"] as? String
    }

    @Test func aRecordIsOneMappingWithManyKeys() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        _ = try socket.result("setShardMapping", ["user:1", "db-2", ["ann@example.com", "ann"]])
        let keys = try #require(socket.result("getAllLookupKeys", ["ann"]) as? [String])
        #expect(Set(keys) == Set(["user:1", "ann@example.com", "ann"].map(Self.digest)))

        _ = try socket.result("updateShardMapping", ["ann@example.com", "db-3"])
        for key in ["user:1", "ann@example.com", "ann"] {
            #expect((try socket.result("getShardMapping", [key]) as? [String: Any])?["shard"] as? String == "db-3")
        }
        let stats = try #require(socket.result("getShardStats") as? [[String: Any]])
        #expect(stats.map { $0["count"] as? Int } == [0, 0, 1], "one record, however many keys")

        #expect(errorCode(try socket.call("setShardMapping", ["user:2", "db-1", ["ann"]])) == "KEY_CONFLICT")
        #expect(try socket.result("getShardMapping", ["user:2"]) is NSNull, "a refused call changes nothing")
        _ = try socket.result("addLookupKeys", ["user:1", ["a.n.n"]])
        #expect((try socket.result("getAllLookupKeys", ["a.n.n"]) as? [String])?.count == 4)
        #expect(errorCode(try socket.call("addLookupKeys", ["nobody", ["x"]])) == "MAPPING_NOT_FOUND")
        #expect(errorCode(try socket.call("updateShardMapping", ["nobody", "db-1"])) == "MAPPING_NOT_FOUND")
        #expect(errorCode(try socket.call("setShardMapping", ["x", "db-9"])) == "SHARD_NOT_FOUND")

        let deleted = try #require(socket.result("deleteShardMapping", ["ann"]) as? [String: Any])
        #expect(deleted["deleted"] as? Int == 4)
        for key in ["user:1", "ann@example.com", "ann", "a.n.n"] {
            #expect(try socket.result("getShardMapping", [key]) is NSNull)
        }
        #expect((try socket.result("getShardStats") as? [[String: Any]])?.map { $0["count"] as? Int } == [0, 0, 0])
    }

    @Test func getKeysForShardPagesCompletely() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        let keys = (0..<2600).map { "key-\($0)" }
        var pipelined = ""
        for (index, key) in keys.enumerated() {
            let shard = index % 5 == 0 ? "db-1" : "db-2"
            pipelined +=
                #"{"jsonrpc":"2.0","id":\#(index),"method":"setShardMapping","params":["\#(key)","\#(shard)"]}"# + "\n"
        }
        try socket.send(pipelined)
        for _ in keys { #expect(try socket.nextObject()["result"] != nil) }
        var collected: [String] = []
        var cursor: Any = NSNull()
        var pages = 0
        repeat {
            let page = try #require(
                socket.result("getKeysForShard", ["shard": "db-2", "limit": 500, "cursor": cursor]) as? [String: Any]
            )
            collected += page["keys"] as? [String] ?? []
            cursor = page["cursor"] ?? NSNull()
            pages += 1
        } while !(cursor is NSNull) && pages < 100
        let expected = Set(keys.enumerated().filter { $0.offset % 5 != 0 }.map { Self.digest($0.element) })
        #expect(collected.count == 2080)
        #expect(Set(collected) == expected)
        #expect(pages == 5)
        #expect(try socket.call("getKeysForShard", ["db-2", 10, "not-a-cursor"])["error"] != nil)
        #expect(try socket.call("getKeysForShard", ["db-2", 0])["error"] != nil)
    }

    @Test func theMappingFileNeverHoldsAPlainKey() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        let secret = "very.private.person@example.com"
        _ = try socket.result("setShardMapping", ["user:77", "db-1", [secret]])
        _ = try socket.result("allocate", ["another-\(secret)"])
        #expect(daemon.stop() == 0)
        var bytes = Data()
        for suffix in ["", "-wal"] {
            bytes +=
                FileManager.default.contents(atPath: daemon.directory.path + "/data/mapping.sqlite" + suffix) ?? Data()
        }
        #expect(bytes.count > 0)
        #expect(bytes.range(of: Data(secret.utf8)) == nil)
        #expect(bytes.range(of: Data("user:77".utf8)) == nil)
    }

    @Test func keyedDigestsCannotBeConfirmedWithoutTheSecret() throws {
        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            let daemon = try Daemon(["--keyed-digest"], directory: directory)
            var socket = try daemon.connect()
            _ = try socket.result("setShardMapping", ["alice@example.com", "db-2"])
            let keys = try #require(socket.result("getAllLookupKeys", ["alice@example.com"]) as? [String])
            #expect(keys.count == 1)
            #expect(keys.first?.count == 64)
            #expect(keys.first != Self.digest("alice@example.com"), "not the plain SHA-256 anyone could compute")
            let secret = directory.path + "/data/mapping.key"
            let attributes = try FileManager.default.attributesOfItem(atPath: secret)
            #expect(attributes[.posixPermissions] as? Int == 0o600)
            #expect(attributes[.size] as? Int == 32)
            try daemon.restart()
            socket = try daemon.connect()
            #expect(
                (try socket.result("getShardMapping", ["alice@example.com"]) as? [String: Any])?["shard"] as? String
                    == "db-2"
            )
            #expect(daemon.stop() == 0)
        }
        let unkeyed = try Daemon.runToCompletion([
            "--data-dir", directory.path + "/data", "--socket", directory.path + "/other.sock",
        ])
        #expect(unkeyed.status != 0)
        #expect(unkeyed.errors.contains("hmac-sha256"), "\(unkeyed.errors)")
    }

    @Test func withoutHashingKeysAreShownAsTheyAre() throws {
        let daemon = try Daemon(["--no-hash-keys"])
        let socket = try daemon.connect()
        _ = try socket.result("setShardMapping", ["user:1", "db-1", ["ann"]])
        #expect(Set(try #require(socket.result("getAllLookupKeys", ["user:1"]) as? [String])) == ["user:1", "ann"])
    }

    @Test func clearAllMappingsNeedsFlushAndConfirmation() throws {
        let refused = try Daemon()
        #expect(errorCode(try refused.connect().call("clearAllMappings", [true])) == "FLUSH_DISABLED")
        let daemon = try Daemon(["--allow-flush"])
        let socket = try daemon.connect()
        for key in ["a", "b", "c"] { _ = try socket.result("allocate", [key]) }
        #expect(errorCode(try socket.call("clearAllMappings", [false])) == "FLUSH_DISABLED")
        #expect((try socket.result("clearAllMappings", [true]) as? [String: Any])?["deleted"] as? Int == 3)
        #expect(try socket.result("getShardMapping", ["a"]) is NSNull)
    }
}
