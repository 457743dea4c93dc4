import Foundation

/// The upload request WhatsApp's media hosts take and the answer they give (whatsmeow upload.go:
/// Upload): `POST https://{first media_conn host}/mms/{mms-type}/{TOKEN}?auth={media_conn auth}&token={TOKEN}`
/// where TOKEN is the URL-safe base64 (with padding) of the encrypted file's SHA-256, the body
/// the encrypted file, and the answer `{"url": …, "direct_path": …}`.
public enum MediaUpload {
    /// The `TOKEN`: URL-safe base64, padded, of SHA-256 of the upload body.
    public static func token(fileEncSHA256: [UInt8]) -> String {
        Data(fileEncSHA256).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }

    /// The request target (path and query). The query is written as Go's `url.Values.Encode`
    /// writes it: keys sorted, values escaped (so the token's `=` padding becomes `%3D` there,
    /// while the path keeps it).
    public static func target(kind: MediaKind, token: String, auth: String) -> String {
        "/mms/\(kind.mmsType)/\(token)?auth=\(queryEscaped(auth))&token=\(queryEscaped(token))"
    }

    /// Bytes of the upload body for a plain file of `plainLength` bytes: PKCS#7 always adds 1 to
    /// 16 bytes, then the 10-byte MAC.
    public static func encryptedLength(plainLength: Int) -> Int {
        (plainLength / MediaEncryptor.blockSize + 1) * MediaEncryptor.blockSize + MediaEncryptor.macLength
    }

    /// Where the host keeps the file, from its `200` answer.
    public static func location(from answer: Data) throws(MediaUploadError) -> (url: String, directPath: String) {
        struct Answer: Decodable {
            var url: String?
            var direct_path: String?
        }
        guard let decoded = try? JSONDecoder().decode(Answer.self, from: answer) else { throw .malformedAnswer("not a JSON object") }
        guard let directPath = decoded.direct_path, directPath.hasPrefix("/") else {
            throw .malformedAnswer("no direct_path starting with /")
        }
        guard let url = decoded.url, url.hasPrefix("https://") else { throw .malformedAnswer("no https url") }
        return (url, directPath)
    }

    /// Go's `url.QueryEscape`: unreserved characters kept, space as `+`, the rest `%XX`.
    static func queryEscaped(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "):
                out += "+"
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
