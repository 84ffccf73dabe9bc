import Synchronization

/// The client connections of one shard and what stands in front of them: the writer, behind
/// its group committer, opened at the shard's first write (a shard only read holds no writer),
/// and readers made as needed up to the number of reader places (quick lane plus slow lane).
final class ShardConnections: Sendable {
    let quickReads: AdmissionGate
    let slowReads: AdmissionGate
    private let committer = Mutex<GroupCommitter?>(nil)
    private let idleReaders = Mutex<[ClientConnection]>([])
    private let shard: String
    private let path: String
    private let settings: ShardSettings

    init(shard: String, path: String, settings: ShardSettings) {
        self.shard = shard
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
    }

    /// The writer behind its group committer, opened now when this is the first write.
    func writes() throws -> GroupCommitter {
        try committer.withLock { committer in
            if let committer { return committer }
            let opened = GroupCommitter(
                subject: "the writer of shard '\(shard)'",
                writer: try ClientConnection(path: path, reader: false, settings: settings),
                queueLimit: settings.queueLimit
            )
            committer = opened
            return opened
        }
    }

    /// Write transactions committed and the calls they carried; none before the first write.
    var commitCounts: (commits: Int, calls: Int) {
        committer.withLock { $0?.commitCounts } ?? (0, 0)
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

    /// The state of the writer, when it was opened, and of every idle reader.
    func stateReports() throws -> [[String: String]] {
        let readers = idleReaders.withLock { $0 }
        let writer = committer.withLock { $0?.writer }
        return try ((writer.map { [$0] } ?? []) + readers).map { try $0.stateReport() }
    }
}
