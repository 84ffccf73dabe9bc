import Foundation
import Testing

@testable import CollegeDB

/// How a client's SQL is read for a PostgreSQL shard: placeholders, statements, first words.
@Suite struct PostgresStatementTextTests {
    @Test func anEscapeStringThatEndsInABackslashIsReadToTheEndAndNoFurther() {
        for sql in ["SELECT E'\\", "SELECT E'a\\", "SELECT e'\\\\\\", "SELECT 1; SELECT E'\\"] {
            let text = PostgresStatementText(sql)
            #expect(text.sql.utf8.count >= sql.utf8.count - 1, "\(sql)")
        }
    }

    @Test func theHighestDollarParameterIsCountedHoweverLarge() {
        #expect(PostgresStatementText("SELECT $9223372036854775807").parameterCount == Int.max)
        #expect(PostgresStatementText("SELECT $99999999999999999999").parameterCount == 0)
        #expect(PostgresStatementText("SELECT $65535").parameterCount == 65_535)
    }

    @Test func questionMarksBecomeNumberedParametersOutsideLiteralsAndComments() {
        let text = PostgresStatementText(
            "SELECT '?', \"a?\", E'\\'?', $$?$$, $t$ ? $t$ -- ?\n, /* ? /* ? */ ? */ x FROM t WHERE a = ? AND b = ?"
        )
        #expect(
            text.sql
                == "SELECT '?', \"a?\", E'\\'?', $$?$$, $t$ ? $t$ -- ?\n, /* ? /* ? */ ? */ x FROM t WHERE a = $1 AND b = $2"
        )
        #expect(text.parameterCount == 2)
        #expect(!text.hasSecondStatement)
    }

    @Test func dollarParametersAreKeptAndTurnQuestionMarksOff() {
        let text = PostgresStatementText("SELECT doc ? 'key' FROM t WHERE id = $2 OR id = $1")
        #expect(text.sql == "SELECT doc ? 'key' FROM t WHERE id = $2 OR id = $1")
        #expect(text.parameterCount == 2)
    }

    @Test func secondStatementsAndFirstWordsAreSeenThroughComments() {
        #expect(PostgresStatementText("SELECT 1; SELECT 2").hasSecondStatement)
        #expect(!PostgresStatementText("SELECT 1;  -- done\n").hasSecondStatement)
        #expect(!PostgresStatementText("SELECT ';'").hasSecondStatement)
        let hidden = PostgresStatementText("/* x */ -- y\n  begin  isolation level serializable")
        #expect(hidden.firstKeyword == "BEGIN")
        #expect(hidden.secondKeyword == "ISOLATION")
        #expect(PostgresStatementPolicy.refusal(of: hidden) != nil)
        #expect(PostgresStatementPolicy.refusal(of: PostgresStatementText("SET LOCAL work_mem = '8MB'")) == nil)
        #expect(PostgresStatementPolicy.refusal(of: PostgresStatementText("set work_mem = '8MB'")) != nil)
        #expect(
            PostgresStatementPolicy.refusal(of: PostgresStatementText("WITH x AS (SELECT 1) SELECT * FROM x")) == nil
        )
    }

    @Test func scriptsSplitAtStatementEndsOnly() {
        let statements = PostgresStatementText.statements(
            in:
                "CREATE TABLE a (x text DEFAULT ';');\n-- c;\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;;"
        )
        #expect(statements.count == 2)
        #expect(statements[1].contains("$$ SELECT 1; $$"))
    }

    @Test func addressesNeverHoldAPasswordAndReadThePassFile() throws {
        #expect(throws: CollegeDBError.self) { try PostgresShardAddress(url: "postgresql://u:p@h/db") }
        #expect(throws: CollegeDBError.self) { try PostgresShardAddress(url: "postgresql://u@h/db?bogus=1") }
        let address = try PostgresShardAddress(url: "postgresql://app@db.example:6432/school?pool_size=3")
        #expect(address.host == "db.example")
        #expect(address.port == 6432)
        #expect(address.database == "school")
        #expect(address.poolSize == 3)
        #expect(address.tls == .prefer)
        let socket = try PostgresShardAddress(url: "postgres://app@/school?host=/run/pg&port=5433")
        #expect(socket.socketPath == "/run/pg/.s.PGSQL.5433")
        #expect(socket.tls == .disable)
        let file = "/tmp/cdb-pgpass-\(UInt32.random(in: 0...UInt32.max))"
        try "other:*:*:*:no\ndb.example:6432:school:app:pa\\:ss\n".write(
            toFile: file,
            atomically: true,
            encoding: .utf8
        )
        defer { unlink(file) }
        #expect(try address.password(environment: ["PGPASSFILE": file]) == "pa:ss")
    }
}
