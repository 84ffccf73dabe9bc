import NIOCore
import Synchronization

/// How many client connections are open, kept by a handler in each connection's pipeline.
package final class ConnectionCounter: Sendable {
    private let count = Atomic<Int>(0)

    package init() {}

    package var open: Int { count.load(ordering: .relaxed) }

    /// A handler that counts its channel while it is active.
    func makeHandler() -> some ChannelInboundHandler { CountingHandler(counter: self) }

    private final class CountingHandler: ChannelInboundHandler, Sendable {
        typealias InboundIn = NIOAny
        let counter: ConnectionCounter

        init(counter: ConnectionCounter) { self.counter = counter }

        func channelActive(context: ChannelHandlerContext) {
            counter.count.add(1, ordering: .relaxed)
            context.fireChannelActive()
        }

        func channelInactive(context: ChannelHandlerContext) {
            counter.count.subtract(1, ordering: .relaxed)
            context.fireChannelInactive()
        }
    }
}
