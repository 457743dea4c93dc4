/// WhatsApp's token dictionaries (version 3), with the reverse lookups the encoder needs.
public enum TokenDictionary {
    /// Sent in the connection header so the server knows which tables the client speaks.
    public static let version: UInt8 = 3

    public enum Token: Sendable, Equatable {
        case single(UInt8)
        case double(dictionary: UInt8, index: UInt8)
    }

    /// The token for `string`, preferring single-byte ones.
    public static func token(for string: String) -> Token? {
        reverse[string]
    }

    public static func singleByteToken(_ index: UInt8) -> String? {
        let index = Int(index)
        guard index > 0, index < singleByteTokens.count else { return nil }
        return singleByteTokens[index]
    }

    public static func doubleByteToken(dictionary: UInt8, index: UInt8) -> String? {
        let dictionary = Int(dictionary), index = Int(index)
        guard dictionary < doubleByteTokens.count, index < doubleByteTokens[dictionary].count else { return nil }
        return doubleByteTokens[dictionary][index]
    }

    private static let reverse: [String: Token] = {
        var map: [String: Token] = [:]
        for (dictionary, tokens) in doubleByteTokens.enumerated() {
            for (index, token) in tokens.enumerated() {
                map[token] = .double(dictionary: UInt8(dictionary), index: UInt8(index))
            }
        }
        for (index, token) in singleByteTokens.enumerated() where !token.isEmpty {
            map[token] = .single(UInt8(index))
        }
        return map
    }()
}

/// The tag bytes of the binary format (whatsmeow binary/token/token.go; Baileys WABinary/constants.ts).
enum WireTag {
    static let listEmpty: UInt8 = 0
    static let dictionary0: UInt8 = 236
    static let dictionary3: UInt8 = 239
    static let interopJID: UInt8 = 245
    static let fbJID: UInt8 = 246
    static let adJID: UInt8 = 247
    static let list8: UInt8 = 248
    static let list16: UInt8 = 249
    static let jidPair: UInt8 = 250
    static let hex8: UInt8 = 251
    static let binary8: UInt8 = 252
    static let binary20: UInt8 = 253
    static let binary32: UInt8 = 254
    static let nibble8: UInt8 = 255
    /// Longest string NIBBLE_8 and HEX_8 can carry: the length byte keeps 7 bits for pairs.
    static let packedMax = 127
}
