import Foundation
import Testing

@testable import CollegeDB

/// Shards that open on first use and close least-recently-used past the maximum, never while a
/// call, a transaction or a group commit uses them.
@Suite struct OpenShardSlotsTests {
    let directory = TemporaryDirectory()

    func shards(_ count: Int, maximum: Int) -> (OpenShardSlots, [ShardDatabase]) {
        var settings = ShardSettings()
        settings.openShards = OpenShardSlots(maximum: maximum)
        let shards = (0..<count).map {
            ShardDatabase(reportingFailure: "s\($0)", path: directory.path + "/s\($0).sqlite", settings: settings)
        }
        return (settings.openShards, shards)
    }

    @Test func aShardHoldsNoFileUntilWrittenAndTheLeastRecentlyUsedIdleOnesClose() async throws {
        let (slots, shards) = shards(6, maximum: 2)
        #expect(shards.allSatisfy { !$0.isOpen })
        // A read of a shard never written is answered as an empty database's, with no file made.
        let read = try await shards[0].execute(SQLStatement(sql: "SELECT count(*) FROM sqlite_master"))
        #expect(read.rows == [[.integer(0)]])
        await #expect(throws: CollegeDBError.self) { try await shards[0].execute(SQLStatement(sql: "SELECT * FROM t")) }
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/s0.sqlite"), "no file before a write")
        #expect(slots.counts.opened == 0)
        for shard in shards {
            _ = try await shard.executeScript("CREATE TABLE t (v INTEGER)")
            _ = try await shard.execute(SQLStatement(sql: "INSERT INTO t VALUES (1)"))
        }
        #expect(slots.counts.open == 2)
        #expect(shards.filter(\.isOpen).map(\.name) == ["s4", "s5"], "the two used last stay open")
        #expect(slots.counts.opened == 6)
        #expect(slots.counts.evicted == 4)
        // Reopened on use, with what was written, and the counts of before the close.
        let first = try await shards[0].execute(SQLStatement(sql: "SELECT count(*) FROM t"))
        #expect(first.rows == [[.integer(1)]])
        #expect(shards[0].metrics.queryCount == 5)
        #expect(shards[0].commitCounts.calls >= 1)
        #expect(slots.counts.open == 2)
    }

    @Test func aShardInUseIsNeverClosedAndRunsOnAfterOthersOpen() async throws {
        let (slots, shards) = shards(4, maximum: 1)
        _ = try await shards[0].executeScript("CREATE TABLE t (v INTEGER)")
        // Held as every call holds it, while the others open one after the other.
        try shards[0].withOpenFiles { _ in
            for shard in shards.dropFirst() {
                let made = try shard.executeQuickly(
                    SQLStatement(sql: "CREATE TABLE u (v INTEGER)"),
                    rowLimit: nil,
                    limits: QueryLimits()
                )
                #expect(made != nil)
            }
            #expect(shards[0].isOpen, "in use: not closed")
            #expect(slots.counts.open == 1, "the one in use: each other closed once idle")
        }
        let rows = try await shards[0].execute(SQLStatement(sql: "SELECT count(*) FROM t")).rows
        #expect(rows == [[.integer(0)]])
        // Idle again, it is the least recently used: the next open closes it.
        _ = try await shards[1].execute(SQLStatement(sql: "SELECT count(*) FROM u"))
        _ = try await shards[2].execute(SQLStatement(sql: "SELECT count(*) FROM u"))
        #expect(!shards[0].isOpen)
        #expect(slots.counts.open == 1)
    }

    @Test func groupCommitsAndBatchesAcrossEvictionsLoseNothing() async throws {
        let (slots, shards) = shards(12, maximum: 3)
        for shard in shards { _ = try await shard.executeScript("CREATE TABLE t (id INTEGER PRIMARY KEY)") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for index in 0..<150 {
                        let shard = shards[(worker * 7 + index * 5) % shards.count]
                        let id = Int64(worker * 1000 + index)
                        if index % 3 == 0 {
                            _ = try await shard.executeBatch([
                                SQLStatement(sql: "INSERT INTO t VALUES (?)", bindings: [.integer(id)]),
                                SQLStatement(sql: "INSERT INTO t VALUES (?)", bindings: [.integer(-id - 1)]),
                            ])
                        } else {
                            _ = try await shard.execute(
                                SQLStatement(sql: "INSERT INTO t VALUES (?)", bindings: [.integer(id)])
                            )
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        var total: Int64 = 0
        for shard in shards {
            let rows = try await shard.execute(SQLStatement(sql: "SELECT count(*) FROM t")).rows
            if case .integer(let count) = rows.first?.first { total += count }
        }
        #expect(total == 8 * 150 + 8 * 50, "every acknowledged write is there once")
        #expect(slots.counts.evicted > 0)
    }

    @Test func aClosedShardReportsItsFileSizeWithoutOpening() async throws {
        let (_, shards) = shards(3, maximum: 1)
        #expect(try shards[0].sizeInBytes() == 0, "never written: no file")
        _ = try await shards[0].executeScript("CREATE TABLE t (v BLOB); INSERT INTO t VALUES (zeroblob(100000))")
        let open = try shards[0].sizeInBytes()
        _ = try await shards[1].executeScript("CREATE TABLE u (v INTEGER)")
        #expect(!shards[0].isOpen)
        #expect(try shards[0].sizeInBytes() == open)
        #expect(!shards[0].isOpen, "measuring did not open it")
    }
}
