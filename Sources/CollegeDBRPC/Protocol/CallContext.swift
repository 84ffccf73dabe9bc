import CollegeDB

/// Who makes a call, and what the call may do, as the server knows it.
public struct CallContext: Sendable {
    /// The peer's credentials (SO_PEERCRED), for logs. The default is nil (in-process callers).
    public var peer: PeerCredentials?
    /// Whether the peer may call the methods that change the shard layout or the mappings.
    /// The default is true.
    public var mayAdminister: Bool
    /// Raised when the caller goes away: its running statement is interrupted. The default is
    /// nil.
    public var cancellation: CancellationFlag?

    public init(peer: PeerCredentials? = nil, mayAdminister: Bool = true, cancellation: CancellationFlag? = nil) {
        self.peer = peer
        self.mayAdminister = mayAdminister
        self.cancellation = cancellation
    }
}

/// The process on the other end of a Unix socket, as the kernel reports it (SO_PEERCRED).
public struct PeerCredentials: Sendable, Hashable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    public var description: String { "uid \(uid), gid \(gid), pid \(pid)" }
}
