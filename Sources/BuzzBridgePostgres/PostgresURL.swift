import PostgresNIO

/// Reads `postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]`.
public enum PostgresURL {
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public static func configuration(_ url: String) throws -> PostgresClient.Configuration {
        guard let schemeEnd = url.firstRange(of: "://"), ["postgres", "postgresql"].contains(url[..<schemeEnd.lowerBound]) else {
            throw Invalid(description: "a database URL starts with postgres://")
        }
        var rest = url[schemeEnd.upperBound...]
        var options: [Substring: Substring] = [:]
        if let question = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: question)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                options[parts[0]] = parts.count == 2 ? parts[1] : ""
            }
            rest = rest[..<question]
        }
        guard let at = rest.lastIndex(of: "@") else { throw Invalid(description: "the database URL names no user (postgres://user@host/db)") }
        let credentials = rest[..<at].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let user = percentDecoded(credentials[0])
        let password = credentials.count == 2 ? percentDecoded(credentials[1]) : nil
        let location = rest[rest.index(after: at)...]
        let slash = location.firstIndex(of: "/") ?? location.endIndex
        let database = slash < location.endIndex ? percentDecoded(location[location.index(after: slash)...]) : nil
        let hostPort = location[..<slash]
        var host = hostPort
        var port = 5432
        if let colon = hostPort.lastIndex(of: ":"), !hostPort.hasSuffix("]") {
            guard let parsed = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(parsed) else {
                throw Invalid(description: "the database URL's port is not a number from 1 to 65535")
            }
            port = parsed
            host = hostPort[..<colon]
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !user.isEmpty, !host.isEmpty else { throw Invalid(description: "the database URL needs a user and a host") }
        let tls: PostgresClient.Configuration.TLS
        switch options["sslmode"] ?? "prefer" {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw Invalid(description: "sslmode must be disable, prefer, require or verify-full")
        }
        return PostgresClient.Configuration(
            host: String(host), port: port, username: user, password: password, database: database.flatMap { $0.isEmpty ? nil : $0 }, tls: tls)
    }

    private static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var index = text.utf8.startIndex
        let utf8 = text.utf8
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%"), let high = utf8.index(index, offsetBy: 1, limitedBy: utf8.endIndex), high < utf8.endIndex,
                let low = utf8.index(index, offsetBy: 2, limitedBy: utf8.endIndex), low < utf8.endIndex,
                let value = UInt8(String(decoding: [utf8[high], utf8[low]], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                index = utf8.index(index, offsetBy: 3)
            } else {
                bytes.append(byte)
                index = utf8.index(after: index)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
