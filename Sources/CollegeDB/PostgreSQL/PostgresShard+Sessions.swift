import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// How a PostgreSQL shard holds its sessions: a client's call on a leased connection and the
/// reset after it, the lease itself (with the outage it records while the server is down), and
/// what the server's and postgres-nio's failures mean to callers.
extension PostgresShard {
    /// Runs a client's call on a leased connection, then puts the session back as the pool
    /// gave it (``PostgresSessionReset``), whatever the call did or however it failed; a
    /// session that cannot be put back is closed, so the pool never hands it out again.
    ///
    /// A call that succeeds is answered as soon as its last statement is, one round trip before
    /// the reset is: the session stays leased, out of every other call's reach, until the reset
    /// is done, in a task of its own. A call that fails is answered after the reset or the
    /// close, with what the lease made of its error (a lost server is `SHARD_UNAVAILABLE`).
    func withClientSession<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await answeringBeforeTheReset { connection, answer in
            let value: T
            do {
                value = try await body(connection)
            } catch {
                try await connection.eventLoop.flatSubmit { self.finishSession(connection, after: error) }.get()
                throw error
            }
            self.answer(answer, with: value)
            try await connection.eventLoop.flatSubmit { self.finishSession(connection, after: nil) }.get()
        }
    }

    /// ``withClientSession(_:)`` for a call made of steps chained on the connection's event loop
    /// (`body`'s future), the reset or the close after them chained there too: between its round
    /// trips no thread is woken.
    func withChainedClientSession<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) -> EventLoopFuture<T>
    ) async throws -> T {
        try await answeringBeforeTheReset { connection, answer in
            try await connection.eventLoop.flatSubmit {
                body(connection).flatMap { value in
                    self.answer(answer, with: value)
                    return self.finishSession(connection, after: nil)
                }.flatMapError { error in
                    self.finishSession(connection, after: error).flatMapThrowing { throw error }
                }
            }.get()
        }
    }

    /// Leases a connection for `serve` in a task of its own, which answers through `answer`
    /// (``answer(_:with:)``) before it resets the session; a failure of the lease or of `serve`
    /// is the answer when none was given. The caller's cancellation reaches the task (a lease
    /// still waited for is given up).
    private func answeringBeforeTheReset<T: Sendable>(
        _ serve: @escaping @Sendable (PostgresConnection, AnswerOnce<T>) async throws -> Void
    ) async throws -> T {
        let lease = CancellableTaskSlot()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let answer = AnswerOnce(continuation)
                lease.hold(
                    Task {
                        do {
                            // The answer ended any outage; a reset that fails later must not end
                            // one recorded since.
                            try await self.withConnection(endingOutage: false) { connection in
                                try await serve(connection, answer)
                            }
                            // Every path of `serve` answers; were one not to, the caller must not wait forever.
                            answer.resume(
                                with: .failure(
                                    CollegeDBError(.internalError, "shard '\(self.name)': a call got no answer")
                                )
                            )
                        } catch {
                            answer.resume(with: .failure(error))
                        }
                    }
                )
            }
        } onCancel: {
            lease.cancel()
        }
    }

    /// Answers a call the server served. The outage ends first: the caller's next call must not
    /// meet an outage that ended (the lease would end it only after the reset).
    private func answer<T: Sendable>(_ answer: AnswerOnce<T>, with value: T) {
        state.withLock { $0.outage = nil }
        answer.resume(with: .success(value))
    }

    /// Puts `connection` back after a client's call, on its event loop: a session the server
    /// ended (`failure` says so) is closed, since a query sent on it may never be answered;
    /// any other is reset (``PostgresSessionReset``). The future never fails.
    private func finishSession(_ connection: PostgresConnection, after failure: (any Error)?) -> EventLoopFuture<Void> {
        if let failure, Self.connectionFailure(failure, leased: true) != nil {
            // Closing a connection the server already closed may fail; it is gone either way.
            return connection.close().recover { _ in }
        }
        return PostgresSessionReset.resetOnLoop(connection, logger: logger)
    }

    /// Leases a pooled connection for `body`. While the server is down, answers at once with
    /// `SHARD_UNAVAILABLE`, except for one call a ``retryInterval`` (or a `probing` one) that
    /// tries it; a lease that waits longer than the connect timeout fails the same way. When
    /// `body` succeeds, the outage is over, unless not `endingOutage` (a caller that ended it
    /// when the server answered).
    func withConnection<T: Sendable>(
        probing: Bool = false,
        endingOutage: Bool = true,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let now = ContinuousClock.now
        let fastFailure: String? = state.withLock { state in
            guard let outage = state.outage else { return nil }
            if probing || now - outage.lastTried >= Self.retryInterval {
                state.outage?.lastTried = now
                return nil
            }
            return outage.reason
        }
        if let fastFailure { throw unavailable(fastFailure) }
        state.withLock { $0.waiting += 1 }
        let leased = PostgresLeaseFlag()
        do {
            let value = try await client.withConnection(
                leasedWithin: address.connectTimeout,
                onLeased: {
                    self.state.withLock {
                        $0.waiting -= 1
                        $0.inUse += 1
                    }
                    leased.set()
                },
                { connection in
                    defer { self.state.withLock { $0.inUse -= 1 } }
                    return try await body(connection)
                }
            )
            if endingOutage { state.withLock { $0.outage = nil } }
            return value
        } catch {
            if !leased.isSet { state.withLock { $0.waiting -= 1 } }
            if let reason = Self.connectionFailure(error, leased: leased.isSet) {
                state.withLock { $0.outage = (reason, ContinuousClock.now) }
                logger.warning(
                    "a PostgreSQL shard cannot be reached",
                    metadata: ["shard": "\(name)", "reason": "\(reason)"]
                )
                throw unavailable(reason)
            }
            throw error
        }
    }

    func unavailable(_ reason: String) -> CollegeDBError {
        CollegeDBError(.shardUnavailable, "shard '\(name)' cannot reach \(address): \(reason)")
    }

    /// Why `error` means the server cannot be reached, or nil when it is a statement's own
    /// failure.
    static func connectionFailure(_ error: any Error, leased: Bool) -> String? {
        if error is PostgresLeaseTimeout { return "no connection could be made within the connect timeout" }
        if let error = error as? PostgresConnectionClosed { return error.description }
        guard let error = error as? PSQLError else { return nil }
        switch error.code {
        case .connectionError, .serverClosedConnection, .uncleanShutdown, .sslUnsupported, .failedToAddSSLHandler,
            .poolClosed, .clientClosedConnection:
            return error.underlying.map { "\($0)" } ?? "\(error.code)"
        case .server:
            guard let sqlState = error.sqlState else { return nil }
            // Connection exceptions, the server shutting down or starting, login refused, no
            // such database, no connection slot left.
            if sqlState.hasPrefix("08") || sqlState.hasPrefix("28") || sqlState.hasPrefix("57P")
                || sqlState == "3D000" || sqlState == "53300"
            {
                return error.serverInfo?[.message] ?? sqlState
            }
            return nil
        case .unsupportedAuthMechanism, .authMechanismRequiresPassword, .saslError:
            return "login failed (\(error.code)); check the shard's user and password"
        default:
            return nil
        }
    }

    /// Translates what the server and postgres-nio threw into the engine's errors.
    func translatingFailures<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as CollegeDBError {
            throw error
        } catch  where running.hasStopped {
            throw CollegeDBError(.shardUnavailable, "shard '\(name)' is closed")
        } catch let error as PostgresValues.UnsupportedColumn {
            throw CollegeDBError(
                .queryFailed,
                "shard '\(name)': column '\(error.column)' is of PostgreSQL type \(error.type), which collegedbd "
                    + "does not return; cast it in the query (\(error.column)::text)"
            )
        } catch let error as PSQLError {
            guard let sqlState = error.sqlState else {
                throw CollegeDBError(.queryFailed, "shard '\(name)': \(error.code)")
            }
            let message = error.serverInfo?[.message] ?? sqlState
            let failure = CollegeDBError.PostgresFailure(
                sqlstate: sqlState,
                message: message,
                detail: error.serverInfo?[.detail]
            )
            switch sqlState {
            case "57014":
                throw CollegeDBError(
                    .statementTimeout,
                    "shard '\(name)': the statement ran past its time limit and was cancelled; nothing it wrote remains",
                    postgres: failure
                )
            case "53100":
                throw CollegeDBError(.storageFull, "shard '\(name)': \(message)", postgres: failure)
            default:
                throw CollegeDBError(.queryFailed, "shard '\(name)': \(message)", postgres: failure)
            }
        }
    }
}
