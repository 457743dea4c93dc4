import Foundation
import SignalProtocol

/// Sending 1:1 messages (whatsmeow send.go: SendMessage, sendDM, prepareMessageNode,
/// encryptMessageForDevices; user.go: usync; prekeys.go: fetchPreKeys; retry.go:
/// handleRetryReceipt).
///
/// Guarantees: the message id is the caller's, chosen before anything leaves; a message is one
/// `message` stanza, written whole or not at all, only after every device list, prekey bundle
/// and Signal session step it needs is stored; `sendMessage` returns only on the server's ack and
/// throws `SendFailure` otherwise, never reporting a message sent that the server did not confirm.
extension WhatsAppClient {
    /// Device lists older than this are asked for again before a message (notifications and
    /// `phash` mismatches drop them sooner).
    public static let deviceListLifetime: TimeInterval = 24 * 3600

    /// A fresh WhatsApp Web message id (`3EB0…`), for a message about to be sent.
    public func newMessageID() -> String {
        MessageIDs.generate(ownUser: device?.jid.user)
    }

    /// Asks whether `phones` (phone-number users) are on WhatsApp (whatsmeow user.go:
    /// IsOnWhatsApp) and stores the LID of each that the answer names.
    public func lookUp(phones: [JID]) async throws -> [Usync.User] {
        let answer = try await sendIQ(Usync.query(.contact, users: phones, sid: requestIDs.next()))
        let users = try Usync.users(in: answer)
        for user in users {
            guard let lid = user.lid, let phone = user.phone ?? (user.jid.isLID ? nil : user.jid) else { continue }
            try await store.storeLIDMapping(lid: lid, phone: phone)
        }
        return users
    }

    /// The chat a message to phone-number user `phone` goes to: its LID user, as current
    /// WhatsApp wants (whatsmeow send.go: SendMessage replaces a phone-number destination with
    /// the LID). Known LIDs come from the store; otherwise usync says whether the number is on
    /// WhatsApp (`SendFailure.notOnWhatsApp` when not) and what its LID is. The phone JID itself
    /// when the server names no LID.
    public func chat(forPhone phone: JID) async throws -> JID {
        let phone = phone.withoutDevice
        if let lid = try await store.lid(forPhone: phone) { return lid }
        let users = try await lookUp(phones: [phone])
        let user = users.first { $0.jid == phone || $0.phone == phone || $0.query == phone.user } ?? (users.count == 1 ? users.first : nil)
        guard let user, user.isOnWhatsApp != false else { throw SendFailure.notOnWhatsApp(phone.user) }
        if let lid = user.lid { return lid }
        let info = try Usync.users(in: try await sendIQ(Usync.query(.userInfo, users: [phone], sid: requestIDs.next())))
        guard let lid = (info.first { $0.jid == phone } ?? info.first)?.lid else { return phone }
        try await store.storeLIDMapping(lid: lid, phone: phone)
        return lid
    }

    /// The phone-number user behind LID user `lid`: from the stored LID↔phone map, else from a
    /// usync about the LID (the user-info question, with `<lid/>`), whose answer names the user by
    /// LID and its number in `pn_jid` as LID-mode answers do; the pair is stored before it is
    /// returned. Nil when the server names no number.
    public func phone(forLID lid: JID) async throws -> JID? {
        let lid = lid.withoutDevice
        guard lid.isLID else { return nil }
        if let known = try await store.phone(forLID: lid) { return known }
        let users = try Usync.users(in: try await sendIQ(Usync.query(.userInfo, users: [lid], sid: requestIDs.next())))
        guard let phone = users.first(where: { $0.jid == lid })?.phone, phone.server == JID.Server.user, !phone.isLID else { return nil }
        try await store.storeLIDMapping(lid: lid, phone: phone)
        return phone
    }

    /// Every device of `users`: from the stored lists while fresh, the others by one usync
    /// (whatsmeow user.go: GetUserDevices), stored before they are used.
    public func devices(of users: [JID]) async throws -> [JID] {
        var found: [JID] = []
        var missing: [JID] = []
        for user in users.map(\.withoutDevice) {
            if let list = try await store.deviceList(of: user), !list.devices.isEmpty,
                Date().timeIntervalSince(list.fetchedAt) < Self.deviceListLifetime
            {
                found += list.devices
            } else {
                missing.append(user)
            }
        }
        guard !missing.isEmpty else { return found }
        let answer = try await sendIQ(Usync.query(.devices, users: missing, sid: requestIDs.next()))
        for user in try Usync.users(in: answer) {
            let devices = user.devices ?? []
            try await store.storeDeviceList(DeviceList(user: user.jid, devices: devices, fetchedAt: Date()))
            found += devices
        }
        return found
    }

