import Testing

@testable import S3

@Suite("S3 URLs and keys")
struct S3AddressingTests {
    static func configuration(pathStyle: Bool, useSSL: Bool = true, prefix: String = "") -> S3Configuration {
        S3Configuration(
            endpoint: "s3.example.com:9000", region: "eu-west-1", bucket: "media", accessKey: "AK", secretKey: "SK",
            keyPrefix: prefix, useSSL: useSSL, pathStyle: pathStyle)
    }

    @Test("path-style puts the bucket in the path, virtual-hosted in the host")
    func styles() {
        #expect(Self.configuration(pathStyle: true).url(forKey: "a/b.ivf") == "https://s3.example.com:9000/media/a/b.ivf")
        #expect(Self.configuration(pathStyle: false).url(forKey: "a/b.ivf") == "https://media.s3.example.com:9000/a/b.ivf")
        #expect(Self.configuration(pathStyle: true, useSSL: false).url(forKey: "k") == "http://s3.example.com:9000/media/k")
    }

    @Test("the prefix goes in front of the name as given")
    func prefix() {
        let c = Self.configuration(pathStyle: true, prefix: "recordings/2024/")
        #expect(c.objectKey(for: "room_t1_1700000000.ivf") == "recordings/2024/room_t1_1700000000.ivf")
        #expect(c.url(forKey: c.objectKey(for: "x.ogg")) == "https://s3.example.com:9000/media/recordings/2024/x.ogg")
    }

    @Test("keys are percent-encoded as SigV4 canonicalises S3 paths: unreserved and / kept, the rest %XX of UTF-8")
    func keyEncoding() {
        #expect(S3Encoding.path("a b/c+d=e&f?g#h%i.ivf") == "a%20b/c%2Bd%3De%26f%3Fg%23h%25i.ivf")
        #expect(S3Encoding.path("Ünïcode/日本.ogg") == "%C3%9Cn%C3%AFcode/%E6%97%A5%E6%9C%AC.ogg")
        #expect(S3Encoding.path("A-Z_a.z~0-9") == "A-Z_a.z~0-9")
        #expect(S3Encoding.path("./../x//y") == "./../x//y")
        #expect(S3Encoding.path("*'()!$,;:@") == "%2A%27%28%29%21%24%2C%3B%3A%40")
    }

    @Test("query strings are canonical: sorted, encoded (slash too), name= for a bare name")
    func query() {
        let c = Self.configuration(pathStyle: true)
        #expect(c.url(forKey: "k", query: [("uploads", "")]) == "https://s3.example.com:9000/media/k?uploads=")
        #expect(
            c.url(forKey: "k", query: [("uploadId", "a+b/c="), ("partNumber", "3")])
                == "https://s3.example.com:9000/media/k?partNumber=3&uploadId=a%2Bb%2Fc%3D")
        #expect(S3Encoding.canonicalQuery([("b", "2"), ("a", "z"), ("a", "y")]) == "a=y&a=z&b=2")
    }

    @Test("libcurl's SigV4 provider names the region and the s3 service")
    func provider() {
        #expect(Self.configuration(pathStyle: true).sigV4Provider == "aws:amz:eu-west-1:s3")
    }

    @Test("validation refuses what would fail at the first upload")
    func validation() throws {
        try Self.configuration(pathStyle: false).validate()
        var c = Self.configuration(pathStyle: false)
        c.endpoint = "https://s3.example.com"
        #expect(throws: S3Error.self) { try c.validate() }
        c = Self.configuration(pathStyle: false)
        c.bucket = "Upper_Case"
        #expect(throws: S3Error.self) { try c.validate() }
        c.pathStyle = true
        try c.validate()
        c.endpoint = "[::1]:9000"
        try c.validate()
        c.pathStyle = false
        #expect(throws: S3Error.self) { try c.validate() }
        c = Self.configuration(pathStyle: true)
        c.partSize = 5 << 20
        #expect(throws: S3Error.self) { try c.validate() }
        c = Self.configuration(pathStyle: true)
        c.secretKey = ""
        #expect(throws: S3Error.self) { try c.validate() }
    }
}
