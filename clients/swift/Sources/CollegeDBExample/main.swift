import CollegeDBClient

/// A user row, decoded straight from `first`.
struct User: Decodable {
    let id: Int64
    let name: String
    let email: String
}

let socketPath = CommandLine.arguments.dropFirst().first ?? CollegeDBClient.defaultSocketPath
let client = CollegeDBClient(socketPath: socketPath, timeout: .seconds(5))

do {
    let health = try await client.health()
    print(
        "collegedbd \(health.version) is \(health.status), shards: \(health.shards.keys.sorted().joined(separator: ", "))"
    )

    try await client.createSchema("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT, email TEXT)")
    try await client.run(
        key: "user:1",
        sql: "INSERT OR REPLACE INTO users VALUES (?, ?, ?)",
        bindings: [1, "Ann", "ann@example.com"]
    )
    if let row = try await client.first(
        key: "user:1",
        sql: "SELECT id, name, email FROM users WHERE id = ?",
        bindings: [1]
    ) {
        let user = try row.decode(User.self)
        print("user \(user.id): \(user.name) <\(user.email)>")
    }
    if let mapping = try await client.getShardMapping(key: "user:1") {
        print("user:1 lives on \(mapping.shard)")
    }

    do {
        try await client.run(key: "user:1", sql: "INSERT INTO users VALUES (1, 'Copy', 'copy@example.com')")
    } catch let error as CollegeDBClientError where error.code == .queryFailed {
        print(
            "a second user 1 is refused: \(error.sqlite?.message ?? error.message) (SQLite \(error.sqlite?.extendedCode ?? 0))"
        )
    }
} catch let error as CollegeDBClientError {
    print("collegedb-example: \(error.code): \(error.message)")
}
