/// What a WhatsApp media message announces about its file, and what a download is checked against.
public struct MediaDigest: Sendable, Equatable {
    /// SHA-256 of the plain file.
    public var fileSHA256: [UInt8]
    /// SHA-256 of the encrypted file (ciphertext followed by the MAC).
    public var fileEncSHA256: [UInt8]
    /// Length of the plain file in bytes.
    public var fileLength: Int

    public init(fileSHA256: [UInt8], fileEncSHA256: [UInt8], fileLength: Int) {
        self.fileSHA256 = fileSHA256
        self.fileEncSHA256 = fileEncSHA256
        self.fileLength = fileLength
    }
}
