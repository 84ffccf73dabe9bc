import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// The listening sockets systemd passed to this process (`LISTEN_FDS`, `LISTEN_FDNAMES`).
package struct SystemdSocketActivation: Sendable {
    /// One inherited socket: its descriptor and its `FileDescriptorName=`.
    package struct Socket: Sendable, Hashable {
        package var descriptor: Int32
        package var name: String

        package init(descriptor: Int32, name: String) {
            self.descriptor = descriptor
            self.name = name
        }
    }

    package let sockets: [Socket]

    /// A set of inherited sockets; `inherited()` reads the real ones.
    package init(sockets: [Socket]) {
        self.sockets = sockets
    }

    /// Reads what systemd passed; empty when the process was not socket-activated.
    package static func inherited() -> SystemdSocketActivation {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(0, &names)
        guard count > 0 else { return SystemdSocketActivation(sockets: []) }
        defer {
            if let names {
                for index in 0..<Int(count) { free(names[index]) }
                free(names)
            }
        }
        let sockets = (0..<Int(count)).map { index in
            Socket(
                descriptor: SD_LISTEN_FDS_START + Int32(index),
                name: names?[index].map { String(cString: $0) } ?? "unknown"
            )
        }
        return SystemdSocketActivation(sockets: sockets)
    }

    /// The socket named `name`, else the first one; nil when none was passed.
    package func socket(named name: String) -> Socket? {
        sockets.first { $0.name == name } ?? sockets.first
    }
}
