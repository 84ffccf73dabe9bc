import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The daemon admits peers by their kernel credentials (SO_PEERCRED), and keeps the methods
/// that change the layout or the mappings for its administrators. The other user is `nobody`
/// (65534), reached with setpriv and socat.
@Suite(.blocksWhileWaiting, .enabled(if: getuid() == 0, "switching to another user needs root"))
struct PeerAccessTests {
    static let nobody = "65534"

    /// Runs `request` through socat as `nobody` and returns the answer line.
    static func callAsNobody(_ daemon: Daemon, _ request: String) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = [
            "--reuid=\(nobody)", "--regid=\(nobody)", "--clear-groups", "socat", "-t", "5", "-",
            "UNIX-CONNECT:\(daemon.socketPath)",
        ]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data((request + "\n").utf8))
        try input.fileHandleForWriting.close()
        let answer = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let line = String(decoding: answer, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        return try LineSocket.object(line)
    }

    static func daemon(_ arguments: [String]) throws -> Daemon {
        let directory = Daemon.makeDirectory()
        chmod(directory.path, 0o755)
        return try Daemon(["--socket-mode", "0666"] + arguments, directory: directory)
    }

    @Test func aPeerOutsideTheAllowedUsersGetsForbiddenAndIsLogged() throws {
        let daemon = try Self.daemon(["--allow-uid", "4242"])
        defer { try? FileManager.default.removeItem(at: daemon.directory) }
        let answer = try Self.callAsNobody(daemon, #"{"jsonrpc":"2.0","id":1,"method":"health"}"#)
        let error = try #require(answer["error"] as? [String: Any], "\(answer)")
        #expect(error["code"] as? Int == -32019)
        #expect((error["data"] as? [String: Any])?["code"] as? String == "FORBIDDEN")
        // Root is always admitted.
        #expect((try daemon.connect().result("health") as? [String: Any])?["status"] as? String == "ok")
        #expect(daemon.log.contains("refused a peer"))
        #expect(daemon.log.contains("peer_uid=65534") || daemon.log.contains("65534"))
        #expect(daemon.log.contains("open to every user"), "a socket mode wider than 0660 is a warning")
    }

    @Test func anAllowedPeerQueriesButOnlyAdministratorsChangeTheLayout() throws {
        let daemon = try Self.daemon(["--allow-uid", Self.nobody, "--admin-uid", "4242"])
        defer { try? FileManager.default.removeItem(at: daemon.directory) }
        let health = try Self.callAsNobody(daemon, #"{"jsonrpc":"2.0","id":1,"method":"health"}"#)
        #expect((health["result"] as? [String: Any])?["status"] as? String == "ok", "\(health)")
        let root = try daemon.connect()
        _ = try root.result("createSchema", ["CREATE TABLE t (id INTEGER PRIMARY KEY)"])
        let write = try Self.callAsNobody(
            daemon,
            #"{"jsonrpc":"2.0","id":2,"method":"run","params":["k","INSERT INTO t VALUES (1)"]}"#
        )
        #expect(write["result"] != nil, "\(write)")
        for request in [
            #"{"jsonrpc":"2.0","id":3,"method":"registerShard","params":["db-9"]}"#,
            #"{"jsonrpc":"2.0","id":4,"method":"createSchema","params":["CREATE TABLE u (id INTEGER)"]}"#,
            #"{"jsonrpc":"2.0","id":5,"method":"setShardMapping","params":["k","db-1"]}"#,
            #"{"jsonrpc":"2.0","id":6,"method":"reassignShard","params":["k","db-1"]}"#,
        ] {
            let refused = try Self.callAsNobody(daemon, request)
            let error = try #require(refused["error"] as? [String: Any], "\(request)")
            #expect((error["data"] as? [String: Any])?["code"] as? String == "FORBIDDEN", "\(request)")
        }
        _ = try root.result("registerShard", ["db-9"])
        #expect((try root.result("listKnownShards") as? [String])?.contains("db-9") == true)
    }
}