    /// Sends `content` to `recipient` (a phone-number or LID user) as message `id`, encrypted for
    /// every device of the recipient and, as a `DeviceSentMessage`, for the account's own other
    /// devices; returns once the server acknowledged it.
    ///
    /// While the client is reconnecting, it waits up to `options.sendLoginWait` for the login,
    /// then throws `SendFailure.notLoggedIn` having sent nothing.
    public func sendMessage(id: String, to recipient: JID, content: OutgoingContent) async throws -> SentMessage {
        if machine.state != .loggedIn {
            guard await waitUntilLoggedIn(within: options.sendLoginWait) else { throw SendFailure.notLoggedIn }
        }
        guard let device else { throw WhatsAppClientError.notPaired }
        await enterSendGate()
        defer { sendGate.leave() }

        var chat = recipient.withoutDevice
        var peerPhone: JID?
        do {
            if chat.server == JID.Server.user {
                let resolved = try await self.chat(forPhone: chat)
                if resolved.isLID { (peerPhone, chat) = (chat, resolved) }
            } else if chat.isLID {
                peerPhone = try await store.phone(forLID: chat)
            }
        } catch let error as InfoQueryError {
            throw SendFailure.query(error)
        }
        let ownUser = chat.isLID ? (device.lid ?? device.jid).withoutDevice : device.jid.withoutDevice
        let deviceSent = content.deviceSent(chat)
        recentMessages.add(
            .init(chat: chat, id: id, plaintext: content.plaintext, deviceSentPlaintext: deviceSent, type: content.type, mediaType: content.mediaType)
        )

        let allDevices: [JID]
        do {
            allDevices = try await devices(of: [chat, ownUser])
        } catch let error as InfoQueryError {
            throw SendFailure.query(error)
        }
        let targets = allDevices.filter { !isOwnDevice($0, device) }
        let encrypted = try await encrypt(
            for: targets, plaintext: content.plaintext, ownPlaintext: deviceSent, ownUsers: ownUsers(device), mediaType: content.mediaType)
        guard encrypted.nodes.contains(where: { node in node.attributes.jid("jid").map { !isOwnUser($0, device) } ?? false }) else {
            throw SendFailure.noDeviceEncrypted(encrypted.failures.map { "\($0.key): \($0.value)" }.sorted().joined(separator: "; "))
        }

        var attributes: BinaryNode.Attributes = ["id": .string(id), "type": .string(content.type), "to": .jid(chat)]
        if let peerPhone { attributes["peer_recipient_pn"] = .jid(peerPhone) }
        var children = [BinaryNode(tag: "participants", children: encrypted.nodes)]
        if encrypted.includeIdentity { children.append(BinaryNode(tag: "device-identity", content: .bytes(device.account))) }
        let ack = try await transmit(BinaryNode(tag: "message", attributes: attributes, children: children))

        if let code = ack.attributes.string("error").flatMap({ Int($0) }), code != 0 { throw SendFailure.serverError(code) }
        var matched: Bool?
        if let phash = ack.attributes.string("phash"), !phash.isEmpty {
            matched = phash == ParticipantHash.v2(allDevices)
            if matched == false {
                // Some device was missed or is gone: ask for both lists again next time.
                try? await store.removeDeviceList(of: chat)
                try? await store.removeDeviceList(of: ownUser)
            }
        }
        let timestamp = ack.attributes.string("t").flatMap { Double($0) }.map { Date(timeIntervalSince1970: $0) } ?? Date()
        return SentMessage(id: id, chat: chat, timestamp: timestamp, devices: allDevices, participantHashMatched: matched)
    }

    // MARK: Encryption

    struct EncryptedParts {
        var nodes: [BinaryNode] = []
        var includeIdentity = false
        var failures: [JID: String] = [:]
    }

    /// `<to jid><enc v="2" type="msg|pkmsg"/></to>` for each device that could be encrypted for:
    /// sessions are built first from prekey bundles fetched in one IQ for the devices without one.
    /// A device that fails is left out (as whatsmeow does) and named in `failures`. A media
    /// message's `enc` nodes carry `mediatype`, the own devices' copies too (send.go: encAttrs).
    func encrypt(for devices: [JID], plaintext: Data, ownPlaintext: Data, ownUsers: Set<JID>, mediaType: String? = nil) async throws
        -> EncryptedParts
    {
        var parts = EncryptedParts()
        var withoutSession: [JID] = []
        for device in devices where try await !hasSession(device) { withoutSession.append(device) }
        if !withoutSession.isEmpty {
            let answer: BinaryNode
            do {
                answer = try await sendIQ(PreKeyBundles.query(devices: withoutSession))
            } catch let error as InfoQueryError {
                throw SendFailure.query(error)
            }
            let bundles = PreKeyBundles.bundles(in: answer)
            for device in withoutSession {
                switch bundles[device] {
                case .success(let bundle)?:
                    do {
                        try await withSessionLock(device.signalAddress) { try await buildSession(with: bundle, for: device) }
                    } catch {
                        parts.failures[device] = "prekey bundle: \(error)"
                    }
                case .failure(let error)?:
                    parts.failures[device] = "prekey bundle: \(error)"
                case nil:
                    parts.failures[device] = "no prekey bundle in the answer"
                }
            }
        }
        for device in devices where parts.failures[device] == nil {
            do {
                let text = ownUsers.contains(device.withoutDevice) ? ownPlaintext : plaintext
                var enc = try await withSessionLock(device.signalAddress) { try await encryptedNode(text, for: device) }
                if let mediaType { enc.attributes["mediatype"] = .string(mediaType) }
                parts.nodes.append(BinaryNode(tag: "to", attributes: ["jid": .jid(device)], children: [enc]))
                if enc.attributes.string("type") == "pkmsg" { parts.includeIdentity = true }
            } catch {
                parts.failures[device] = "\(error)"
            }
        }
        return parts
    }

