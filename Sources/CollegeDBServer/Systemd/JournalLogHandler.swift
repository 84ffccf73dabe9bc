import CSystemd
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// A swift-log handler that writes to the systemd journal with structured fields: `MESSAGE`,
/// `PRIORITY`, `SYSLOG_IDENTIFIER`, the code location, and each metadata key as a field of its
/// own (`method` becomes `METHOD`, `duration_ms` becomes `DURATION_MS`).
package struct JournalLogHandler: LogHandler {
    package var logLevel: Logger.Level = .info
    package var metadata: Logger.Metadata = [:]
    let label: String
    let identifier: String

    package init(label: String, identifier: String = "collegedbd") {
        self.label = label
        self.identifier = identifier
    }

    /// Whether standard error is connected to the journal (systemd sets `JOURNAL_STREAM`).
    package static func isStandardErrorJournal(environment: [String: String]) -> Bool {
        guard let stream = environment["JOURNAL_STREAM"] else { return false }
        var status = stat()
        guard fstat(STDERR_FILENO, &status) == 0 else { return false }
        return stream == "\(status.st_dev):\(status.st_ino)"
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        var fields = [
            "MESSAGE=\(event.message)",
            "PRIORITY=\(Self.priority(event.level))",
            "SYSLOG_IDENTIFIER=\(identifier)",
            "LOGGER=\(label)",
            "CODE_FILE=\(event.file)",
            "CODE_LINE=\(event.line)",
            "CODE_FUNC=\(event.function)",
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            fields.append("\(Self.fieldName(key))=\(value)")
        }
        Self.send(fields)
    }

    /// A journal field name: upper case letters, digits and underscores, not starting with `_`.
    static func fieldName(_ key: String) -> String {
        let name = String(
            key.uppercased().unicodeScalars.map { scalar -> Character in
                ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) ? Character(scalar) : "_"
            }
        )
        guard let first = name.first, first.isLetter else { return "F" + name }
        return name
    }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    private static func send(_ fields: [String]) {
        var storage: [UInt8] = []
        var ranges: [Range<Int>] = []
        for field in fields {
            let start = storage.count
            storage.append(contentsOf: field.utf8)
            ranges.append(start..<storage.count)
        }
        storage.withUnsafeBytes { raw in
            let vectors = ranges.map { range in
                iovec(
                    iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress! + range.lowerBound),
                    iov_len: range.count
                )
            }
            _ = sd_journal_sendv(vectors, Int32(vectors.count))
        }
    }
}
