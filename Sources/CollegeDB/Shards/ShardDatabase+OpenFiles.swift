import Foundation
import GRDB
import GRDBSQLite

/// How a SQLite shard opens on first use, is held open by each use, and closes when idle
/// (``OpenShardSlots``): the shard's connections live only while it is open.
extension ShardDatabase {
    /// Whether the shard's connections are open now.
    package var isOpen: Bool {
        if case .open = lifecycle.withLock({ $0 }) { return true }
        return false
    }

    /// When the shard was last used, in ``OpenShardSlots/tick()`` order.
    var lastUse: UInt64 { lastUseTick.load(ordering: .relaxed) }

    /// Holds the shard open while `body` uses its connections, opening it first when it is
    /// closed (blocking on SQLite: call it off event loops).
    /// - Throws: `SHARD_UNAVAILABLE` when the shard does not serve or its file cannot be opened.
    func withOpenFiles<T>(_ body: (OpenShardFiles) throws -> T) throws -> T {
        guard let files = try acquireFiles(opening: true) else {
            throw CollegeDBError(.internalError, "shard '\(name)' was not opened")
        }
        defer { releaseFiles() }
        return try body(files)
    }

    /// The connections of the shard, held open for one call until ``releaseFiles()``: at once
    /// when it is open, else opened on a blocking-work thread.
    func acquireFilesForCall() async throws -> OpenShardFiles {
        if let files = try acquireFiles(opening: false) { return files }
        let files = try await BlockingWork.run { try self.acquireFiles(opening: true) }
        guard let files else { throw CollegeDBError(.internalError, "shard '\(name)' was not opened") }
        return files
    }

    /// The daemon's own connections to the shard (never given a client's SQL), held open for
    /// `body`.
    func withPool<T>(_ body: (DatabasePool) throws -> T) throws -> T {
        try withOpenFiles { try body(try $0.pool()) }
    }

    /// Counts one more use of the open shard and returns its connections; opens it first when
    /// it is closed and `opening`, else returns nil. Every non-nil answer needs one
    /// ``releaseFiles()``.
    func acquireFiles(opening: Bool) throws -> OpenShardFiles? {
        if let refusal { throw refusal }
        if let reason = fault.withLock({ $0 }) {
            throw CollegeDBError(.shardUnavailable, "shard '\(name)' failed: \(reason)")
        }
        // Before this shard's lock: making room closes other shards, under their locks.
        if opening, !isOpen { try settings.openShards.makeRoom(for: name) }
        let (files, openedNow) = try lifecycle.withLock { state throws(CollegeDBError) -> (OpenShardFiles?, Bool) in
            switch state {
            case .open(let files, let users):
                state = .open(files, users: users + 1)
                return (files, false)
            case .closed:
                guard opening else { return (nil, false) }
                try checkFileIsStillItsOwn()
                do {
                    if let firstOpenCheck, !checkedFile.load(ordering: .relaxed) {
                        try firstOpenCheck()
                        checkedFile.store(true, ordering: .relaxed)
                    }
                    let files = try OpenShardFiles(shard: name, path: path, settings: settings)
                    do {
                        try settings.openShards.claim(path, for: name)
                    } catch {
                        files.close()
                        throw error
                    }
                    everOpened.store(true, ordering: .relaxed)
                    state = .open(files, users: 1)
                    return (files, true)
                } catch {
                    let failure = Self.openingFailure(name: name, path: path, error: error)
                    state = .closed(failure: failure)
                    throw failure
                }
            }
        }
        guard let files else { return nil }
        lastUseTick.store(settings.openShards.tick(), ordering: .relaxed)
        if openedNow { settings.openShards.opened(self) }
        return files
    }

    func releaseFiles() {
        let idle = lifecycle.withLock { state -> Bool in
            guard case .open(let files, let users) = state else { return false }
            state = .open(files, users: max(users - 1, 0))
            return users <= 1
        }
        if idle { settings.openShards.released() }
    }

    /// Checks, before opening the shard again, that its file is still the one it opened before:
    /// a file removed or replaced while the shard was closed would otherwise be opened as a new,
    /// empty database, and acknowledged writes would seem lost. The shard is then marked failed.
    /// - Throws: `SHARD_UNAVAILABLE` saying what happened to the file.
    private func checkFileIsStillItsOwn() throws(CollegeDBError) {
        guard everOpened.load(ordering: .relaxed) else { return }
        let problem: String
        if let identity = ShardFileCheck.identity(of: path) {
            guard !settings.openShards.isFile(identity, of: name) else { return }
            problem = "its file \(path) was replaced while the shard was closed"
        } else {
            problem = "its file \(path) was removed while the shard was closed"
        }
        fault.withLock { fault in
            if fault == nil { fault = problem + "; restart once the file is back" }
        }
        throw CollegeDBError(.shardUnavailable, "shard '\(name)' failed: \(problem)")
    }

    /// Closes the shard's connections when nothing uses them; returns whether it did.
    func closeIfIdle() -> Bool {
        let files = lifecycle.withLock { state -> OpenShardFiles? in
            guard case .open(let files, 0) = state else { return nil }
            state = .closed(failure: nil)
            settings.openShards.closed(self)
            return files
        }
        guard let files else { return false }
        let counts = files.clients.commitCounts
        closedCommitCounts.withLock { $0 = ($0.commits + counts.commits, $0.calls + counts.calls) }
        files.close()
        return true
    }

    /// Why a shard's file cannot be opened, as `SHARD_UNAVAILABLE`.
    static func openingFailure(
        name: String,
        path: String,
        readOnly knownReadOnly: Bool = false,
        error: (any Error)? = nil
    ) -> CollegeDBError {
        let readOnly =
            knownReadOnly
            || (error as? DatabaseError)?.resultCode == .SQLITE_READONLY
            || (error as? ClientConnection.Failure)?.code == SQLITE_READONLY
            || (FileManager.default.fileExists(atPath: path) && access(path, W_OK) != 0)
        return CollegeDBError(
            .shardUnavailable,
            "shard '\(name)' cannot be opened at \(path)\(readOnly ? " (the file is read-only)" : "")"
                + (error.map { ": \($0)" } ?? ""),
            sqlite: readOnly
                ? CollegeDBError.SQLiteFailure(
                    code: SQLITE_READONLY,
                    extendedCode: SQLITE_READONLY,
                    message: "read-only"
                )
                : nil
        )
    }
}
