import Crypto
import Foundation
import Testing

@testable import SignalProtocol

@Suite("XEdDSA")
struct XEdDSATests {
    /// Deterministic signatures produced by python-axolotl-curve25519 (libsignal's C code):
    /// identical inputs must give byte-identical signatures.
    static let libsignalVectors: [(privateKey: String, publicKey: String, random: String, message: String, signature: String)] = [
        (
            "a819408ce5010ca2e09ef59ac3d89f5ff8595d02b524e61bf8afa894a95d594f",
            "3dd47574954e5fbfdbe4329542b9348ab80152e9dd63bb4aea72f967c71c5002",
            "fe3b5b266eb8038a0c06757399624f1debb3e0df2618341054881010ca14c3782ff13aaf83ce9ca4262b5c435cadfb9f3fd87c63ddbfa89de20d38c1c5f25b94",
            "",
            "e3f50a0df7e5a5851eeb0f110cc55156c6e23ee4188a4d2b451f7fdc5ad548535aad588c3fd5e29798eceb6eea8088305d37dce07cc3388f9f3c02bec57d6c80"
        ),
        (
            "8074099687a26621f4e2cdd7cc03b3dacedb3fb962255b1aafd033cabe831570",
            "83889c13e41e4ec08fd84a31db12cfc9b4c4110dfdf2c312d17eab1ab04d2000",
            "9c8f9a957ec9e3fbb1667f4e3d5d3ecdd0cb2ed7d4a8c4a1d01a8de577bb8d7065823fc32d860fdef38ec64d65901323ed8a7673377a0e320d738f8921754d6a",
            "5a4b12a319ef656ec3b0e5e9945fa48770f248fc0dda98f74d3d3adb5dc0e62e79",
            "b4053e43d3fe0200a8a66509c1873a52eaa8e98d4262ac5b960a8984624a61c32ae39930f9d8fbbb23fe228427b64e8890b8ac50b0e40e83720f4854d224e70b"
        ),
        (
            "b00253764c8b233fb37542e23401c7b450e5a6f9751f3b5a014f6f67e8bc995d",
            "56eaaacd224eb0e5bd1f05b5a3515068cad189781212ce8660a7a97c90ed3241",
            "5ad62726e36223d491ea7020e0fe044040b50c85c0692465f59794cf3d2e031b3487c983e13df45d5bf7545363aecc806b1a361eb418594f0eaa30bb1772d7c9",
            "331ba04fd5052a4415794fe87c86bb8b8eca6abfd89d75702c2b7767298a92708846ab080f693af18f97cb3b690e5ae84f8bb3385ef3882819a950cccfed4390331ba04fd5052a4415794fe87c86bb8b8eca6abfd89d75702c2b7767298a92708846ab080f693af18f97cb3b690e5ae84f8bb3385ef3882819a950cccfed4390331ba04fd5052a4415794fe87c86bb8b8eca6abfd89d75702c2b7767298a92708846ab080f693af18f97cb3b690e5ae84f8bb3385ef3882819a950cccfed4390331ba04fd5052a44",
            "5adb8955469907a58863b1f2eebff2db45374b912e3d505e283ac773b75f5f0234cadce398e8785ad8193ff2c72ff1c26e1f12bc5250e5f32ba3da983941b901"
        ),
    ]

