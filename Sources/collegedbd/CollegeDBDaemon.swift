import ArgumentParser
import CollegeDB
import CollegeDBRPC
import CollegeDBServer
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle

/// `collegedbd`: opens the shards and the mapping store, then serves the wire contract on a
/// Unix socket (its own, or the one systemd passed) until SIGTERM or SIGINT, finishing in-flight
/// requests first. Reports to systemd with sd_notify; SIGHUP or the `reload` method reloads the
/// config file.
@main
struct CollegeDBDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collegedbd",
        abstract: "Shards SQL by key across SQLite databases; serves JSON-RPC 2.0 on a Unix socket.",
        discussion: """
            collegedbd routes each call to the shard that holds its key: the mapping store (a SQLite \
            file in the data directory) remembers each key's shard; a key seen for the first time is \
            placed by the write strategy. Clients send one JSON-RPC 2.0 request per line on the Unix \
            socket (collegedb(1) is the shell client); the methods are listed by rpc.discover and \
            described in /usr/share/doc/collegedbd/protocol.md.

            With no shard configured, it starts on three SQLite shards (db-1, db-2, db-3) under the \
            data directory. Flags override the config file (JSON, described in the README).

            Under systemd it serves the socket systemd passes (FileDescriptorName=collegedb), reports \
            READY=1 and STATUS= with sd_notify and pets the watchdog. SIGTERM or SIGINT stops it \
            after answering what each connection sent; SIGHUP, or the reload method (what \
            systemctl reload uses), reads the config file again. Exit status: 0 after a clean \
            stop, 64 for a configuration it refuses to start with, 1 for other failures.
            """,
        version: CollegeDB.version
    )

    @OptionGroup var options: DaemonOptions

    func run() async throws {
        let activation = SystemdSocketActivation.inherited()
        let settings: DaemonSettings
        do {
            settings = try DaemonSettings(
                options: options,
                file: try options.configPath.map(ConfigFile.load),
                activation: activation
            )
        } catch {
            throw ValidationError("\(error)")
        }
        let logger = Self.bootstrapLogging(level: settings.logLevel)
        FileDescriptorLimit.raise(for: settings, logger: logger)
        let metrics = DaemonMetrics.bootstrap()
        let notifier = SystemdNotifier()

        var database = settings.database
        let postgresClients = PostgresClients()
        database.postgresClients = postgresClients
        let daemon = DaemonService(
            options: options,
            activation: activation,
            configuration: database,
            serverConfiguration: settings.server,
            logger: logger,
            metrics: metrics,
            notifier: notifier
        )
        // The PostgreSQL clients run first and stop last, once the daemon has closed its
        // databases; the daemon's end shuts the group down. The daemon's own group takes the
        // signals.
        let serviceGroup = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: postgresClients),
                    .init(service: daemon, successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                logger: logger
            )
        )
        try await serviceGroup.run()
    }

    /// Logs to the journal when standard error is connected to it, else to standard error.
    static func bootstrapLogging(level: Logger.Level) -> Logger {
        let environment = ProcessInfo.processInfo.environment
        let toJournal = JournalLogHandler.isStandardErrorJournal(environment: environment)
        LoggingSystem.bootstrap { label in
            if toJournal {
                var handler = JournalLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "collegedbd")
        logger.logLevel = level
        return logger
    }
}
