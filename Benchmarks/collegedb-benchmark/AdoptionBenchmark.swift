import CollegeDB
import Foundation

/// Adoption at bulk speed: a database of N users (an `id` table) given to the daemon as a
/// shard, timed from the daemon's start to its first answer (every key mapped before it), beside
/// `importMappings` of the same N keys into a fresh mapping store, in process, in the same run.
///
///     collegedb-benchmark adoption [--keys 1000000]
enum AdoptionBenchmark {
    static func run(keyCount: Int) async throws {
        let directory = "/tmp/cdb-adoption-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let legacy = directory + "/legacy.sqlite"
        try SQLiteScript.run(
            path: legacy,
            """
            CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(keyCount))
            INSERT INTO users SELECT i, 'user ' || i FROM n;
            """
        )

        let socket = directory + "/d.sock"
        let started = Date()
        let daemon = try CollegeDBBenchmark.startProcess(
            CollegeDBBenchmark.binaryDirectory.appendingPathComponent("collegedbd"),
            [
                "--data-dir", directory + "/data", "--socket", socket, "--log-level", "warning",
                "--shard", "db-1", "--shard", "legacy=\(legacy)",
            ],
            socket: socket
        )
        let adoptionSeconds = Date().timeIntervalSince(started)
        let stats = try RebalanceBenchmark.call(try LineClient(path: socket), "getShardStats") as? [[String: Any]]
        CollegeDBBenchmark.stopProcess(daemon)
        let mapped = stats?.first { $0["binding"] as? String == "legacy" }?["count"] as? Int ?? 0
        guard mapped == keyCount else { throw BenchmarkFailure("adopted \(mapped) of \(keyCount) keys") }

        let store = try MappingStore(
            path: directory + "/import.sqlite",
            keyCodec: MappingKeyCodec(hashesKeys: true)
        )
        let keys = (1...keyCount).map(String.init)
        let importStarted = Date()
        for start in stride(from: 0, to: keyCount, by: 50_000) {
            try store.importMappings(Array(keys[start..<min(start + 50_000, keyCount)]), shard: "db-1")
        }
        let importSeconds = Date().timeIntervalSince(importStarted)
        try store.close()

        print("Adoption of \(keyCount) keys (hashed), one `id` table\n")
        print("| what | seconds | keys/s |")
        print("|---|---|---|")
        print(
            String(
                format: "| daemon start to first answer, adopting the file | %.1f | %.0f |",
                adoptionSeconds,
                Double(keyCount) / adoptionSeconds
            )
        )
        print(
            String(
                format: "| `importMappings`, 50,000 keys per call, in process | %.1f | %.0f |",
                importSeconds,
                Double(keyCount) / importSeconds
            )
        )
        print(
            String(
                format: "\n- adoption / importMappings rate = %.2f (aim: 1,000,000 keys under 15 s)",
                importSeconds / adoptionSeconds
            )
        )
    }
}
