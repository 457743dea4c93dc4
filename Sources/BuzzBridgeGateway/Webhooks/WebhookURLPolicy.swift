import Foundation
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a webhook URL is refused.
public struct WebhookURLProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
}

/// The SSRF guard: webhook URLs must be http(s), and unless private addresses are allowed,
/// every address their host names must be a public one.
///
/// The host is checked when the endpoint is saved and again before every attempt, since a name
/// can be pointed elsewhere later. (The HTTP client resolves the name once more to connect; a
/// DNS answer that changes between the two lookups is the remaining gap.)
public struct WebhookURLPolicy: Sendable {
    public var allowPrivateAddresses: Bool

    public init(allowPrivateAddresses: Bool) {
        self.allowPrivateAddresses = allowPrivateAddresses
    }

    /// The form alone: an absolute http or https URL with a host and no credentials.
    public static func checkForm(_ text: String) -> WebhookURLProblem? {
        guard text.utf8.count <= 2048 else { return WebhookURLProblem(description: "must be at most 2048 characters") }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased() else {
            return WebhookURLProblem(description: "must be an absolute http or https URL")
        }
        guard scheme == "http" || scheme == "https" else { return WebhookURLProblem(description: "must use http or https") }
        guard let host = url.host, !host.isEmpty else { return WebhookURLProblem(description: "must name a host") }
        guard url.user == nil, url.password == nil else { return WebhookURLProblem(description: "must not carry credentials") }
        return nil
    }

    /// Form and addresses. A name that does not resolve passes: the attempt will fail and retry.
    public func check(_ text: String) async -> WebhookURLProblem? {
        if let problem = Self.checkForm(text) { return problem }
        guard !allowPrivateAddresses, let host = URL(string: text)?.host else { return nil }
        let bare = Self.comparableHost(host)
        let addresses: [[UInt8]]
        if let literal = IPAddress.parse(bare) {
            addresses = [literal]
        } else if bare == "localhost" || bare.hasSuffix(".localhost") {
            // RFC 6761: always loopback, whatever a resolver says about the name.
            addresses = [[127, 0, 0, 1]]
        } else {
            addresses = (try? await NIOThreadPool.singleton.runIfActive { IPAddress.resolve(bare) }) ?? []
        }
        if let blocked = addresses.first(where: { !IPAddress.isPublic($0) }) {
            return WebhookURLProblem(
                description: "resolves to the non-public address \(IPAddress.format(blocked)); private addresses are not allowed")
        }
        return nil
    }
}

extension WebhookURLPolicy {
    /// The host as an address or a name to look up: brackets, an IPv6 zone (`%lo`, `%25lo`;
    /// the HTTP client connects to the address without it) and a final dot (`localhost.` is
    /// `localhost`) taken off, letters in lower case. Left on, each made a private address
    /// look like a name that does not resolve, which passed.
    static func comparableHost(_ host: String) -> String {
        var bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare.contains(":"), let zone = bare.firstIndex(of: "%") { bare = String(bare[..<zone]) }
        while bare.hasSuffix(".") { bare.removeLast() }
        return bare.lowercased()
    }
}

/// IPv4 (4 bytes) and IPv6 (16 bytes) addresses as raw bytes.
enum IPAddress {
    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    static func resolve(_ host: String) -> [[UInt8]] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var addresses: [[UInt8]] = []
        var cursor = list
        while let info = cursor?.pointee {
            if info.ai_family == AF_INET, let raw = info.ai_addr {
                raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    var address = pointer.pointee.sin_addr
                    addresses.append(withUnsafeBytes(of: &address) { Array($0) })
                }
            } else if info.ai_family == AF_INET6, let raw = info.ai_addr {
                raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    var address = pointer.pointee.sin6_addr
                    addresses.append(withUnsafeBytes(of: &address) { Array($0) })
                }
            }
            cursor = info.ai_next
        }
        return addresses
    }

    /// False for loopback, private, shared, link-local, documentation, multicast and reserved
    /// ranges, and for IPv6 forms that embed such an IPv4 address.
    static func isPublic(_ bytes: [UInt8]) -> Bool {
        if bytes.count == 4 { return isPublicV4(bytes[0], bytes[1], bytes[2]) }
        guard bytes.count == 16 else { return false }
        let prefix = Array(bytes[0..<12])
        if prefix == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] || prefix == [0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0] {
            return isPublicV4(bytes[12], bytes[13], bytes[14])  // IPv4-mapped, NAT64
        }
        if prefix.allSatisfy({ $0 == 0 }) { return false }  // ::, ::1, IPv4-compatible
        switch bytes[0] {
        case 0xFC, 0xFD, 0xFF: return false  // unique local, multicast
        case 0xFE where bytes[1] & 0xC0 == 0x80: return false  // link-local
        case 0x20 where bytes[1] == 0x01 && bytes[2] == 0x0D && bytes[3] == 0xB8: return false  // documentation
        default: return true
        }
    }

    private static func isPublicV4(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> Bool {
        switch (a, b) {
        case (0, _), (10, _), (127, _): return false
        case (100, 64...127): return false  // carrier-grade NAT
        case (169, 254): return false  // link-local, cloud metadata
        case (172, 16...31): return false
        case (192, 168): return false
        case (192, 0) where c == 0 || c == 2: return false
        case (198, 18...19): return false  // benchmarking
        case (198, 51) where c == 100: return false
        case (203, 0) where c == 113: return false
        case (224..., _): return false  // multicast, reserved, broadcast
        default: return true
        }
    }

    static func format(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil }
        guard ok else { return bytes.map(String.init).joined(separator: ".") }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
