import NIOCore
import PostgresNIO

/// A `BYTEA` value. postgres-nio binds `[UInt8]` as an array of `"char"`, not as bytes, so bytes
/// and the UTF-8 of text a person typed (see ``PostgresSchema``) go through this.
struct Bytea: PostgresNonThrowingEncodable, Sendable {
    let buffer: ByteBuffer

    init(_ bytes: [UInt8]) { buffer = ByteBuffer(bytes: bytes) }

    init(_ text: String) { buffer = ByteBuffer(string: text) }

    static var psqlType: PostgresDataType { .bytea }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        byteBuffer.writeImmutableBuffer(buffer)
    }
}
