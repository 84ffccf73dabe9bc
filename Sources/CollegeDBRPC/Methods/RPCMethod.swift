import CollegeDB
import CollegeDBJSON

/// A method of the wire contract: its name and parameters (which both dispatch and
/// `rpc.discover` read) and the function that serves it.
package struct RPCMethod: Sendable {
    package typealias Handler = @Sendable (MethodArguments, CollegeDB) async throws -> JSONValue
    /// Serves the call synchronously when it can be done without waiting on anything but
    /// SQLite, or returns nil having done nothing; the async handler then serves it.
    package typealias BlockingHandler = @Sendable (MethodArguments, CollegeDB) throws -> JSONValue?

    /// Whether a call can only be served by the async handler (its key's shard has no
    /// synchronous path), so that it goes there at once. Reads memory only.
    package typealias AsynchronousOnlyCheck = @Sendable (MethodArguments, CollegeDB) -> Bool

    /// Queues the call without waiting and answers through the callback later, or returns
    /// false having done nothing. Runs on an event loop.
    package typealias QueuingHandler =
        @Sendable (MethodArguments, CollegeDB, @escaping @Sendable (Result<JSONValue, any Error>) -> Void) throws
        -> Bool

    package var name: String
    package var summary: String
    package var parameters: [MethodParameter]
    /// What the result is, for people.
    package var resultSummary: String
    /// Whether the method changes the shard layout or the mappings, and so answers only
    /// administrators when the daemon names them.
    package var administrative: Bool
    let handler: Handler
    let blockingHandler: BlockingHandler?
    /// Like `blockingHandler`, but bounded enough to run on an event loop: it neither waits nor
    /// reads anything but memory and a short read of a shard.
    let eventLoopHandler: BlockingHandler?
    /// Queues a write from an event loop (a mapped key's `run`), answering when it committed.
    let eventLoopQueuingHandler: QueuingHandler?
    /// Asked on the event loop when neither event-loop handler served the call.
    let servedOnlyAsynchronously: AsynchronousOnlyCheck?

    init(
        _ name: String,
        _ summary: String,
        parameters: [MethodParameter] = [],
        result: String,
        administrative: Bool = false,
        blockingHandler: BlockingHandler? = nil,
        eventLoopHandler: BlockingHandler? = nil,
        eventLoopQueuingHandler: QueuingHandler? = nil,
        servedOnlyAsynchronously: AsynchronousOnlyCheck? = nil,
        handler: @escaping Handler
    ) {
        self.name = name
        self.summary = summary
        self.parameters = parameters
        self.resultSummary = result
        self.administrative = administrative
        self.blockingHandler = blockingHandler
        self.eventLoopHandler = eventLoopHandler
        self.eventLoopQueuingHandler = eventLoopQueuingHandler
        self.servedOnlyAsynchronously = servedOnlyAsynchronously
        self.handler = handler
    }
}
