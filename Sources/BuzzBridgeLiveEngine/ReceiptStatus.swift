import BuzzBridgeCore
import WhatsAppProtocol

/// What a receipt means for the status of the messages it names (whatsmeow types/receipt.go).
enum ReceiptStatus {
    /// `delivered` for a delivery (with or without `inactive`), `read` for `read` and `played`;
    /// nil for receipts from the account's own devices (`sender`, `read-self`…), retry receipts
    /// and kinds that say nothing about the recipient.
    static func status(of receipt: Receipt, ownUsers: Set<JID>) -> MessageStatus? {
        guard !ownUsers.contains(receipt.sender.withoutDevice) else { return nil }
        switch receipt.kind {
        case .delivered, .inactive: return .delivered
        case .read, .played: return .read
        case .readSelf, .playedSelf, .retry, .sender, .other: return nil
        }
    }
}
