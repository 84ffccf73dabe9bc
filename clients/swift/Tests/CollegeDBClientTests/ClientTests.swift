import CollegeDBClient
import Foundation
import Testing

/// The Swift client against the real daemon.
@Suite struct ClientTests {
    struct User: Decodable, Equatable {
        let id: Int64
        let name: String
        let avatar: Data?
        let score: Double
    }

    @Test func rowsDecodeIntoCodableTypesAndValuesKeepTheirClass() async throws {
        let daemon = try TestDaemon()
        let client = CollegeDBClient(socketPath: daemon.socketPath)
        try await client.createSchema("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, avatar BLOB, score REAL)")
        let avatar = Data([0, 1, 2, 255])
        let run = try await client.run(
            key: "user:9223372036854775807",
            sql: "INSERT INTO users VALUES (?, ?, ?, ?)",
            bindings: [.integer(.max), "Ann 😀", .blob(avatar), 1.0]
        )
        #expect(run.meta.changes == 1)
        let row = try #require(try await client.first(key: "user:9223372036854775807", sql: "SELECT * FROM users"))
        #expect(try row.decode(User.self) == User(id: .max, name: "Ann 😀", avatar: avatar, score: 1))
        #expect(row["score"] == .real(1.0))
        #expect(row["avatar"] == .blob(avatar))
        #expect(row.columns == ["id", "name", "avatar", "score"])
        let all = try await client.all(
            key: "user:9223372036854775807",
            sql: "SELECT id, name, NULL AS avatar, score FROM users"
        )
        #expect(try all.decode(User.self).map(\.name) == ["Ann 😀"])
        #expect(all.meta.shard == run.meta.shard)
    }

