import Crypto
import Foundation
import GRDB

/// How lookup keys are kept in the mapping store: as the SHA-256 digest of their UTF-8 bytes
/// (the default; the plain key never reaches the file) or as plain text.
public struct MappingKeyCodec: Sendable, Hashable {
    public let hashesKeys: Bool

    public init(hashesKeys: Bool) { self.hashesKeys = hashesKeys }

    /// The value stored for `key`: the 32 digest bytes, or the text itself.
    func storedValue(for key: String) -> DatabaseValue {
        guard hashesKeys else { return key.databaseValue }
        return Data(SHA256.hash(data: Data(key.utf8))).databaseValue
    }

    /// How a stored key is shown to clients: the lowercase hex digest, or the text itself.
    func displayed(_ stored: DatabaseValue) -> String {
        switch stored.storage {
        case .blob(let digest): return digest.map { String(format: "%02x", $0) }.joined()
        case .string(let text): return text
        default: return stored.description
        }
    }
}
