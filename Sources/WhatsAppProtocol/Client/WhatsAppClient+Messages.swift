import Foundation
import SignalProtocol

/// Receiving messages (whatsmeow message.go): parse, decrypt through the decrypt buffer, decode,
/// and report; the stanza is answered only when the owner confirms it stored what was reported.
extension WhatsAppClient {
    /// How one `enc` part came out.
    enum PartOutcome {
        case plaintext(Data, bufferKey: Data)
        /// Decrypted and stored before (the buffer knows it, or the ratchet already used its key).
        case processed
        case failed(any Error)
    }

    func handleMessage(_ node: BinaryNode) async {
        guard let device else { return }
        let stanza: MessageStanza
        do {
            stanza = try MessageStanza(node, own: device.jid, ownLID: device.lid)
        } catch {
            enqueue(Receipts.ack(node, error: .parsingError))
            return
        }
        await learnAddresses(from: stanza.source)
        let addresses = await decryptionAddresses(for: stanza.source)
        var messages: [WAMessage] = []
        var bufferKeys: [Data] = []
        var recognized = false
        var directPart = false
        var failure: (reason: String, senderKeyMissing: Bool)?
        var invalidProtobuf = false
        parts: for part in stanza.parts {
            switch part.kind {
            case .other: continue
            case .preKey, .whisper: directPart = true
            case .senderKey: guard stanza.source.isGroup else { continue }
            }
            recognized = true
            switch await decrypt(part, of: stanza, addresses: addresses) {
            case .plaintext(let plaintext, let key):
                bufferKeys.append(key)
                guard part.version == 2 else { continue }
                let message: WAMessage
                do {
                    message = try WAMessage(serializedBytes: try WhatsAppPadding.unpad(plaintext))
                } catch {
                    invalidProtobuf = true
                    continue
                }
                messages.append(message)
                await processSenderKeyDistribution(in: message, source: stanza.source, sender: addresses[0])
            case .processed:
                continue
            case .failed(let error):
                let missing = part.kind == .senderKey && !directPart && Self.isMissingSenderKey(error)
                failure = ("\(error)", missing)
                break parts
            }
        }
        if let failure {
            await undecryptable(stanza, reason: failure.reason, senderKeyMissing: failure.senderKeyMissing, bufferKeys: bufferKeys)
            return
        }
        messageRetries[stanza.id] = nil
        guard recognized else {
            enqueue(Receipts.ack(node, error: .unrecognizedStanza))
            return
        }
        let shown = messages.lazy.compactMap { message in MessageContent(of: message).map { (message, $0) } }.first
        guard let shown else {
            // Nothing to show (a sender key, a protocol message, already stored): answered now.
            let answer =
                invalidProtobuf ? Receipts.ack(node, error: .invalidProtobuf) : Receipts.delivery(for: stanza, active: sendsActiveReceipts)
            await confirm(DeliveryConfirmation(answer: answer, bufferKeys: bufferKeys))
            return
        }
        let (message, content) = shown
        let subject = stanza.source.isGroup ? await groupSubject(stanza.source.chat) : nil
        let people = await resolve(stanza.source, message: message)
        emit(
            .message(
                ReceivedMessage(
                    id: stanza.id, source: stanza.source, senderPhone: people.senderPhone, senderLID: people.senderLID,
                    chatPhone: people.chatPhone, pushName: stanza.pushName, groupSubject: subject, timestamp: stanza.timestamp,
                    content: content, message: message,
                    delivery: DeliveryConfirmation(answer: Receipts.delivery(for: stanza, active: sendsActiveReceipts), bufferKeys: bufferKeys)
                )))
    }

    /// Answers a message stanza once its owner has stored what the client reported: clears the
    /// buffered plaintexts (their keys stay, so a re-delivery is known as processed) and sends the
    /// receipt or ack. Old buffer entries are removed twice a day.
    public func confirm(_ delivery: DeliveryConfirmation) async {
        for key in delivery.bufferKeys { try? await store.clearBufferedPlaintext(key: key) }
        enqueue(delivery.answer)
        let now = Date()
        if lastBufferCleanup.map({ now.timeIntervalSince($0) > 12 * 3600 }) ?? true {
            lastBufferCleanup = now
            try? await store.removeBufferedDecryptions(before: now.addingTimeInterval(-DecryptionBuffer.retention))
        }
    }

    /// Sends a read receipt for messages `ids` of one sender in `chat` (the chat as the messages
    /// arrived: a LID or phone-number user, or a group with the sender as participant).
    public func markRead(_ ids: [String], chat: JID, sender: JID?, at date: Date = Date()) async throws {
        guard let node = Receipts.read(ids: ids, chat: chat, sender: sender, at: date) else { return }
        try await sendNode(node)
    }

    // MARK: Decryption

