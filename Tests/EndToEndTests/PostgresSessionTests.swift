import Foundation
import Testing

/// A pooled PostgreSQL session comes back to the pool as it left it, whatever a client's call
/// did to it through functions the statement policy cannot see. One connection in the pool, so
/// every call gets the session the one before it used.
@Suite(.blocksWhileWaiting) struct PostgresSessionTests {
    @Test func whatACallDidToTheSessionIsGoneForTheNextCaller() throws {
        let server = try PostgresServer.shared()
        let url = server.url(try server.makeDatabase()) + "?pool_size=1"
        let daemon = try Daemon(["--shard", "pg=" + url, "--statement-timeout", "1"], environment: server.environment)
        let hostile = try daemon.connect()
        let later = try daemon.connect()
        func value(_ sql: String) throws -> String? {
            let row = try later.result("firstShard", ["pg", sql]) as? [String: Any]
            return row?["v"].map { "\($0)" }
        }
        let settled = try value(
            "SELECT current_setting('search_path') || '|' || current_setting('statement_timeout') AS v"
        )
        #expect(settled == "\"$user\", public|1s")
        _ = try hostile.result(
            "runShard",
            ["pg", "DO $$BEGIN CREATE ROLE collegedb_evil; EXCEPTION WHEN OTHERS THEN END$$"]
        )

        let leaks: [(sql: String, check: String, expected: String)] = [
            (
                "SELECT set_config('search_path', 'evil', false)", "SELECT current_setting('search_path') AS v",
                "\"$user\", public"
            ),
            (
                "SELECT set_config('statement_timeout', '0', false)",
                "SELECT current_setting('statement_timeout') AS v", "1s"
            ),
            ("SELECT set_config('role', 'collegedb_evil', false)", "SELECT current_user::text AS v", "collegedb"),
            (
                "SELECT pg_advisory_lock(42)",
                "SELECT count(*)::text AS v FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()", "0"
            ),
            (
                "DO $$BEGIN PERFORM set_config('search_path', 'evil2', false); END$$",
                "SELECT current_setting('search_path') AS v", "\"$user\", public"
            ),
            (
                "CREATE LOCAL TEMPORARY TABLE stays (x int)",
                "SELECT count(*)::text AS v FROM pg_class WHERE relpersistence = 't'", "0"
            ),
            (
                "SELECT pg_catalog.set_config('search_path', 'evil3', false) FROM generate_series(1, 1)",
                "SELECT current_setting('search_path') AS v", "\"$user\", public"
            ),
        ]
        for leak in leaks {
            _ = try hostile.call("runShard", ["pg", leak.sql])
            #expect(try value(leak.check) == leak.expected, "after \(leak.sql)")
        }
        // A failing call is reset too.
        _ = try hostile.call("runShard", ["pg", "SELECT set_config('search_path', 'evil4', false), 1 / 0"])
        #expect(try value("SELECT current_setting('search_path') AS v") == "\"$user\", public")
        // The daemon's own timeout holds for a later call after the session tried to switch it off.
        _ = try hostile.call("runShard", ["pg", "SELECT set_config('statement_timeout', '0', false)"])
        let slow = try later.call("firstShard", ["pg", "SELECT pg_sleep(3)"])
        #expect(
            ((slow["error"] as? [String: Any])?["data"] as? [String: Any])?["code"] as? String == "STATEMENT_TIMEOUT"
        )
    }
}
