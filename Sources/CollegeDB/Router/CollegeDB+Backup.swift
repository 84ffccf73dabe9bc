import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// Online backups: the mapping store and every SQLite shard copied into a new data directory
/// while the daemon serves.
///
/// Why the copy is consistent: each shard is copied from one read snapshot taken after the
/// call began, so every write acknowledged before the call is in it. Moves of rows between
/// shards, re-pointed mappings and schema changes applied to shards are held for the whole
/// backup (``MovePause``: those under way finish first), so no record's rows change shard
/// between two shards' copies, and each shard's schema ledger agrees with the catalog's copy. The mapping store is copied last:
/// a row in a shard's copy was written after its record was mapped, so its mapping is in the
/// store's copy, and no row of the backup is left without one. A key first mapped during the
/// backup may be in the store's copy with its rows missing (written after its shard was
/// copied): the same as a key allocated but not yet written, which reads as empty.
extension CollegeDB {
    /// Copies the mapping store and every SQLite shard into a new directory `directory` (an
    /// absolute path that does not exist yet, whose parent does), written beside it under a
    /// temporary name and renamed into place once whole: a directory at `directory` is always a
    /// whole backup, and a crash leaves only the temporary one, removed at the next start. The
    /// backup is a data directory: `collegedbd --data-dir DIRECTORY` starts on it.
    /// - Throws: `INVALID_PARAMS` for a relative, existing or unreachable path, or one inside the
    ///   data directory; `MIGRATION_IN_PROGRESS` while another backup runs; a shard's or the
    ///   disk's error, after which nothing is left at `directory`.
    public func backup(directory: String) async throws -> Backup {
        let dataDirectory = await coordinator.configuration.dataDirectory
        let directory = try await BlockingWork.run {
            try Self.checkBackupDirectory(directory, dataDirectory: dataDirectory)
        }
        // One backup at a time: the progress is the backup's slot, taken and given back here, so
        // a backup that answered has given it back.
        let taken = backupProgress.withLock { progress in
            guard progress == nil else { return false }
            progress = BackupProgress(directory: directory, copied: 0, shards: coordinator.registry.shards.count)
            return true
        }
        guard taken else {
            throw CollegeDBError(.migrationInProgress, "another backup is running; wait for it to finish")
        }
        defer { backupProgress.withLock { $0 = nil } }
        return try await makeBackup(at: directory, dataDirectory: dataDirectory)
    }

    /// How far the backup under way is; nil when none runs.
    public func runningBackup() -> BackupProgress? { backupProgress.withLock { $0 } }

    private func makeBackup(at directory: String, dataDirectory: String) async throws -> Backup {
        let began = ContinuousClock.now
        let leftovers = BackupLeftovers(dataDirectory: dataDirectory)
        let temporary = BackupLeftovers.temporaryPath(for: directory)
        do {
            try await BlockingWork.run {
                try leftovers.add(temporary)
                // The backup holds every row: only the daemon's user may read it.
                do {
                    try FileManager.default.createDirectory(
                        atPath: temporary,
                        withIntermediateDirectories: false,
                        attributes: [.posixPermissions: 0o700]
                    )
                } catch {
                    let reason = (error as NSError).localizedFailureReason ?? "\(error)"
                    throw CollegeDBError.invalidParams("directory: cannot be made beside \(directory): \(reason)")
                }
            }
            var backup = try await coordinator.locks.movePause.pausingMoves {
                try await copy(into: temporary, directory: directory, dataDirectory: dataDirectory)
            }
            TestKillPoint.fromEnvironment.reached("backup-copied")
            try await BlockingWork.run {
                try Self.syncDirectory(temporary)
                guard rename(temporary, directory) == 0 else {
                    throw CollegeDBError.invalidParams(
                        "directory: \(directory) cannot be made: \(String(cString: strerror(errno)))"
                    )
                }
                try Self.syncDirectory((directory as NSString).deletingLastPathComponent)
                try leftovers.remove(temporary)
            }
            backup.seconds = (ContinuousClock.now - began).fractionalSeconds
            logger.notice(
                "backup made",
                metadata: [
                    "directory": "\(directory)", "shards": "\(backup.shards.count)", "bytes": "\(backup.bytes)",
                    "skipped": "\(backup.skipped.joined(separator: ","))",
                ]
            )
            return backup
        } catch {
            do {
                try await BlockingWork.run {
                    if FileManager.default.fileExists(atPath: temporary) {
                        try FileManager.default.removeItem(atPath: temporary)
                    }
                    // Listed until it is gone: the next start removes what could not be.
                    try leftovers.remove(temporary)
                }
            } catch let cleanup {
                logger.error(
                    "a failed backup's temporary directory is left for the next start",
                    metadata: ["directory": "\(temporary)", "error": "\(cleanup)"]
                )
            }
            throw error
        }
    }

