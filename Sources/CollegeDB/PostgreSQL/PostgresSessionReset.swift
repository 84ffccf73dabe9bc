import Logging
import NIOCore
import PostgresNIO

/// Puts a pooled PostgreSQL session back as it was before a client's call, in one round trip.
///
/// The statement policy refuses `SET`, `LISTEN`, temporary tables and the like by their first
/// words, but a function can change the session too: `set_config(…, false)` (a `search_path`,
/// a role, `statement_timeout = 0`), a session advisory lock, a `DO` block. So after every
/// client call the daemon resets what a session can keep: the session authorization and role,
/// every setting to the value the connection started with (the daemon's `statement_timeout`
/// among them, so it is in force again for the next call), session advisory locks, `LISTEN`
/// channels and temporary tables. Prepared statements are the pool's own and stay.
enum PostgresSessionReset {
    /// The reset, as one statement (utility commands run from PL/pgSQL).
    static let statement: PostgresQuery = """
        DO $collegedb_reset$
        BEGIN
            RESET SESSION AUTHORIZATION;
            RESET ROLE;
            RESET ALL;
            PERFORM pg_catalog.pg_advisory_unlock_all();
            UNLISTEN *;
            DISCARD TEMP;
        END
        $collegedb_reset$
        """

    /// Resets `connection`'s session, on its event loop; when that fails (the connection is
    /// lost, or a setting the call left makes it fail), closes the connection instead, so no
    /// later caller gets it. The future never fails.
    static func resetOnLoop(_ connection: PostgresConnection, logger: Logger) -> EventLoopFuture<Void> {
        connection.queryOnLoop(statement, logger: logger).map { _ in }.flatMapError { error in
            logger.warning(
                "a PostgreSQL session could not be reset after a client's call; it is closed",
                metadata: ["error": "\(String(reflecting: error))"]
            )
            // Closing a connection that is already gone fails too, and there is nothing left to do.
            return connection.close().recover { _ in }
        }
    }
}
