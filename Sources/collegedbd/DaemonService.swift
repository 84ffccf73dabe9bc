import CollegeDB
import CollegeDBRPC
import CollegeDBServer
import Logging
import NIOPosix
import ServiceLifecycle

/// The daemon itself, as a service: opens the shards and the mapping store (adopting existing
/// databases, before the socket listens and READY=1), serves the wire contract with its helper
/// services (reload, status, automatic rebalancing, the watchdog) until the group it runs in
/// shuts down gracefully or the server ends, then closes the databases. It runs after
/// ``PostgresClients`` in the daemon's `ServiceGroup`, so the PostgreSQL clients it uses run
/// before it opens anything and stop only after it has closed everything.
struct DaemonService: Service {
    let options: DaemonOptions
    let activation: SystemdSocketActivation
    let configuration: CollegeDBConfiguration
    let serverConfiguration: ServerConfiguration
    let logger: Logger
    let metrics: DaemonMetrics
    let notifier: SystemdNotifier

    func run() async throws {
        // Existing databases are adopted here, before the socket listens and READY=1.
        let database = try await CollegeDB.open(configuration, logger: logger) { progress in
            notifier.status(progress)
        }
        let shardNames = database.coordinator.registry.names
        if configuration.usesEmbeddedDefault {
            logger.notice(
                "no shard configured: using the embedded default",
                metadata: [
                    "shards": "\(shardNames.joined(separator: ","))", "dataDir": "\(configuration.dataDirectory)",
                ]
            )
        }
        // Many tenants make a long list: the first ten name the rest.
        let listed = shardNames.prefix(10).joined(separator: ",") + (shardNames.count > 10 ? ",…" : "")
        logger.info(
            "opened",
            metadata: [
                "shardCount": "\(shardNames.count)", "shards": "\(listed)",
                "dataDir": "\(configuration.dataDirectory)",
                "strategy": "\(configuration.strategy.read.rawValue)/\(configuration.strategy.write.rawValue)",
            ]
        )

        let group = MultiThreadedEventLoopGroup.singleton
        let connections = ConnectionCounter()
        let status = StatusService(database: database, connections: connections, notifier: notifier)
        let reloader = ConfigurationReloader(
            options: options,
            activation: activation,
            database: database,
            notifier: notifier,
            status: status,
            logger: logger
        )
        let control = DaemonController(
            reloader: reloader,
            metrics: metrics,
            database: database,
            connections: connections
        )
        let server = CollegeDBServer(
            configuration: serverConfiguration,
            dispatcher: JSONRPCDispatcher(database: database, methods: .serving(control), logger: logger),
            logger: logger,
            connections: connections,
            notifier: notifier,
            group: group
        ) { notifier.ready(status: await status.summary()) }
        // The server's end ends the daemon; the helpers' ends do not.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: ReloadService(reloader: reloader), successTerminationBehavior: .ignore),
            .init(service: server),
            .init(service: status, successTerminationBehavior: .ignore),
            .init(
                service: AutoRebalanceService(database: database, notifier: notifier, status: status, logger: logger),
                successTerminationBehavior: .ignore
            ),
        ]
        if let interval = notifier.watchdogInterval {
            services.append(
                .init(
                    service: WatchdogService(interval: interval, database: database, group: group, notifier: notifier),
                    successTerminationBehavior: .ignore
                )
            )
        }
        // SIGTERM and SIGINT are handled from here on: before, while the databases open (an
        // adoption can take long), they end the process at once, as the system would.
        let serviceGroup = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await serviceGroup.run()
        } catch {
            // The databases are closed whatever ended the services.
            try await database.close()
            throw error
        }
        try await database.close()
        logger.info("closed the databases")
    }
}
