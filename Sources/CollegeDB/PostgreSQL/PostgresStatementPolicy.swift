/// What a client's statement may do on a PostgreSQL shard, decided from its first words (the
/// server's own lexer rules, so comments and quoting cannot hide them).
///
/// A shard's connections are pooled: whatever a statement leaves on its session is seen by the
/// next caller that gets the connection, and each call is its own transaction. So refused, with
/// a message that says what to use instead:
/// - transaction control (`BEGIN`, `START`, `COMMIT`, `END`, `ROLLBACK`, `ABORT`, `SAVEPOINT`,
///   `RELEASE`, `PREPARE TRANSACTION`): use `batch`;
/// - session state: `SET` and `RESET` (except the transaction-scoped `SET LOCAL`, `SET
///   CONSTRAINTS` and `SET TRANSACTION`), `DISCARD`, `PREPARE`/`EXECUTE`/`DEALLOCATE`,
///   cursors (`DECLARE`, `FETCH`, `MOVE`, `CLOSE`), `LISTEN`/`UNLISTEN`, `LOAD`, and temporary
///   tables (`CREATE TEMP`, `CREATE TEMPORARY`);
/// - `COPY`, which needs a protocol mode the daemon does not relay (use `INSERT` with bindings);
/// - server-wide or outside-a-transaction work: `VACUUM`, `CHECKPOINT`, `CREATE DATABASE`,
///   `DROP DATABASE`, `ALTER SYSTEM`, `CREATE TABLESPACE`, `DROP TABLESPACE`, `REINDEX DATABASE`,
///   `REINDEX SYSTEM`.
///
/// Functions with session effects (`set_config(…, false)`, session advisory locks) cannot be
/// seen from the text: the role the shard's URL names should not be given more than the
/// application needs, as behind any transaction-pooling proxy.
enum PostgresStatementPolicy {
    /// Why `statement` is refused, or nil when it may run.
    static func refusal(of statement: PostgresStatementText) -> String? {
        let first = statement.firstKeyword
        let second = statement.secondKeyword
        switch first {
        case "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE":
            return "transaction control (\(first)) is not run for clients: each call is its own transaction; "
                + "use batch for statements that must commit together"
        case "PREPARE" where second == "TRANSACTION":
            return "two-phase commit (PREPARE TRANSACTION) is not run for clients; use batch"
        case "SET" where ["LOCAL", "CONSTRAINTS", "TRANSACTION"].contains(second):
            return nil
        case "SET", "RESET", "DISCARD":
            return "\(first) changes the pooled session, which later callers would share; "
                + "use SET LOCAL inside a batch, or set it for the role (ALTER ROLE … SET)"
        case "PREPARE", "EXECUTE", "DEALLOCATE", "DECLARE", "FETCH", "MOVE", "CLOSE", "LISTEN", "UNLISTEN", "LOAD":
            return "\(first) keeps state on the pooled session, which later callers would share; "
                + "the daemon prepares statements itself, and a call returns all of its rows"
        case "CREATE" where ["TEMP", "TEMPORARY", "DATABASE", "TABLESPACE"].contains(second):
            return "CREATE \(second) is not run for clients: "
                + (second.hasPrefix("TEMP")
                    ? "a temporary table stays on the pooled session; use a regular table"
                    : "a shard is one database; create databases outside the daemon")
        case "DROP" where ["DATABASE", "TABLESPACE"].contains(second),
            "ALTER" where second == "SYSTEM",
            "REINDEX" where ["DATABASE", "SYSTEM"].contains(second):
            return "\(first) \(second) is server-wide work, not run for clients"
        case "VACUUM", "CHECKPOINT":
            return "\(first) is maintenance, not run for clients; run it outside the daemon (autovacuum does it)"
        case "COPY":
            return "COPY is not relayed; insert rows with INSERT and bindings (batch for many)"
        default:
            return nil
        }
    }
}
