/// Why a media file could not be encrypted or was refused on decryption. A refused file must be
/// discarded whole: nothing of it is trustworthy.
public enum MediaCryptoError: Error, Sendable, Equatable {
    /// The media key is not 32 bytes.
    case invalidMediaKey(length: Int)
    /// The 10-byte HMAC-SHA256 over iv and ciphertext does not match: the file was altered or
    /// the key is not the file's.
    case macMismatch
    /// SHA-256 of the encrypted file is not the one the message announced.
    case encryptedHashMismatch
    /// SHA-256 of the decrypted file is not the one the message announced.
    case plaintextHashMismatch
    /// The decrypted file is not as long as the message announced.
    case lengthMismatch(expected: Int, actual: Int)
    /// Too short for a MAC and one block, or the ciphertext is not whole AES blocks.
    case truncated
    /// The last block's PKCS#7 padding is malformed (only possible with a MAC that matched, so a sender's bug).
    case badPadding
    /// AES refused the input (never expected with whole blocks and a 256-bit key).
    case cipherFailure
}
