import CollegeDB
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Testing

/// The service that runs the engine's PostgreSQL clients, in a `ServiceGroup` as the daemon
/// runs it, against the tests' PostgreSQL server.
@Suite(.serialized, .timeLimit(.minutes(2))) struct PostgresClientsTests {
    private let logger = Logger(label: "test")
    /// A server of this suite's own: at the start of a full run every other suite's daemons
    /// connect to the shared one.
    private let server: PostgresServer

    init() throws {
        server = try PostgresServer.startPrivate()
    }

    /// A shard on a new database of the tests' server, its client run by `clients`.
    private func shard(_ clients: PostgresClients) throws -> PostgresShard {
        let passwordFile = try server.makePasswordFile()
        defer { try? FileManager.default.removeItem(atPath: passwordFile) }
        return try PostgresShard(
            name: "a",
            // A patient connect: the whole suite's daemons start their sessions on this server too.
            address: PostgresShardAddress(
                url: server.url(try server.makeDatabase()) + "?connect_timeout=30",
                passwordFile: passwordFile
            ),
            clients: clients,
            logger: logger
        )
    }

    @Test func aShardHandedOverBeforeTheGroupRunsIsServedOnceItDoesAndStopsWithIt() async throws {
        let clients = PostgresClients()
        // Made before the group runs, as the daemon opens its shards: its call waits for it.
        let shard = try shard(clients)
        let group = ServiceGroup(services: [clients], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let answer = try await shard.execute(SQLStatement(sql: "SELECT 41 + 1 AS n"))
            #expect(answer.rows.first?.first == .integer(42))
            await group.triggerGracefulShutdown()
            // The group ends only once every client has stopped.
            try await tasks.waitForAll()
        }
        await #expect(throws: CollegeDBError.self) {
            _ = try await shard.execute(SQLStatement(sql: "SELECT 1"))
        }
    }

    @Test func aStoppedShardClosesItsConnectionsWhileTheOthersServe() async throws {
        let clients = PostgresClients()
        let group = ServiceGroup(services: [clients], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let stopped = try shard(clients)
            let serving = try shard(clients)
            _ = try await stopped.execute(SQLStatement(sql: "SELECT 1"))
            try await stopped.shutDown()
            await #expect(throws: CollegeDBError.self) {
                _ = try await stopped.execute(SQLStatement(sql: "SELECT 1"))
            }
            let answer = try await serving.execute(SQLStatement(sql: "SELECT 2 AS n"))
            #expect(answer.rows.first?.first == .integer(2))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func aSecondRunIsRefusedWhileTheFirstServes() async throws {
        let clients = PostgresClients()
        let group = ServiceGroup(services: [clients], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let serving = try shard(clients)
            // Served: the group's run has begun.
            _ = try await serving.execute(SQLStatement(sql: "SELECT 1"))
            await #expect(throws: CollegeDBError.self) { try await clients.run() }
            let answer = try await serving.execute(SQLStatement(sql: "SELECT 3 AS n"))
            #expect(answer.rows.first?.first == .integer(3))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func aClientHandedOverAfterTheGroupStoppedIsRefused() async throws {
        let clients = PostgresClients()
        let group = ServiceGroup(services: [clients], logger: logger)
        async let running: Void = group.run()
        await group.triggerGracefulShutdown()
        try await running
        #expect(throws: CollegeDBError.self) { _ = try shard(clients) }
    }
}
