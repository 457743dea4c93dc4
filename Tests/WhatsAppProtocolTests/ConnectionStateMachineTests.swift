import Foundation
import Testing

@testable import WhatsAppProtocol

@Suite struct ConnectionStateMachineTests {
    typealias Machine = ConnectionStateMachine
    static let refs = (1...6).map { "2@ref\($0)" }
    static let account = PairedAccount(
        jid: .user("60123456789", device: 3), lid: .lid("999", device: 3), platform: "android", businessName: "", pushName: "Shop"
    )
    static let loggedIn = LoggedInAccount(
        jid: .user("60123456789", device: 3), lid: .lid("999", device: 3), pushName: "Shop", serverTimeOffset: .zero
    )

    static func streamError(_ code: String?, conflict: String? = nil) -> BinaryNode {
        BinaryNode(
            tag: "stream:error",
            attributes: code.map { ["code": .string($0)] } ?? [:],
            content: conflict.map { .nodes([BinaryNode(tag: "conflict", attributes: ["type": .string($0)])]) }
        )
    }

    static func failure(_ reason: Int, _ extra: BinaryNode.Attributes = [:]) -> BinaryNode {
        var attributes: BinaryNode.Attributes = ["reason": .string(String(reason))]
        for (key, value) in extra { attributes[key] = value }
        return BinaryNode(tag: "failure", attributes: attributes)
    }

    /// A machine logged in as a paired device.
    static func loggedInMachine() -> Machine {
        var machine = Machine()
        _ = machine.handle(.startRequested(paired: true))
        _ = machine.handle(.connected)
        _ = machine.handle(.successReceived(loggedIn))
        return machine
    }

    @Test func qrPairingThenRestartThenLogin() {
        var machine = Machine()
        #expect(machine.handle(.startRequested(paired: false)) == [.openSocket])
        #expect(machine.handle(.connected) == [])
        #expect(machine.state == .awaitingRefs)
        #expect(
            machine.handle(.pairDeviceReceived(refs: Self.refs)) == [
                .cancelQRTimer, .presentQR(ref: "2@ref1", index: 0, remaining: 5, validFor: .seconds(60)),
            ])
        #expect(machine.handle(.qrExpired) == [.presentQR(ref: "2@ref2", index: 1, remaining: 4, validFor: .seconds(20))])
        #expect(machine.handle(.paired(Self.account)) == [.cancelQRTimer, .emit(.paired(Self.account))])
        #expect(machine.state == .awaitingRestart && machine.isPaired)
        // A QR timer that fires late changes nothing.
        #expect(machine.handle(.qrExpired) == [])
        #expect(
            machine.handle(.streamErrorReceived(Self.streamError("515"))) == [
                .cancelQRTimer, .closeSocket, .emit(.reconnecting(.restartRequired, delay: .zero)), .openSocket,
            ])
        #expect(machine.handle(.connected) == [])
        #expect(machine.state == .awaitingSuccess)
        #expect(machine.handle(.successReceived(Self.loggedIn)) == [.emit(.loggedIn(Self.loggedIn)), .beginSession])
        #expect(machine.state == .loggedIn)
    }

    @Test func refsRunOutThenTheClientStops() {
        var machine = Machine()
        _ = machine.handle(.startRequested(paired: false))
        _ = machine.handle(.connected)
        _ = machine.handle(.pairDeviceReceived(refs: Self.refs))
        for index in 1..<6 {
            #expect(machine.handle(.qrExpired) == [.presentQR(ref: Self.refs[index], index: index, remaining: 5 - index, validFor: .seconds(20))])
        }
        #expect(machine.handle(.qrExpired) == [.cancelQRTimer, .closeSocket, .emit(.refsExhausted), .emit(.stopped)])
        #expect(machine.state == .stopped)
        // A new start begins again with the registration payload.
        #expect(machine.handle(.startRequested(paired: false)) == [.openSocket])
    }

    @Test func successWithoutPairingIsIgnored() {
        var machine = Machine()
        _ = machine.handle(.startRequested(paired: false))
        _ = machine.handle(.connected)
        #expect(machine.handle(.successReceived(Self.loggedIn)) == [])
        #expect(machine.state == .awaitingRefs)
    }

    @Test func unpairedConnectionLostStopsInsteadOfReconnecting() {
        var machine = Machine()
        _ = machine.handle(.startRequested(paired: false))
        #expect(
            machine.handle(.connectFailed("handshake: badIntermediateSignature")) == [
                .cancelQRTimer, .closeSocket, .emit(.disconnected(.connectFailed("handshake: badIntermediateSignature"))), .emit(.stopped),
            ])
        #expect(machine.state == .stopped)
    }

    @Test func lossesReconnectWithGrowingBackoffResetBySuccess() {
        var machine = Self.loggedInMachine()
        #expect(
            machine.handle(.socketClosed) == [
                .cancelQRTimer, .closeSocket, .emit(.reconnecting(.connectionLost, delay: .zero)), .scheduleReconnect(after: .zero),
            ])
        #expect(machine.handle(.socketClosed) == [])
        #expect(machine.handle(.reconnectDue) == [.openSocket])
        #expect(
            machine.handle(.connectFailed("refused")) == [
                .cancelQRTimer, .closeSocket, .emit(.reconnecting(.connectFailed("refused"), delay: .seconds(2))),
                .scheduleReconnect(after: .seconds(2)),
            ])
        _ = machine.handle(.reconnectDue)
        #expect(machine.handle(.connectFailed("refused")).contains(.scheduleReconnect(after: .seconds(4))))
        _ = machine.handle(.reconnectDue)
        _ = machine.handle(.connected)
        _ = machine.handle(.successReceived(Self.loggedIn))
        #expect(machine.reconnectAttempts == 0)
        #expect(
            machine.handle(.keepAliveFailed) == [
                .cancelQRTimer, .closeSocket, .emit(.reconnecting(.keepAliveTimedOut, delay: .zero)), .scheduleReconnect(after: .zero),
            ])
        #expect(Machine.backoff(attempt: 1000) == Machine.maximumBackoff)
    }

    @Test func streamErrorsAndFailuresAsWhatsmeowHandlesThem() {
        var machine = Self.loggedInMachine()
        #expect(
            machine.handle(.streamErrorReceived(Self.streamError("401", conflict: "device_removed"))) == [
                .cancelQRTimer, .cancelReconnect, .closeSocket, .wipeStore, .emit(.loggedOut(.deviceRemoved)), .emit(.stopped),
            ])
        #expect(!machine.isPaired && machine.state == .stopped)

        machine = Self.loggedInMachine()
        #expect(
            machine.handle(.streamErrorReceived(Self.streamError(nil, conflict: "replaced"))) == [
                .cancelQRTimer, .cancelReconnect, .closeSocket, .emit(.replaced), .emit(.stopped),
            ])
        #expect(machine.isPaired)

        machine = Self.loggedInMachine()
        #expect(
            machine.handle(.streamErrorReceived(Self.streamError("503"))) == [
                .cancelQRTimer, .closeSocket, .emit(.reconnecting(.serviceUnavailable(code: 503), delay: .zero)), .scheduleReconnect(after: .zero),
            ])

        var connecting = Machine()
        _ = connecting.handle(.startRequested(paired: true))
        _ = connecting.handle(.connected)
        #expect(
            connecting.handle(.failureReceived(Self.failure(405))) == [
                .cancelQRTimer, .cancelReconnect, .closeSocket, .emit(.outdatedVersion(.whatsmeowReference)), .emit(.stopped),
            ])
        for (reason, logout) in [(401, LogoutReason.loggedOut), (403, .mainDeviceGone), (406, .banned)] {
            var machine = Machine()
            _ = machine.handle(.startRequested(paired: true))
            _ = machine.handle(.connected)
            #expect(machine.handle(.failureReceived(Self.failure(reason))).contains(.wipeStore))
            #expect(machine.state == .stopped)
            _ = logout
        }
    }

    @Test func stopAndUserLogout() {
        var machine = Self.loggedInMachine()
        #expect(
            machine.handle(.loggedOutByUser) == [
                .cancelQRTimer, .cancelReconnect, .closeSocket, .wipeStore, .emit(.loggedOut(.userInitiated)), .emit(.stopped),
            ])
        machine = Self.loggedInMachine()
        #expect(machine.handle(.stopRequested) == [.cancelQRTimer, .cancelReconnect, .closeSocket, .emit(.stopped)])
        // Nothing after stopping brings the connection back.
        #expect(machine.handle(.socketClosed) == [])
        #expect(machine.handle(.reconnectDue) == [])
        #expect(machine.handle(.stopRequested) == [])
    }

    @Test func withoutAutoReconnectALossStops() {
        var machine = Machine(autoReconnect: false)
        _ = machine.handle(.startRequested(paired: true))
        _ = machine.handle(.connected)
        _ = machine.handle(.successReceived(Self.loggedIn))
        #expect(machine.handle(.socketClosed) == [.cancelQRTimer, .closeSocket, .emit(.disconnected(.connectionLost)), .emit(.stopped)])
    }
}

