import Testing

@testable import CollegeDBServer

@Suite struct SystemdUnitsOfCodeTests {
    @Test func metadataKeysBecomeJournalFieldNames() {
        #expect(JournalLogHandler.fieldName("method") == "METHOD")
        #expect(JournalLogHandler.fieldName("duration_ms") == "DURATION_MS")
        #expect(JournalLogHandler.fieldName("error-code") == "ERROR_CODE")
        #expect(JournalLogHandler.fieldName("_private") == "F_PRIVATE")
        #expect(JournalLogHandler.fieldName("2fa") == "F2FA")
    }

    @Test func anInheritedSocketIsChosenByNameElseTheFirst() {
        let activation = SystemdSocketActivation(sockets: [
            .init(descriptor: 3, name: "metrics"), .init(descriptor: 4, name: "collegedb"),
        ])
        #expect(activation.socket(named: "collegedb")?.descriptor == 4)
        #expect(activation.socket(named: "other")?.descriptor == 3)
        #expect(SystemdSocketActivation(sockets: []).socket(named: "collegedb") == nil)
    }
}
