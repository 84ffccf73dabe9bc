import CollegeDB
import CollegeDBJSON
import Logging

/// Turns one line of the wire protocol into its response line: decodes the JSON, validates the
/// request or batch, calls the method, maps errors. Batch members run in order.
package struct JSONRPCDispatcher: Sendable {
    package let database: CollegeDB
    package let methods: MethodTable
    let logger: Logger
    let metrics: RequestMetrics

    /// What `respondBlocking` did with a line.
    package enum BlockingOutcome: Sendable {
        /// The line was answered (nil: nothing is to be sent).
        case answered([UInt8]?)
        /// The line needs the asynchronous path; nothing was done yet. Holds the parsed line.
        case needsAsync(JSONValue)
    }

    package init(database: CollegeDB, methods: MethodTable = .standard, logger: Logger = Logger(label: "collegedb.rpc"))
    {
        self.database = database
        self.methods = methods
        self.logger = logger
        metrics = RequestMetrics(methods: methods)
    }

    /// What `respondOnEventLoop` did with a line.
    package enum EventLoopOutcome: Sendable {
        /// Answered at once (nil: nothing is to be sent).
        case answered([UInt8]?)
        /// Queued (a write in its shard's next group commit): the answer comes through `later`.
        case queued
        /// Nothing was done: serve the line off the loop, with `respondBlocking(to:context:)`
        /// given the line as parsed here.
        case notHere(JSONValue)
        /// Nothing was done, and only `respond(to:context:)` can serve the line (its key's
        /// shard has no synchronous path): give it the line as parsed here.
        case needsAsync(JSONValue)
    }

    /// Serves a line on the calling event loop when its method can do so in bounded time: a
    /// short read of a key whose mapping is in memory is answered at once; a write to such a
    /// key is queued for its shard's group commit and answered through `later`, on the
    /// committing thread. A keyed call that only the async path can serve (its key's shard has
    /// no synchronous path) is `needsAsync`; anything else is `notHere`. Both have done nothing.
    package func respondOnEventLoop(
        toLine line: [UInt8],
        context: CallContext = CallContext(),
        later: @escaping @Sendable ([UInt8]?) -> Void
    ) -> EventLoopOutcome {
        let value: JSONValue
        do {
            value = try JSONParser.parse(line)
        } catch {
            return .answered(JSONSerializer.serialize(Self.errorResponse(.parseError(error.description), id: .null)))
        }
        guard case .object = value, case .success(let request) = JSONRPCRequest.decode(value),
            let method = methods[request.method],
            method.eventLoopHandler != nil || method.eventLoopQueuingHandler != nil,
            !method.administrative || context.mayAdminister
        else { return .notHere(value) }
        let started = ContinuousClock.now
        let outcome: Result<JSONValue, JSONRPCError>
        do {
            let arguments = try MethodArguments(request.params, parameters: method.parameters, context: context)
            if let handler = method.eventLoopHandler {
                guard let result = try handler(arguments, database) else {
                    return elsewhere(value, method, arguments)
                }
                outcome = .success(result)
            } else {
                let queued = try method.eventLoopQueuingHandler!(arguments, database) { result in
                    let outcome = result.mapError { rpcError($0, method: request.method) }
                    log(request.method, context, since: started, outcome)
                    later(response(to: request, outcome).map(JSONSerializer.serialize))
                }
                return queued ? .queued : elsewhere(value, method, arguments)
            }
        } catch {
            outcome = .failure(rpcError(error, method: request.method))
        }
        log(request.method, context, since: started, outcome)
        return .answered(response(to: request, outcome).map(JSONSerializer.serialize))
    }

    /// Where a line the event loop did not serve goes: straight to the async path when its
    /// method says only that can serve it, else to a request thread.
    private func elsewhere(_ value: JSONValue, _ method: RPCMethod, _ arguments: MethodArguments) -> EventLoopOutcome {
        method.servedOnlyAsynchronously?(arguments, database) == true ? .needsAsync(value) : .notHere(value)
    }

    /// Answers a line synchronously when its method can serve it without waiting on anything but
    /// SQLite (a mapped key's `run`, `all`, `first`, and every error found while decoding).
    /// Blocks on SQLite: call it off event loops and off the cooperative pool.
    package func respondBlocking(toLine line: [UInt8], context: CallContext = CallContext()) -> BlockingOutcome {
        let value: JSONValue
        do {
            value = try JSONParser.parse(line)
        } catch {
            return .answered(JSONSerializer.serialize(Self.errorResponse(.parseError(error.description), id: .null)))
        }
        return respondBlocking(to: value, context: context)
    }

    /// `respondBlocking(toLine:context:)` for a line already parsed.
    package func respondBlocking(to value: JSONValue, context: CallContext = CallContext()) -> BlockingOutcome {
        guard case .object = value, case .success(let request) = JSONRPCRequest.decode(value),
            let method = methods[request.method], let blockingHandler = method.blockingHandler
        else { return .needsAsync(value) }
        let started = ContinuousClock.now
        let outcome: Result<JSONValue, JSONRPCError>
        do {
            try checkPermission(method, context)
            let arguments = try MethodArguments(request.params, parameters: method.parameters, context: context)
            guard let result = try blockingHandler(arguments, database) else { return .needsAsync(value) }
            outcome = .success(result)
        } catch {
            outcome = .failure(rpcError(error, method: request.method))
        }
        log(request.method, context, since: started, outcome)
        return .answered(response(to: request, outcome).map(JSONSerializer.serialize))
    }

    /// The response to one line (without the newline), or nil when nothing is to be sent
    /// (notifications, or a batch of only notifications).
    package func respond(toLine line: [UInt8], context: CallContext = CallContext()) async -> [UInt8]? {
        let value: JSONValue
        do {
            value = try JSONParser.parse(line)
        } catch {
            return JSONSerializer.serialize(Self.errorResponse(.parseError(error.description), id: .null))
        }
        return await respond(to: value, context: context).map(JSONSerializer.serialize)
    }

    /// The response to a decoded request or batch, or nil when nothing is to be sent.
    package func respond(to value: JSONValue, context: CallContext = CallContext()) async -> JSONValue? {
        guard case .array(let batch) = value else { return await respond(toSingle: value, context: context) }
        guard !batch.isEmpty else { return Self.errorResponse(.invalidRequest("an empty batch"), id: .null) }
        var responses: [JSONValue] = []
        for element in batch {
            if let response = await respond(toSingle: element, context: context) { responses.append(response) }
        }
        return responses.isEmpty ? nil : .array(responses)
    }

    private func respond(toSingle value: JSONValue, context: CallContext) async -> JSONValue? {
        switch JSONRPCRequest.decode(value) {
        case .success(let request): return response(to: request, await call(request, context: context))
        case .failure(let invalid): return Self.errorResponse(invalid.error, id: invalid.id)
        }
    }

    private func call(_ request: JSONRPCRequest, context: CallContext) async -> Result<JSONValue, JSONRPCError> {
        let started = ContinuousClock.now
        guard let method = methods[request.method] else {
            let outcome = Result<JSONValue, JSONRPCError>.failure(.methodNotFound(request.method))
            log(request.method, context, since: started, outcome)
            return outcome
        }
        let outcome: Result<JSONValue, JSONRPCError>
        do {
            try checkPermission(method, context)
            let arguments = try MethodArguments(request.params, parameters: method.parameters, context: context)
            outcome = .success(try await method.handler(arguments, database))
        } catch {
            outcome = .failure(rpcError(error, method: request.method))
        }
        log(request.method, context, since: started, outcome)
        return outcome
    }

    /// Refuses an administrative method to a peer that may not administer.
    private func checkPermission(_ method: RPCMethod, _ context: CallContext) throws(CollegeDBError) {
        guard method.administrative, !context.mayAdminister else { return }
        throw CollegeDBError(
            .forbidden,
            "\(method.name) changes the shard layout or the mappings and is only for the daemon's administrators "
                + "(--admin-uid, --admin-group)"
        )
    }

    /// One debug line per call with the journal's structured fields: method, shard (for results
    /// that name one), duration, error code; and the call counted in the metrics.
    private func log(
        _ method: String,
        _ context: CallContext,
        since started: ContinuousClock.Instant,
        _ outcome: Result<JSONValue, JSONRPCError>
    ) {
        let errorCode: String? =
            switch outcome {
            case .success: nil
            case .failure(let error): error.dataCode ?? String(error.code)
            }
        let elapsed = ContinuousClock.now - started
        metrics.record(method: method, elapsed: elapsed, errorCode: errorCode)
        logger.debug(
            "call",
            metadata: {
                var metadata: Logger.Metadata = [
                    "method": "\(method)",
                    "duration_ms":
                        "\(elapsed.fractionalMilliseconds)",
                ]
                if let peer = context.peer {
                    metadata["peer_uid"] = "\(peer.uid)"
                    metadata["peer_pid"] = "\(peer.pid)"
                }
                switch outcome {
                case .success(let result):
                    if case .string(let shard)? = result["meta"]?["shard"] ?? result["shard"] {
                        metadata["shard"] = "\(shard)"
                    }
                case .failure:
                    metadata["error_code"] = "\(errorCode ?? "")"
                }
                return metadata
            }()
        )
    }

    private func response(to request: JSONRPCRequest, _ outcome: Result<JSONValue, JSONRPCError>) -> JSONValue? {
        guard let id = request.id else { return nil }
        switch outcome {
        case .success(let result): return .object([("jsonrpc", .string("2.0")), ("id", id), ("result", result)])
        case .failure(let error): return Self.errorResponse(error, id: id)
        }
    }

    private func rpcError(_ error: any Error, method: String) -> JSONRPCError {
        switch error {
        case let error as JSONRPCError:
            return error
        case let error as CollegeDBError:
            return JSONRPCError(error)
        default:
            logger.error("unexpected failure", metadata: ["method": "\(method)", "error": "\(error)"])
            return JSONRPCError(CollegeDBError(.internalError, "\(error)"))
        }
    }

    /// A response object carrying `error`.
    package static func errorResponse(_ error: JSONRPCError, id: JSONValue) -> JSONValue {
        .object([("jsonrpc", .string("2.0")), ("id", id), ("error", error.json)])
    }
}
