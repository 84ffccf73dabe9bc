/// How the server listens and what it accepts.
public struct ServerConfiguration: Sendable {
    /// Where to bind when not socket-activated.
    public var socketPath: String
    /// Permission bits of a socket file the daemon binds itself.
    public var socketMode: UInt16
    /// The longest request line accepted, in bytes, without its newline.
    public var maximumLineLength: Int

    public static let defaultMaximumLineLength = 16 * 1024 * 1024

    public init(socketPath: String, socketMode: UInt16 = 0o660, maximumLineLength: Int = defaultMaximumLineLength) {
        self.socketPath = socketPath
        self.socketMode = socketMode
        self.maximumLineLength = maximumLineLength
    }
}