    /// Copies every SQLite shard, then the mapping store, into `temporary`.
    private func copy(into temporary: String, directory: String, dataDirectory: String) async throws -> Backup {
        let registry = coordinator.registry
        var backup = Backup(directory: directory, shards: [], skipped: [], bytes: 0, seconds: 0)
        backupProgress.withLock { $0?.shards = registry.shards.count }
        for shard in registry.shards {
            if let reason = shard.unavailableReason, shard.backendKind == .sqlite {
                throw CollegeDBError(.shardUnavailable, "shard '\(shard.name)' cannot be copied: \(reason)")
            }
            // Every shard's copy at the default place, so that the backup holds no path of its own
            // and can be moved (or copied into place) whole.
            let file = "shards/\(shard.name).sqlite"
            let bytes: Int64
            do {
                guard let copied = try await shard.backUp(to: temporary + "/" + file) else {
                    backup.skipped.append(shard.name)
                    continue
                }
                bytes = copied
            } catch {
                throw Self.copyFailure(error, of: "shard '\(shard.name)'", in: directory)
            }
            backup.bytes += bytes
            backup.shards.append(shard.name)
            backupProgress.withLock { $0?.copied += 1 }
        }
        guard let store = catalog as? MappingStore else {
            backup.skipped.append("catalog")
            return backup
        }
        let (copied, kept) = (backup.shards, backup.shards + backup.skipped)
        do {
            backup.bytes += try await BlockingWork.runLong {
                try store.backUp(to: temporary + "/mapping.sqlite", copied: copied, kept: kept)
            }
        } catch {
            throw Self.copyFailure(error, of: "the mapping store", in: directory)
        }
        let secret = dataDirectory + "/mapping.key"
        try await BlockingWork.run {
            if FileManager.default.fileExists(atPath: secret) {
                try FileManager.default.copyItem(atPath: secret, toPath: temporary + "/mapping.key")
            }
        }
        return backup
    }

    /// The error for a copy that failed: `STORAGE_FULL` when the disk is full, naming what was
    /// being copied and where.
    private static func copyFailure(_ error: any Error, of what: String, in directory: String) -> any Error {
        let full =
            (error as? DatabaseError)?.resultCode == .SQLITE_FULL || (error as? CollegeDBError)?.code == .storageFull
            || ((error as NSError).domain == NSPOSIXErrorDomain && (error as NSError).code == Int(ENOSPC))
        guard full else { return error }
        return CollegeDBError(.storageFull, "the backup's copy of \(what) does not fit on the disk of \(directory)")
    }

    /// `directory` made absolute and clean, its parent's links resolved, once checked.
    private static func checkBackupDirectory(_ directory: String, dataDirectory: String) throws -> String {
        guard directory.hasPrefix("/") else {
            throw CollegeDBError.invalidParams("directory: must be an absolute path")
        }
        guard !directory.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw CollegeDBError.invalidParams("directory: control characters are not allowed")
        }
        let standardized = URL(fileURLWithPath: directory).standardizedFileURL
        guard standardized.path != "/" else { throw CollegeDBError.invalidParams("directory: must not be /") }
        let name = standardized.lastPathComponent
        // The temporary name beside it must fit too.
        let longestName = Int(NAME_MAX) - BackupLeftovers.marker.utf8.count - 10
        guard name.utf8.count <= longestName else {
            throw CollegeDBError.invalidParams(
                "directory: its last component is too long (at most \(longestName) bytes)"
            )
        }
        let parent = standardized.deletingLastPathComponent().resolvingSymlinksInPath().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CollegeDBError.invalidParams("directory: its parent \(parent) is not a directory")
        }
        let clean = parent == "/" ? "/" + name : parent + "/" + name
        var status = stat()
        if lstat(clean, &status) == 0 {
            throw CollegeDBError.invalidParams(
                "directory: \(clean) exists already; a backup is made in a new directory"
            )
        }
        guard errno == ENOENT else {
            throw CollegeDBError.invalidParams(
                "directory: \(clean) cannot be used: \(String(cString: strerror(errno)))"
            )
        }
        let data = URL(fileURLWithPath: dataDirectory).standardizedFileURL.resolvingSymlinksInPath().path
        guard clean != data, !clean.hasPrefix(data + "/") else {
            throw CollegeDBError.invalidParams("directory: must be outside the data directory \(data)")
        }
        return clean
    }

    /// Makes a directory's entries durable.
    private static func syncDirectory(_ path: String) throws {
        let descriptor = Glibc.open(path, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else {
            throw CollegeDBError(.internalError, "cannot open \(path) to sync it: \(String(cString: strerror(errno)))")
        }
        defer { Glibc.close(descriptor) }
        guard fsync(descriptor) == 0 else {
            throw CollegeDBError(.internalError, "cannot sync \(path): \(String(cString: strerror(errno)))")
        }
    }
}
