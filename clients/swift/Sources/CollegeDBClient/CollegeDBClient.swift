import CollegeDBJSON
import Foundation

/// A client of collegedbd: every method of the wire contract as an async method, over a small
/// pool of Unix-socket connections. Safe to share across tasks.
public final class CollegeDBClient: Sendable {
    public let socketPath: String
    /// How long a call may take, connecting and waiting for the daemon included.
    public let timeout: Duration
    private let pool: ConnectionPool

    /// `COLLEGEDB_SOCKET`, else `/run/collegedb/collegedb.sock`.
    public static var defaultSocketPath: String {
        ProcessInfo.processInfo.environment["COLLEGEDB_SOCKET"] ?? "/run/collegedb/collegedb.sock"
    }

    /// - Parameters:
    ///   - socketPath: The daemon's socket. The default is ``defaultSocketPath``.
    ///   - maximumConnections: Connections the client keeps open at most, at least 1. The
    ///     default is 8.
    ///   - timeout: How long a call may take, connecting included. The default is 30 seconds.
    public init(socketPath: String = defaultSocketPath, maximumConnections: Int = 8, timeout: Duration = .seconds(30)) {
        precondition(maximumConnections >= 1, "a client needs at least one connection")
        self.socketPath = socketPath
        self.timeout = timeout
        pool = ConnectionPool(path: socketPath, maximumConnections: maximumConnections)
    }

    /// Calls any method with `params` (an array or an object) and returns its result. A
    /// request that could not be sent is retried once on a fresh connection; one that was sent
    /// is never repeated.
    ///
    /// - Parameters:
    ///   - method: The method's name, such as `"health"`.
    ///   - params: An array (by position) or an object (by name). The default is none.
    ///   - timeout: This call's limit. The default is the client's ``timeout``.
    /// - Returns: The `result` member of the daemon's answer.
    /// - Throws: ``CollegeDBClientError``: the daemon's error with its code, or
    ///   `CONNECTION_FAILED`, `CONNECTION_LOST`, `TIMEOUT`, `INVALID_RESPONSE`.
    public func call(_ method: String, _ params: JSONValue? = nil, timeout: Duration? = nil) async throws -> JSONValue {
        let deadline = ContinuousClock.now + (timeout ?? self.timeout)
        var request: [(String, JSONValue)] = [
            ("jsonrpc", .string("2.0")), ("id", .integer(1)), ("method", .string(method)),
        ]
        if let params { request.append(("params", params)) }
        let line = JSONSerializer.serialize(.object(request)) + [UInt8(ascii: "\n")]
        var attempt = 0
        while true {
            attempt += 1
            let connection = try await pool.acquire(deadline: deadline)
            let response: [UInt8]
            do {
                response = try await connection.roundTrip(line, deadline: deadline)
            } catch is Connection.NotSent where attempt == 1 {
                await pool.release(connection, reusable: false)
                continue
            } catch is Connection.NotSent {
                await pool.release(connection, reusable: false)
                throw CollegeDBClientError(.connectionLost, "the request could not be sent")
            } catch {
                await pool.release(connection, reusable: false)
                throw error
            }
            await pool.release(connection, reusable: true)
            return try Self.result(of: response)
        }
    }

    private static func result(of line: [UInt8]) throws -> JSONValue {
        guard let response = try? JSONParser.parse(line) else {
            throw CollegeDBClientError(.invalidResponse, "the daemon's answer is not JSON")
        }
        if let error = response["error"] { throw CollegeDBClientError(errorObject: error) }
        guard let result = response["result"] else {
            throw CollegeDBClientError(.invalidResponse, "the daemon's answer has neither result nor error")
        }
        return result
    }
}
