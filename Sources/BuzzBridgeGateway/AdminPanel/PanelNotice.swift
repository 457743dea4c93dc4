import Hummingbird

/// The messages a page shows after a redirect, named by code in `?notice=`. Only texts the panel
/// itself chose can appear: an unknown code shows nothing, so a link cannot put words of its own
/// on an authenticated page.
enum PanelNotice: String, CaseIterable, Sendable {
    case keyRevoked = "key-revoked"
    case webhookAdded = "webhook-added"
    case webhookUpdated = "webhook-updated"
    case webhookRemoved = "webhook-removed"
    case deliveryQueued = "delivery-queued"
    case deliveryAlreadyQueued = "delivery-already-queued"
    case webhookGone = "webhook-gone"

    var text: String {
        switch self {
        case .keyRevoked: "The key was revoked; it stopped working at once."
        case .webhookAdded: "Webhook added."
        case .webhookUpdated: "Webhook updated."
        case .webhookRemoved: "Webhook removed."
        case .deliveryQueued: "Delivery queued again."
        case .deliveryAlreadyQueued: "That delivery is already queued."
        case .webhookGone: "That webhook was removed."
        }
    }

    /// The path with this notice's code as its query.
    func location(_ path: String, fragment: String? = nil) -> String {
        "\(path)?notice=\(rawValue)" + (fragment.map { "#\($0)" } ?? "")
    }

    static func flash(of request: Request) -> AdminPages.Flash? {
        request.uri.queryParameters.get("notice").flatMap(PanelNotice.init(rawValue:)).map { .success($0.text) }
    }
}
