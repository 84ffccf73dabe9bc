import CollegeDBClient
import Foundation
import Testing

/// The Swift client's rebalancing and federation methods against the real daemon.
@Suite struct RebalanceClientTests {
    @Test func planRunAndFollowADrainThenFederate() async throws {
        let daemon = try TestDaemon(["--owner", "posts=user_id"])
        let client = CollegeDBClient(socketPath: daemon.socketPath)
        try await client.createSchema(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER)"
        )
        for user in 1...120 {
            _ = try await client.batch(
                key: "\(user)",
                [
                    ("INSERT INTO users VALUES (?, ?)", [.integer(Int64(user)), .text("user \(user)")]),
                    ("INSERT INTO posts VALUES (?, ?)", [.integer(Int64(user * 10)), .integer(Int64(user))]),
                ]
            )
        }
        let before = try await client.analyzeShardDistribution()
        #expect(before.shards.map(\.records).reduce(0, +) == 120)
        #expect(before.shards.compactMap(\.rows).reduce(0, +) == 240)

        let plan = try await client.generateRebalancePlan(drain: ["db-3"])
        let onDrained = try #require(before.shards.first { $0.shard == "db-3" }).records
        #expect(plan.moves == Int(onDrained))
        #expect(plan.byPair.allSatisfy { $0.from == "db-3" })
        #expect(plan.conflicts == [], "every post has an id no other shard uses")
        let page = try await client.listRebalanceMoves(planId: plan.planId, limit: 5)
        #expect(page.moves.count == min(5, plan.moves))
        #expect(page.moves.allSatisfy { $0.state == "pending" && $0.key?.count == 64 })
        let preview = try await client.rebalanceDryRun(planId: plan.planId)
        #expect(preview.records == plan.moves && preview.rows == 2 * plan.moves && preview.skipped == 0)
        #expect(preview.conflicts.isEmpty)

        let started = try await client.executeRebalance(planId: plan.planId)
        #expect(["running", "done"].contains(started.state))
        var status = try #require(try await client.getRebalanceStatus())
        while status.state == "running" {
            try await Task.sleep(for: .milliseconds(20))
            status = try #require(try await client.getRebalanceStatus(planId: plan.planId))
        }
        #expect(status.state == "done")
        #expect(status.recordsMoved == plan.moves && status.rowsMoved == 2 * plan.moves)
        try await client.unregisterShard("db-3")

        let rows = try await client.federateQuery(
            sql: "SELECT id, name FROM users",
            orderBy: "id",
            descending: true,
            limit: 3,
            offset: 1
        )
        #expect(rows.rows.map { $0["id"] } == [.integer(119), .integer(118), .integer(117)])
        #expect(rows.total == 120)
        #expect(rows.errors.isEmpty && rows.shards == ["db-1", "db-2"])
        let count = try await client.federateCount(sql: "SELECT count(*) FROM posts")
        #expect(count.total == 120)
        #expect(count.shards.map(\.shard) == ["db-1", "db-2"])
        await #expect(throws: CollegeDBClientError.self) {
            _ = try await client.cancelRebalance(planId: 4242)
        }
    }
}
