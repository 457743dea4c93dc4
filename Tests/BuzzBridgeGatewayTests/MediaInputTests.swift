import Testing

@testable import BuzzBridgeGateway

/// The small parsers behind media: Range headers, header parameters, and file sniffing.
@Suite("Media input parsing")
struct MediaInputTests {
    @Test("Range headers as RFC 9110 reads them")
    func byteRanges() {
        #expect(ByteRange(header: nil, size: 100) == .whole)
        #expect(ByteRange(header: "bytes=0-9", size: 100) == .partial(0...9))
        #expect(ByteRange(header: "bytes=90-", size: 100) == .partial(90...99))
        #expect(ByteRange(header: "bytes=-10", size: 100) == .partial(90...99))
        #expect(ByteRange(header: "bytes=-500", size: 100) == .partial(0...99))
        #expect(ByteRange(header: "bytes=95-500", size: 100) == .partial(95...99))
        #expect(ByteRange(header: "bytes=100-", size: 100) == .unsatisfiable)
        #expect(ByteRange(header: "bytes=100-200", size: 100) == .unsatisfiable)
        #expect(ByteRange(header: "bytes=-0", size: 100) == .unsatisfiable)
        #expect(ByteRange(header: "bytes=9-3", size: 100) == .whole, "an invalid range is ignored")
        #expect(ByteRange(header: "bytes=0-1,5-6", size: 100) == .whole)
        #expect(ByteRange(header: "items=0-1", size: 100) == .whole)
        #expect(ByteRange(header: "bytes=a-b", size: 100) == .whole)
        #expect(ByteRange(header: "bytes=0-0", size: 0) == .unsatisfiable)
    }

    @Test("Content-Disposition and Content-Type parameters, quoted or not")
    func headerParameters() {
        let disposition = HeaderParameters(#"form-data; name="file"; filename="my \"ticket\"; final.pdf""#)
        #expect(disposition.values["name"] == "file")
        #expect(disposition.values["filename"] == #"my "ticket"; final.pdf"#)
        #expect(MultipartForm.boundary(of: "multipart/form-data; boundary=----abc123") == "----abc123")
        #expect(MultipartForm.boundary(of: #"Multipart/Form-Data; charset=utf-8; boundary="x y""#) == "x y")
        #expect(MultipartForm.boundary(of: "application/json") == nil)
    }

    @Test("files are told by their first bytes, images measured from their headers")
    func sniffing() {
        #expect(MediaSniffer.sniff(SampleMedia.jpeg(width: 800, height: 600)) == .init(mimeType: "image/jpeg", width: 800, height: 600))
        #expect(MediaSniffer.sniff(SampleMedia.png(width: 7, height: 9)) == .init(mimeType: "image/png", width: 7, height: 9))
        #expect(MediaSniffer.sniff(SampleMedia.mp4())?.mimeType == "video/mp4")
        #expect(MediaSniffer.sniff(SampleMedia.oggOpus())?.mimeType == "audio/ogg")
        #expect(MediaSniffer.sniff(SampleMedia.pdf())?.mimeType == "application/pdf")
        let webp = Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WEBPVP8X".utf8) + [10, 0, 0, 0, 0, 0, 0, 0] + [0x3F, 0x01, 0x00, 0xC7, 0x00, 0x00]
        #expect(MediaSniffer.sniff(webp) == .init(mimeType: "image/webp", width: 320, height: 200))
        #expect(MediaSniffer.sniff(Array("plain text".utf8)) == nil)
        #expect(MediaSniffer.matches(declared: "image/jpg", sniffed: "image/jpeg"))
        #expect(MediaSniffer.matches(declared: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", sniffed: "application/zip"))
        #expect(!MediaSniffer.matches(declared: "image/png", sniffed: "image/jpeg"))
        #expect(MediaSniffer.essence(of: "Audio/Ogg; codecs=opus") == "audio/ogg")
    }
}
