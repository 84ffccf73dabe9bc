import Synchronization

/// The client connections of one shard and the gates in front of them: one writer, and
/// readers made as needed up to the number of reader places (quick lane plus slow lane).
final class ShardConnections: Sendable {
    let quickReads: AdmissionGate
    let slowReads: AdmissionGate
    let writes: AdmissionGate
    private let writer: ClientConnection
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
        writes = AdmissionGate(
            subject: "the writer of shard '\(shard)'",
            capacity: 1,
            queueLimit: settings.queueLimit
        )
        writer = try ClientConnection(
            path: path,
            reader: false,
            policy: settings.policy,
            maximumValueBytes: settings.maximumValueBytes
        )
    }

    /// Lends a reader to `body`; call it holding a place at `quickReads` or `slowReads`, which
    /// bound how many readers exist.
    func withReader<T>(_ body: (ClientConnection) throws -> T) throws -> T {
        let reader =
            try idleReaders.withLock { $0.popLast() }
            ?? ClientConnection(
                path: path,
                reader: true,
                policy: settings.policy,
                maximumValueBytes: settings.maximumValueBytes
            )
        defer {
            reader.resetAfterCall()
            idleReaders.withLock { $0.append(reader) }
        }
        return try body(reader)
    }

    /// Lends the writer to `body`; call it holding the place at `writes`.
    func withWriter<T>(_ body: (ClientConnection) throws -> T) throws -> T {
        defer { writer.resetAfterCall() }
        return try body(writer)
    }

    /// Lends the writer or a reader to `body`, holding the matching place.
    func withConnection<T>(writer: Bool, _ body: (ClientConnection) throws -> T) throws -> T {
        writer ? try withWriter(body) : try withReader(body)
    }

    /// The state of the writer and of every idle reader.
    func stateReports() throws -> [[String: String]] {
        let readers = idleReaders.withLock { $0 }
        return try ([writer] + readers).map { try $0.stateReport() }
    }
}
