import Crypto
import Foundation

/// How lookup keys are kept in the mapping store: as the SHA-256 digest of their UTF-8 bytes
/// (the default; the plain key never reaches the file), as an HMAC-SHA256 digest under a secret
/// kept beside the store (so that a copy of the file cannot confirm guessable keys such as
/// e-mail addresses), or as plain text.
public struct MappingKeyCodec: Sendable {
    /// The kinds of stored key; the raw value is recorded in the store.
    public enum Digest: String, Sendable {
        case plain
        case sha256
        case hmacSHA256 = "hmac-sha256"
    }

    public let digest: Digest
    /// The HMAC secret's bytes (`SymmetricKey` is not `Sendable`).
    private let secret: Data?

    /// SHA-256 digests, or plain text.
    public init(hashesKeys: Bool) {
        digest = hashesKeys ? .sha256 : .plain
        secret = nil
    }

    /// HMAC-SHA256 digests under `secret`.
    public init(secret: Data) {
        digest = .hmacSHA256
        self.secret = secret
    }

    public var hashesKeys: Bool { digest != .plain }

    /// The value stored for `key`: the 32 digest bytes, or the text itself.
    func storedValue(for key: String) -> StoredKey {
        switch digest {
        case .plain:
            return .text(key)
        case .sha256:
            return .digest(Data(SHA256.hash(data: Data(key.utf8))))
        case .hmacSHA256:
            return .digest(
                Data(HMAC<SHA256>.authenticationCode(for: Data(key.utf8), using: SymmetricKey(data: secret!)))
            )
        }
    }

    /// How a stored key is shown to clients: the lowercase hex digest, or the text itself.
    func displayed(_ stored: StoredKey) -> String {
        switch stored {
        case .digest(let bytes): bytes.lowercaseHex
        case .text(let text): text
        }
    }
}