    func hasSession(_ device: JID) async throws -> Bool {
        guard let record = try await store.loadSession(for: device.signalAddress) else { return false }
        return !record.isEmpty
    }

    /// Builds a session from `bundle`; a changed identity is trusted after forgetting the old
    /// one, as whatsmeow does by default (AutoTrustIdentity).
    func buildSession(with bundle: PreKeyBundle, for device: JID) async throws {
        do {
            try await Self.process(bundle, store: store, address: device.signalAddress)
        } catch SignalError.untrustedIdentity {
            try await store.deleteIdentity(for: device.signalAddress)
            try await Self.process(bundle, store: store, address: device.signalAddress)
        }
    }

    private static func process<Store: SignalProtocolStore>(_ bundle: PreKeyBundle, store: Store, address: ProtocolAddress) async throws {
        try await SessionBuilder(store: store, address: address).process(bundle)
    }

    private static func encrypt<Store: SignalProtocolStore>(_ padded: Data, store: Store, address: ProtocolAddress) async throws -> CiphertextMessage
    {
        try await SessionCipher(store: store, address: address).encrypt(padded)
    }

    /// `<enc v="2" type="msg|pkmsg">` with the padded plaintext encrypted for `device`.
    func encryptedNode(_ plaintext: Data, for device: JID) async throws -> BinaryNode {
        let ciphertext = try await Self.encrypt(WhatsAppPadding.pad(plaintext), store: store, address: device.signalAddress)
        return BinaryNode(tag: "enc", attributes: ["v": "2", "type": .string(ciphertext.whatsAppType)], content: .bytes(ciphertext.serialized))
    }

    func ownUsers(_ device: PairedDevice) -> Set<JID> {
        Set([device.jid.withoutDevice] + (device.lid.map { [$0.withoutDevice] } ?? []))
    }

    func isOwnUser(_ jid: JID, _ device: PairedDevice) -> Bool {
        ownUsers(device).contains(jid.withoutDevice)
    }

    func isOwnDevice(_ jid: JID, _ device: PairedDevice) -> Bool {
        isOwnUser(jid, device) && jid.device == device.jid.device
    }

    // MARK: Transmission

    /// Writes the stanza and waits for its ack. A connection lost before the ack is waited out
    /// (within `InfoQuery.retryWait`) and the same stanza sent once more, as whatsmeow does
    /// (request.go: retryFrame); receivers drop a second copy by its id.
    func transmit(_ node: BinaryNode) async throws -> BinaryNode {
        do {
            return try await request(node, timeout: options.messageAckTimeout)
        } catch InfoQueryError.timedOut {
            throw SendFailure.ackTimedOut
        } catch InfoQueryError.disconnected {
            guard await waitUntilLoggedIn(within: InfoQuery.retryWait) else { throw SendFailure.ackTimedOut }
            do {
                return try await request(node, timeout: options.messageAckTimeout)
            } catch InfoQueryError.timedOut, InfoQueryError.disconnected, InfoQueryError.notConnected {
                throw SendFailure.ackTimedOut
            }
        } catch InfoQueryError.notConnected {
            throw SendFailure.notLoggedIn
        }
    }

