import CollegeDBJSON

/// One decoded request object. `id` is nil for a notification, which gets no response.
struct JSONRPCRequest {
    var method: String
    var params: JSONValue?
    var id: JSONValue?

    /// Decodes a request object, or says why it is invalid and which id to answer with.
    static func decode(_ value: JSONValue) -> Result<JSONRPCRequest, InvalidRequest> {
        guard case .object = value else {
            return .failure(InvalidRequest(id: .null, error: .invalidRequest("a request must be a JSON object")))
        }
        let id = value["id"]
        switch id {
        case nil, .null?, .string?, .integer?, .double?, .number?: break
        default:
            return .failure(InvalidRequest(id: .null, error: .invalidRequest("id must be a string, a number or null")))
        }
        let answerID = id ?? .null
        guard value["jsonrpc"] == .string("2.0") else {
            return .failure(InvalidRequest(id: answerID, error: .invalidRequest("jsonrpc must be \"2.0\"")))
        }
        guard case .string(let method)? = value["method"] else {
            return .failure(InvalidRequest(id: answerID, error: .invalidRequest("method must be a string")))
        }
        let params = value["params"]
        switch params {
        case nil, .array?, .object?: break
        default:
            return .failure(
                InvalidRequest(id: answerID, error: .invalidRequest("params must be an array or an object"))
            )
        }
        return .success(JSONRPCRequest(method: method, params: params, id: id))
    }

    struct InvalidRequest: Error {
        var id: JSONValue
        var error: JSONRPCError
    }
}
