import CollegeDBServer
import NIOCore
import NIOEmbedded
import Testing

@Suite struct LengthLimitedLineDecoderTests {
    func channel(limit: Int) -> EmbeddedChannel {
        EmbeddedChannel(handler: ByteToMessageHandler(LengthLimitedLineDecoder(maximumLineLength: limit)))
    }

    func lines(_ channel: EmbeddedChannel) throws -> [String] {
        var result: [String] = []
        while let frame = try channel.readInbound(as: InboundLine.self) {
            switch frame {
            case .line(let buffer): result.append(String(buffer: buffer))
            case .oversized: result.append("<oversized>")
            }
        }
        return result
    }

    @Test func splitsLinesAcrossWritesAndDropsCarriageReturns() throws {
        let channel = channel(limit: 100)
        try channel.writeInbound(ByteBuffer(string: "one\r\ntw"))
        try channel.writeInbound(ByteBuffer(string: "o\n\nthree"))
        #expect(try lines(channel) == ["one", "two", ""])
        try channel.writeInbound(ByteBuffer(string: "\n"))
        #expect(try lines(channel) == ["three"])
    }

    @Test func anOversizedLineIsReportedOnceAsSoonAsItPassesTheLimitThenSkipped() throws {
        let channel = channel(limit: 8)
        try channel.writeInbound(ByteBuffer(string: "0123456789abc"))
        #expect(try lines(channel) == ["<oversized>"])
        try channel.writeInbound(ByteBuffer(string: String(repeating: "z", count: 1000)))
        try channel.writeInbound(ByteBuffer(string: "zz\nok\n12345678\n123456789\n"))
        #expect(try lines(channel) == ["ok", "12345678", "<oversized>"])
    }

    @Test func aLastLineWithoutNewlineIsStillALine() throws {
        let channel = channel(limit: 100)
        try channel.writeInbound(ByteBuffer(string: "a\nlast"))
        #expect(try lines(channel) == ["a"])
        _ = try channel.finish()
        #expect(try lines(channel) == ["last"])
    }
}
