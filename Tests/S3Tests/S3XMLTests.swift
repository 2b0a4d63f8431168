import Testing

@testable import S3

@Suite("S3 XML: error bodies and CompleteMultipartUpload")
struct S3XMLTests {
    static let errorBody = """
        <?xml version="1.0" encoding="UTF-8"?>
        <Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key &amp; signing method.</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>
        """

    @Test("Code and Message come out of an S3 error body, entities decoded")
    func errorFields() {
        let body = Array(Self.errorBody.utf8)
        #expect(S3XML.field("Code", in: body) == "SignatureDoesNotMatch")
        #expect(S3XML.field("Message", in: body)?.hasSuffix("Check your key & signing method.") == true)
        #expect(S3XML.isError(body))
        #expect(S3XML.field("Resource", in: body) == nil)
    }

    @Test("UploadId of a CreateMultipartUpload answer")
    func uploadID() {
        let body = Array("<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2FkIElE+/=</UploadId></InitiateMultipartUploadResult>".utf8)
        #expect(S3XML.field("UploadId", in: body) == "VXBsb2FkIElE+/=")
        #expect(!S3XML.isError(body))
    }

    @Test("malformed bodies give no field and never trap", arguments: [
        "", "<", "<Code>", "<Code>unterminated", "</Code><Code>", "<Code></Code>", "<<<>>>&&&", "\u{0}\u{1}<Code>\u{FFFF}",
        "<Code>a &bogus; &amp &lt;b&gt;</Code>",
    ])
    func malformed(text: String) {
        let value = S3XML.field("Code", in: Array(text.utf8))
        switch text {
        case "<Code></Code>": #expect(value == "")
        case "<Code>a &bogus; &amp &lt;b&gt;</Code>": #expect(value == "a &bogus; &amp <b>")
        default: #expect(value == nil)
        }
    }

    @Test("invalid UTF-8 and control characters cannot reach a log line")
    func sanitised() {
        let body: [UInt8] = Array("<Message>line1\r\nline2\u{7}".utf8) + [0xFF, 0xFE] + Array("</Message>".utf8)
        let message = S3XML.field("Message", in: body)
        #expect(message == "line1  line2 \u{FFFD}\u{FFFD}")
    }

    @Test("the search is bounded: a field past 64 KiB is not found, a long one is cut at 1 KiB")
    func bounded() {
        let late = Array(String(repeating: " ", count: S3XML.maximumBodyBytes).utf8) + Array("<Code>Late</Code>".utf8)
        #expect(S3XML.field("Code", in: late) == nil)
        let long = Array(("<Message>" + String(repeating: "m", count: 5000) + "</Message>").utf8)
        #expect(S3XML.field("Message", in: long)?.utf8.count == S3XML.maximumFieldBytes)
        let straddling = Array(String(repeating: " ", count: S3XML.maximumBodyBytes - 10).utf8) + Array("<Code>Straddle</Code>".utf8)
        #expect(S3XML.field("Code", in: straddling) == nil)
    }

    @Test("CompleteMultipartUpload lists the parts in order with their ETags escaped")
    func complete() {
        let xml = S3XML.completeMultipartUpload(parts: [(1, "\"a1\""), (2, "\"b<2>&\"")])
        #expect(
            xml == "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                + "<Part><PartNumber>1</PartNumber><ETag>&quot;a1&quot;</ETag></Part>"
                + "<Part><PartNumber>2</PartNumber><ETag>&quot;b&lt;2&gt;&amp;&quot;</ETag></Part>"
                + "</CompleteMultipartUpload>")
    }

    @Test("error messages name the operation, the status, S3's code and message")
    func description() {
        let error = S3Error.status(operation: "PutObject", status: 403, code: "InvalidAccessKeyId", message: "The AWS Access Key Id you provided does not exist in our records.")
        #expect(error.description == "PutObject: HTTP 403 InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.")
        #expect(error.code == "InvalidAccessKeyId")
        #expect(S3Error.status(operation: "HeadObject", status: 404, code: nil, message: nil).description == "HeadObject: HTTP 404")
        #expect(
            S3Error.transport(operation: "UploadPart 2", curlCode: 7, retryable: true, message: "Failed to connect").description
                == "UploadPart 2: Failed to connect (curl error 7)")
    }
}
