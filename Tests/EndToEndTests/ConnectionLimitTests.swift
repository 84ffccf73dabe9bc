import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// No client can take every connection: past `--max-connections-per-user` a user's next
/// connection, and past `--max-connections` anyone's but an administrator's (who may take 8
/// more), gets one `OVERLOADED` line and is closed, while the connections already admitted are
/// served. Other users are reached with setpriv and socat.
@Suite(.blocksWhileWaiting, .enabled(if: getuid() == 0, "switching to another user needs root"))
struct ConnectionLimitTests {
    /// A connection held open by socat running as `uid`.
    final class PeerConnection {
        let process = Process()
        let input = Pipe()
        let output = Pipe()
        private var pending = Data()

        init(uid: Int, daemon: Daemon) throws {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = [
                "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "socat", "-t", "5", "-",
                "UNIX-CONNECT:\(daemon.socketPath)",
            ]
            process.standardInput = input
            process.standardOutput = output
            try process.run()
        }

        /// The next line the daemon sent, parsed.
        func nextObject() throws -> [String: Any] {
            while !pending.contains(UInt8(ascii: "\n")) {
                let chunk = output.fileHandleForReading.availableData
                guard !chunk.isEmpty else { throw LineSocket.Failure(description: "closed with no line") }
                pending.append(chunk)
            }
            let newline = pending.firstIndex(of: UInt8(ascii: "\n"))!
            defer { pending.removeSubrange(...newline) }
            return try LineSocket.object(String(decoding: pending[..<newline], as: UTF8.self))
        }

        /// The `health` answer, or the error line of a refused connection.
        func health() throws -> [String: Any] {
            input.fileHandleForWriting.write(Data(#"{"jsonrpc":"2.0","id":1,"method":"health"}"#.utf8 + [10]))
            return try nextObject()
        }

        /// Ends the connection and waits for socat to exit, which it does once the daemon closed
        /// its side.
        func close() throws {
            try input.fileHandleForWriting.close()
            process.waitUntilExit()
        }
    }

    static func isServed(_ answer: [String: Any]) -> Bool {
        (answer["result"] as? [String: Any])?["status"] as? String == "ok"
    }

    static func refusal(_ answer: [String: Any]) -> (code: String?, message: String)? {
        guard let error = answer["error"] as? [String: Any] else { return nil }
        #expect(error["code"] as? Int == -32011)
        return ((error["data"] as? [String: Any])?["code"] as? String, error["message"] as? String ?? "")
    }

    @Test func connectionsPastTheLimitsAreRefusedAndTheAdmittedAreServed() throws {
        let directory = Daemon.makeDirectory()
        chmod(directory.path, 0o755)
        let daemon = try Daemon(
            [
                "--socket-mode", "0666", "--max-connections", "3", "--max-connections-per-user", "2",
                "--admin-uid", "4242",
            ],
            directory: directory
        )
        defer { try? FileManager.default.removeItem(at: daemon.directory) }
        let nobody = 65534

        let first = try PeerConnection(uid: nobody, daemon: daemon)
        let second = try PeerConnection(uid: nobody, daemon: daemon)
        #expect(Self.isServed(try first.health()))
        #expect(Self.isServed(try second.health()))
        let third = try PeerConnection(uid: nobody, daemon: daemon)
        let perUser = try #require(Self.refusal(try third.nextObject()), "a third connection of one user")
        #expect(perUser.code == "OVERLOADED")
        #expect(perUser.message.contains("--max-connections-per-user"), "\(perUser.message)")
        try third.close()

        let other = try PeerConnection(uid: nobody - 1, daemon: daemon)
        #expect(Self.isServed(try other.health()), "another user still has room")
        let overAll = try PeerConnection(uid: nobody - 2, daemon: daemon)
        let refused = try #require(Self.refusal(try overAll.nextObject()), "a fourth connection in all")
        #expect(refused.message.contains("--max-connections"), "\(refused.message)")
        try overAll.close()

        // A closed connection's place is free again.
        try first.close()
        let again = try PeerConnection(uid: nobody, daemon: daemon)
        #expect(Self.isServed(try again.health()), "the place of a closed connection is given again")

        // Root administers: it takes the reserved connections, and no more.
        let reserved = try (0..<8).map { _ in try daemon.connect() }
        for connection in reserved { #expect(Self.isServed(try connection.call("health"))) }
        let pastTheReserve = try daemon.connect()
        #expect(Self.refusal(try pastTheReserve.nextObject()) != nil, "the reserve is 8 connections")

        // What was admitted is still served.
        for connection in [second, other, again] {
            #expect(Self.isServed(try connection.health()))
            try connection.close()
        }
        #expect(daemon.log.contains("refused a connection over the connection limits"))
    }

    @Test func aFloodOfConnectionsHoldsNoMoreThanTheLimitsAllow() throws {
        let daemon = try Daemon(["--max-connections", "3"])
        defer { try? FileManager.default.removeItem(at: daemon.directory) }
        let served = try daemon.connect()
        #expect(Self.isServed(try served.call("health")))
        // Root may take the 8 reserved connections; 64 more are answered OVERLOADED and closed a
        // second later; past those, connections are closed at once with no answer.
        let flood = try (0..<120).map { _ in try daemon.connect() }
        var admitted: [LineSocket] = []
        var refused = 0
        var closedAtOnce = 0
        for connection in flood {
            // A refused connection has its answer waiting, one closed at once its end; an
            // admitted one has nothing to read until it asks.
            var waiting = pollfd(fd: connection.descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&waiting, 1, 500) == 1 else {
                admitted.append(connection)
                continue
            }
            if let line = try? connection.readLine(), Self.refusal(try LineSocket.object(line)) != nil {
                refused += 1
            } else {
                closedAtOnce += 1
            }
        }
        for connection in admitted { #expect(Self.isServed(try connection.call("health"))) }
        let admittedCount = admitted.count
        #expect(admittedCount == 2 + 8, "3 in all, one of them taken already, and the reserve")
        #expect(refused + admittedCount <= 3 + 8 + 64, "refused: \(refused)")
        #expect(closedAtOnce > 0, "admitted \(admittedCount), refused \(refused)")
        #expect(Self.isServed(try served.call("health")), "the admitted connection is served throughout")
    }
}
