import CollegeDBClient
import Foundation
import Testing

/// The Swift client's backup method against the real daemon.
@Suite struct BackupClientTests {
    @Test func aBackupIsADirectoryOfTheStoreAndEveryShardAndIsMadeOnce() async throws {
        let daemon = try TestDaemon()
        let client = CollegeDBClient(socketPath: daemon.socketPath)
        try await client.createSchema("CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT)")
        let path = daemon.directory + "/nightly"
        let backup = try await client.backup(directory: path)
        #expect(backup.directory == path && backup.shards == ["db-1", "db-2", "db-3"] && backup.skipped.isEmpty)
        #expect(backup.bytes > 0)
        #expect(FileManager.default.fileExists(atPath: path + "/mapping.sqlite"))
        #expect(FileManager.default.fileExists(atPath: path + "/shards/db-2.sqlite"))
        await #expect(throws: CollegeDBClientError.self) { try await client.backup(directory: path) }
    }
}