@Suite struct StreamErrorsTests {
    typealias T = ConnectionStateMachineTests

    @Test func failureReasons() {
        #expect(StreamErrors.classify(failure: T.failure(401)) == .loggedOut(.loggedOut))
        #expect(StreamErrors.classify(failure: T.failure(403)) == .loggedOut(.mainDeviceGone))
        #expect(StreamErrors.classify(failure: T.failure(406)) == .loggedOut(.banned))
        #expect(StreamErrors.classify(failure: T.failure(405)) == .outdatedVersion)
        #expect(StreamErrors.classify(failure: T.failure(500)) == .reconnect(.serviceUnavailable(code: 500)))
        #expect(StreamErrors.classify(failure: T.failure(503)) == .reconnect(.serviceUnavailable(code: 503)))
        let ban = StreamErrors.classify(failure: T.failure(402, ["code": "101", "expire": "3600"]))
        #expect(ban == .temporarilyBanned(code: 101, expiresIn: .seconds(3600)))
        #expect(StreamErrors.classify(failure: T.failure(409, ["message": "bad ua"])) == .failed(reason: 409, message: "bad ua"))
    }

    @Test func streamErrorCodes() {
        #expect(StreamErrors.classify(streamError: T.streamError("515")) == .restart)
        #expect(StreamErrors.classify(streamError: T.streamError("401", conflict: "device_removed")) == .loggedOut(.deviceRemoved))
        // 401 without device_removed is not a logout (whatsmeow: default branch, reconnect on close).
        #expect(StreamErrors.classify(streamError: T.streamError("401")) == .reconnect(.streamError(code: "401")))
        #expect(StreamErrors.classify(streamError: T.streamError(nil, conflict: "replaced")) == .replaced)
        #expect(StreamErrors.classify(streamError: T.streamError("409", conflict: "replaced")) == .replaced)
        #expect(StreamErrors.classify(streamError: T.streamError("503")) == .reconnect(.serviceUnavailable(code: 503)))
        #expect(StreamErrors.classify(streamError: T.streamError("500")) == .reconnect(.streamError(code: "500")))
    }
}
