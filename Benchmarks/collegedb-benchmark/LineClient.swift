import Foundation
import UnixSocketAddress

#if canImport(Glibc)
import Glibc
#endif

/// A blocking Unix-socket client: send one line, read one line. Each instance is used by exactly
/// one benchmark thread, which is why it may cross into the worker closure.
final class LineClient: @unchecked Sendable {
    private let descriptor: Int32
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var pending: [UInt8] = []

    /// Stores the descriptor only once connected, so a failed connect closes it exactly once.
    init(path: String) throws {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard UnixSocketAddress.connect(descriptor, to: path) == 0 else {
            let code = errno
            close(descriptor)
            throw BenchmarkFailure("cannot connect to \(path): errno \(code)")
        }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Sends `request` (which ends in a newline) and returns the response line.
    @discardableResult
    func roundTrip(_ request: [UInt8]) throws -> ArraySlice<UInt8> {
        var offset = 0
        while offset < request.count {
            let written = request[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard written > 0 else { throw BenchmarkFailure("write failed: errno \(errno)") }
            offset += written
        }
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[..<newline]
                pending.removeSubrange(...newline)
                return line
            }
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { throw BenchmarkFailure("read failed: errno \(errno)") }
            pending.append(contentsOf: buffer[..<count])
        }
    }
}

struct BenchmarkFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
