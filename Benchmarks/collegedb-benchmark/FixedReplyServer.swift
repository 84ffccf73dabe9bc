import NIOCore
import NIOPosix

/// The transport's own limit: a SwiftNIO Unix-socket server that answers every line with the
/// same fixed reply, doing no other work.
enum FixedReplyServer {
    static let reply = #"{"jsonrpc":"2.0","id":1,"result":{"id":1,"name":"user 1","email":"user1@example.com"}}"# + "\n"

    static func run(socketPath: String) async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ReplyHandler())
                }
            }
            .bind(unixDomainSocketPath: socketPath, cleanupExistingSocketFile: true)
            .get()
        try await channel.closeFuture.get()
    }

    /// Counts newlines in what arrives and writes one reply per newline.
    final class ReplyHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data)
            let lines = bytes.readableBytesView.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            guard lines > 0 else { return }
            var out = context.channel.allocator.buffer(capacity: FixedReplyServer.reply.utf8.count * lines)
            for _ in 0..<lines { out.writeString(FixedReplyServer.reply) }
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
    }
}
