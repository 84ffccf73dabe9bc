import CollegeDB
import CollegeDBJSON
import CollegeDBRPC
import Logging
import NIOCore
import NIOPosix

/// Serves one connection. Lines are answered one at a time, in order, so each request sees the
/// effects of those before it. A short read of a key whose mapping is in memory is answered on
/// the event loop itself, within a budget of half a millisecond; a `run` for such a key is
/// queued from the loop for its shard's group commit and answered when that committed. A keyed
/// call whose mapping is in memory and names a shard with no synchronous path (PostgreSQL)
/// goes from the loop straight to a task. Any other line leaves the loop once: it is decoded
/// and, when it is a mapped key's short `run`/`all`/`first`, served synchronously on a request
/// thread; anything else continues as a task. The answer is written back on the event loop.
///
/// Memory per connection is bounded: reading from the socket stops while the received lines
/// waiting to be answered pass a count or a size, or while the answers already written have not
/// been read by the client (the channel is not writable); no next line is answered until the
/// client reads. When the client goes away, the statement it is waiting for is interrupted and
/// the lines it had sent are dropped.
///
/// The peer's credentials are read when the connection opens: a peer the access policy does not
/// admit gets one `FORBIDDEN` error line and is closed, and one past the connection limits one
/// `OVERLOADED` line.
///
/// After the client closes its side, or when the server quiesces, the lines already received
/// are answered and then the connection is closed.
final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = InboundLine
    typealias OutboundOut = ByteBuffer

    /// Reading stops while this many lines wait, until half have been answered.
    static let maximumPendingLines = 1024
    /// Reading stops while the lines waiting hold this many bytes (beyond the one line that is
    /// always accepted), until half have been answered.
    static let maximumPendingBytes = 1 << 20

    private let dispatcher: JSONRPCDispatcher
    private let threadPool: NIOThreadPool
    private let access: PeerAccessPolicy
    private let admission: ConnectionAdmission
    private let logger: Logger
    private var callContext = CallContext(cancellation: CancellationFlag())
    private var pending = CircularBuffer<InboundLine>()
    private var pendingBytes = 0
    private var busy = false
    private var ending = false
    private var reading = true
    private var admitted = false

    init(
        dispatcher: JSONRPCDispatcher,
        threadPool: NIOThreadPool,
        access: PeerAccessPolicy,
        admission: ConnectionAdmission,
        logger: Logger
    ) {
        self.dispatcher = dispatcher
        self.threadPool = threadPool
        self.access = access
        self.admission = admission
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        guard admission.mayBeAnswered else {
            // So many connections are open, counting those being refused, that this one is
            // closed at once: a client that opens connections without end holds no more.
            return context.close(promise: nil)
        }
        guard let peer = PeerCredentialsReader.credentials(of: context.channel) else {
            logger.warning("a connection's peer credentials cannot be read; closing it")
            return refuse(
                context: context,
                error: CollegeDBError(.forbidden, "the daemon cannot tell who is connecting")
            )
        }
        callContext.peer = peer
        guard access.admits(peer) else {
            logger.warning(
                "refused a peer the access policy does not admit",
                metadata: ["peer_uid": "\(peer.uid)", "peer_gid": "\(peer.gid)", "peer_pid": "\(peer.pid)"]
            )
            return refuse(
                context: context,
                error: CollegeDBError(
                    .forbidden,
                    "uid \(peer.uid) may not use this daemon (--allow-uid, --allow-group)"
                )
            )
        }
        callContext.mayAdminister = access.mayAdminister(peer)
        if let reason = admission.admit(peer, administrator: callContext.mayAdminister) {
            logger.warning(
                "refused a connection over the connection limits",
                metadata: ["peer_uid": "\(peer.uid)", "peer_pid": "\(peer.pid)", "reason": "\(reason)"]
            )
            return refuse(context: context, error: CollegeDBError(.overloaded, reason))
        }
        admitted = true
        logger.debug("connection", metadata: ["peer_uid": "\(peer.uid)", "peer_pid": "\(peer.pid)"])
    }

    func channelInactive(context: ChannelHandlerContext) {
        callContext.cancellation?.cancel()
        if admitted, let peer = callContext.peer {
            admission.release(peer)
            admitted = false
        }
        pending.removeAll()
        pendingBytes = 0
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let line = unwrapInboundIn(data)
        guard admitted, context.channel.isActive else { return }
        pending.append(line)
        pendingBytes += line.byteCount
        updateReading(context: context)
        answerNext(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        updateReading(context: context)
        answerNext(context: context)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent || (event as? ChannelEvent) == .inputClosed {
            ending = true
            answerNext(context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Reads from the socket only while few lines wait and the client reads its answers.
    private func updateReading(context: ChannelHandlerContext) {
        let shouldRead: Bool
        if reading {
            shouldRead =
                pending.count < Self.maximumPendingLines && pendingBytes < Self.maximumPendingBytes
                && context.channel.isWritable
        } else {
            shouldRead =
                pending.count <= Self.maximumPendingLines / 2 && pendingBytes <= Self.maximumPendingBytes / 2
                && context.channel.isWritable
        }
        guard shouldRead != reading else { return }
        reading = shouldRead
        context.channel.setOption(ChannelOptions.autoRead, value: shouldRead).whenFailure { _ in }
    }

    /// Lines up to this long are first offered to the event-loop lane (a JSON parse of this
    /// size is a few microseconds).
    static let longestLineOnEventLoop = 4096

    private func answerNext(context: ChannelHandlerContext) {
        while !busy, context.channel.isActive, context.channel.isWritable {
            guard let frame = pending.popFirst() else {
                if ending { context.close(promise: nil) }
                return
            }
            pendingBytes -= frame.byteCount
            updateReading(context: context)
            guard case .line(let buffer) = frame else {
                let error = CollegeDBError(
                    .requestTooLarge,
                    "the request line is longer than the limit; it was discarded"
                )
                write(
                    JSONSerializer.serialize(JSONRPCDispatcher.errorResponse(JSONRPCError(error), id: .null)),
                    context: context
                )
                continue
            }
            let line = Array(buffer.readableBytesView)
            var parsed: JSONValue?
            if line.count <= Self.longestLineOnEventLoop {
                let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
                let outcome = dispatcher.respondOnEventLoop(toLine: line, context: callContext) { response in
                    bound.eventLoop.execute { bound.value.handler.finish(response, context: bound.value.context) }
                }
                switch outcome {
                case .answered(let answer):
                    if let answer { write(answer, context: context) }
                    continue
                case .queued:
                    busy = true
                    return
                case .notHere(let value):
                    parsed = value
                case .needsAsync(let value):
                    serveAsynchronously(value, context: context)
                    return
                }
            }
            submit(line, parsed: parsed, context: context)
        }
    }

    /// Serves `line` (already `parsed` when the loop parsed it) on a request thread, or a task,
    /// and comes back to the loop with the answer.
    private func submit(_ line: [UInt8], parsed: JSONValue?, context: ChannelHandlerContext) {
        busy = true
        let dispatcher = self.dispatcher
        let callContext = self.callContext
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        threadPool.submit { _ in
            let outcome =
                parsed.map { dispatcher.respondBlocking(to: $0, context: callContext) }
                ?? dispatcher.respondBlocking(toLine: line, context: callContext)
            switch outcome {
            case .answered(let response):
                bound.eventLoop.execute { bound.value.handler.finish(response, context: bound.value.context) }
            case .needsAsync(let request):
                Self.respondInTask(to: request, dispatcher: dispatcher, callContext: callContext, bound: bound)
            }
        }
    }

    /// Serves `request` (a parsed line) in a task, straight from the loop, and comes back to
    /// the loop with the answer.
    private func serveAsynchronously(_ request: JSONValue, context: ChannelHandlerContext) {
        busy = true
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        Self.respondInTask(to: request, dispatcher: dispatcher, callContext: callContext, bound: bound)
    }

    private static func respondInTask(
        to request: JSONValue,
        dispatcher: JSONRPCDispatcher,
        callContext: CallContext,
        bound: NIOLoopBound<(handler: RequestHandler, context: ChannelHandlerContext)>
    ) {
        Task {
            let response = await dispatcher.respond(to: request, context: callContext).map(JSONSerializer.serialize)
            bound.eventLoop.execute { bound.value.handler.finish(response, context: bound.value.context) }
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

    /// Answers a refused peer with one error line and ends its output, so that it reads the line
    /// and then the end; the connection closes a second later (closing at once could make the
    /// peer's pending write fail before it reads the answer).
    private func refuse(context: ChannelHandlerContext, error refusal: CollegeDBError) {
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        let error = JSONRPCError(refusal)
        var buffer = context.channel.allocator.buffer(capacity: 256)
        buffer.writeBytes(JSONSerializer.serialize(JSONRPCDispatcher.errorResponse(error, id: .null)))
        buffer.writeInteger(UInt8(ascii: "\n"))
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        context.close(mode: .output, promise: nil)
        let channel = context.channel
        context.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
    }
}

extension InboundLine {
    /// The bytes the line holds while it waits.
    var byteCount: Int {
        if case .line(let buffer) = self { return buffer.readableBytes }
        return 0
    }
}
