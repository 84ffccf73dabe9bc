#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The `sockaddr_un` of a Unix socket path, for `connect` and `bind`.
public enum UnixSocketAddress {
    /// Calls `body` with the address of `path` and its length; returns nil, without calling
    /// it, when the path does not fit in `sun_path`.
    public static func with<Result>(
        path: String,
        _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> Result
    ) rethrows -> Result? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        guard path.utf8.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        return try withUnsafePointer(to: &address) {
            try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }

    /// Connects `descriptor` to the socket at `path`; the `connect` result, or -1 with
    /// `ENAMETOOLONG` when the path does not fit.
    public static func connect(_ descriptor: Int32, to path: String) -> Int32 {
        guard let result = with(path: path, { address, length in connectSocket(descriptor, address, length) }) else {
            errno = ENAMETOOLONG
            return -1
        }
        return result
    }
}

#if canImport(Glibc)
private let connectSocket = Glibc.connect
#elseif canImport(Musl)
private let connectSocket = Musl.connect
#elseif canImport(Darwin)
private let connectSocket = Darwin.connect
#endif
