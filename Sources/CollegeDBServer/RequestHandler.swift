import CollegeDB
import CollegeDBJSON
import CollegeDBRPC
import NIOCore
import NIOPosix

/// Serves one connection. Lines are answered one at a time, in order, so each request sees the
/// effects of those before it. A line leaves the event loop once: it is decoded and, when it is
/// a mapped key's `run`/`all`/`first`, served synchronously on a request thread; anything else
/// continues as a task. The answer is written back on the event loop.
///
/// After the client closes its side, or when the server quiesces, the lines already received
/// are answered and then the connection is closed.
final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = InboundLine
    typealias OutboundOut = ByteBuffer

    /// Lines waiting beyond this stop reading from the socket until half have been answered.
    static let maximumPendingLines = 1024

    private let dispatcher: JSONRPCDispatcher
    private let threadPool: NIOThreadPool
    private var pending = CircularBuffer<InboundLine>()
    private var busy = false
    private var ending = false
    private var readingPaused = false

    init(dispatcher: JSONRPCDispatcher, threadPool: NIOThreadPool) {
        self.dispatcher = dispatcher
        self.threadPool = threadPool
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending.append(unwrapInboundIn(data))
        if pending.count >= Self.maximumPendingLines, !readingPaused {
            readingPaused = true
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
        answerNext(context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent || (event as? ChannelEvent) == .inputClosed {
            ending = true
            answerNext(context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func answerNext(context: ChannelHandlerContext) {
        guard !busy else { return }
        guard let frame = pending.popFirst() else {
            if ending { context.close(promise: nil) }
            return
        }
        if readingPaused, pending.count < Self.maximumPendingLines / 2 {
            readingPaused = false
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        }
        guard case .line(let buffer) = frame else {
            let error = CollegeDBError(.requestTooLarge, "the request line is longer than the limit; it was discarded")
            write(
                JSONSerializer.serialize(JSONRPCDispatcher.errorResponse(JSONRPCError(error), id: .null)),
                context: context
            )
            return answerNext(context: context)
        }
        busy = true
        let line = Array(buffer.readableBytesView)
        let dispatcher = self.dispatcher
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        threadPool.submit { _ in
            switch dispatcher.respondBlocking(toLine: line) {
            case .answered(let response):
                bound.eventLoop.execute { bound.value.handler.finish(response, context: bound.value.context) }
            case .needsAsync(let request):
                Task {
                    let response = await dispatcher.respond(to: request).map(JSONSerializer.serialize)
                    bound.eventLoop.execute { bound.value.handler.finish(response, context: bound.value.context) }
                }
            }
        }
    }

    private func finish(_ response: [UInt8]?, context: ChannelHandlerContext) {
        busy = false
        if let response { write(response, context: context) }
        answerNext(context: context)
    }

    private func write(_ response: [UInt8], context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: response.count + 1)
        buffer.writeBytes(response)
        buffer.writeInteger(UInt8(ascii: "\n"))
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }
}
