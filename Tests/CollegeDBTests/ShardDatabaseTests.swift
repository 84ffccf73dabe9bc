import Foundation
import GRDB
import Testing

@testable import CollegeDB

@Suite struct ShardDatabaseTests {
    let directory = TemporaryDirectory()

    func shard() throws -> ShardDatabase {
        try ShardDatabase(name: "s", path: directory.path + "/s.sqlite")
    }

    @Test func readOnlyIsSQLitesVerdict() async throws {
        let shard = try shard()
        _ = try await shard.executeScript("CREATE TABLE t (v INTEGER)")
        #expect(try await shard.isReadOnly("-- INSERT\n/* DELETE */ SELECT 1"))
        #expect(try await !shard.isReadOnly("WITH x(v) AS (SELECT 1) INSERT INTO t SELECT v FROM x"))
        #expect(try await !shard.isReadOnly("  insert into t values (1)"))
    }

    @Test func oneStatementPerCall() async throws {
        let shard = try shard()
        for sql in ["SELECT 1; SELECT 2", "SELECT 1; garbage", "", "  -- only a comment"] {
            await #expect(throws: CollegeDBError.self) { try await shard.execute(SQLStatement(sql: sql)) }
            do {
                _ = try await shard.execute(SQLStatement(sql: sql))
            } catch let error as CollegeDBError {
                #expect(error.code == .invalidParams, "\(sql)")
            }
        }
        #expect(try await shard.execute(SQLStatement(sql: "SELECT 1;  ")).rows == [[.integer(1)]])
    }

    @Test func valuesKeepTheirStorageClass() async throws {
        let shard = try shard()
        let values: [SQLValue] = [
            .integer(.max), .integer(.min), .real(0.1), .text("∑ 😀"), .blob(Data([0, 1, 255])), .null,
        ]
        let result = try await shard.execute(SQLStatement(sql: "SELECT ?, ?, ?, ?, ?, ?", bindings: values))
        #expect(result.rows == [values])
    }

    @Test func batchesAreAtomic() async throws {
        let shard = try shard()
        _ = try await shard.executeScript("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        await #expect(throws: CollegeDBError.self) {
            try await shard.executeBatch([
                SQLStatement(sql: "INSERT INTO t VALUES (1)"), SQLStatement(sql: "INSERT INTO t VALUES (1)"),
            ])
        }
        #expect(try await shard.execute(SQLStatement(sql: "SELECT count(*) FROM t")).rows == [[.integer(0)]])
    }

    @Test func failuresCarrySQLitesCodesAndAreCounted() async throws {
        let shard = try shard()
        do {
            _ = try await shard.execute(SQLStatement(sql: "SELECT * FROM missing"))
            Issue.record("a missing table must fail")
        } catch let error as CollegeDBError {
            #expect(error.code == .queryFailed)
            #expect(error.sqlite?.code == 1)
            #expect(error.sqlite?.message.contains("missing") == true)
        }
        #expect(shard.metrics.errorCount == 1)
        #expect(shard.metrics.queryCount == 1)
    }

    @Test func theDatabaseIsInWALModeWithForeignKeys() async throws {
        let shard = try shard()
        #expect(try await shard.execute(SQLStatement(sql: "PRAGMA journal_mode")).rows == [[.text("wal")]])
        #expect(try await shard.execute(SQLStatement(sql: "PRAGMA foreign_keys")).rows == [[.integer(1)]])
    }

    /// SQLite checks the progress handler once more after an autocommit statement committed; a
    /// quick write over its budget must still have written nothing when it is run again.
    @Test func aQuickWriteOverItsBudgetIsRunOnceNotTwice() async throws {
        let shard = try ShardDatabase(
            name: "budget",
            path: directory.path + "/budget.sqlite",
            settings: ShardSettings(quickBudget: .nanoseconds(1))
        )
        _ = try await shard.executeScript("CREATE TABLE t (v INTEGER)")
        for value in 0..<400 {
            let statement = SQLStatement(sql: "INSERT INTO t VALUES (?)", bindings: [.integer(Int64(value))])
            if try shard.executeQuickly(statement, rowLimit: nil, limits: QueryLimits()) == nil {
                _ = try await shard.execute(statement)
            }
        }
        let rows = try await shard.execute(SQLStatement(sql: "SELECT count(*), count(DISTINCT v) FROM t")).rows
        #expect(rows == [[.integer(400), .integer(400)]], "every write once")
    }
}
