import CollegeDB
import CollegeDBRPC
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import ServiceLifecycle

/// The daemon's listener as a `Service`: binds the Unix socket and serves every connection
/// concurrently. On graceful shutdown it stops accepting, lets each connection answer the lines
/// it has received, closes them, and returns.
public final class CollegeDBServer: Service, Sendable {
    public let configuration: ServerConfiguration
    let dispatcher: JSONRPCDispatcher
    let logger: Logger
    let group: any EventLoopGroup
    /// The threads that serve requests off the event loops. Bounded, so load cannot multiply
    /// threads; more than the cores, so a few slow queries cannot hold up every fast one.
    let requestThreads = NIOThreadPool(numberOfThreads: 16)

    public init(
        configuration: ServerConfiguration,
        dispatcher: JSONRPCDispatcher,
        logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.dispatcher = dispatcher
        self.logger = logger
        self.group = group
    }

    public func run() async throws {
        requestThreads.start()
        defer { requestThreads.shutdownGracefully { _ in } }
        let quiescing = ServerQuiescingHelper(group: group)
        let serverChannel = try await bind(quiescing: quiescing)
        logger.notice("listening on \(configuration.socketPath)")
        try await withGracefulShutdownHandler {
            try await serverChannel.closeFuture.get()
        } onGracefulShutdown: {
            quiescing.initiateShutdown(promise: nil)
        }
        let drained = group.next().makePromise(of: Void.self)
        quiescing.initiateShutdown(promise: drained)
        try await drained.futureResult.get()
        logger.info("stopped listening", metadata: ["socket": "\(configuration.socketPath)"])
    }

    private func bind(quiescing: ServerQuiescingHelper) async throws -> any Channel {
        let path = configuration.socketPath
        try UnixSocketPath.prepare(path)
        let maximumLineLength = configuration.maximumLineLength
        let dispatcher = self.dispatcher
        let requestThreads = self.requestThreads
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(LengthLimitedLineDecoder(maximumLineLength: maximumLineLength)),
                        RequestHandler(dispatcher: dispatcher, threadPool: requestThreads)
                    )
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false)
            .get()
        try UnixSocketPath.setMode(path, configuration.socketMode)
        return channel
    }
}
