import Synchronization

/// Keeps requests and moves of one record apart, without holding up other records: requests
/// share a record, a move takes it alone. A request that read a record's shard before a move
/// of that record flipped it sees so (the record changed after the epoch it read at) and reads
/// the mapping again; moves of other records do not disturb it.
package final class RecordLocks: Sendable {
    /// What `enter` found.
    package enum Entry: Sendable {
        /// The request holds the record until `leave`.
        case entered
        /// A move finished since the mapping was read: read it again.
        case stale
        /// A move is under way: wait with `waitWhileMoving`, then read the mapping again.
        case moving
    }

    private struct RecordState {
        var active = 0
        var moving = false
        var drained: CheckedContinuation<Void, Never>?
        /// Tasks waiting for the move to end, each by a number of its own.
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
    }

    private struct State {
        /// Mapping changes so far.
        var epoch: UInt64 = 0
        var records: [Int64: RecordState] = [:]
        /// The epoch of each record's latest change, for records changed at or after `floor`.
        var changedAt: [Int64: UInt64] = [:]
        /// Every record may have changed up to this epoch.
        var floor: UInt64 = 0
        var lastWaiter: UInt64 = 0

        /// Whether `record`'s mapping, read at `epoch`, has not changed since.
        func isCurrent(_ record: Int64, readAt epoch: UInt64) -> Bool {
            epoch >= floor && (changedAt[record] ?? 0) <= epoch
        }

        /// Notes a change of `record`'s mapping (nil: of any record's).
        mutating func changed(_ record: Int64?) {
            epoch += 1
            guard let record, changedAt.count < RecordLocks.changesRemembered else {
                changedAt.removeAll()
                floor = epoch
                return
            }
            changedAt[record] = epoch
        }
    }

    /// How many changed records are remembered one by one; beyond, every mapping read before
    /// counts as changed (a cache flush, once per that many moves).
    static let changesRemembered = 100_000

    private let state = Mutex(State())
    /// Holds every move while a backup copies.
    package let movePause = MovePause()

    package init() {}

    /// The number of mapping changes so far; read it before reading a mapping.
    package var epoch: UInt64 { state.withLock { $0.epoch } }

    /// Whether `record`'s mapping, read at `epoch`, is still what the store says.
    package func isCurrent(_ record: Int64, readAt epoch: UInt64) -> Bool {
        state.withLock { $0.isCurrent(record, readAt: epoch) }
    }

    /// Lets a request use `record`, whose mapping was read at `epoch`.
    package func enter(_ record: Int64, readAt epoch: UInt64) -> Entry {
        state.withLock { state in
            guard state.isCurrent(record, readAt: epoch) else { return .stale }
            if state.records[record]?.moving == true { return .moving }
            state.records[record, default: RecordState()].active += 1
            return .entered
        }
    }

    /// Ends a request's use of `record`.
    package func leave(_ record: Int64) {
        let drained = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard var entry = state.records[record] else { return nil }
            entry.active -= 1
            var resume: CheckedContinuation<Void, Never>?
            if entry.active == 0, entry.moving {
                resume = entry.drained
                entry.drained = nil
            }
            state.records[record] = entry.active == 0 && !entry.moving ? nil : entry
            return resume
        }
        drained?.resume()
    }

    /// Waits until no move of `record` is under way.
    /// - Throws: `CancellationError` when the task is cancelled first (its client went away).
    package func waitWhileMoving(_ record: Int64) async throws {
        let waiter = state.withLock { state in
            state.lastWaiter &+= 1
            return state.lastWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { state -> Bool in
                    guard !Task.isCancelled, var entry = state.records[record], entry.moving else { return true }
                    entry.waiters[waiter] = continuation
                    state.records[record] = entry
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let continuation = state.withLock { $0.records[record]?.waiters.removeValue(forKey: waiter) }
            continuation?.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }

    /// Runs `move` with `record` held alone: new requests wait, requests under way finish first.
    /// A move waits while a backup holds moves (``movePause``).
    /// - Throws: `CancellationError` when the task is cancelled while another move holds the
    ///   record; then nothing was held.
    package func moving<T>(_ record: Int64, _ move: () async throws -> T) async throws -> T {
        try await movePause.duringMove {
            try await claim(record)
            defer { finishMoving(record) }
            return try await move()
        }
    }

    /// Runs `move` with every one of `records` held alone, as `moving` holds one: claimed in
    /// ascending order, so two movers never wait on each other; requests for other records go on.
    package func moving<T>(all records: [Int64], _ move: () async throws -> T) async throws -> T {
        try await movePause.duringMove {
            var claimed: [Int64] = []
            defer { for record in claimed { finishMoving(record) } }
            for record in Set(records).sorted() {
                try await claim(record)
                claimed.append(record)
            }
            return try await move()
        }
    }

    /// Marks `record` moving once no other move holds it, then waits for its requests to end
    /// (each ends within its statement timeout).
    private func claim(_ record: Int64) async throws {
        while true {
            try await waitWhileMoving(record)
            let claimed = state.withLock { state -> Bool in
                guard state.records[record]?.moving != true else { return false }
                state.records[record, default: RecordState()].moving = true
                return true
            }
            if claimed { break }
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let drainedNow = state.withLock { state -> Bool in
                guard var entry = state.records[record], entry.active > 0 else { return true }
                entry.drained = continuation
                state.records[record] = entry
                return false
            }
            if drainedNow { continuation.resume() }
        }
    }

    /// Says that mappings changed outside a move (a re-point without rows, a removal of every
    /// mapping): requests that read a mapping before then read it again, and cached mappings
    /// from before are dropped.
    package func mappingsChanged() {
        state.withLock { $0.changed(nil) }
    }

    /// Says that record `record`'s mapping changed elsewhere (another daemon of a shared
    /// catalog re-pointed or removed it): requests and cached routes that read it before then
    /// read it again.
    package func mappingChanged(_ record: Int64) {
        state.withLock { $0.changed(record) }
    }

    /// Holds a record that is being created, before its mapping can be read by anyone, so that
    /// its first write runs alone; end with `releaseNew`.
    package func holdNew(_ record: Int64) {
        state.withLock { $0.records[record, default: RecordState()].moving = true }
    }

    /// Ends `holdNew`. When the record was `removed` again (its first write failed), requests
    /// that read its mapping before then read it again.
    package func releaseNew(_ record: Int64, removed: Bool) {
        finishMoving(record, changesMappings: removed)
    }

    private func finishMoving(_ record: Int64, changesMappings: Bool = true) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            if changesMappings { state.changed(record) }
            let waiters = state.records[record]?.waiters.values.map { $0 } ?? []
            state.records[record] = nil
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
