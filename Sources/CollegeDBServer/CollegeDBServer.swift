import CollegeDB
import CollegeDBRPC
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The daemon's listener as a `Service`: listens on its Unix socket (bound here or passed by
/// systemd) and serves every connection concurrently. On graceful shutdown it tells systemd
/// `STOPPING=1`, stops accepting, lets each connection answer the lines it has received (for at
/// most the drain timeout), closes them, and returns.
package final class CollegeDBServer: Service, Sendable {
    package let configuration: ServerConfiguration
    /// The open client connections.
    package let connections: ConnectionCounter
    let dispatcher: JSONRPCDispatcher
    let logger: Logger
    let notifier: SystemdNotifier
    let onListening: @Sendable () async -> Void
    let group: any EventLoopGroup
    /// The threads that serve requests off the event loops. Bounded, so load cannot multiply
    /// threads; more than the cores, so a few slow queries cannot hold up every fast one.
    let requestThreads = NIOThreadPool(numberOfThreads: 16)

    /// `onListening` runs once the socket accepts connections.
    package init(
        configuration: ServerConfiguration,
        dispatcher: JSONRPCDispatcher,
        logger: Logger,
        connections: ConnectionCounter = ConnectionCounter(),
        notifier: SystemdNotifier = SystemdNotifier(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onListening: @escaping @Sendable () async -> Void = {}
    ) {
        self.configuration = configuration
        self.dispatcher = dispatcher
        self.logger = logger
        self.connections = connections
        self.notifier = notifier
        self.group = group
        self.onListening = onListening
    }

    package func run() async throws {
        requestThreads.start()
        defer { requestThreads.shutdownGracefully { _ in } }
        let quiescing = ServerQuiescingHelper(group: group)
        let serverChannel = try await listen(quiescing: quiescing)
        logger.notice("listening on \(configuration.listenerDescription)")
        await onListening()
        let notifier = self.notifier
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await serverChannel.closeFuture.get()
            } onCancel: {
                quiescing.initiateShutdown(promise: nil)
            }
        } onGracefulShutdown: {
            notifier.stopping()
            quiescing.initiateShutdown(promise: nil)
        }
        let drained = group.next().makePromise(of: Void.self)
        quiescing.initiateShutdown(promise: drained)
        if await !drained.futureResult.completes(within: configuration.drainTimeout, on: group.next()) {
            logger.warning(
                "connections still busy after the drain timeout; exiting anyway",
                metadata: ["open": "\(connections.open)"]
            )
        }
        if case .path(let path) = configuration.listener {
            UnixSocketPath.remove(path)
        }
        logger.info("stopped listening", metadata: ["socket": "\(configuration.listenerDescription)"])
    }

    private func listen(quiescing: ServerQuiescingHelper) async throws -> any Channel {
        let maximumLineLength = configuration.maximumLineLength
        let dispatcher = self.dispatcher
        let requestThreads = self.requestThreads
        let connections = self.connections
        let access = configuration.access
        let admission = ConnectionAdmission(limits: configuration.connectionLimits, connections: connections)
        let logger = self.logger
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(
                .writeBufferWaterMark,
                value: ChannelOptions.Types.WriteBufferWaterMark(low: 64 * 1024, high: 256 * 1024)
            )
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        connections.makeHandler(),
                        ByteToMessageHandler(LengthLimitedLineDecoder(maximumLineLength: maximumLineLength)),
                        RequestHandler(
                            dispatcher: dispatcher,
                            threadPool: requestThreads,
                            access: access,
                            admission: admission,
                            logger: logger
                        )
                    )
                }
            }
        switch configuration.listener {
        case .inherited(let descriptor, _):
            return try await bootstrap.withBoundSocket(descriptor).get()
        case .path(let path):
            try UnixSocketPath.prepare(path)
            let channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false).get()
            try UnixSocketPath.setMode(path, configuration.socketMode)
            if configuration.socketMode & 0o007 != 0 {
                logger.warning(
                    "the socket is open to every user on this host; 0660 with a group of clients is safer",
                    metadata: ["mode": "\(String(configuration.socketMode, radix: 8))", "socket": "\(path)"]
                )
            }
            return channel
        }
    }
}

extension EventLoopFuture where Value == Void {
    /// Whether the future completes within `timeout`; returns as soon as either is known.
    func completes(within timeout: Duration, on eventLoop: any EventLoop) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let resumed = Mutex(false)
            let resumeOnce: @Sendable (Bool) -> Void = { value in
                if resumed.withLock({ done in
                    defer { done = true }
                    return !done
                }) {
                    continuation.resume(returning: value)
                }
            }
            let timer = eventLoop.scheduleTask(in: .nanoseconds(timeout.wholeNanoseconds)) { resumeOnce(false) }
            whenComplete { _ in
                timer.cancel()
                resumeOnce(true)
            }
        }
    }
}
