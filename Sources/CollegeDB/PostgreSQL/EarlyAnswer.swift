import Synchronization

/// The answer of work that goes on after it has answered: delivered once, by the work, and
/// awaited once, by its caller, in either order. Later deliveries are ignored.
final class EarlyAnswer<Value: Sendable>: Sendable {
    private enum State {
        case waiting(CheckedContinuation<Value, any Error>?)
        case delivered(Result<Value, any Error>)
        case taken
    }

    private let state = Mutex(State.waiting(nil))

    /// Answers the caller, if it has not been answered yet.
    func deliver(_ result: Result<Value, any Error>) {
        let waiting: CheckedContinuation<Value, any Error>? = state.withLock { state in
            switch state {
            case .waiting(let continuation?):
                state = .taken
                return continuation
            case .waiting(nil):
                state = .delivered(result)
                return nil
            case .delivered, .taken:
                return nil
            }
        }
        waiting?.resume(with: result)
    }

    /// The answer, once delivered. Called once.
    var value: Value {
        get async throws {
            try await withCheckedThrowingContinuation { continuation in
                let delivered: Result<Value, any Error>? = state.withLock { state in
                    switch state {
                    case .delivered(let result):
                        state = .taken
                        return result
                    case .waiting:
                        state = .waiting(continuation)
                        return nil
                    case .taken:
                        return .failure(CollegeDBError(.internalError, "an answer was awaited twice"))
                    }
                }
                if let delivered { continuation.resume(with: delivered) }
            }
        }
    }
}
