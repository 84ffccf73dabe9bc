import Foundation
import UnixSocketAddress

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One Unix-socket connection to the daemon, used by one call at a time (the pool sees to it).
/// Its blocking reads and writes run on its own serial queue, never on the caller's executor;
/// its state is touched only there, which is why it may cross tasks.
final class Connection: @unchecked Sendable {
    /// The request could not be sent at all, so retrying it elsewhere is safe.
    struct NotSent: Error {}

    private let descriptor: Int32
    private let queue = DispatchQueue(label: "collegedb.client.connection")
    private var pending: [UInt8] = []

    /// Connects to `path`; throws `CONNECTION_FAILED` when nothing listens there. The descriptor
    /// is stored only once connected: a throwing initializer of a fully initialized class still
    /// runs `deinit`, which would close it a second time (perhaps someone else's by then).
    init(path: String) throws {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw CollegeDBClientError(.connectionFailed, "socket(): errno \(errno)") }
        let result = UnixSocketAddress.connect(descriptor, to: path)
        guard result == 0 else {
            let code = errno
            close(descriptor)
            throw CollegeDBClientError(
                .connectionFailed,
                "cannot connect to \(path): \(String(cString: strerror(code)))"
            )
        }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Whether the daemon closed the connection while it was idle (or sent something unasked).
    var isStale: Bool {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&poller, 1, 0) != 0
    }

    /// Sends one request line and returns the response line, without its newline.
    func roundTrip(_ request: [UInt8], deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try self.exchange(request, deadline: deadline) })
            }
        }
    }

    private func exchange(_ request: [UInt8], deadline: ContinuousClock.Instant) throws -> [UInt8] {
        var offset = 0
        while offset < request.count {
            let sent = request[offset...].withUnsafeBytes {
                send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else {
                if offset == 0 { throw NotSent() }
                throw CollegeDBClientError(.connectionLost, "the connection closed while sending")
            }
            offset += sent
        }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(pending[..<newline])
                pending.removeSubrange(...newline)
                return line
            }
            let remaining = deadline - ContinuousClock.now
            let milliseconds =
                remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000
            guard milliseconds > 0 else { throw CollegeDBClientError(.timeout, "no answer within the timeout") }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(clamping: milliseconds)) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { throw CollegeDBClientError(.connectionLost, "the daemon closed the connection") }
            pending.append(contentsOf: buffer[..<count])
        }
    }
}