    /// Decrypts one part through the buffer: a ciphertext seen before is answered from it; a new
    /// one is decrypted on a staged copy of the Signal state, and the changed state and the
    /// plaintext are committed together.
    func decrypt(_ part: EncryptedPart, of stanza: MessageStanza, addresses: [JID]) async -> PartOutcome {
        // A `msg` may belong to a session kept under the sender's other address.
        let candidates = part.kind == .whisper ? addresses : Array(addresses.prefix(1))
        var lastError: any Error = SignalError.noSession(addresses[0].signalAddress)
        for sender in candidates {
            let context =
                switch part.kind {
                case .preKey: ["prekey", sender.description]
                case .senderKey: ["senderkey", stanza.source.chat.description, sender.description]
                default: ["normal", sender.description]
                }
            let key = DecryptionBuffer.key(ciphertext: part.ciphertext, context: context)
            // A 1:1 session is held from reading it to committing its change, so a send or a
            // retry re-encrypt on the same session waits and sees the new ratchet state.
            let isSession = part.kind == .preKey || part.kind == .whisper
            if isSession, !sessionGate.tryEnter(sender.signalAddress) {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    sessionGate.queue(sender.signalAddress, continuation)
                }
            }
            defer { if isSession { sessionGate.leave(sender.signalAddress) } }
            do {
                switch try await store.bufferedDecryption(key: key) {
                case .plaintext(let plaintext)?: return .plaintext(plaintext, bufferKey: key)
                case .processed?: return .processed
                case nil: break
                }
                let staged = StagedSignalStore(base: store)
                let plaintext: Data
                switch part.kind {
                case .preKey:
                    let message = try PreKeySignalMessage(serialized: part.ciphertext)
                    plaintext = try await SessionCipher(store: staged, address: sender.signalAddress).decrypt(message)
                case .whisper:
                    let message = try SignalMessage(serialized: part.ciphertext)
                    plaintext = try await SessionCipher(store: staged, address: sender.signalAddress).decrypt(message)
                case .senderKey:
                    let name = SenderKeyName(groupId: stanza.source.chat.description, sender: sender.signalAddress)
                    plaintext = try await GroupCipher(store: staged, name: name).decrypt(serialized: part.ciphertext)
                case .other(let kind):
                    return .failed(SignalError.invalidMessage("unhandled enc type \(kind)"))
                }
                let changes = await staged.changes
                try await store.commitDecryption(
                    DecryptionCommit(bufferKey: key, plaintext: plaintext, serverTimestamp: stanza.timestamp, changes: changes))
                return .plaintext(plaintext, bufferKey: key)
            } catch SignalError.noSession(let address) {
                lastError = SignalError.noSession(address)
            } catch SignalError.duplicateMessage {
                // whatsmeow ignores an old counter the same way: the message was handled before.
                return .processed
            } catch {
                return .failed(error)
            }
        }
        return .failed(lastError)
    }

    /// Installs a group member's sender key carried in `message` (whatsmeow message.go:
    /// processProtocolParts), under the same address its group messages are decrypted with.
    func processSenderKeyDistribution(in message: WAMessage, source: MessageSource, sender: JID) async {
        var message = message
        if message.hasDeviceSentMessage, message.deviceSentMessage.hasMessage { message = message.deviceSentMessage.message }
        guard source.isGroup, message.hasSenderKeyDistributionMessage else { return }
        let distribution = message.senderKeyDistributionMessage
        guard let parsed = try? SenderKeyDistributionMessage(serialized: distribution.axolotlSenderKeyDistributionMessage) else { return }
        let name = SenderKeyName(groupId: source.chat.description, sender: sender.signalAddress)
        try? await Self.install(parsed, as: name, in: store)
    }

    private static func install<Store: SenderKeyStore>(_ message: SenderKeyDistributionMessage, as name: SenderKeyName, in store: Store)
        async throws
    {
        try await GroupSessionBuilder(store: store).process(message, from: name)
    }

    static func isMissingSenderKey(_ error: any Error) -> Bool {
        if case SignalError.noSenderKey = error { return true }
        return false
    }

    /// The group's subject: cached, else asked with a group-info query whose participants' LID↔phone
    /// pairs are stored as well; nil when the query fails (the message is reported without it).
    func groupSubject(_ group: JID) async -> String? {
        if let known = groupSubjects[group] { return known }
        guard let answer = try? await sendIQ(GroupInfo.query(group)), let info = GroupInfo(answer: answer, group: group) else { return nil }
        for mapping in info.lidMappings { await learn(lid: mapping.lid, phone: mapping.phone) }
        if let subject = info.subject { groupSubjects[group] = subject }
        return info.subject
    }

    // MARK: Addresses

    /// The addresses to decrypt a message from `source` with, best first: the sender's LID
    /// device when it is known (where whatsmeow keeps sessions since LIDs came), then the address
    /// the stanza used.
    func decryptionAddresses(for source: MessageSource) async -> [JID] {
        let sender = source.sender
        if sender.isLID || sender.server != JID.Server.user {
            return [sender] + (source.senderAlternate.map { [$0] } ?? [])
        }
        var lid = source.senderAlternate.flatMap { $0.isLID ? $0 : nil }
        if lid == nil, let stored = try? await store.lid(forPhone: sender) { lid = JID.lid(stored.user, device: sender.device) }
        return lid.map { [$0, sender] } ?? [sender]
    }

    /// Stores the LID↔phone pairs a stanza names (whatsmeow message.go: handleEncryptedMessage).
    func learnAddresses(from source: MessageSource) async {
        if let phone = source.senderPhone, let lid = source.senderLID { await learn(lid: lid, phone: phone) }
        if source.isFromMe, let alternate = source.chatAlternate {
            let pair = source.chat.isLID ? (source.chat, alternate) : (alternate, source.chat)
            if pair.0.isLID, !pair.1.isLID { await learn(lid: pair.0, phone: pair.1) }
        }
    }

    private func learn(lid: JID, phone: JID) async {
        guard phone.server == JID.Server.user, lid.server == JID.Server.lid else { return }
        if (try? await store.phone(forLID: lid))?.user == phone.user { return }
        try? await store.storeLIDMapping(lid: lid, phone: phone)
    }

    /// The phone numbers and LIDs of the sender and, for the account's own messages, of the chat:
    /// from the stanza, the device-sent copy's destination, the stored LID map, or, for a LID
    /// nothing else names a number for, a usync about it (`phone(forLID:)`), so that a message is
    /// reported with the sender's number. A failed lookup leaves the number nil.
    func resolve(_ source: MessageSource, message: WAMessage) async -> (senderPhone: JID?, senderLID: JID?, chatPhone: JID?) {
        var senderPhone = source.senderPhone?.withoutDevice
        var senderLID = source.senderLID?.withoutDevice
        if senderPhone == nil, let senderLID, !source.isFromMe { senderPhone = try? await phone(forLID: senderLID) }
        if senderLID == nil, let senderPhone { senderLID = try? await store.lid(forPhone: senderPhone) }
        if source.isFromMe, let device {
            senderPhone = device.jid.withoutDevice
            senderLID = device.lid?.withoutDevice
        }
        var chatPhone: JID?
        if source.isFromMe, !source.isGroup {
            if !source.chat.isLID {
                chatPhone = source.chat
            } else if let alternate = source.chatAlternate, !alternate.isLID {
                chatPhone = alternate.withoutDevice
            } else if message.hasDeviceSentMessage, let destination = try? JID(parsing: message.deviceSentMessage.destinationJid),
                destination.server == JID.Server.user
            {
                chatPhone = destination.withoutDevice
            } else {
                chatPhone = try? await phone(forLID: source.chat)
            }
        }
        return (senderPhone, senderLID, chatPhone)
    }

    // MARK: Failures

    /// Asks the sender to send the message again and reports it; the ack goes out when the owner
    /// confirms it stored the report.
    func undecryptable(_ stanza: MessageStanza, reason: String, senderKeyMissing: Bool, bufferKeys: [Data]) async {
        let count = await sendRetryReceipt(for: stanza, senderKeyMissing: senderKeyMissing)
        let people = await resolve(stanza.source, message: WAMessage())
        emit(
            .undecryptableMessage(
                UndecryptableMessage(
                    id: stanza.id, source: stanza.source, senderPhone: people.senderPhone, senderLID: people.senderLID,
                    chatPhone: people.chatPhone, pushName: stanza.pushName, timestamp: stanza.timestamp, reason: reason, retryCount: count,
                    delivery: DeliveryConfirmation(answer: Receipts.ack(stanza.node), bufferKeys: bufferKeys)
                )))
    }

    /// Sends the next retry receipt for `stanza`; returns its count, or 0 when the retries are
    /// exhausted and none was sent.
    func sendRetryReceipt(for stanza: MessageStanza, senderKeyMissing: Bool) async -> Int {
        let inMessage = stanza.parts.count == 1 ? stanza.parts[0].retryCount : 0
        let count = RetryReceipts.nextCount(previous: messageRetries[stanza.id] ?? 0, inMessage: inMessage)
        messageRetries[stanza.id] = count
        guard count < RetryReceipts.exhaustedAt, let credentials, let device else { return 0 }
        var keys: RetryReceipts.Keys?
        if RetryReceipts.includesKeys(count: count, senderKeyMissing: senderKeyMissing) {
            do {
                let id = try await store.nextPreKeyID()
                guard let preKey = KeyHelper.generatePreKeys(start: id, count: 1).first else { return 0 }
                try await store.storeGivenOutPreKey(preKey)
                keys = RetryReceipts.Keys(
                    identity: credentials.identityKey.publicKey.rawRepresentation, preKeyID: preKey.id,
                    preKey: preKey.keyPair.publicKey.rawRepresentation, signedPreKeyID: credentials.signedPreKey.id,
                    signedPreKey: credentials.signedPreKey.publicKey, signedPreKeySignature: credentials.signedPreKey.signature,
                    deviceIdentity: device.account
                )
            } catch {
                return 0
            }
        }
        enqueue(RetryReceipts.receipt(for: stanza, count: count, registrationID: credentials.registrationID, keys: keys))
        return count
    }
}
