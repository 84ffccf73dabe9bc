/// How the server listens and what it accepts.
package struct ServerConfiguration: Sendable {
    /// Where connections come from.
    package enum Listener: Sendable, Hashable {
        /// Bind a Unix socket at this path (replacing a stale socket file) with `socketMode`.
        case path(String)
        /// Serve on a listening socket systemd passed; it is never unlinked or re-bound.
        case inherited(descriptor: Int32, name: String)
    }

    package var listener: Listener
    /// Permission bits of a socket file the daemon binds itself.
    package var socketMode: UInt16
    /// The longest request line accepted, in bytes, without its newline.
    package var maximumLineLength: Int
    /// How long a graceful shutdown waits for connections to answer what they received.
    package var drainTimeout: Duration
    /// Who may connect, and who may administer.
    package var access: PeerAccessPolicy
    /// How many connections are served at once, in all and per user.
    package var connectionLimits: ConnectionLimits

    package static let defaultMaximumLineLength = 16 * 1024 * 1024

    package init(
        listener: Listener,
        socketMode: UInt16 = 0o660,
        maximumLineLength: Int = defaultMaximumLineLength,
        drainTimeout: Duration = .seconds(10),
        access: PeerAccessPolicy = PeerAccessPolicy(),
        connectionLimits: ConnectionLimits = ConnectionLimits()
    ) {
        self.access = access
        self.connectionLimits = connectionLimits
        self.listener = listener
        self.socketMode = socketMode
        self.maximumLineLength = maximumLineLength
        self.drainTimeout = drainTimeout
    }

    /// Where the server listens, for people.
    package var listenerDescription: String {
        switch listener {
        case .path(let path): return path
        case .inherited(let descriptor, let name): return "the socket systemd passed (fd \(descriptor), name \(name))"
        }
    }
}
