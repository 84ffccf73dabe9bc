import CollegeDB
import CollegeDBRPC
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The daemon's listener as a `Service`: binds the Unix socket, serves every connection
/// concurrently, and on graceful shutdown stops accepting, lets each connection finish the
/// request it is on, and returns.
public final class CollegeDBServer: Service, Sendable {
    public let configuration: ServerConfiguration
    let dispatcher: JSONRPCDispatcher
    let logger: Logger
    let group: any EventLoopGroup

    public init(
        configuration: ServerConfiguration, dispatcher: JSONRPCDispatcher, logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.dispatcher = dispatcher
        self.logger = logger
        self.group = group
    }

    public func run() async throws {
        let serverChannel = try await bind()
        logger.notice("listening on \(configuration.socketPath)")
        let connectionServer = ConnectionServer(dispatcher: dispatcher, logger: logger)
        try await withGracefulShutdownHandler {
            try await serverChannel.executeThenClose { connections in
                await withDiscardingTaskGroup { group in
                    do {
                        for try await connection in connections {
                            group.addTask { await connectionServer.serve(connection) }
                        }
                    } catch {
                        logger.error("accepting connections failed", metadata: ["error": "\(error)"])
                    }
                }
            }
        } onGracefulShutdown: {
            serverChannel.channel.close(promise: nil)
        }
        logger.info("stopped listening", metadata: ["socket": "\(configuration.socketPath)"])
    }

    private func bind() async throws -> NIOAsyncChannel<NIOAsyncChannel<InboundLine, ByteBuffer>, Never> {
        let path = configuration.socketPath
        try UnixSocketPath.prepare(path)
        let maximumLineLength = configuration.maximumLineLength
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(LengthLimitedLineDecoder(maximumLineLength: maximumLineLength)))
                    return try NIOAsyncChannel<InboundLine, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        try UnixSocketPath.setMode(path, configuration.socketMode)
        return channel
    }
}
