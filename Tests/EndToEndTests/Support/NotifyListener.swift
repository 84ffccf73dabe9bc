import Foundation
import UnixSocketAddress

#if canImport(Glibc)
import Glibc
#endif

/// A test-owned `NOTIFY_SOCKET`: a Unix datagram socket that collects what the daemon tells
/// systemd through sd_notify.
final class NotifyListener {
    let path: String
    private let descriptor: Int32
    private(set) var messages: [String] = []

    init(directory: URL) throws {
        path = directory.appendingPathComponent("notify.sock").path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard UnixSocketAddress.with(path: path, { bind(descriptor, $0, $1) }) == 0 else {
            throw LineSocket.Failure(description: "cannot bind \(path): errno \(errno)")
        }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    /// Collects messages until one satisfies `condition` (and returns it) or `seconds` pass.
    @discardableResult
    func waitFor(seconds: Double = 20, _ condition: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let message = receive(), condition(message) { return message }
        }
        throw LineSocket.Failure(description: "no matching notification within \(seconds) s; got \(messages)")
    }

    /// Collects every message that arrives within `seconds`.
    func collect(seconds: Double) -> [String] {
        let deadline = Date().addingTimeInterval(seconds)
        var collected: [String] = []
        while Date() < deadline {
            if let message = receive() { collected.append(message) }
        }
        return collected
    }

    private func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let message = String(decoding: buffer[..<count], as: UTF8.self)
        messages.append(message)
        return message
    }
}
