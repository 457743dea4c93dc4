import Logging

/// What logs may show of what people wrote and who they are.
///
/// By default message text is replaced by its length, phone numbers and WhatsApp ids keep only
/// their last two digits, and URLs keep only their scheme and host (a webhook URL's path or query
/// often carries a token). `buzzbridge serve --log-sensitive` shows them whole, for debugging.
/// API keys, admin tokens, passwords and webhook secrets are never logged, with or without it.
public struct LogPrivacy: Sendable, Equatable {
    public var showsSensitiveData: Bool

    public init(showsSensitiveData: Bool = false) {
        self.showsSensitiveData = showsSensitiveData
    }

    /// Message text: whole, or only how long it is.
    public func text(_ text: String) -> Logger.MetadataValue {
        showsSensitiveData ? .string(text) : .string("<redacted: \(text.unicodeScalars.count) characters>")
    }

    /// A phone number or a WhatsApp id (`60123456789@s.whatsapp.net`): whole, or its last two digits.
    public func identity(_ identity: String) -> Logger.MetadataValue {
        if showsSensitiveData { return .string(identity) }
        let digits = identity.split(separator: "@").first.map { $0.split(separator: ":").first ?? $0 } ?? ""
        return .string("…" + String(digits.filter(\.isNumber).suffix(2)))
    }

    /// A URL: whole, or its scheme and host (with the port).
    public func url(_ url: String) -> Logger.MetadataValue {
        if showsSensitiveData { return .string(url) }
        guard let schemeEnd = url.firstRange(of: "://") else { return .string("<redacted URL>") }
        let rest = url[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        // user:password@ before the host is a credential too.
        let host = authority.split(separator: "@").last ?? ""
        return .string(String(url[..<schemeEnd.upperBound]) + String(host) + (rest.count > authority.count ? "/…" : ""))
    }
}
