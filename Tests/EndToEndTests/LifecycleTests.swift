import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Starting and stopping the real daemon.
@Suite(.blocksWhileWaiting) struct LifecycleTests {
    @Test func aRequestInFlightAtSIGTERMStillGetsItsAnswer() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        let slowQuery =
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) AS n FROM c"
        try socket.send(#"{"jsonrpc":"2.0","id":7,"method":"firstShard","params":["db-1","\#(slowQuery)"]}"# + "\n")
        usleep(100_000)
        kill(daemon.process.processIdentifier, SIGTERM)
        let response = try socket.nextObject()
        #expect(response["id"] as? Int == 7)
        #expect((response["result"] as? [String: Any])?["n"] as? Int == 2_000_000)
        #expect(try socket.readLine() == nil, "the connection is closed after the answer")
        #expect(daemon.stop() == 0)
        #expect(throws: LineSocket.Failure.self) { try daemon.connect() }
    }
}
