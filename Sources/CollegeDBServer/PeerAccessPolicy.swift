import CollegeDBRPC
import Glibc

/// Who may use the daemon, by the credentials the kernel reports for each connection
/// (SO_PEERCRED), and who among them may call the administrative methods. Root and the
/// daemon's own user are always admitted and always administrators.
package struct PeerAccessPolicy: Sendable, Hashable {
    /// Users admitted (with `allowedGroups`); when both are empty, every peer that can open
    /// the socket is. The default is empty.
    package var allowedUsers: Set<UInt32>
    /// Groups whose members (primary or supplementary) are admitted. The default is empty.
    package var allowedGroups: Set<UInt32>
    /// Users who may call administrative methods (with `administratorGroups`); when both are
    /// empty, every admitted peer may. The default is empty.
    package var administratorUsers: Set<UInt32>
    /// Groups whose members may call administrative methods. The default is empty.
    package var administratorGroups: Set<UInt32>

    package init(
        allowedUsers: Set<UInt32> = [],
        allowedGroups: Set<UInt32> = [],
        administratorUsers: Set<UInt32> = [],
        administratorGroups: Set<UInt32> = []
    ) {
        self.allowedUsers = allowedUsers
        self.allowedGroups = allowedGroups
        self.administratorUsers = administratorUsers
        self.administratorGroups = administratorGroups
    }

    /// Whether `peer` may use the daemon at all.
    package func admits(_ peer: PeerCredentials) -> Bool {
        matches(peer, users: allowedUsers, groups: allowedGroups)
    }

    /// Whether `peer` may call the methods that change the layout or the mappings.
    package func mayAdminister(_ peer: PeerCredentials) -> Bool {
        matches(peer, users: administratorUsers, groups: administratorGroups)
    }

    private func matches(_ peer: PeerCredentials, users: Set<UInt32>, groups: Set<UInt32>) -> Bool {
        if users.isEmpty, groups.isEmpty { return true }
        if peer.uid == 0 || peer.uid == getuid() || users.contains(peer.uid) { return true }
        guard !groups.isEmpty else { return false }
        return !groups.isDisjoint(with: Self.groups(of: peer))
    }

    /// The peer's group and every supplementary group of its user.
    static func groups(of peer: PeerCredentials) -> Set<UInt32> {
        var result: Set<UInt32> = [peer.gid]
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var storage = [CChar](repeating: 0, count: 16384)
        guard getpwuid_r(peer.uid, &entry, &storage, storage.count, &found) == 0, found != nil,
            let name = entry.pw_name
        else { return result }
        var count: Int32 = 64
        var list = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, entry.pw_gid, &list, &count) < 0 {
            list = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(name, entry.pw_gid, &list, &count)
        }
        result.formUnion(list.prefix(Int(max(count, 0))))
        return result
    }

    /// The id of a group given by name or number.
    /// - Throws: when no such group exists.
    package static func groupID(_ nameOrNumber: String) throws -> UInt32 {
        if let number = UInt32(nameOrNumber) { return number }
        guard let group = getgrnam(nameOrNumber) else { throw UnknownGroup(name: nameOrNumber) }
        return group.pointee.gr_gid
    }

    /// A group named in the configuration does not exist.
    package struct UnknownGroup: Error, CustomStringConvertible {
        package var name: String
        package var description: String { "no group named '\(name)'" }
    }
}
