import CollegeDB
import CollegeDBRPC
import Logging
import NIOCore
import ServiceLifecycle

/// Serves one connection: each line is answered before the next is read, so requests from one
/// connection run in order and each sees the effects of those before it.
struct ConnectionServer: Sendable {
    let dispatcher: JSONRPCDispatcher
    let logger: Logger

    func serve(_ connection: NIOAsyncChannel<InboundLine, ByteBuffer>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                for try await frame in inbound.cancelOnGracefulShutdown() {
                    guard let response = await respond(to: frame) else { continue }
                    var buffer = ByteBuffer()
                    buffer.reserveCapacity(response.count + 1)
                    buffer.writeBytes(response)
                    buffer.writeInteger(UInt8(ascii: "\n"))
                    try await outbound.write(buffer)
                }
            }
        } catch {
            logger.debug("connection ended", metadata: ["error": "\(error)"])
        }
    }

    private func respond(to frame: InboundLine) async -> [UInt8]? {
        switch frame {
        case .line(let buffer):
            return await dispatcher.respond(toLine: Array(buffer.readableBytesView))
        case .oversized:
            let error = CollegeDBError(
                .requestTooLarge, "the request line is longer than the limit; it was discarded")
            return JSONSerializer.serialize(JSONRPCDispatcher.errorResponse(JSONRPCError(error), id: .null))
        }
    }
}
