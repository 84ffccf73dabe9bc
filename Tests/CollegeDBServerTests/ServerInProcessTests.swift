import CollegeDB
import CollegeDBRPC
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing

@testable import CollegeDBServer

/// The listener in process, run in a `ServiceGroup` as the daemon runs it: the test waits for
/// `onListening`, talks over the real Unix socket, and ends it with a graceful shutdown. No
/// sleeps: every wait is on an event.
@Suite struct ServerInProcessTests {
    /// A client connection that sends lines and reads answer lines.
    struct LineClient {
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>

        static func connect(to path: String) async throws -> LineClient {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(unixDomainSocketPath: path) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            return LineClient(channel: channel)
        }

        /// Sends each line and returns the answer lines, in order.
        func exchange(_ lines: [String]) async throws -> [String] {
            try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(string: lines.map { $0 + "\n" }.joined()))
                var answers: [String] = []
                var pending = ""
                for try await chunk in inbound {
                    pending += String(buffer: chunk)
                    while let end = pending.firstIndex(of: "\n") {
                        answers.append(String(pending[..<end]))
                        pending = String(pending[pending.index(after: end)...])
                    }
                    if answers.count == lines.count { break }
                }
                return answers
            }
        }
    }

    @Test func servesItsSocketAndStopsOnGracefulShutdown() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cdb-server-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try await CollegeDB.open(CollegeDBConfiguration(dataDirectory: directory))
        let socketPath = directory + "/server.sock"
        let logger = Logger(label: "server-test")
        let (listening, listeningContinuation) = AsyncStream<Void>.makeStream()
        let server = CollegeDBServer(
            configuration: ServerConfiguration(listener: .path(socketPath)),
            dispatcher: JSONRPCDispatcher(database: database, logger: logger),
            logger: logger
        ) { listeningContinuation.yield() }
        let group = ServiceGroup(services: [server], logger: logger)

        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            for await _ in listening { break }

            let answers = try await LineClient.connect(to: socketPath).exchange([
                #"{"jsonrpc":"2.0","id":1,"method":"createSchema","params":["CREATE TABLE t (id TEXT PRIMARY KEY)"]}"#,
                #"{"jsonrpc":"2.0","id":2,"method":"run","params":["k","INSERT INTO t VALUES ('k')"]}"#,
                #"{"jsonrpc":"2.0","id":3,"method":"first","params":["k","SELECT id FROM t"]}"#,
                #"not json"#,
            ])
            #expect(answers.count == 4)
            #expect(answers[1].contains(#""changes":1"#))
            #expect(answers[2] == #"{"jsonrpc":"2.0","id":3,"result":{"id":"k"}}"#)
            #expect(answers[3].contains("-32700"))

            await group.triggerGracefulShutdown()
            try await tasks.next()
        }
        #expect(!FileManager.default.fileExists(atPath: socketPath), "the socket file is removed at the end")
        await #expect(throws: (any Error).self) { _ = try await LineClient.connect(to: socketPath) }
        try await database.close()
    }
}
