import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Test-only: `COLLEGEDB_TEST_KILL_AT` names a step of a move (`after-intent`, `after-copy`,
/// `after-flip`, `after-delete`) or of a backup (`backup-copied`: every file copied, not yet
/// renamed into place) at which the process kills itself with SIGKILL, so that tests
/// can prove recovery from a crash at each step. Only debug builds (which the tests run) read
/// the variable; a release build has no kill point, whatever its environment says.
package struct TestKillPoint: Sendable {
    static let variable = "COLLEGEDB_TEST_KILL_AT"

    let step: String?

    static var fromEnvironment: TestKillPoint {
        #if DEBUG
        TestKillPoint(step: ProcessInfo.processInfo.environment[variable])
        #else
        TestKillPoint(step: nil)
        #endif
    }

    /// Kills the process when `step` is the one named.
    func reached(_ step: String) {
        #if DEBUG
        if self.step == step { kill(getpid(), SIGKILL) }
        #endif
    }
}
