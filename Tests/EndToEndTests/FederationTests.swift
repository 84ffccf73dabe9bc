import Foundation
import Testing

/// `federateQuery` and `federateCount` over three shards, checked against the same query on one
/// database that holds every row.
@Suite(.blocksWhileWaiting) struct FederationTests {
    static let schema = "CREATE TABLE scores (id INTEGER PRIMARY KEY, player TEXT NOT NULL, score ANY)"

    /// Distinct scores of every storage class SQLite orders: one NULL, integers and reals mixed,
    /// text, blobs.
    static func score(_ id: Int) -> Any {
        switch id % 7 {
        case 0: return id == 7 ? NSNull() : id * 3 - 499
        case 1, 2: return id * 3 - 500
        case 3, 4: return Double(id) * 2.5 - 700.25
        case 5: return "s\(id % 13)-\(id)"
        default: return ["$blob": Data("b\(id)".utf8).base64EncodedString()]
        }
    }

    /// Writes the same 600 rows through `sharded` (each key placed by the strategy) and to the
    /// one shard of `single`.
    static func load(sharded: LineSocket, single: LineSocket) throws {
        for id in 1...600 {
            let bindings: [Any] = [id, "player \(id % 37)", score(id)]
            let sql = "INSERT INTO scores VALUES (?, ?, ?)"
            _ = try sharded.result("run", ["\(id)", sql, bindings])
            _ = try single.result("runShard", ["all", sql, bindings])
        }
    }

    @Test func anOrderedCutPageEqualsTheSameQueryOnOneDatabase() throws {
        let daemon = try Daemon()
        let oneDatabase = try Daemon(["--shard", "all"])
        let sharded = try daemon.connect()
        let single = try oneDatabase.connect()
        _ = try sharded.result("createSchema", [Self.schema])
        _ = try single.result("createSchema", [Self.schema])
        try Self.load(sharded: sharded, single: single)
        let perShard = try #require(
            sharded.result("allAllShards", ["SELECT count(*) AS n FROM scores"]) as? [[String: Any]]
        )
        #expect(perShard.filter { (($0["results"] as? [[String: Any]])?.first?["n"] as? Int ?? 0) > 0 }.count == 3)

        let query = "SELECT id, player, score FROM scores WHERE id % ? <> 0"
        for (orderBy, direction, limit, offset) in [
            ("score", "asc", 25, 0), ("score", "desc", 40, 130), ("id", "asc", 10, 590), ("player", "desc", 600, 0),
            ("id", "desc", 0, 5),
        ] {
            let federated = try #require(
                sharded.result(
                    "federateQuery",
                    [query, [11], ["orderBy": orderBy, "direction": direction, "limit": limit, "offset": offset]]
                ) as? [String: Any]
            )
            // Ties (equal players) are broken by id on the single database, as shard order is.
            let tieBreak = orderBy == "player" ? ", id" : ""
            let expected = try #require(
                single.result(
                    "allShard",
                    [
                        "all",
                        "\(query) ORDER BY \(orderBy) \(direction)\(tieBreak) LIMIT \(limit) OFFSET \(offset)", [11],
                    ]
                ) as? [String: Any]
            )
            let got = try #require(federated["results"] as? [[String: Any]])
            let want = try #require(expected["results"] as? [[String: Any]])
            if orderBy == "player" {
                // Merging keeps shard order among ties; compare the order of the column itself.
                #expect(got.map { $0["player"] as? String } == want.map { $0["player"] as? String })
                #expect(Set(got.map { $0["id"] as? Int }) == Set(want.map { $0["id"] as? Int }))
            } else {
                #expect(
                    NSArray(array: got) == NSArray(array: want),
                    "\(orderBy) \(direction) limit \(limit) offset \(offset)"
                )
            }
            let meta = try #require(federated["meta"] as? [String: Any])
            #expect(meta["total"] as? Int == 600 - 600 / 11, "total counts the rows before the cut")
            #expect((meta["errors"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func badOrderingsAndWritesAreInvalidParamsAndCountsAreSummed() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", [Self.schema])
        for id in 1...90 {
            _ = try socket.result("run", ["\(id)", "INSERT INTO scores VALUES (?, 'p', ?)", [id, id]])
        }
        func code(_ response: [String: Any]) -> Int? { (response["error"] as? [String: Any])?["code"] as? Int }
        #expect(code(try socket.call("federateQuery", ["SELECT id FROM scores", [], ["orderBy": "score"]])) == -32602)
        #expect(
            code(
                try socket.call("federateQuery", ["SELECT id FROM scores", [], ["orderBy": "id\"; DROP TABLE scores"]])
            )
                == -32602
        )
        #expect(code(try socket.call("federateQuery", ["DELETE FROM scores"])) == -32602)
        #expect(code(try socket.call("federateQuery", ["SELECT 1; SELECT 2"])) == -32602)
        #expect(code(try socket.call("federateQuery", ["SELECT id FROM scores", [], ["direction": "up"]])) == -32602)
        let huge = ["limit": Int64.max, "offset": Int64.max]
        #expect(code(try socket.call("federateQuery", ["SELECT id FROM scores", [], huge])) == -32602)
        #expect(code(try socket.call("executeRebalance", [1, ["rowsPerSecond": 1e-300]])) == -32602)

        let count = try #require(
            socket.result("federateCount", ["SELECT count(*) FROM scores WHERE id > ?", [30]]) as? [String: Any]
        )
        #expect(count["total"] as? Int == 60)
        let shards = try #require(count["shards"] as? [[String: Any]])
        #expect(shards.map { $0["shard"] as? String } == ["db-1", "db-2", "db-3"])
        #expect(shards.compactMap { $0["count"] as? Int }.reduce(0, +) == 60)

        let notANumber = try #require(socket.result("federateCount", ["SELECT 'many'"]) as? [String: Any])
        #expect((notANumber["shards"] as? [[String: Any]])?.allSatisfy { $0["error"] != nil } == true)
        let rows = try #require(socket.result("federateQuery", ["SELECT id FROM scores;  "]) as? [String: Any])
        #expect((rows["results"] as? [Any])?.count == 90, "a trailing semicolon is fine; no limit returns every row")
    }

    @Test func aShardThatFailsIsReportedNotDropped() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", [Self.schema, "db-1"])
        _ = try socket.result("createSchema", [Self.schema, "db-2"])
        for id in 1...30 {
            _ = try socket.result("runShard", ["db-\(id % 2 + 1)", "INSERT INTO scores VALUES (?, 'p', ?)", [id, id]])
        }
        let result = try #require(
            socket.result("federateQuery", ["SELECT id FROM scores", [], ["orderBy": "id", "limit": 5]])
                as? [String: Any]
        )
        #expect((result["results"] as? [[String: Any]])?.map { $0["id"] as? Int } == [1, 2, 3, 4, 5])
        let meta = try #require(result["meta"] as? [String: Any])
        let errors = try #require(meta["errors"] as? [[String: Any]])
        #expect(errors.map { $0["shard"] as? String } == ["db-3"], "db-3 has no such table")
        #expect(meta["total"] is NSNull, "the total is unknown when a shard failed")
        #expect(meta["shards"] as? [String] == ["db-1", "db-2"])
    }
}
