/// What a schema change may be, and the errors that say what it may not.
enum SchemaChangeRules {
    /// The longest name: 128 bytes.
    static let maximumNameLength = 128

    /// Checks a change's name and SQL as `applySchemaChange` receives them.
    /// - Throws: `INVALID_PARAMS` naming what is wrong.
    static func validate(name: String, sql: String, canary: Int?) throws {
        guard !name.isEmpty, name.utf8.count <= maximumNameLength else {
            throw CollegeDBError.invalidParams("name: 1 to \(maximumNameLength) bytes")
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw CollegeDBError.invalidParams("name: control characters are not allowed")
        }
        let statements = PostgresStatementText.statements(in: sql)
        guard !statements.isEmpty else { throw CollegeDBError.invalidParams("sql: no SQL statement given") }
        // Refused on every shard by either backend's policy: recorded, such a change could only
        // fail, and hold every later change back.
        for statement in statements {
            let keyword = PostgresStatementText(statement).firstKeyword
            if refusedEverywhere.contains(keyword) {
                throw CollegeDBError(
                    .statementRefused,
                    "\(keyword) is refused in a schema change: each shard runs the change in a transaction of its own"
                )
            }
        }
        if let canary, canary < 1 { throw CollegeDBError.invalidParams("options.canary: must be >= 1") }
    }

    /// Statements no shard runs in a schema change: transaction control, attaching files,
    /// `VACUUM`.
    private static let refusedEverywhere: Set<String> = [
        "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", "ABORT", "ATTACH", "DETACH", "VACUUM",
    ]

    /// Whether two texts are the same bytes (Swift's `==` would call different Unicode
    /// normalizations equal, which SQLite and PostgreSQL do not).
    static func sameText(_ first: String, _ second: String) -> Bool {
        first.utf8.elementsEqual(second.utf8)
    }

    /// The error for a name recorded with other SQL.
    static func otherSQL(_ name: String) -> CollegeDBError {
        CollegeDBError.invalidParams(
            "name: schema change '\(name)' was recorded with other SQL; a change is never edited, record a new one"
        )
    }

    /// A state as the catalog keeps it.
    /// - Throws: `MAPPING_STORE_FAILED` for one this daemon does not know.
    static func state(_ text: String) throws -> SchemaChangeState {
        guard let state = SchemaChangeState(rawValue: text) else {
            throw CollegeDBError(.mappingStoreFailed, "a schema change in the catalog has the unknown state '\(text)'")
        }
        return state
    }
}
