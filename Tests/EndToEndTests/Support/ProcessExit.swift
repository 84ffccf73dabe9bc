import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension Process {
    /// Waits for the process to end and returns its exit status, or the signal that ended it
    /// (as `terminationStatus` says). Foundation on Linux now and then misses a child's exit when many processes
    /// start and end at once, and `waitUntilExit()` then never returns, leaving a zombie: after
    /// 10 s of waiting, this reaps the child itself.
    func waitForExitStatus() -> Int32 {
        let deadline = Date().addingTimeInterval(10)
        while isRunning {
            if Date() > deadline {
                var status: Int32 = 0
                if waitpid(processIdentifier, &status, WNOHANG) == processIdentifier {
                    let signal = status & 0x7f
                    return signal == 0 ? (status >> 8) & 0xff : signal
                }
            }
            usleep(5_000)
        }
        return terminationStatus
    }
}
