import Foundation

/// Test-only: with `COLLEGEDB_TEST_CORRUPT_COPY` set, a move between SQLite shards leaves the
/// last row of each copy out, so that tests can prove a copy that differs from its source fails
/// its batch and deletes nothing. Only debug builds (which the tests run) read the variable.
enum TestCopyCorruption {
    static let variable = "COLLEGEDB_TEST_CORRUPT_COPY"

    /// Whether copies are to be corrupted.
    static var isOn: Bool {
        #if DEBUG
        ProcessInfo.processInfo.environment[variable] != nil
        #else
        false
        #endif
    }
}
