import CollegeDBClient
import Foundation
import Testing

/// The Swift client's schema-change methods against the real daemon.
@Suite struct SchemaChangeClientTests {
    @Test func recordPauseAtTheCanaryResumeAndList() async throws {
        let daemon = try TestDaemon()
        let client = CollegeDBClient(socketPath: daemon.socketPath)
        #expect(try await client.getSchemaChangeStatus() == nil)
        let recorded = try await client.applySchemaChange(
            name: "notes",
            sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
            canary: 2
        )
        #expect(recorded.name == "notes" && recorded.shards == 3)
        var status = try #require(try await client.getSchemaChangeStatus(name: "notes"))
        while status.state == "running" {
            try await Task.sleep(for: .milliseconds(20))
            status = try #require(try await client.getSchemaChangeStatus(name: "notes"))
        }
        #expect(status.state == "paused" && status.applied == 2 && status.pending == 1 && status.failures.isEmpty)
        try await client.applySchemaChange(name: "notes", sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        while status.state != "done" {
            try await Task.sleep(for: .milliseconds(20))
            status = try #require(try await client.getSchemaChangeStatus())
        }
        #expect(status.applied == 3)
        #expect(try await client.listSchemaChanges().map(\.name) == ["notes"])
        await #expect(throws: CollegeDBClientError.self) {
            try await client.applySchemaChange(name: "notes", sql: "CREATE TABLE other (id INTEGER)")
        }
    }
}
