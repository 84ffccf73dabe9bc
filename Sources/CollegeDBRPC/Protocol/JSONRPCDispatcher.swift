import CollegeDB
import Logging

/// Turns one line of the wire protocol into its response line: decodes the JSON, validates the
/// request or batch, calls the method, maps errors. Batch members run in order.
public struct JSONRPCDispatcher: Sendable {
    public let database: CollegeDB
    public let methods: MethodTable
    let logger: Logger

    public init(database: CollegeDB, methods: MethodTable = .standard, logger: Logger = Logger(label: "collegedb.rpc")) {
        self.database = database
        self.methods = methods
        self.logger = logger
    }

    /// The response to one line (without the newline), or nil when nothing is to be sent
    /// (notifications, or a batch of only notifications).
    public func respond(toLine line: [UInt8]) async -> [UInt8]? {
        let value: JSONValue
        do {
            value = try JSONParser.parse(line)
        } catch {
            return JSONSerializer.serialize(Self.errorResponse(.parseError(error.description), id: .null))
        }
        guard let response = await respond(to: value) else { return nil }
        return JSONSerializer.serialize(response)
    }

    /// The response to a decoded request or batch, or nil when nothing is to be sent.
    public func respond(to value: JSONValue) async -> JSONValue? {
        guard case .array(let batch) = value else { return await respond(toSingle: value) }
        guard !batch.isEmpty else { return Self.errorResponse(.invalidRequest("an empty batch"), id: .null) }
        var responses: [JSONValue] = []
        for element in batch {
            if let response = await respond(toSingle: element) { responses.append(response) }
        }
        return responses.isEmpty ? nil : .array(responses)
    }

    private func respond(toSingle value: JSONValue) async -> JSONValue? {
        let request: JSONRPCRequest
        switch JSONRPCRequest.decode(value) {
        case .success(let decoded): request = decoded
        case .failure(let invalid): return Self.errorResponse(invalid.error, id: invalid.id)
        }
        let outcome = await call(request)
        guard let id = request.id else { return nil }
        switch outcome {
        case .success(let result):
            return .object([("jsonrpc", .string("2.0")), ("id", id), ("result", result)])
        case .failure(let error):
            return Self.errorResponse(error, id: id)
        }
    }

    private func call(_ request: JSONRPCRequest) async -> Result<JSONValue, JSONRPCError> {
        guard let method = methods[request.method] else { return .failure(.methodNotFound(request.method)) }
        do {
            let arguments = try MethodArguments(request.params, parameters: method.parameters)
            return .success(try await method.handler(arguments, database))
        } catch let error as JSONRPCError {
            return .failure(error)
        } catch let error as CollegeDBError {
            logger.debug("call failed", metadata: ["method": "\(request.method)", "code": "\(error.code)", "error": "\(error.message)"])
            return .failure(JSONRPCError(error))
        } catch {
            logger.error("unexpected failure", metadata: ["method": "\(request.method)", "error": "\(error)"])
            return .failure(JSONRPCError(CollegeDBError(.internalError, "\(error)")))
        }
    }

    /// A response object carrying `error`.
    public static func errorResponse(_ error: JSONRPCError, id: JSONValue) -> JSONValue {
        .object([("jsonrpc", .string("2.0")), ("id", id), ("error", error.json)])
    }
}