    @Test("matches libsignal's deterministic signatures byte for byte", arguments: 0..<3)
    func libsignalVector(index: Int) throws {
        let vector = Self.libsignalVectors[index]
        let privateKey = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: Data(hex: vector.privateKey))
        #expect(privateKey.publicKey.rawRepresentation.hex == vector.publicKey)
        let signature = XEdDSA.signature(for: Data(hex: vector.message), privateKey: privateKey, random: Data(hex: vector.random))
        #expect(signature.hex == vector.signature)
        #expect(XEdDSA.isValid(signature: signature, for: Data(hex: vector.message), publicKey: privateKey.publicKey))
    }

    /// libsignal's Curve25519Test.testSignature: Alice's identity key signs her ephemeral key.
    @Test("verifies libsignal's published signature vector")
    func libsignalPublishedVector() throws {
        let identity = try Curve25519.KeyAgreement.PublicKey(
            rawRepresentation: Data(hex: "ab7e717d4a163b7d9a1d8071dfe9dcf8cdcd1cea3339b6356be84d887e322c64"))
        let message = Data(hex: "05edce9d9c415ca78cb7252e72c2c4a554d3eb29485a0e1d503118d1a82d99fb4a")
        var signature = Data(
            hex: "5de88ca9a89b4a115da79109c67c9c7464a3e4180274f1cb8c63c2984e286dfbede82deb9dcd9fae0bfbb821569b3d9001bd8130cd11d486cef047bd60b86e88")
        #expect(XEdDSA.isValid(signature: signature, for: message, publicKey: identity))
        signature[5] ^= 1
        #expect(!XEdDSA.isValid(signature: signature, for: message, publicKey: identity))
        // The private key published with the vector derives the same public key.
        let privateKey = try Curve25519.KeyAgreement.PrivateKey(
            rawRepresentation: Data(hex: "c097248412e58bf05df487968205132794178e367637f5818f81e0e6ce73e865"))
        #expect(privateKey.publicKey.rawRepresentation == identity.rawRepresentation)
    }

    @Test("the Edwards form of a key is the birational image of its X25519 public key")
    func montgomeryToEdwards() {
        for _ in 0..<8 {
            let key = Curve25519.KeyAgreement.PrivateKey()
            let edwards = EdwardsPoint.basePoint.multiplied(bySecret: XEdDSA.clamped(key.rawRepresentation)).encoded
            let u = FieldElement(littleEndian: [UInt8](key.publicKey.rawRepresentation))
            let y = (u - .one) * (u + .one).inverse
            var edwardsY = edwards
            edwardsY[31] &= 0x7F
            #expect(y.bytes == edwardsY)
        }
    }

    /// swift-crypto's Ed25519 is an independent implementation of the same group arithmetic.
    @Test("internal Ed25519 arithmetic agrees with swift-crypto's Ed25519")
    func ed25519AgreesWithSwiftCrypto() throws {
        for length in [0, 1, 33, 200] {
            let signingKey = Curve25519.Signing.PrivateKey()
            let message = [UInt8]((0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7) })
            let expanded = [UInt8](SHA512.hash(data: signingKey.rawRepresentation))
            let scalar = XEdDSA.clamped(expanded[0..<32])
            let publicPoint = EdwardsPoint.basePoint.multiplied(bySecret: scalar).encoded
            #expect(Data(publicPoint) == signingKey.publicKey.rawRepresentation)

            let nonce = Scalar(reducing: Array(SHA512.hash(data: expanded[32..<64] + message)))
            let ours = XEdDSA.edwardsSignature(message: message, secretScalar: scalar, publicPoint: publicPoint, nonce: nonce)
            #expect(signingKey.publicKey.isValidSignature(ours, for: message))

            let theirs = try [UInt8](signingKey.signature(for: message))
            #expect(XEdDSA.isValidEdwardsSignature(theirs, message: message, publicKey: publicPoint))
            #expect(ours == theirs, "RFC 8032 signing is deterministic")
        }
    }

    @Test("table-based base-point multiples agree with the double-and-add ladder")
    func baseTable() {
        var scalars: [[UInt8]] = [[UInt8](repeating: 0, count: 32), [1] + [UInt8](repeating: 0, count: 31), [UInt8](repeating: 0xFF, count: 32)]
        for _ in 0..<4 { scalars.append((0..<32).map { _ in UInt8.random(in: 0...255) }) }
        for scalar in scalars {
            let ladder = EdwardsPoint.basePoint.multiplied(bySecret: scalar).encoded
            #expect(EdwardsPoint.baseMultiple(secret: scalar).encoded == ladder)
            #expect(EdwardsPoint.baseMultiple(public: scalar).encoded == ladder)
            #expect(EdwardsPoint.basePoint.multiplied(byPublic: scalar).encoded == ladder)
        }
    }

    @Test("doubling agrees with adding a point to itself")
    func doubling() {
        var point = EdwardsPoint.basePoint
        for _ in 0..<5 {
            #expect((point + point).encoded == point.doubled.encoded)
            point = point.doubled + EdwardsPoint.basePoint
        }
    }

    @Test("carries and borrows from the operands' top bits match the overflow flags, edge values included")
    func carryAndBorrowWithoutFlags() {
        let edges: [UInt64] = [0, 1, 2, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0x8000_0000_0000_0001, .max - 1, .max]
        var generator = SystemRandomNumberGenerator()
        let values = edges + (0..<24).map { _ in UInt64.random(in: .min ... .max, using: &generator) }
        for a in values {
            for b in values {
                for bit: UInt64 in [0, 1] {
                    let (s1, o1) = a.addingReportingOverflow(b)
                    let (s2, o2) = s1.addingReportingOverflow(bit)
                    let added = Scalar.addWithCarry(a, b, bit)
                    #expect(added.sum == s2 && added.carry == ((o1 || o2) ? 1 : 0))
                    let (d1, b1) = a.subtractingReportingOverflow(b)
                    let (d2, b2) = d1.subtractingReportingOverflow(bit)
                    let subtracted = Scalar.subtractWithBorrow(a, b, bit)
                    #expect(subtracted.difference == d2 && subtracted.borrow == ((b1 || b2) ? 1 : 0))
                }
            }
        }
    }

    @Test("an X25519 agreement with a low-order point (all-zero secret) is refused")
    func allZeroSharedSecretRefused() throws {
        let ours = ECKeyPair.generate()
        // u = 0 and u = 1 are points of small order: every scalar gives the zero secret.
        for lowOrder in [Data(count: 32), Data([1] + [UInt8](repeating: 0, count: 31))] {
            let point = try ECPublicKey(rawRepresentation: lowOrder)
            #expect(throws: SignalError.invalidKey) { try ours.agreement(with: point) }
        }
        let theirs = ECKeyPair.generate()
        #expect(try ours.agreement(with: theirs.publicKey) == theirs.agreement(with: ours.publicKey))
    }

    @Test("scalar reduction agrees with L·k + r ≡ r")
    func scalarReduction() {
        // L itself reduces to zero and L + 5 to 5.
        let order = Scalar.order.flatMap { word in (0..<8).map { UInt8(truncatingIfNeeded: word >> (8 * UInt64($0))) } }
        #expect(Scalar(reducing: order).bytes == [UInt8](repeating: 0, count: 32))
        var orderPlusFive = order
        orderPlusFive[0] &+= 5
        #expect(Scalar(reducing: orderPlusFive).bytes == [5] + [UInt8](repeating: 0, count: 31))
        // (L - 1)^2 ≡ 1.
        var minusOne = order
        minusOne[0] -= 1
        let product = Scalar.multiplyAdd(Scalar(reducing: minusOne), Scalar(reducing: minusOne), Scalar(reducing: [0]))
        #expect(product.bytes == [1] + [UInt8](repeating: 0, count: 31))
    }

    @Test("signatures verify, and any change to message, signature or key breaks them")
    func tampering() {
        let key = Curve25519.KeyAgreement.PrivateKey()
        let other = Curve25519.KeyAgreement.PrivateKey()
        let message = Data("signed prekey".utf8)
        let signature = XEdDSA.signature(for: message, privateKey: key)
        #expect(signature.count == 64)
        #expect(XEdDSA.isValid(signature: signature, for: message, publicKey: key.publicKey))
        #expect(!XEdDSA.isValid(signature: signature, for: Data("signed prekeY".utf8), publicKey: key.publicKey))
        #expect(!XEdDSA.isValid(signature: signature, for: message, publicKey: other.publicKey))
        for bit in [0, 100, 255, 256, 300, 510, 511] {
            var altered = signature
            altered[bit / 8] ^= UInt8(1 << (bit % 8))
            #expect(!XEdDSA.isValid(signature: altered, for: message, publicKey: key.publicKey), "bit \(bit)")
        }
        #expect(!XEdDSA.isValid(signature: signature.prefix(63), for: message, publicKey: key.publicKey))
        // Randomised nonces: two signatures of one message differ but both verify.
        let second = XEdDSA.signature(for: message, privateKey: key)
        #expect(second != signature)
        #expect(XEdDSA.isValid(signature: second, for: message, publicKey: key.publicKey))
    }

    @Test("python-axolotl-curve25519 verifies Swift signatures and Swift verifies its signatures")
    func interoperability() async throws {
        let peer = SignalPeer()
        defer { peer.remove() }
        var commands: [[String: any Sendable]] = []
        var swiftSigned: [(key: Curve25519.KeyAgreement.PrivateKey, message: Data, signature: Data)] = []
        for index in 0..<10 {
            let key = Curve25519.KeyAgreement.PrivateKey()
            let message = Data((0..<(index * 13)).map { _ in UInt8.random(in: 0...255) })
            let signature = XEdDSA.signature(for: message, privateKey: key)
            swiftSigned.append((key, message, signature))
            commands.append(["op": "curve_verify", "public": key.publicKey.rawRepresentation.hex, "message": message.hex, "signature": signature.hex])
        }
        // A deliberately broken one, so the peer's "valid" answers are shown to discriminate.
        var broken = swiftSigned[3].signature
        broken[40] ^= 0x10
        commands.append([
            "op": "curve_verify", "public": swiftSigned[3].key.publicKey.rawRepresentation.hex, "message": swiftSigned[3].message.hex,
            "signature": broken.hex,
        ])
        let verdicts = try await peer.run(commands)
        #expect(verdicts.prefix(10).allSatisfy { $0.bool("valid") == true })
        #expect(verdicts[10].bool("valid") == false)

        // The peer signs with its own keys; Swift verifies.
        var peerCommands: [[String: any Sendable]] = []
        let messages = (0..<10).map { index in Data((0..<(index * 11 + 1)).map { _ in UInt8.random(in: 0...255) }) }
        let keyPairs = try await peer.run(messages.map { _ in ["op": "curve_keypair"] })
        for (message, pair) in zip(messages, keyPairs) {
            peerCommands.append(["op": "curve_sign", "private": pair["private"] as! String, "message": message.hex])
        }
        let signatures = try await peer.run(peerCommands)
        for ((message, pair), signed) in zip(zip(messages, keyPairs), signatures) {
            let publicKey = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: try #require(pair.bytes("public")))
            let signature = try #require(signed.bytes("signature"))
            #expect(XEdDSA.isValid(signature: signature, for: message, publicKey: publicKey))
            #expect(!XEdDSA.isValid(signature: signature, for: message + [0], publicKey: publicKey))
            // Their private key, imported, derives the same public key and signs compatibly.
            let privateKey = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: try #require(pair.bytes("private")))
            #expect(privateKey.publicKey.rawRepresentation == publicKey.rawRepresentation)
        }
    }
}
