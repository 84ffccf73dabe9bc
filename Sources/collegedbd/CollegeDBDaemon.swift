import ArgumentParser
import CollegeDB
import CollegeDBRPC
import CollegeDBServer
import Logging
import ServiceLifecycle

/// `collegedbd`: opens the shards and the mapping store, then serves the wire contract on a
/// Unix socket until SIGTERM or SIGINT, finishing in-flight requests first.
struct CollegeDBDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collegedbd",
        abstract: "Shards SQL by key across SQLite databases; serves JSON-RPC 2.0 on a Unix socket.",
        version: CollegeDB.version
    )

    @OptionGroup var options: DaemonOptions

    /// Parses the command line and runs the daemon (ArgumentParser's asynchronous entry point).
    static func runAsRoot() async {
        await main()
    }

    func run() async throws {
        let settings: DaemonSettings
        do {
            settings = try DaemonSettings(options: options, file: try options.configPath.map(ConfigFile.load))
        } catch {
            throw ValidationError("\(error)")
        }
        var logger = Logger(label: "collegedbd")
        logger.logLevel = settings.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = settings.logLevel
            return handler
        }

        let database = try await CollegeDB.open(settings.database, logger: logger)
        let shardNames = await database.listKnownShards()
        if settings.database.usesEmbeddedDefault {
            logger.notice(
                "no shard configured: using the embedded default",
                metadata: [
                    "shards": "\(shardNames.joined(separator: ","))", "dataDir": "\(settings.database.dataDirectory)",
                ]
            )
        }
        logger.info(
            "opened",
            metadata: [
                "shards": "\(shardNames.joined(separator: ","))", "dataDir": "\(settings.database.dataDirectory)",
                "strategy": "\(settings.database.strategy.read.rawValue)/\(settings.database.strategy.write.rawValue)",
            ]
        )
        let server = CollegeDBServer(
            configuration: settings.server,
            dispatcher: JSONRPCDispatcher(database: database, logger: logger),
            logger: logger
        )
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: server)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}
