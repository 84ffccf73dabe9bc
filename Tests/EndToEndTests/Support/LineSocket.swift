import Foundation
import UnixSocketAddress

#if canImport(Glibc)
import Glibc
#endif

/// A blocking Unix-socket client that speaks one JSON line at a time: what a test needs to talk
/// to the real daemon byte for byte. Each instance is used by one thread at a time.
final class LineSocket: @unchecked Sendable {
    let descriptor: Int32
    private var pending: [UInt8] = []

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Stores the descriptor only once connected: a throwing initializer of a fully initialized
    /// class still runs `deinit`, which would close the descriptor a second time, by then perhaps
    /// another test's connection.
    init(path: String, timeoutSeconds: Int = 30) throws {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "socket() failed: \(errno)") }
        guard UnixSocketAddress.connect(descriptor, to: path) == 0 else {
            let code = errno
            close(descriptor)
            throw Failure(description: "connect(\(path)) failed: errno \(code)")
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Ends the connection both ways, as a client that goes away does; the descriptor itself
    /// stays open until `deinit`, which closes it once: closing it here too would close
    /// whatever the process opened under the same number in between (another test's pipe).
    func disconnect() { shutdown(descriptor, Int32(SHUT_RDWR)) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard written > 0 else { throw Failure(description: "write failed: errno \(errno)") }
            offset += written
        }
    }

    /// The next line, without its newline; nil when the daemon closed the connection.
    func readLine() throws -> String? {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { return nil }
            guard count > 0 else { throw Failure(description: "read failed or timed out: errno \(errno)") }
            pending.append(contentsOf: chunk[..<count])
        }
    }

    /// The next line parsed as a JSON object; fails if the daemon closed the connection.
    func nextObject() throws -> [String: Any] {
        guard let line = try readLine() else { throw Failure(description: "the daemon closed the connection") }
        return try Self.object(line)
    }

    /// Sends one request line and returns the parsed response object.
    func call(_ method: String, _ params: Any? = nil, id: Int = 1) throws -> [String: Any] {
        var request: [String: Any] = ["jsonrpc": "2.0", "id": id, "method": method]
        if let params { request["params"] = params }
        try send(String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self) + "\n")
        return try nextObject()
    }

    /// The result of a call, or a failure carrying its error.
    func result(_ method: String, _ params: Any? = nil) throws -> Any {
        let response = try call(method, params)
        if let error = response["error"] { throw Failure(description: "\(method) failed: \(error)") }
        return response["result"]!
    }

    /// The result of a call, calling again after a pause while the daemon answers
    /// `OVERLOADED` (-32011), as its clients are told to; other errors are thrown at once.
    func resultAfterOverload(_ method: String, _ params: Any? = nil) throws -> Any {
        while true {
            let response = try call(method, params)
            guard let error = response["error"] else { return response["result"]! }
            guard (error as? [String: Any])?["code"] as? Int == -32011 else {
                throw Failure(description: "\(method) failed: \(error)")
            }
            usleep(20_000)
        }
    }

    static func object(_ line: String) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw Failure(description: "not a JSON object: \(line)")
        }
        return object
    }
}
