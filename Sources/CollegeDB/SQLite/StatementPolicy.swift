import GRDBSQLite

/// What a client's statement may do on a shard, decided by SQLite's authorizer while the
/// statement compiles, so the rule sees what SQLite will really run (a `PRAGMA` inside a
/// trigger-free `WITH`, a comment before `BEGIN`, any spelling) rather than the text.
///
/// Refused, with a message that says what to use instead:
/// - transaction control (`BEGIN`, `COMMIT`, `ROLLBACK`, `SAVEPOINT`, `RELEASE`): each call is
///   its own transaction, and `batch` runs statements that must commit together;
/// - `ATTACH` and `DETACH`: a call works on its own shard's database only;
/// - `VACUUM` in any form (`VACUUM INTO` writes a file anywhere the daemon may write);
/// - `load_extension()`;
/// - temporary tables, views, indexes and triggers, which would stay on a pooled connection and
///   be seen by later callers;
/// - writes to the daemon's own tables (`_collegedb_*`);
/// - `PRAGMA`s other than the ones that only read (`table_info`, `user_version` without a
///   value, ...); a database-state pragma such as `user_version` or `optimize` may be allowed by
///   name (`--allow-pragma`), a connection-state one (`foreign_keys`, `synchronous`, ...) never.
public struct StatementPolicy: Sendable, Hashable {
    /// Pragmas a client may run with a value, beyond the read-only ones.
    public var allowedPragmas: Set<String>

    /// - Parameter allowedPragmas: pragmas clients may run with a value; each must be one of
    ///   ``allowablePragmas``. The default is none.
    /// - Throws: `INVALID_PARAMS` naming a pragma that can never be allowed.
    public init(allowedPragmas: Set<String> = []) throws {
        let names = Set(allowedPragmas.map { $0.lowercased() })
        if let refused = names.subtracting(Self.allowablePragmas).sorted().first {
            throw CollegeDBError.invalidParams(
                "pragma '\(refused)' cannot be allowed: only database-state pragmas can ("
                    + Self.allowablePragmas.sorted().joined(separator: ", ") + ")"
            )
        }
        self.allowedPragmas = names
    }

    /// Pragmas that change the database file, not the connection, and so may be allowed.
    public static let allowablePragmas: Set<String> = [
        "user_version", "application_id", "optimize", "wal_checkpoint", "incremental_vacuum", "analysis_limit",
    ]

    /// Pragmas that only report, whatever their argument (a table name, usually).
    static let introspectionPragmas: Set<String> = [
        "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
        "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check", "collation_list",
        "function_list", "module_list", "pragma_list", "compile_options", "database_list",
    ]

    /// Pragmas that report a setting when given no value, and change it when given one.
    static let settingPragmas: Set<String> = [
        "user_version", "schema_version", "application_id", "page_count", "page_size", "max_page_count",
        "freelist_count", "journal_mode", "synchronous", "foreign_keys", "encoding", "auto_vacuum",
        "cache_size", "busy_timeout", "data_version", "query_only", "recursive_triggers", "secure_delete",
        "temp_store", "wal_autocheckpoint", "locking_mode", "defer_foreign_keys", "automatic_index",
        "cell_size_check", "trusted_schema", "mmap_size", "journal_size_limit", "cache_spill",
        "ignore_check_constraints", "legacy_alter_table", "reverse_unordered_selects", "analysis_limit",
        "writable_schema", "hard_heap_limit", "soft_heap_limit", "threads",
    ]

