import Foundation

/// One element of WhatsApp's binary XML: a tag, ordered attributes and optional content.
public struct BinaryNode: Sendable, Hashable, CustomStringConvertible {
    public var tag: String
    public var attributes: Attributes
    public var content: Content?

    public init(tag: String, attributes: Attributes = [:], content: Content? = nil) {
        self.tag = tag
        self.attributes = attributes
        self.content = content
    }

    public init(tag: String, attributes: Attributes = [:], children: [BinaryNode]) {
        self.init(tag: tag, attributes: attributes, content: .nodes(children))
    }

    public enum Content: Sendable, Hashable {
        case nodes([BinaryNode])
        case bytes(Data)
        /// A string the encoder may write as a token or a packed string. Raw strings come back
        /// from the wire as `.bytes`, because the format does not distinguish them.
        case string(String)
        case jid(JID)
    }

    public enum AttributeValue: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
        case string(String)
        case jid(JID)

        public init(stringLiteral value: String) { self = .string(value) }

        public var description: String {
            switch self {
            case .string(let string): string
            case .jid(let jid): jid.description
            }
        }
    }

    /// Attributes in the order they are written; keys are unique.
    public struct Attributes: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
        public private(set) var pairs: [(key: String, value: AttributeValue)]

        public init() { pairs = [] }

        public init(dictionaryLiteral elements: (String, AttributeValue)...) {
            pairs = []
            for (key, value) in elements { self[key] = value }
        }

        public var count: Int { pairs.count }
        public var isEmpty: Bool { pairs.isEmpty }

        public subscript(key: String) -> AttributeValue? {
            get { pairs.first { $0.key == key }?.value }
            set {
                if let index = pairs.firstIndex(where: { $0.key == key }) {
                    if let newValue { pairs[index].value = newValue } else { pairs.remove(at: index) }
                } else if let newValue {
                    pairs.append((key, newValue))
                }
            }
        }

        public func string(_ key: String) -> String? { self[key]?.description }

        public func jid(_ key: String) -> JID? {
            switch self[key] {
            case .jid(let jid): jid
            case .string(let string): try? JID(parsing: string)
            case nil: nil
            }
        }

        public func makeIterator() -> IndexingIterator<[(key: String, value: AttributeValue)]> {
            pairs.makeIterator()
        }

        public static func == (lhs: Attributes, rhs: Attributes) -> Bool {
            lhs.pairs.count == rhs.pairs.count && zip(lhs.pairs, rhs.pairs).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        }

        public func hash(into hasher: inout Hasher) {
            for (key, value) in pairs {
                hasher.combine(key)
                hasher.combine(value)
            }
        }
    }

    /// The child nodes, or an empty list when the content is not a list.
    public var children: [BinaryNode] {
        if case .nodes(let nodes) = content { return nodes }
        return []
    }

    public func child(_ tag: String) -> BinaryNode? { children.first { $0.tag == tag } }

    /// The content as bytes: raw bytes, or the UTF-8 of a string.
    public var contentBytes: Data? {
        switch content {
        case .bytes(let data): data
        case .string(let string): Data(string.utf8)
        default: nil
        }
    }

    /// An XML-like rendering for logs and test failures.
    public var description: String {
        var text = "<\(tag)"
        for (key, value) in attributes { text += " \(key)=\"\(value)\"" }
        switch content {
        case nil: return text + "/>"
        case .nodes(let nodes): return text + ">" + nodes.map(\.description).joined() + "</\(tag)>"
        case .bytes(let data): return text + ">" + data.map { String(format: "%02x", $0) }.joined() + "</\(tag)>"
        case .string(let string): return text + ">" + string + "</\(tag)>"
        case .jid(let jid): return text + ">" + jid.description + "</\(tag)>"
        }
    }
}
