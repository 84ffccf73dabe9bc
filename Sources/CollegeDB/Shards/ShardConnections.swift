import Synchronization

/// The client connections of one shard and what stands in front of them: the writer, behind
/// its group committer, and readers made as needed up to the number of reader places (quick
/// lane plus slow lane).
final class ShardConnections: Sendable {
    let quickReads: AdmissionGate
    let slowReads: AdmissionGate
    let writes: GroupCommitter
    private let idleReaders = Mutex<[ClientConnection]>([])
    private let path: String
    private let settings: ShardSettings

    init(shard: String, path: String, settings: ShardSettings) throws {
        self.path = path
        self.settings = settings
        quickReads = AdmissionGate(
            subject: "shard '\(shard)' (quick reads)",
            capacity: settings.quickReaders,
            queueLimit: settings.queueLimit
        )
        slowReads = AdmissionGate(
            subject: "shard '\(shard)' (long reads)",
            capacity: settings.slowReaders,
            queueLimit: settings.slowQueueLimit
        )
        writes = GroupCommitter(
            subject: "the writer of shard '\(shard)'",
            writer: try ClientConnection(path: path, reader: false, settings: settings),
            queueLimit: settings.queueLimit
        )
    }

    /// Lends a reader to `body`; call it holding a place at `quickReads` or `slowReads`, which
    /// bound how many readers exist.
    func withReader<T>(_ body: (ClientConnection) throws -> T) throws -> T {
        let reader =
            try idleReaders.withLock { $0.popLast() }
            ?? ClientConnection(path: path, reader: true, settings: settings)
        defer {
            reader.resetAfterCall()
            idleReaders.withLock { $0.append(reader) }
        }
        return try body(reader)
    }

    /// The state of the writer and of every idle reader.
    func stateReports() throws -> [[String: String]] {
        let readers = idleReaders.withLock { $0 }
        return try ([writes.writer] + readers).map { try $0.stateReport() }
    }
}
