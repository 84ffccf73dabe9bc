import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

extension ShardDatabase {
    package func backUp(to path: String) async throws -> Int64? {
        try await BlockingWork.runLong {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
            return try self.withPool { try SQLiteFileCopy.copy($0, to: path) }
        }
    }
}

/// A SQLite database copied to a new file with SQLite's online backup API, through GRDB: the
/// source is read in one snapshot (in WAL mode writers go on meanwhile). The copy is written
/// without a journal and without syncing each page (a copy cut short is abandoned with its
/// backup's temporary directory, never used), then closed and synced once, so its pages are on
/// disk before it counts.
enum SQLiteFileCopy {
    /// Copies `source` to `path` and returns the copy's size in bytes.
    static func copy(_ source: DatabasePool, to path: String) throws -> Int64 {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF")
        }
        let copy = try DatabaseQueue(path: path, configuration: configuration)
        do {
            try source.backup(to: copy)
            try copy.close()
        } catch {
            // The copy is abandoned with the backup's temporary directory.
            try? copy.close()
            throw error
        }
        // Every row of the backup is in it: only the daemon's user may read it.
        guard chmod(path, 0o600) == 0 else {
            throw CollegeDBError(
                .internalError,
                "the backup's copy \(path) cannot be made private: \(String(cString: strerror(errno)))"
            )
        }
        try sync(path)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber
        return size?.int64Value ?? 0
    }

    /// Makes the file's content durable.
    static func sync(_ path: String) throws {
        let descriptor = Glibc.open(path, O_RDONLY)
        guard descriptor >= 0, fsync(descriptor) == 0 else {
            let failure = errno
            if descriptor >= 0 { Glibc.close(descriptor) }
            throw CollegeDBError(
                failure == ENOSPC ? .storageFull : .internalError,
                "the backup's copy \(path) could not be synced: \(String(cString: strerror(failure)))"
            )
        }
        Glibc.close(descriptor)
    }
}
