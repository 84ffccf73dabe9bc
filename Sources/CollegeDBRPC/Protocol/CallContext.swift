import CollegeDB

/// Who makes a call, and what the call may do, as the server knows it.
package struct CallContext: Sendable {
    /// The peer's credentials (SO_PEERCRED), for logs. The default is nil (in-process callers).
    package var peer: PeerCredentials?
    /// Whether the peer may call the methods that change the shard layout or the mappings.
    /// The default is true.
    package var mayAdminister: Bool
    /// Raised when the caller goes away: its running statement is interrupted. The default is
    /// nil.
    package var cancellation: CancellationFlag?

    package init(peer: PeerCredentials? = nil, mayAdminister: Bool = true, cancellation: CancellationFlag? = nil) {
        self.peer = peer
        self.mayAdminister = mayAdminister
        self.cancellation = cancellation
    }
}

/// The process on the other end of a Unix socket, as the kernel reports it (SO_PEERCRED).
package struct PeerCredentials: Sendable, Hashable, CustomStringConvertible {
    package var pid: Int32
    package var uid: UInt32
    package var gid: UInt32

    package init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    package var description: String { "uid \(uid), gid \(gid), pid \(pid)" }
}
