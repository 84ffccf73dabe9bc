import CollegeDB
import CollegeDBServer
import Logging
import ServiceLifecycle

/// Runs ``CollegeDB/checkAutoRebalance(now:)`` every `checkInterval` of the configured
/// `autoRebalance` policy (read again after each check, so a reload applies), and says what it
/// did in the log and, when a job starts or stops, in `STATUS=`. Without a policy it only
/// waits for one.
struct AutoRebalanceService: Service {
    let database: CollegeDB
    let notifier: SystemdNotifier
    let status: StatusService
    let logger: Logger

    /// How often a daemon without a policy looks whether a reload brought one.
    static let idleInterval = Duration.seconds(10)

    func run() async throws {
        // Ended by the graceful shutdown's cancellation, which is how this service stops.
        try? await cancelWhenGracefulShutdown {
            while true {
                let policy = await database.coordinator.configuration.autoRebalance
                try await Task.sleep(for: policy?.checkInterval ?? Self.idleInterval)
                await report(await database.checkAutoRebalance())
            }
        }
    }

    private func report(_ check: AutoRebalanceCheck) async {
        switch check {
        case .off, .jobRunning, .tooFewRecords, .balanced:
            logger.debug("automatic rebalancing: nothing to do", metadata: ["check": "\(check)"])
        case .nothingToMove(let imbalance):
            logger.debug(
                "automatic rebalancing: out of tolerance, but every record is where its strategy puts it",
                metadata: ["imbalance": "\(imbalance)"]
            )
        case .waitingForQuietHours(let imbalance, let quietHours):
            logger.info(
                "automatic rebalancing: out of tolerance; waiting for the quiet hours",
                metadata: ["imbalance": "\(imbalance)", "quietHours": "\(quietHours)"]
            )
        case .stoppedForQuietHours(let planID):
            logger.notice(
                "automatic rebalancing: the quiet hours closed; the job stopped after its batch",
                metadata: ["plan": "\(planID)"]
            )
            notifier.status(await status.summary())
        case .started(let planID, let moves, let imbalance):
            logger.notice(
                "automatic rebalancing: started a job",
                metadata: ["plan": "\(planID)", "moves": "\(moves)", "imbalance": "\(imbalance)"]
            )
            notifier.status(await status.summary())
        case .failed(let reason):
            logger.warning(
                "automatic rebalancing: the check failed; the next one retries",
                metadata: ["error": "\(reason)"]
            )
        }
    }
}