    /// Why SQLite's authorizer must deny `action`, or nil when the statement may do it.
    /// `first` and `second` are the authorizer's first two text arguments.
    func refusal(action: Int32, first: String?, second: String?) -> String? {
        switch action {
        case SQLITE_TRANSACTION, SQLITE_SAVEPOINT:
            return "transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE) is not run for clients: "
                + "each call is its own transaction; use `batch` for statements that must commit together"
        case SQLITE_ATTACH, SQLITE_DETACH:
            return "ATTACH and DETACH are refused: a call works on its own shard's database; "
                + "use runShard/allShard or the fan-out methods to reach other shards"
        case SQLITE_FUNCTION where second?.lowercased() == "load_extension":
            return "load_extension() is refused: the daemon loads no code for clients"
        case SQLITE_CREATE_TEMP_TABLE, SQLITE_CREATE_TEMP_VIEW, SQLITE_CREATE_TEMP_INDEX,
            SQLITE_CREATE_TEMP_TRIGGER, SQLITE_DROP_TEMP_TABLE, SQLITE_DROP_TEMP_VIEW, SQLITE_DROP_TEMP_INDEX,
            SQLITE_DROP_TEMP_TRIGGER:
            return "temporary tables, views, indexes and triggers are refused: they would stay on a pooled "
                + "connection for later callers; use a common table expression (WITH) or a regular table"
        case SQLITE_INSERT, SQLITE_UPDATE, SQLITE_DELETE, SQLITE_CREATE_TABLE, SQLITE_DROP_TABLE, SQLITE_ALTER_TABLE,
            SQLITE_CREATE_INDEX, SQLITE_CREATE_TRIGGER, SQLITE_DROP_INDEX, SQLITE_DROP_TRIGGER:
            let namesTableFirst = [SQLITE_INSERT, SQLITE_UPDATE, SQLITE_DELETE, SQLITE_CREATE_TABLE, SQLITE_DROP_TABLE]
            let table = namesTableFirst.contains(action) ? first : second
            guard let table, table.lowercased().hasPrefix("_collegedb_") else { return nil }
            return "table '\(table)' belongs to collegedbd and cannot be changed by clients"
        case SQLITE_PRAGMA:
            return pragmaRefusal(name: first?.lowercased() ?? "", value: second)
        default:
            return nil
        }
    }

    private func pragmaRefusal(name: String, value: String?) -> String? {
        if Self.introspectionPragmas.contains(name) { return nil }
        if value == nil, Self.settingPragmas.contains(name) { return nil }
        if allowedPragmas.contains(name) { return nil }
        let shown = value.map { "PRAGMA \(name) = \($0)" } ?? "PRAGMA \(name)"
        if Self.allowablePragmas.contains(name) {
            return "\(shown) is refused: it changes the database; the daemon's operator may allow it "
                + "(--allow-pragma \(name))"
        }
        if Self.settingPragmas.contains(name) {
            return "\(shown) is refused: it would change the shared connection or the database for every "
                + "client; reading the setting (PRAGMA \(name) without a value) is allowed"
        }
        return "\(shown) is refused: this pragma is not run for clients; the table_info-style pragmas "
            + "and reading a setting (such as PRAGMA foreign_keys) are"
    }

    /// Why a statement whose text starts with these words is refused before it compiles, or nil.
    /// Only `VACUUM` needs this: SQLite's authorizer is not asked about it.
    static func refusal(leadingKeyword: String) -> String? {
        guard leadingKeyword == "vacuum" else { return nil }
        return "VACUUM is refused: it rewrites the whole shard and VACUUM INTO writes a file outside it; "
            + "run VACUUM with the sqlite3 tool during maintenance"
    }

    /// The first keyword of `sql`, lowercased, after white space and comments.
    static func leadingKeyword(of sql: String) -> String {
        let word = skippingBlanks(sql.utf8[...], semicolons: false).prefix { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
        }
        return String(decoding: word, as: UTF8.self).lowercased()
    }

    /// Whether `sql` holds nothing but white space, comments and semicolons.
    static func isBlank(_ sql: String) -> Bool {
        skippingBlanks(sql.utf8[...], semicolons: true).isEmpty
    }

    private static func skippingBlanks(_ text: Substring.UTF8View, semicolons: Bool) -> Substring.UTF8View {
        var bytes = text
        while let byte = bytes.first {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\t")
                || byte == UInt8(ascii: "\r") || byte == 0x0C || (semicolons && byte == UInt8(ascii: ";"))
            {
                bytes = bytes.dropFirst()
            } else if bytes.starts(with: "--".utf8) {
                bytes = bytes.drop { $0 != UInt8(ascii: "\n") }
            } else if bytes.starts(with: "/*".utf8) {
                bytes = bytes.dropFirst(2)
                while !bytes.isEmpty, !bytes.starts(with: "*/".utf8) { bytes = bytes.dropFirst() }
                bytes = bytes.dropFirst(2)
            } else {
                break
            }
        }
        return bytes
    }
}
