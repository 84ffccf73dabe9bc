import NIOCore

/// What the framing layer hands on: one complete line, or word that a line was over the limit
/// (its bytes are discarded up to the next newline).
package enum InboundLine: Sendable, Equatable {
    /// The line's bytes without the `\n` or `\r\n` that ended it.
    case line(ByteBuffer)
    /// A line exceeded the limit; it gets one error response.
    case oversized
}
