/// Users with text ids, each with two posts, written through the daemon by key: the schema the
/// drain tests move, with the posts' keys given by `postKey` (SQL for the `pid` value, or nil
/// to let the shard number them).
enum UsersWithPosts {
    static func load(_ socket: LineSocket, users: Int, postKey: String?) throws {
        let columns = postKey == nil ? "(user_id, body)" : "(pid, user_id, body)"
        let values = postKey.map { "(\($0), ?, " } ?? "(?, "
        for user in 0..<users {
            let key = "u\(user)"
            _ = try socket.result(
                "batch",
                [
                    key,
                    [
                        ["sql": "INSERT INTO users VALUES (?, 'name')", "bindings": [key]],
                        ["sql": "INSERT INTO posts \(columns) VALUES \(values)'first')", "bindings": [key]],
                        ["sql": "INSERT INTO posts \(columns) VALUES \(values)'second')", "bindings": [key]],
                    ],
                ]
            )
        }
    }
}
