import Testing

/// Where the racing-writes tests' `hits (k, writer)` rows ended: for each key, the shards that
/// hold rows of it and how many each holds, from one fan-out.
enum HitsPerShard {
    static func of(through socket: LineSocket) throws -> [String: [(shard: String, rows: Int)]] {
        let entries = try #require(
            socket.result("allAllShards", ["SELECT k, count(*) AS n FROM hits GROUP BY k"]) as? [[String: Any]]
        )
        var placement: [String: [(shard: String, rows: Int)]] = [:]
        for entry in entries {
            let shard = try #require(entry["shard"] as? String)
            for row in entry["results"] as? [[String: Any]] ?? [] {
                placement[try #require(row["k"] as? String), default: []].append((shard, row["n"] as? Int ?? 0))
            }
        }
        return placement
    }
}
