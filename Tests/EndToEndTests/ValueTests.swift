import Foundation
import Testing

/// Values cross the wire without loss, checked on the raw response text.
@Suite(.blocksWhileWaiting) struct ValueTests {
    @Test func everySQLiteValueRoundTripsExactly() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        let request =
            #"{"jsonrpc":"2.0","id":1,"method":"first","params":["v","SELECT ? AS big, ? AS small, ? AS real, ? AS whole_real, ? AS text, ? AS blob, ? AS absent, ? AS yes, typeof(?) AS t",[9223372036854775807,-9223372036854775808,0.1,1.0,"héllo \"wörld\"\n😀end",{"$blob":"AAEC/w=="},null,true,1.0]]}"#
        try socket.send(request + "\n")
        let line = try #require(try socket.readLine())
        #expect(line.contains(#""big":9223372036854775807"#))
        #expect(line.contains(#""small":-9223372036854775808"#))
        #expect(line.contains(#""real":0.1"#))
        #expect(line.contains(#""whole_real":1.0"#))
        #expect(line.contains(#""blob":{"$blob":"AAEC/w=="}"#))
        #expect(line.contains(#""absent":null"#))
        #expect(line.contains(#""yes":1"#))
        #expect(line.contains(#""t":"real""#))
        let row = try #require(LineSocket.object(line)["result"] as? [String: Any])
        #expect(row["text"] as? String == "héllo \"wörld\"\n😀end")
        let columns = ["big", "small", "real", "whole_real", "text", "blob", "absent", "yes", "t"]
        let positions = columns.map { line.range(of: "\"\($0)\":")!.lowerBound }
        #expect(positions == positions.sorted(), "columns come in the statement's order")
    }

    @Test func textWithANulCharacterIsRefusedNotTruncated() throws {
        let daemon = try Daemon()
        let error = try #require(
            try daemon.connect().call("first", ["v", "SELECT ?", ["a\u{0}b"]])["error"] as? [String: Any]
        )
        #expect(error["code"] as? Int == -32602)
        #expect((error["message"] as? String)?.contains("bindings[0]") == true)
    }

    @Test func storedValuesComeBackWithTheirStorageClass() throws {
        let daemon = try Daemon()
        let socket = try daemon.connect()
        _ = try socket.result("createSchema", ["CREATE TABLE v (i INTEGER, r REAL, t TEXT, b BLOB)"])
        _ = try socket.result(
            "run",
            ["row", "INSERT INTO v VALUES (?, ?, ?, ?)", [-1, 2.5e300, "∑", ["$blob": "3q2+7w=="]]]
        )
        try socket.send(#"{"jsonrpc":"2.0","id":1,"method":"all","params":["row","SELECT i, r, t, b FROM v"]}"# + "\n")
        let line = try #require(try socket.readLine())
        #expect(line.contains(#"{"i":-1,"r":2.5e+300,"t":"∑","b":{"$blob":"3q2+7w=="}}"#))
    }
}
