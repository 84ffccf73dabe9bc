import CollegeDB
import Foundation
import Synchronization

/// Online backups: MB/s of `backup` while four connections write, beside `cp` of the same files
/// with the daemon stopped (quiesced) and `sync` of the copies (a backup's files are on disk
/// before it answers), in the same run; and the longest a write waited while the
/// backup ran, beside the longest wait of the same writers before it.
///
///     collegedb-benchmark backup [--records 300000] [--runs 5] [--writers 4]
enum BackupBenchmark {
    static func run(records: Int, runs: Int, writers writerCount: Int) async throws {
        let directory = "/tmp/cdb-backup-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory + "/data/shards", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let busy = try BusyCores()
        defer { withExtendedLifetime(busy) {} }

        // Three shards of users with about 100 bytes of text each, every key mapped.
        let shards = ["db-1", "db-2", "db-3"]
        let perShard = records / shards.count
        for (index, shard) in shards.enumerated() {
            let first = index * perShard + 1
            try SQLiteScript.run(
                path: directory + "/data/shards/\(shard).sqlite",
                """
                PRAGMA journal_mode = WAL;
                CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
                WITH RECURSIVE n(i) AS (SELECT \(first) UNION ALL SELECT i + 1 FROM n WHERE i < \(first + perShard - 1))
                INSERT INTO users SELECT i, printf('user %d, %s', i, hex(randomblob(40))) FROM n;
                """
            )
        }
        let store = try MappingStore(
            path: directory + "/data/mapping.sqlite",
            keyCodec: MappingKeyCodec(hashesKeys: true)
        )
        for (index, shard) in shards.enumerated() {
            try store.importMappings(
                (index * perShard + 1...(index + 1) * perShard).map(String.init),
                shard: shard
            )
        }
        try store.close()
        let files = ["mapping.sqlite"] + shards.map { "shards/\($0).sqlite" }

        var backupRates: [Double] = []
        var copyRates: [Double] = []
        var stalls: [Double] = []
        var idleWaits: [Double] = []
        for run in 1...runs {
            // The reference: the same files copied by cp, nothing running.
            let copyStarted = Date()
            let copy = Process()
            copy.executableURL = URL(fileURLWithPath: "/bin/cp")
            copy.arguments = ["-r", directory + "/data", directory + "/cp-\(run)"]
            try copy.run()
            copy.waitUntilExit()
            let sync = Process()
            sync.executableURL = URL(fileURLWithPath: "/bin/sync")
            sync.arguments = files.map { directory + "/cp-\(run)/" + $0 }
            try sync.run()
            sync.waitUntilExit()
            let copySeconds = Date().timeIntervalSince(copyStarted)
            let bytes = files.reduce(Int64(0)) { sum, file in
                let size =
                    try? FileManager.default.attributesOfItem(atPath: directory + "/data/" + file)[.size] as? NSNumber
                return sum + (size?.int64Value ?? 0)
            }
            try FileManager.default.removeItem(atPath: directory + "/cp-\(run)")
            copyRates.append(Double(bytes) / copySeconds / 1_048_576)

            let socket = directory + "/d.sock"
            let daemon = try CollegeDBBenchmark.startProcess(
                CollegeDBBenchmark.binaryDirectory.appendingPathComponent("collegedbd"),
                ["--data-dir", directory + "/data", "--socket", socket, "--log-level", "warning"]
                    + shards.flatMap { ["--shard", $0] },
                socket: socket
            )
            defer { CollegeDBBenchmark.stopProcess(daemon) }
            let phase = Atomic<Int>(0)  // 0: before the backup, 1: during it, 2: done
            let longest = Mutex<[Double]>([0, 0])
            let writers = (0..<writerCount).map { writer in
                Thread {
                    guard let client = try? LineClient(path: socket) else { return }
                    var serial = 0
                    while phase.load(ordering: .relaxed) < 2 {
                        serial += 1
                        let key = (writer * 7_919 + serial * 104_729) % max(1, records) + 1
                        let request =
                            #"{"jsonrpc":"2.0","id":1,"method":"run","params":["\#(key)","UPDATE users SET name = name WHERE id = ?",[\#(key)]]}"#
                            + "\n"
                        let started = Date()
                        let during = phase.load(ordering: .relaxed)
                        _ = try? client.roundTrip(Array(request.utf8))
                        let waited = Date().timeIntervalSince(started)
                        if during < 2 { longest.withLock { $0[during] = max($0[during], waited) } }
                    }
                }
            }
            for writer in writers { writer.start() }
            try await Task.sleep(for: .seconds(2))
            let control = try LineClient(path: socket)
            phase.store(1, ordering: .relaxed)
            let path = directory + "/backup-\(run)"
            let result = try RebalanceBenchmark.call(control, "backup", [path]) as? [String: Any]
            phase.store(2, ordering: .relaxed)
            try await Task.sleep(for: .milliseconds(200))
            let backupBytes = Double(result?["bytes"] as? Int ?? 0)
            let backupSeconds = result?["seconds"] as? Double ?? 0
            backupRates.append(backupBytes / max(backupSeconds, 1e-6) / 1_048_576)
            let waits = longest.withLock { $0 }
            idleWaits.append(waits[0] * 1000)
            stalls.append(waits[1] * 1000)
            try FileManager.default.removeItem(atPath: path)
            print(
                String(
                    format:
                        "run %d: backup %.0f MB in %.3f s (%.0f MB/s), cp + sync %.0f MB/s; longest write %.1f ms before, %.1f ms during",
                    run,
                    backupBytes / 1_048_576,
                    backupSeconds,
                    backupRates.last ?? 0,
                    copyRates.last ?? 0,
                    waits[0] * 1000,
                    waits[1] * 1000
                )
            )
        }
        let ratios = zip(backupRates, copyRates).map { $0 / $1 }.sorted()
        print("| what | median | min | max |")
        print("|---|---|---|---|")
        for (name, values) in [
            ("backup MB/s, \(writerCount) writers running", backupRates), ("cp + sync MB/s, quiesced", copyRates),
            ("backup / cp", ratios), ("longest write before the backup, ms", idleWaits),
            ("longest write during the backup, ms", stalls),
        ] {
            let sorted = values.sorted()
            let figures = [sorted[sorted.count / 2], sorted.first ?? 0, sorted.last ?? 0]
            print("| \(name) | " + figures.map { String(format: "%.2f", $0) }.joined(separator: " | ") + " |")
        }
    }
}
