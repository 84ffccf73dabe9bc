import CollegeDBRPC
import Glibc
import NIOCore
import Synchronization

/// Reads the credentials of the process on the other end of a Unix-socket channel
/// (`SO_PEERCRED`): the kernel's record of who connected, which the peer cannot forge.
enum PeerCredentialsReader {
    /// The peer's credentials, or nil when the channel is not a socket that has them.
    /// Call it on the channel's event loop.
    static func credentials(of channel: any Channel) -> PeerCredentials? {
        guard let provider = channel as? any SocketOptionProvider else { return nil }
        let future: EventLoopFuture<PeerCredentialsValue> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET),
            name: SocketOptionName(SO_PEERCRED)
        )
        // On the event loop the option is read at once, so the future is already complete.
        let result = Mutex<PeerCredentials?>(nil)
        future.whenSuccess { value in
            result.withLock { $0 = PeerCredentials(pid: value.pid, uid: value.uid, gid: value.gid) }
        }
        return result.withLock { $0 }
    }
}

/// `struct ucred` as the kernel fills it.
struct PeerCredentialsValue: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}
