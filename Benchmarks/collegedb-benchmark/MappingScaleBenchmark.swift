import CollegeDB
import Foundation

/// The mapping store at scale: bytes on disk per key, and lookup latency in process and over
/// the daemon's socket (`getShardMapping`), for a store of `keyCount` hashed keys.
enum MappingScaleBenchmark {
    static func run(keyCount: Int, seconds: Double, daemonBinary: URL) async throws {
        let directory = "/tmp/cdb-scale-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/data/mapping.sqlite"
        let shards = ["db-1", "db-2", "db-3"]

        let loadStart = Date()
        do {
            let store = try MappingStore(path: path, keyCodec: MappingKeyCodec(hashesKeys: true))
            let chunk = 100_000
            for start in stride(from: 0, to: keyCount, by: chunk) {
                let keys = (start..<min(start + chunk, keyCount)).map { "user:\($0)" }
                try store.importMappings(keys, shard: shards[(start / chunk) % shards.count])
            }
            try store.close()
        }
        let loadSeconds = Date().timeIntervalSince(loadStart)
        let bytes = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0

        let store = try MappingStore(path: path, keyCodec: MappingKeyCodec(hashesKeys: true))
        let inProcess = try ClosedLoop.measure(
            "in-process `MappingStore.shard(forKey:)`",
            connections: 1,
            seconds: seconds
        ) { _ in
            { iteration in
                let key = "user:\((iteration &* 7_919) % keyCount)"
                guard try store.shard(forKey: key) != nil else { throw BenchmarkFailure("\(key) unmapped") }
            }
        }
        try store.close()

        let socket = directory + "/d.sock"
        let daemon = try CollegeDBBenchmark.startProcess(
            daemonBinary,
            ["--data-dir", directory + "/data", "--socket", socket, "--log-level", "warning"],
            socket: socket
        )
        let overSocket: LatencyReport
        do {
            defer { CollegeDBBenchmark.stopProcess(daemon) }
            overSocket = try ClosedLoop.measure("`getShardMapping` over the socket", connections: 1, seconds: seconds) {
                _ in
                let client = try LineClient(path: socket)
                return { iteration in
                    let key = "user:\((iteration &* 7_919) % keyCount)"
                    let line = try client.roundTrip(
                        Array(
                            (#"{"jsonrpc":"2.0","id":1,"method":"getShardMapping","params":["\#(key)"]}"# + "\n").utf8
                        )
                    )
                    guard line.count > 60 else { throw BenchmarkFailure("no mapping for \(key)") }
                }
            }
        }

        // Hot keys: the route of a request for a key read recently comes from the engine's
        // mapping cache, as the daemon's request path does it. Last, since the engine holds the data directory until
        // the process ends.
        let hotKeyCount = min(10_000, keyCount)
        let database = try await CollegeDB.open(CollegeDBConfiguration(dataDirectory: directory + "/data"))
        for index in 0..<hotKeyCount { _ = try database.record(forKey: "user:\(index)", epoch: 0) }
        let hot = try ClosedLoop.measure(
            "in-process, \(hotKeyCount) hot keys (the engine's mapping cache)",
            connections: 1,
            seconds: seconds
        ) { _ in
            { iteration in
                let key = "user:\((iteration &* 7_919) % hotKeyCount)"
                let epoch = database.coordinator.locks.epoch
                guard try database.record(forKey: key, epoch: epoch) != nil else {
                    throw BenchmarkFailure("\(key) unmapped")
                }
            }
        }
        try await database.close()

        print("Mapping store with \(keyCount) hashed keys (loaded in \(String(format: "%.1f", loadSeconds)) s):")
        print(String(format: "- on disk: %d bytes, %.1f bytes per key", bytes, Double(bytes) / Double(keyCount)))
        print("| what | connections | p50 µs | p99 µs | lookups/s |")
        print("|---|---|---|---|---|")
        print(inProcess.row)
        print(hot.row)
        print(overSocket.row)
    }
}
