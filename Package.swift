// swift-tools-version:6.1
import PackageDescription

// The release executable is linked by lld (in the Swift toolchain) so that what it maps at start
// stays small: relative relocations packed (RELR) instead of 24 bytes each, no dynamic symbol table
// for its own symbols, and the functions that start, idle and serve the API placed side by side
// (linker/buzzbridge.order, written by scripts/gen-link-order) rather than spread over the whole
// binary. Together with `--static-swift-stdlib` this keeps the idle process small (docs/benchmarks.md).
let releaseLinkerFlags = [
    "-use-ld=lld",
    "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
    "-Xlinker", "--no-export-dynamic",
    "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/linker/buzzbridge.order",
    "-Xlinker", "--no-warn-symbol-ordering",
]

// The folders mirror the architecture: the gateway talks to WhatsApp only through
// the engine interface; the protocol libraries know nothing about the gateway.
let package = Package(
    name: "BuzzBridge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "buzzbridge", targets: ["BuzzBridgeCLI"]),
        .library(name: "WhatsAppProtocol", targets: ["WhatsAppProtocol"]),
        .library(name: "SignalProtocol", targets: ["SignalProtocol"]),
        .library(name: "QRCode", targets: ["QRCode"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // Domain values shared by the gateway, the engines and the store.
        .target(
            name: "BuzzBridgeCore",
            path: "Sources/BuzzBridgeCore"
        ),
        .target(
            name: "BuzzBridgeStorage",
            dependencies: [
                "BuzzBridgeCore",
                // SQLite (Debian's libsqlite3) with cached statements and a WAL reader pool.
                .product(name: "GRDB", package: "GRDB.swift"),
                // sqlite3_busy_timeout, to wait briefly when starting the WAL over.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            path: "Sources/BuzzBridgeStorage"
        ),
        // The store on PostgreSQL, for several nodes sharing one database. Its own target, so that
        // only what uses PostgreSQL links postgres-nio.
        .target(
            name: "BuzzBridgePostgres",
            dependencies: [
                "BuzzBridgeCore",
                "BuzzBridgeStorage",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                // The blocking threads protocol-state transactions run on.
                .product(name: "NIOPosix", package: "swift-nio"),
                // The queue of protocol-state transactions waiting for one of those threads.
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            path: "Sources/BuzzBridgePostgres"
        ),
        .target(
            name: "BuzzBridgeEngines",
            dependencies: [
                "BuzzBridgeCore",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/BuzzBridgeEngines"
        ),
        .target(
            name: "BuzzBridgeGateway",
            dependencies: [
                "BuzzBridgeCore",
                "BuzzBridgeStorage",
                "BuzzBridgeEngines",
                "QRCode",
                .product(name: "Hummingbird", package: "hummingbird"),
                // HTTPS: the TLS child channel and NIOSSL's configuration types.
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                // PBKDF2 for the admin panel password, run on NIO's thread pool for blocking work.
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                // The rate limiter's per-key request log.
                .product(name: "DequeModule", package: "swift-collections"),
                // The admin panel's page templates.
                .product(name: "Mustache", package: "swift-mustache"),
                // multipart/form-data sends, parsed as the body streams in.
                .product(name: "MultipartKit", package: "multipart-kit"),
                // `/metrics`: each gateway's own Prometheus registry, written through swift-metrics' API.
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            path: "Sources/BuzzBridgeGateway",
            resources: [.copy("Resources")]
        ),
        .executableTarget(
            name: "BuzzBridgeCLI",
            dependencies: [
                "BuzzBridgeGateway",
                "BuzzBridgeStorage",
                "BuzzBridgeEngines",
                "BuzzBridgeLiveEngine",
                // `--database postgres://…`.
                "BuzzBridgePostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                // Runs Swift concurrency on NIO's event loops (see EventLoopExecutor.swift).
                "ConcurrencyHook",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // Bootstraps swift-metrics' global system with the gateway's factory.
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            path: "Sources/BuzzBridgeCLI",
            linkerSettings: [.unsafeFlags(releaseLinkerFlags, .when(platforms: [.linux], configuration: .release))]
        ),
        // The live WhatsApp engine: the protocol client joined to the gateway's engine interface and
        // store. Its own target, so that the sandbox never links the protocol stack.
        .target(
            name: "BuzzBridgeLiveEngine",
            dependencies: [
                "BuzzBridgeCore",
                "BuzzBridgeEngines",
                "BuzzBridgeStorage",
                "WhatsAppProtocol",
                "SignalProtocol",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/BuzzBridgeLiveEngine"
        ),
        .target(name: "ConcurrencyHook", path: "Sources/ConcurrencyHook"),
        // QR Model 2 encoder and a minimal PNG writer: the pairing code needs byte mode, one error-correction level
        // and a 1-bit PNG, a small, fixed part of ISO/IEC 18004 that is simpler to own than to adapt,
        // and is proven in tests against independent implementations (zxing-cpp decodes it, segno encodes the same).
        .target(
            name: "QRCode",
            dependencies: [
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/QRCode"
        ),
        // Signal protocol as WhatsApp uses it: XEdDSA, X3DH, Double Ratchet, sender keys.
        .target(
            name: "SignalProtocol",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Sources/SignalProtocol"
        ),
        // WhatsApp multi-device transport: frames, Noise, binary nodes, pairing.
        .target(
            name: "WhatsAppProtocol",
            dependencies: [
                "SignalProtocol",
                // Renders the pairing QR code with the gateway's encoder.
                "QRCode",
                .product(name: "Crypto", package: "swift-crypto"),
                // PBKDF2 and AES-CTR for pairing by phone number (the code's key wrapping).
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                // zlib for compressed incoming frames.
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                // The WebSocket transport: TCP, HTTP upgrade, WebSocket frames, TLS.
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                // TLS for the chat socket and the media hosts (MediaHostClient: uploads and downloads).
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Sources/WhatsAppProtocol"
        ),
        // Helpers the test targets share (the Python peers, temporary folders).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(
            name: "BuzzBridgeGatewayTests",
            dependencies: [
                "BuzzBridgeGateway",
                "QRCode",
                "TestSupport",
                "BuzzBridgeStorage",
                "BuzzBridgeEngines",
                // `migrate-data`'s test reads the copied protocol state back.
                "BuzzBridgePostgres",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                // The router in process, for tests of what the API answers to bad input.
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                // SHA-256 of the panel's inline blocks, to check the CSP's hashes.
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/BuzzBridgeGatewayTests"
        ),
        .testTarget(
            name: "BuzzBridgeStorageTests",
            // GRDB directly, to put a database into states the store itself never writes.
            dependencies: [
                "BuzzBridgeStorage", "BuzzBridgeCore", "TestSupport", .product(name: "GRDB", package: "GRDB.swift"),
                // The same contract tests on PostgreSQL.
                "BuzzBridgePostgres",
            ],
            path: "Tests/BuzzBridgeStorageTests"
        ),
        // Used only by BuzzBridgeStorageTests: performs protocol-state writes and waits to be killed.
        .executableTarget(name: "ProtocolStoreProbe", dependencies: ["BuzzBridgeStorage", "BuzzBridgeCore"], path: "Tests/ProtocolStoreProbe"),
        .testTarget(
            name: "BuzzBridgeLiveEngineTests",
            dependencies: ["BuzzBridgeLiveEngine", "BuzzBridgeStorage", "BuzzBridgeCore", "WhatsAppProtocol", "SignalProtocol"],
            path: "Tests/BuzzBridgeLiveEngineTests"
        ),
        .testTarget(name: "BuzzBridgeEnginesTests", dependencies: ["BuzzBridgeEngines", "BuzzBridgeCore"], path: "Tests/BuzzBridgeEnginesTests"),
        .testTarget(name: "QRCodeTests", dependencies: ["QRCode", "TestSupport"], path: "Tests/QRCodeTests"),
        .testTarget(name: "SignalProtocolTests", dependencies: ["SignalProtocol", "TestSupport"], path: "Tests/SignalProtocolTests"),
        .testTarget(name: "WhatsAppProtocolTests", dependencies: ["WhatsAppProtocol", "TestSupport"], path: "Tests/WhatsAppProtocolTests"),
    ]
)