    @Test func thirtyTwoTasksAtOnce() async throws {
        let daemon = try TestDaemon()
        let client = CollegeDBClient(socketPath: daemon.socketPath, maximumConnections: 8)
        try await client.createSchema("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<32 {
                group.addTask {
                    for step in 0..<20 {
                        try await client.run(
                            key: "\(task)",
                            sql: "INSERT OR REPLACE INTO counters VALUES (?, ?)",
                            bindings: [.integer(Int64(task)), .integer(Int64(step))]
                        )
                        let row = try await client.first(
                            key: "\(task)",
                            sql: "SELECT n FROM counters WHERE id = ?",
                            bindings: [.integer(Int64(task))]
                        )
                        #expect(row?["n"] == .integer(Int64(step)))
                    }
                }
            }
            try await group.waitForAll()
        }
        let stats = try await client.getShardStats()
        #expect(stats.map(\.count).reduce(0, +) == 32)
    }

    @Test func aDaemonRestartDoesNotBreakTheClient() async throws {
        let daemon = try TestDaemon()
        let client = CollegeDBClient(socketPath: daemon.socketPath, maximumConnections: 4, timeout: .seconds(20))
        try await client.createSchema("CREATE TABLE hits (n INTEGER)")
        try await client.run(key: "k", sql: "INSERT INTO hits VALUES (0)")
        daemon.stop()
        try daemon.start()
        for n in 1...10 {
            try await client.run(key: "k", sql: "INSERT INTO hits VALUES (?)", bindings: [.integer(Int64(n))])
        }
        let row = try await client.first(key: "k", sql: "SELECT count(*) AS c FROM hits")
        #expect(row?["c"] == .integer(11))

        // Restarting while calls are under way: each call succeeds, or fails as a lost
        // connection (it may have run); none fails otherwise, and the client goes on.
        let errors = try await withThrowingTaskGroup(of: [CollegeDBClientError].self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var errors: [CollegeDBClientError] = []
                    for n in 0..<50 {
                        do {
                            _ = try await client.first(
                                key: "k",
                                sql: "SELECT ? AS n",
                                bindings: [.integer(Int64(worker * 100 + n))]
                            )
                        } catch let error as CollegeDBClientError {
                            errors.append(error)
                        }
                    }
                    return errors
                }
            }
            try await Task.sleep(for: .milliseconds(20))
            daemon.stop()
            try daemon.start()
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(errors.allSatisfy { $0.code == .connectionLost }, "\(errors)")
        #expect(try await client.health().status == "ok")
    }

    @Test func everyErrorCarriesItsCode() async throws {
        let daemon = try TestDaemon()
        let client = CollegeDBClient(socketPath: daemon.socketPath, timeout: .seconds(10))
        try await client.createSchema("CREATE TABLE u (id INTEGER PRIMARY KEY)")
        try await client.run(key: "1", sql: "INSERT INTO u VALUES (1)")
        func code(_ body: () async throws -> Void) async -> CollegeDBClientError? {
            do {
                try await body()
                return nil
            } catch {
                return error as? CollegeDBClientError
            }
        }
        let unique = await code { try await client.run(key: "1", sql: "INSERT INTO u VALUES (1)") }
        #expect(unique?.code == .queryFailed)
        #expect(unique?.sqlite?.extendedCode == 1555)
        #expect(unique?.rpcCode == -32003)
        #expect(await code { try await client.run(key: "1", sql: "SELECT 1; SELECT 2") }?.code == .invalidParams)
        #expect(await code { _ = try await client.call("noSuchMethod") }?.code == .methodNotFound)
        #expect(await code { _ = try await client.allShard(shard: "nowhere", sql: "SELECT 1") }?.code == .shardNotFound)
        #expect(await code { try await client.addLookupKeys(key: "ghost", keys: ["x"]) }?.code == .mappingNotFound)
        try await client.setShardMapping(key: "a", shard: "db-1")
        #expect(
            await code { try await client.setShardMapping(key: "b", shard: "db-1", additionalKeys: ["a"]) }?.code
                == .keyConflict
        )
        #expect(await code { try await client.unregisterShard("db-1") }?.code == .shardNotEmpty)
        #expect(await code { _ = try await client.call("flush", .array([.bool(true)])) }?.code == .flushDisabled)
        let slow =
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000000) SELECT count(*) FROM c"
        #expect(
            await code {
                _ = try await client.call(
                    "firstShard",
                    .array([.string("db-1"), .string(slow)]),
                    timeout: .milliseconds(100)
                )
            }?.code == .timeout
        )
        #expect(try await client.health().status == "ok", "a timed-out call does not spoil the pool")

        let nowhere = CollegeDBClient(socketPath: daemon.directory + "/missing.sock", timeout: .milliseconds(300))
        #expect(await code { _ = try await nowhere.health() }?.code == .connectionFailed)
    }

    @Test func fanOutAndMappingsAreTyped() async throws {
        let daemon = try TestDaemon()
        let client = CollegeDBClient(socketPath: daemon.socketPath)
        try await client.createSchema("CREATE TABLE t (x INTEGER)", shard: "db-2")
        let entries = try await client.allAllShards(sql: "SELECT count(*) AS n FROM t")
        #expect(entries.map(\.shard) == ["db-1", "db-2", "db-3"])
        if case .failure(let error) = entries[0].outcome {
            #expect(error.code == .queryFailed)
        } else {
            Issue.record("db-1 has no table t")
        }
        if case .success(let result) = entries[1].outcome {
            #expect(result.rows.first?["n"] == .integer(0))
        } else {
            Issue.record("db-2 failed")
        }
        try await client.setShardMapping(key: "k1", shard: "db-3", additionalKeys: ["k2"])
        #expect(try await client.getAllLookupKeys(key: "k2").count == 2)
        #expect(try await client.getKeysForShard("db-3", limit: 1).cursor != nil)
        let allocation = try await client.allocate(primaryKey: "k1")
        #expect(allocation.shard == "db-3")
        #expect(!allocation.created)
        #expect(try await client.deleteShardMapping(key: "k2") == 2)
        #expect(try await client.getShardMapping(key: "k1") == nil)
        #expect(try await client.listKnownShards() == ["db-1", "db-2", "db-3"])
        let firsts = try await client.firstAllShards(sql: "SELECT 7 AS seven")
        #expect(firsts.map(\.shard) == ["db-1", "db-2", "db-3"])
        #expect(firsts.allSatisfy { (try? $0.outcome.get())??["seven"] == .integer(7) })
        try await client.updateShardStats("db-1", count: 4)
        try await client.incrementShardCount("db-1")
        try await client.decrementShardCount("db-2")
        #expect(try await client.getShardStats().map(\.count) == [5, 0, 0])
        #expect(try await client.getShardMetadata().map(\.keyCount) == [5, 0, 0])
    }
}
