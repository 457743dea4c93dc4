import Foundation
import Hummingbird
import MultipartKit

/// A `multipart/form-data` body read as it arrives (vapor/multipart-kit's parser): text fields
/// kept in memory (small, bounded), the one file part streamed into a ``MediaIntake``.
struct MultipartForm {
    static let fieldLimit = 16 * 1024
    static let maximumFields = 32

    var fields: [String: String] = [:]
    var file: MediaIntake?
    var fileName: String?
    var fileContentType: String?

    /// The boundary of a `multipart/form-data` content type, or nil for any other type.
    static func boundary(of contentType: String?) -> String? {
        guard let contentType, MediaSniffer.essence(of: contentType) == "multipart/form-data" else { return nil }
        return HeaderParameters(contentType).values["boundary"]
    }

    /// Reads the form; `fileField` is the part that carries the file.
    static func read(
        _ request: Request, boundary: String, fileField: String, blobs: any BlobStore, limit: Int
    ) async throws -> MultipartForm {
        let parser = MultipartParser(boundary: boundary)
        let state = PartState(fileField: fileField)
        parser.onHeader = { name, value in state.headers.append((name.lowercased(), value)) }
        parser.onBody = { buffer in state.take(&buffer) }
        parser.onPartComplete = { state.complete() }
        var form = MultipartForm()
        do {
            for try await buffer in request.body {
                do {
                    try parser.execute(buffer)
                } catch {
                    throw APIError.invalid("body", "is not a valid multipart/form-data body")
                }
                if let problem = state.problem { throw problem }
                if state.fileSeen, form.file == nil { form.file = try await MediaIntake(blobs: blobs, limit: limit, sourceField: fileField) }
                for chunk in state.fileChunks { try await form.file?.write(chunk) }
                state.fileChunks.removeAll(keepingCapacity: true)
            }
            guard state.finished else { throw APIError.invalid("body", "is not a complete multipart/form-data body") }
        } catch {
            await form.file?.discard()
            throw error
        }
        form.fields = state.fields
        form.fileName = state.fileName
        form.fileContentType = state.fileContentType
        return form
    }

    /// The parser's callbacks write here; read between calls to `execute`.
    private final class PartState {
        let fileField: String
        var headers: [(String, String)] = []
        var name: String?
        var isFile = false
        var decided = false
        var value: [UInt8] = []
        var fields: [String: String] = [:]
        var fileSeen = false
        var fileChunks: [[UInt8]] = []
        var fileName: String?
        var fileContentType: String?
        var problem: APIError?
        var finished = false

        init(fileField: String) {
            self.fileField = fileField
        }

        private func decide() {
            guard !decided else { return }
            decided = true
            let disposition = headers.first { $0.0 == "content-disposition" }.map { HeaderParameters($0.1) }
            name = disposition?.values["name"]
            guard let name else {
                problem = problem ?? .invalid("body", "has a part without a name")
                return
            }
            if name == fileField {
                if fileSeen { problem = problem ?? .invalid(fileField, "must be given once") }
                isFile = true
                fileSeen = true
                fileName = disposition?.values["filename"]
                fileContentType = headers.first { $0.0 == "content-type" }?.1
            } else if fields[name] != nil {
                problem = problem ?? .invalid(name, "must be given once")
            }
        }

        func take(_ buffer: inout ByteBuffer) {
            decide()
            if isFile {
                fileChunks.append(Array(buffer.readableBytesView))
            } else {
                value += buffer.readableBytesView
                if value.count > MultipartForm.fieldLimit { problem = problem ?? .invalid(name ?? "body", "is longer than 16 KB") }
            }
        }

        func complete() {
            decide()
            if !isFile, let name {
                fields[name] = String(decoding: value, as: UTF8.self)
                if fields.count > MultipartForm.maximumFields { problem = problem ?? .invalid("body", "has too many fields") }
            }
            finished = true
            headers = []
            name = nil
            isFile = false
            decided = false
            value = []
        }
    }
}

/// `value; key=token; key="quoted \" string"` as in Content-Type and Content-Disposition.
struct HeaderParameters {
    var values: [String: String] = [:]

    init(_ header: String) {
        var scalars = Substring(header)
        // Skips the leading value (`form-data`, `multipart/form-data`).
        guard let first = scalars.firstIndex(of: ";") else { return }
        scalars = scalars[scalars.index(after: first)...]
        while !scalars.isEmpty {
            scalars = scalars.drop { $0 == " " || $0 == "\t" || $0 == ";" }
            guard let equals = scalars.firstIndex(of: "=") else { return }
            let key = scalars[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            scalars = scalars[scalars.index(after: equals)...]
            var value = ""
            if scalars.first == "\"" {
                scalars = scalars.dropFirst()
                var escaped = false
                while let character = scalars.first {
                    scalars = scalars.dropFirst()
                    if escaped {
                        value.append(character)
                        escaped = false
                    } else if character == "\\" {
                        escaped = true
                    } else if character == "\"" {
                        break
                    } else {
                        value.append(character)
                    }
                }
                scalars = scalars.drop { $0 != ";" }
            } else {
                let end = scalars.firstIndex(of: ";") ?? scalars.endIndex
                value = scalars[..<end].trimmingCharacters(in: .whitespaces)
                scalars = scalars[end...]
            }
            values[key] = value
        }
    }
}
