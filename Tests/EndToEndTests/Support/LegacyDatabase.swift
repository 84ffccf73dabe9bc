import Foundation
import GRDB

/// An existing application database, as a team would bring it: tables with foreign keys, an
/// `id` table, a table keyed by another column, a composite-key table, an empty table and a
/// `WITHOUT ROWID` table. Its keys: every user id, and every account's email.
enum LegacyDatabase {
    /// Daemon flags naming the owning columns of the tables not keyed by `id`.
    static let owners = ["--owner", "posts=user_id", "--owner", "accounts=email"]

    /// Writes the database at `path` with `users` users (one post, one account each).
    static func make(at path: String, users: Int) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
                    CREATE TABLE posts (
                        id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id), body TEXT
                    );
                    CREATE INDEX posts_by_user ON posts (user_id);
                    CREATE TABLE accounts (email TEXT PRIMARY KEY, user_id INTEGER REFERENCES users (id), plan TEXT);
                    CREATE TABLE memberships (user_id INTEGER, group_id INTEGER, PRIMARY KEY (user_id, group_id));
                    CREATE TABLE audit_log (id INTEGER PRIMARY KEY, at TEXT);
                    CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT) WITHOUT ROWID;
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(users))
                    INSERT INTO users SELECT i, 'user ' || i FROM n;
                    INSERT INTO posts SELECT id * 10, id, 'post of user ' || id FROM users;
                    INSERT INTO accounts SELECT 'u' || id || '@example.com', id, 'free' FROM users;
                    INSERT INTO memberships SELECT id, id % 7 FROM users WHERE id <= 1000;
                    INSERT INTO tags SELECT id, 'tag ' || id FROM users WHERE id <= 50;
                    """
            )
        }
    }

    /// The keys adoption maps: each user id and each account's email.
    static func keyCount(users: Int) -> Int { 2 * users }

    /// The schema and every row, in order: equal dumps mean an unchanged database.
    static func dump(_ path: String) throws -> [String] {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        return try queue.read { db in
            var lines = try String.fetchAll(
                db,
                sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
            )
            for table in try String.fetchAll(
                db,
                sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            ) {
                let rows = try Row.fetchCursor(db, sql: "SELECT * FROM \(table.quotedDatabaseIdentifier) ORDER BY 1, 2")
                while let row = try rows.next() { lines.append("\(table): \(row)") }
            }
            return lines
        }
    }
}
