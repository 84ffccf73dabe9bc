import Foundation

/// `count` connections to a daemon, each driven by a thread of its own: how the tests put
/// concurrent clients in front of the real daemon.
struct ClientThreads {
    private let finished = DispatchGroup()

    /// Connects `count` sockets, then starts `body(index, socket)` on a thread for each.
    init(_ daemon: Daemon, count: Int, _ body: @escaping @Sendable (Int, LineSocket) -> Void) throws {
        let sockets = try (0..<count).map { _ in try daemon.connect() }
        for (index, socket) in sockets.enumerated() {
            finished.enter()
            let finished = self.finished
            Thread {
                defer { finished.leave() }
                body(index, socket)
            }.start()
        }
    }

    /// Waits until every thread has returned.
    func wait() { finished.wait() }
}
