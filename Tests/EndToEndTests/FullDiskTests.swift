import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A shard on a full file system answers with STORAGE_FULL, loses nothing already written, and
/// serves again once there is room. The shard lives on a small tmpfs mounted for the test
/// (root only, as in CI).
@Suite(.blocksWhileWaiting, .enabled(if: getuid() == 0, "mounting a small tmpfs needs root"))
struct FullDiskTests {
    @Test func aFullShardAnswersStorageFullAndLosesNothing() throws {
        let directory = Daemon.makeDirectory()
        let small = directory.appendingPathComponent("small")
        try FileManager.default.createDirectory(at: small, withIntermediateDirectories: true)
        try Self.mount(["-t", "tmpfs", "-o", "size=512k", "tmpfs", small.path])
        defer {
            // Lazily: the daemon may still hold its files open while it stops.
            _ = try? Self.mount(["-l", small.path], command: "/bin/umount")
            try? FileManager.default.removeItem(at: directory)
        }
        let daemon = try Daemon(["--shard", "db-1=\(small.path)/db-1.sqlite", "--shard", "db-2"], directory: directory)
        defer { daemon.stop() }
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE big (id INTEGER PRIMARY KEY, b BLOB)", "db-1"])
        _ = try socket.result("setShardMapping", ["full", "db-1"])
        var written = 0
        var full: [String: Any]?
        for id in 1...100 {
            let response = try socket.call("run", ["full", "INSERT INTO big VALUES (?, zeroblob(50000))", [id]])
            if let error = response["error"] as? [String: Any] {
                full = error
                break
            }
            written = id
        }
        let error = try #require(full, "the tmpfs must fill up")
        let data = try #require(error["data"] as? [String: Any])
        #expect(data["code"] as? String == "STORAGE_FULL")
        #expect((data["sqlite"] as? [String: Any])?["code"] as? Int == 13)
        let rows = try #require(socket.result("all", ["full", "SELECT count(*) AS n FROM big"]) as? [String: Any])
        #expect(
            (rows["results"] as? [[String: Any]])?.first?["n"] as? Int == written,
            "nothing lost, nothing half-written"
        )
        #expect((try socket.result("health") as? [String: Any])?["status"] as? String == "ok")
        try Self.mount(["-o", "remount,size=8m", small.path])
        _ = try socket.result("run", ["full", "INSERT INTO big VALUES (1000, zeroblob(50000))"])
    }

    static func mount(_ arguments: [String], command: String = "/bin/mount") throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw LineSocket.Failure(description: "\(command) \(arguments) exited \(process.terminationStatus)")
        }
    }
}
