import Foundation
import Testing

/// The wire protocol as the contract states it, against the real daemon over its real socket.
@Suite(.blocksWhileWaiting) struct ProtocolTests {
    @Test func socatAnswersHealthAsANewUserWould() throws {
        let daemon = try Daemon()
        let socat = Process()
        socat.executableURL = URL(fileURLWithPath: "/usr/bin/socat")
        socat.arguments = ["-", "UNIX-CONNECT:\(daemon.socketPath)"]
        let input = Pipe()
        let output = Pipe()
        socat.standardInput = input
        socat.standardOutput = output
        try socat.run()
        input.fileHandleForWriting.write(Data(#"{"jsonrpc":"2.0","id":1,"method":"health"}"#.utf8 + [0x0A]))
        try input.fileHandleForWriting.close()
        socat.waitUntilExit()
        let line = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let response = try LineSocket.object(line.trimmingCharacters(in: .newlines))
        let result = try #require(response["result"] as? [String: Any])
        #expect(result["status"] as? String == "ok")
        #expect((result["shards"] as? [String: Any])?.keys.sorted() == ["db-1", "db-2", "db-3"])
        #expect(socat.terminationStatus == 0)
    }

    @Test func malformedJSONAndInvalidUTF8GetParseErrorsAndTheConnectionStaysOpen() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        try socket.send("{not json\n")
        let parse = try socket.nextObject()
        #expect((parse["error"] as? [String: Any])?["code"] as? Int == -32700)
        #expect(parse["id"] is NSNull)
        try socket.send(
            Array(#"{"jsonrpc":"2.0","id":1,"method":"health","x":""#.utf8) + [0xFF, 0xFE] + Array("\"}\n".utf8)
        )
        let utf8 = try socket.nextObject()
        #expect((utf8["error"] as? [String: Any])?["code"] as? Int == -32700)
        #expect(try socket.call("health")["result"] != nil)
    }

    @Test func invalidRequestsUnknownMethodsAndWrongParamsAreNamed() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        func error(_ line: String) throws -> [String: Any] {
            try socket.send(line + "\n")
            return try #require(socket.nextObject()["error"] as? [String: Any])
        }
        #expect(try error(#"{"jsonrpc":"1.0","id":1,"method":"health"}"#)["code"] as? Int == -32600)
        #expect(try error(#"{"jsonrpc":"2.0","id":1,"method":7}"#)["code"] as? Int == -32600)
        #expect(try error(#"{"jsonrpc":"2.0","id":1,"method":"health","params":3}"#)["code"] as? Int == -32600)
        #expect(try error(#"{"jsonrpc":"2.0","id":1,"method":"nosuch"}"#)["code"] as? Int == -32601)
        let unknownName = try error(
            #"{"jsonrpc":"2.0","id":1,"method":"first","params":{"key":"k","sql":"SELECT 1","colour":1}}"#
        )
        #expect(unknownName["code"] as? Int == -32602)
        #expect((unknownName["message"] as? String)?.contains("colour") == true)
        let wrongType = try error(#"{"jsonrpc":"2.0","id":1,"method":"first","params":["k", 5]}"#)
        #expect(wrongType["code"] as? Int == -32602)
        #expect((wrongType["message"] as? String)?.contains("sql") == true)
        let missing = try error(#"{"jsonrpc":"2.0","id":1,"method":"run","params":{"sql":"SELECT 1"}}"#)
        #expect((missing["message"] as? String)?.contains("key") == true)
        let tooMany = try error(#"{"jsonrpc":"2.0","id":1,"method":"health","params":[1]}"#)
        #expect(tooMany["code"] as? Int == -32602)
        let badBlob = try error(
            #"{"jsonrpc":"2.0","id":1,"method":"first","params":["k","SELECT ?",[{"$blob":"!!"}]]}"#
        )
        #expect((badBlob["message"] as? String)?.contains("bindings[0]") == true)
        let batchSize = try error(#"{"jsonrpc":"2.0","id":1,"method":"allAllShards","params":["SELECT 1",[],0]}"#)
        #expect(batchSize["code"] as? Int == -32602)
    }

    @Test func batchesAndNotificationsFollowJSONRPCSection6() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        try socket.send(
            #"[{"jsonrpc":"2.0","id":"a","method":"listKnownShards"},{"jsonrpc":"2.0","method":"health"},5,{"jsonrpc":"2.0","id":"c","method":"nosuch"}]"#
                + "\n"
        )
        let line = try #require(try socket.readLine())
        let batch = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [[String: Any]])
        #expect(batch.count == 3)
        #expect(batch[0]["id"] as? String == "a")
        #expect(batch[0]["result"] as? [String] == ["db-1", "db-2", "db-3"])
        #expect((batch[1]["error"] as? [String: Any])?["code"] as? Int == -32600)
        #expect((batch[2]["error"] as? [String: Any])?["code"] as? Int == -32601)

        // A lone notification and a batch of only notifications get no line: the next line is
        // the answer to the request after them.
        try socket.send(#"{"jsonrpc":"2.0","method":"health"}"# + "\n")
        try socket.send(#"[{"jsonrpc":"2.0","method":"health"},{"jsonrpc":"2.0","method":"nosuch"}]"# + "\n")
        try socket.send("[]\n")
        let empty = try socket.nextObject()
        #expect((empty["error"] as? [String: Any])?["code"] as? Int == -32600)
        #expect(try socket.call("health", id: 42)["id"] as? Int == 42)
    }

    @Test func anOversizedLineGetsRequestTooLargeAndTheConnectionStaysUsable() throws {
        let daemon = try Daemon(["--max-line-bytes", "1024"])
        let socket = try daemon.connect()
        let huge =
            #"{"jsonrpc":"2.0","id":1,"method":"first","params":["k","SELECT '"#
            + String(repeating: "x", count: 200_000) + #"'"]}"#
        try socket.send(huge + "\r\n")
        let response = try socket.nextObject()
        let error = try #require(response["error"] as? [String: Any])
        #expect((error["data"] as? [String: Any])?["code"] as? String == "REQUEST_TOO_LARGE")
        #expect(try socket.call("health", id: 2)["id"] as? Int == 2)
    }

    @Test func requestsOfOneConnectionRunInOrderEachSeeingTheOnesBefore() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE log (n INTEGER)"])
        var pipelined = ""
        for n in 1...200 {
            pipelined +=
                #"{"jsonrpc":"2.0","id":\#(2 * n),"method":"run","params":["seq","INSERT INTO log VALUES (?)",[\#(n)]]}"#
                + "\n"
            pipelined +=
                #"{"jsonrpc":"2.0","id":\#(2 * n + 1),"method":"first","params":["seq","SELECT count(*) AS c FROM log"]}"#
                + "\n"
        }
        try socket.send(pipelined)
        for n in 1...200 {
            let write = try socket.nextObject()
            #expect(write["id"] as? Int == 2 * n)
            let read = try socket.nextObject()
            #expect(read["id"] as? Int == 2 * n + 1)
            #expect((read["result"] as? [String: Any])?["c"] as? Int == n)
        }
    }

    @Test func connectionsRunConcurrently() throws {
        let daemon = try Daemon()
        let slow = try daemon.connect()
        let quick = try daemon.connect()
        let slowQuery =
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) AS n FROM c"
        try slow.send(#"{"jsonrpc":"2.0","id":1,"method":"firstShard","params":["db-1","\#(slowQuery)"]}"# + "\n")
        usleep(50_000)
        let started = Date()
        #expect(try quick.call("health")["result"] != nil)
        let quickSeconds = Date().timeIntervalSince(started)
        let slowResponse = try slow.nextObject()
        let slowSeconds = Date().timeIntervalSince(started)
        #expect((slowResponse["result"] as? [String: Any])?["n"] as? Int == 3_000_000)
        #expect(quickSeconds < slowSeconds)
    }

    @Test func aClientThatDisconnectsMidRequestLosesNothingAndHarmsNoOne() throws {
        let daemon = try Daemon()
        _ = try daemon.connect().result("createSchema", ["CREATE TABLE t (v TEXT)"])
        do {
            let leaving = try daemon.connect()
            try leaving.send(
                #"{"jsonrpc":"2.0","id":1,"method":"run","params":["k","INSERT INTO t VALUES ('kept')"]}"# + "\n"
            )
            try leaving.send(
                #"{"jsonrpc":"2.0","id":2,"method":"first","params":["k","WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) FROM c"]}"#
            )
        }
        let socket = try daemon.connect()
        var rows: [Any] = []
        for _ in 0..<100 where rows.isEmpty {
            rows = (try socket.result("all", ["k", "SELECT v FROM t"]) as? [String: Any])?["results"] as? [Any] ?? []
            if rows.isEmpty { usleep(20_000) }
        }
        #expect(rows.count == 1)
        #expect(try socket.call("health")["result"] != nil)
    }
}
