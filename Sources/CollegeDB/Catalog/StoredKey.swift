import Foundation
import GRDB

/// A lookup key as a catalog keeps it: the bytes of its digest when keys are hashed
/// (``MappingKeyCodec``), or its text when they are not. The catalog protocols speak of keys
/// in this type; each catalog turns it into its own database's values.
package enum StoredKey: Hashable, Sendable {
    case digest(Data)
    case text(String)
}

/// The SQLite mapping store binds and reads stored keys as blobs (digests) or text.
extension StoredKey: DatabaseValueConvertible {
    package var databaseValue: DatabaseValue {
        switch self {
        case .digest(let bytes): bytes.databaseValue
        case .text(let text): text.databaseValue
        }
    }

    package static func fromDatabaseValue(_ value: DatabaseValue) -> StoredKey? {
        switch value.storage {
        case .blob(let bytes): .digest(bytes)
        case .string(let text): .text(text)
        default: nil
        }
    }
}