    /// Runs `body` holding `address`'s Signal session (`sessionGate`): after the operations on it
    /// that came first, before the later ones. Not reentrant: `body` takes no other session's hold.
    func withSessionLock<T>(_ address: ProtocolAddress, _ body: () async throws -> T) async rethrows -> T {
        if !sessionGate.tryEnter(address) {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in sessionGate.queue(address, continuation) }
        }
        defer { sessionGate.leave(address) }
        return try await body()
    }

    func enterSendGate() async {
        if sendGate.tryEnter() { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in sendGate.queue(continuation) }
    }

    // MARK: Receipts and device lists

    /// A retry receipt: the message is encrypted again for the device that asked, with a new
    /// session from the receipt's keys when it brings them, or from fetched prekeys when
    /// `shouldRecreateSession` says so (whatsmeow retry.go: handleRetryReceipt). Sent as one `message` with `device_fanout="false"`.
    func answerRetry(_ receipt: Receipt) async {
        guard let retry = receipt.retry, let device else { return }
        let key = "\(receipt.sender)|\(retry.messageID)"
        retriesAnswered[key, default: 0] += 1
        guard retriesAnswered[key, default: 0] < 10 else {
            emit(.retryReceipt(messageID: retry.messageID, from: receipt.sender, resent: false, reason: "asked 10 times"))
            return
        }
        let fromOwnDevice = isOwnUser(receipt.sender, device)
        let chat = fromOwnDevice ? receipt.recipient?.withoutDevice : receipt.chat.withoutDevice
        guard let entry = recentMessages.entry(id: retry.messageID, chat: chat) ?? recentMessages.entry(id: retry.messageID) else {
            emit(.retryReceipt(messageID: retry.messageID, from: receipt.sender, resent: false, reason: "not among the recently sent messages"))
            return
        }
        let plaintext = fromOwnDevice ? (entry.deviceSentPlaintext ?? entry.plaintext) : entry.plaintext
        await enterSendGate()
        defer { sendGate.leave() }
        let target = receipt.sender
        do {
            var bundle: PreKeyBundle?
            if receipt.node.child("keys") != nil {
                bundle = try PreKeyBundles.bundle(in: receipt.node, deviceID: UInt32(target.device))
            } else if try await shouldRecreateSession(with: target, retryCount: retry.count) {
                let answer = try await sendIQ(PreKeyBundles.query(devices: [target]))
                guard let fetched = PreKeyBundles.bundles(in: answer)[target] else {
                    throw PreKeyBundles.Failure.malformed("no bundle for \(target)")
                }
                bundle = try fetched.get()
            }
            // The new session and the message encrypted on it in one hold of the session.
            var enc = try await withSessionLock(target.signalAddress) {
                if let bundle { try await buildSession(with: bundle, for: target) }
                return try await encryptedNode(plaintext, for: target)
            }
            enc.attributes["count"] = .string(String(retry.count))
            if let mediaType = entry.mediaType { enc.attributes["mediatype"] = .string(mediaType) }
            var attributes: BinaryNode.Attributes = [
                "to": receipt.node.attributes["from"] ?? .jid(target), "type": .string(entry.type), "id": .string(retry.messageID),
            ]
            if let t = retry.timestamp { attributes["t"] = .string(t) }
            attributes["device_fanout"] = "false"
            if let participant = receipt.node.attributes["participant"] { attributes["participant"] = participant }
            if let recipient = receipt.node.attributes["recipient"] { attributes["recipient"] = recipient }
            var children = [enc]
            if enc.attributes.string("type") == "pkmsg" { children.append(BinaryNode(tag: "device-identity", content: .bytes(device.account))) }
            try await sendNode(BinaryNode(tag: "message", attributes: attributes, children: children))
            emit(.retryReceipt(messageID: retry.messageID, from: target, resent: true, reason: nil))
        } catch {
            emit(.retryReceipt(messageID: retry.messageID, from: target, resent: false, reason: "\(error)"))
        }
    }

    /// Whether a retry receipt without keys calls for a new session from fetched prekeys: when
    /// there is none, or from the second retry on unless one was rebuilt within the hour
    /// (whatsmeow retry.go: shouldRecreateSession, recreateSessionTimeout).
    func shouldRecreateSession(with device: JID, retryCount: Int) async throws -> Bool {
        if try await !hasSession(device) {
            sessionsRecreated[device] = .now
            return true
        }
        guard retryCount >= 2 else { return false }
        if let last = sessionsRecreated[device], ContinuousClock.now - last < .seconds(3600) { return false }
        sessionsRecreated[device] = .now
        return true
    }

    /// A `devices` notification: the user's device list changed, so the stored lists of the user
    /// (and of its LID or phone-number twin) are dropped and asked for again before the next
    /// message (whatsmeow notification.go: handleDeviceNotification keeps its cache in step; this
    /// client forgets instead, which is never wrong).
    func deviceListChanged(_ node: BinaryNode) async {
        guard let from = node.attributes.jid("from")?.withoutDevice else { return }
        var users = [from]
        if let lid = node.attributes.jid("lid")?.withoutDevice {
            users.append(lid)
            if !from.isLID { try? await store.storeLIDMapping(lid: lid, phone: from) }
        }
        if from.isLID, let phone = try? await store.phone(forLID: from) { users.append(phone) }
        if !from.isLID, let lid = try? await store.lid(forPhone: from) { users.append(lid) }
        for user in users { try? await store.removeDeviceList(of: user) }
    }
}
