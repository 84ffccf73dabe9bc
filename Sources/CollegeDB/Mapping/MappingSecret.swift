import Crypto
import Foundation

/// The secret of keyed digests: 32 random bytes in a file only the daemon's user can read,
/// made on first use. Losing it makes every stored key unfindable, so back it up with the store.
enum MappingSecret {
    static func loadOrCreate(at path: String) throws -> Data {
        if let bytes = FileManager.default.contents(atPath: path) {
            guard bytes.count == 32 else {
                throw CollegeDBError(.mappingStoreFailed, "the key-digest secret \(path) is not 32 bytes")
            }
            return bytes
        }
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        guard FileManager.default.createFile(atPath: path, contents: bytes, attributes: [.posixPermissions: 0o600])
        else {
            throw CollegeDBError(.mappingStoreFailed, "cannot write the key-digest secret \(path)")
        }
        return bytes
    }
}
