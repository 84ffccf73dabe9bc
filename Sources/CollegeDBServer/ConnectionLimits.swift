/// How many client connections the daemon serves at once, in all and per user, so that no
/// client can take every file descriptor or all the memory by opening connections without end.
/// A connection past a limit gets one `OVERLOADED` error line and is closed.
package struct ConnectionLimits: Sendable, Hashable {
    /// Connections served at once, from everyone. Administrators may take
    /// `reservedForAdministrators` more, so an operator can still connect to a daemon whose
    /// every connection is taken. The default is 1024.
    package var maximum: Int
    /// Connections one user (by uid) may hold at once. Root and the daemon's own user are not
    /// held to it. The default is 256.
    package var maximumPerUser: Int

    /// Connections past `maximum` that only administrators may take.
    package static let reservedForAdministrators = 8

    /// The largest value either limit may have.
    package static let largest = 1_000_000

    /// Connections being refused (each is answered, then closed a second later) that may be
    /// open beside the admitted ones; past them a new connection is closed with no answer.
    package static let refusalsOpen = 64

    /// The most connections open at once, admitted or being refused: what they hold in file
    /// descriptors.
    package var mostOpen: Int { maximum + Self.reservedForAdministrators + Self.refusalsOpen }

    /// - Parameters:
    ///   - maximum: connections served at once, from everyone (1 to `largest`).
    ///   - maximumPerUser: connections one user may hold at once (1 to `largest`).
    package init(maximum: Int = 1024, maximumPerUser: Int = 256) {
        self.maximum = maximum
        self.maximumPerUser = maximumPerUser
    }
}
