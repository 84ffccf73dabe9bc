/// A few connections shared by concurrent calls, so they do not queue behind each other. An
/// idle connection the daemon closed (it restarted, say) is replaced, and connecting is retried
/// until the call's deadline, so a daemon restarting under systemd does not break the client.
actor ConnectionPool {
    let path: String
    let maximumConnections: Int
    private var idle: [Connection] = []
    private var openCount = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(path: String, maximumConnections: Int) {
        self.path = path
        self.maximumConnections = maximumConnections
    }

    /// A connection for one call; give it back with `release`.
    func acquire(deadline: ContinuousClock.Instant) async throws -> Connection {
        while true {
            while let connection = idle.popLast() {
                if !connection.isStale { return connection }
                openCount -= 1
            }
            if openCount < maximumConnections {
                openCount += 1
                do {
                    return try await connect(deadline: deadline)
                } catch {
                    openCount -= 1
                    wakeOne()
                    throw error
                }
            }
            await withCheckedContinuation { waiters.append($0) }
        }
    }

    /// Takes a connection back: kept for the next call when `reusable`, else closed.
    func release(_ connection: Connection, reusable: Bool) {
        if reusable {
            idle.append(connection)
        } else {
            openCount -= 1
        }
        wakeOne()
    }

    private func wakeOne() {
        if !waiters.isEmpty { waiters.removeFirst().resume() }
    }

    private func connect(deadline: ContinuousClock.Instant) async throws -> Connection {
        var pause = Duration.milliseconds(10)
        while true {
            do {
                return try Connection(path: path)
            } catch {
                guard ContinuousClock.now + pause < deadline else { throw error }
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .milliseconds(500))
            }
        }
    }
}
