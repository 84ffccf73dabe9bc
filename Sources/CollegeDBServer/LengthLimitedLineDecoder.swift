import NIOCore

/// Splits a byte stream into lines ended by `\n` (a `\r` before it is dropped), never holding
/// more than `maximumLineLength` bytes of one line: a longer line yields `.oversized` once, as
/// soon as the limit is passed, and the rest of it is discarded up to its newline.
package struct LengthLimitedLineDecoder: ByteToMessageDecoder {
    package typealias InboundOut = InboundLine

    package let maximumLineLength: Int
    /// Bytes at the front of the buffer already known to hold no newline.
    private var scannedLength = 0
    /// True while skipping the rest of an oversized line.
    private var discarding = false

    package init(maximumLineLength: Int) {
        precondition(maximumLineLength > 0, "the line limit must be positive")
        self.maximumLineLength = maximumLineLength
    }

    package mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        let searchStart = view.startIndex + scannedLength
        guard let newline = view[searchStart...].firstIndex(of: UInt8(ascii: "\n")) else {
            if discarding {
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                scannedLength = 0
            } else if view.count > maximumLineLength + 1 {
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                scannedLength = 0
                discarding = true
                context.fireChannelRead(wrapInboundOut(.oversized))
            } else {
                scannedLength = view.count
            }
            return .needMoreData
        }
        let length = newline - view.startIndex
        scannedLength = 0
        if discarding {
            buffer.moveReaderIndex(forwardBy: length + 1)
            discarding = false
            return .continue
        }
        var line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        if line.readableBytesView.last == UInt8(ascii: "\r") {
            line.moveWriterIndex(to: line.writerIndex - 1)
        }
        context.fireChannelRead(wrapInboundOut(line.readableBytes > maximumLineLength ? .oversized : .line(line)))
        return .continue
    }

    /// At end of input, a last line without its newline is still a line.
    package mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws
        -> DecodingState
    {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if seenEOF, !discarding, buffer.readableBytes > 0 {
            var line = buffer.readSlice(length: buffer.readableBytes)!
            if line.readableBytesView.last == UInt8(ascii: "\r") {
                line.moveWriterIndex(to: line.writerIndex - 1)
            }
            context.fireChannelRead(wrapInboundOut(line.readableBytes > maximumLineLength ? .oversized : .line(line)))
        }
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        return .needMoreData
    }
}
