import BuzzBridgeCore

/// A response object whose members are listed once, in ``members(_:)``, and written from that one
/// list both by ``JSONWriter`` (the fast path of responses) and by `Encodable` (everything else
/// that encodes it), so the two can never disagree on a key.
///
/// Members must be listed in key order: the writer emits them as listed, the encoder sorts.
protocol JSONObject: JSONWritable, Encodable {
    func members(_ object: inout some JSONMembers)
}

/// Where ``JSONObject`` members go. Optional values are written as `null`, never left out.
protocol JSONMembers {
    mutating func member(_ key: StaticString, _ value: String?)
    mutating func member(_ key: StaticString, _ value: Int)
    mutating func member(_ key: StaticString, _ value: Bool)
    mutating func member(_ key: StaticString, _ value: Timestamp?)
    mutating func member(_ key: StaticString, _ value: some JSONObject)
    mutating func member(_ key: StaticString, _ values: [some JSONObject])
    mutating func member(_ key: StaticString, _ value: Int?)
    mutating func member<Object: JSONObject>(_ key: StaticString, _ value: Object?)
}

extension JSONObject {
    func write(to json: inout JSONWriter) {
        json.object { object in members(&object) }
    }

    func encode(to encoder: any Encoder) throws {
        var members = EncoderMembers(container: encoder.container(keyedBy: MemberKey.self))
        self.members(&members)
        if let error = members.firstError { throw error }
    }
}

extension JSONWriter: JSONMembers {
    mutating func member(_ key: StaticString, _ value: String?) { self.key(key); self.value(value) }
    mutating func member(_ key: StaticString, _ value: Int) { self.key(key); self.value(value) }
    mutating func member(_ key: StaticString, _ value: Bool) { self.key(key); self.value(value) }
    mutating func member(_ key: StaticString, _ value: Timestamp?) { self.key(key); self.value(value) }

    mutating func member(_ key: StaticString, _ value: some JSONObject) {
        self.key(key)
        value.write(to: &self)
    }

    mutating func member(_ key: StaticString, _ values: [some JSONObject]) {
        self.key(key)
        array(values) { json, value in value.write(to: &json) }
    }

    mutating func member(_ key: StaticString, _ value: Int?) {
        self.key(key)
        if let value { self.value(value) } else { null() }
    }

    mutating func member<Object: JSONObject>(_ key: StaticString, _ value: Object?) {
        self.key(key)
        if let value { value.write(to: &self) } else { null() }
    }
}

private struct MemberKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
    init(_ key: StaticString) { self.stringValue = key.description }
}

/// Members into a keyed container; timestamps as the API's ISO 8601 text, as the writer does.
private struct EncoderMembers: JSONMembers {
    var container: KeyedEncodingContainer<MemberKey>
    var firstError: (any Error)?

    private mutating func encode(_ value: some Encodable, _ key: StaticString) {
        guard firstError == nil else { return }
        do { try container.encode(value, forKey: MemberKey(key)) } catch { firstError = error }
    }

    mutating func member(_ key: StaticString, _ value: String?) { encode(value, key) }
    mutating func member(_ key: StaticString, _ value: Int) { encode(value, key) }
    mutating func member(_ key: StaticString, _ value: Bool) { encode(value, key) }
    mutating func member(_ key: StaticString, _ value: Timestamp?) { encode(value?.iso8601, key) }
    mutating func member(_ key: StaticString, _ value: some JSONObject) { encode(value, key) }
    mutating func member(_ key: StaticString, _ values: [some JSONObject]) { encode(values, key) }
    mutating func member(_ key: StaticString, _ value: Int?) { encode(value, key) }
    mutating func member<Object: JSONObject>(_ key: StaticString, _ value: Object?) { encode(value, key) }
}
