import CollegeDBRPC
import Glibc
import Synchronization

/// Holds the daemon to its `ConnectionLimits`: counts the connections it admitted, in all and
/// per user, from the moment each is admitted until it closes.
final class ConnectionAdmission: Sendable {
    private struct Held {
        var total = 0
        var perUser: [UInt32: Int] = [:]
    }

    let limits: ConnectionLimits
    private let held = Mutex(Held())
    /// Every open connection, this one included, admitted or not (counted ahead in the pipeline).
    private let connections: ConnectionCounter

    init(limits: ConnectionLimits, connections: ConnectionCounter) {
        self.limits = limits
        self.connections = connections
    }

    /// Whether a connection that just opened may be answered at all: false when the admitted and
    /// the refused connections open already hold as many descriptors as the limits allow, and
    /// it should be closed at once.
    var mayBeAnswered: Bool { connections.open <= limits.mostOpen }

    /// Admits a connection from `peer`, counting it, or says why not.
    /// - Parameters:
    ///   - peer: who connected.
    ///   - administrator: whether the peer may administer, and so use the reserved connections.
    /// - Returns: nil when admitted (call `release(_:)` when it closes), else the reason.
    func admit(_ peer: PeerCredentials, administrator: Bool) -> String? {
        let limits = self.limits
        let countsPerUser = Self.isHeldToTheLimitPerUser(peer)
        return held.withLock { held -> String? in
            let ceiling = limits.maximum + (administrator ? ConnectionLimits.reservedForAdministrators : 0)
            guard held.total < ceiling else {
                return "the daemon serves at most \(limits.maximum) connections at once "
                    + "(--max-connections); close one and try again"
            }
            if countsPerUser {
                guard held.perUser[peer.uid, default: 0] < limits.maximumPerUser else {
                    return "uid \(peer.uid) holds \(limits.maximumPerUser) connections, the most one user may "
                        + "(--max-connections-per-user); close one and try again"
                }
                held.perUser[peer.uid, default: 0] += 1
            }
            held.total += 1
            return nil
        }
    }

    /// Stops counting an admitted connection from `peer`.
    func release(_ peer: PeerCredentials) {
        let countsPerUser = Self.isHeldToTheLimitPerUser(peer)
        held.withLock { held in
            held.total -= 1
            guard countsPerUser, let count = held.perUser[peer.uid] else { return }
            held.perUser[peer.uid] = count > 1 ? count - 1 : nil
        }
    }

    /// Root and the daemon's own user are not held to the limit per user.
    private static func isHeldToTheLimitPerUser(_ peer: PeerCredentials) -> Bool {
        peer.uid != 0 && peer.uid != getuid()
    }
}
