import Foundation
import Glibc
import SFU
import Storage
import Testing

@testable import HTTP

/// Recordings served by the real server on real sockets: a large file to a slow reader with
/// bounded memory, Range and HEAD through curl, TLS, a reader that stops, and `/metrics`.
@Suite("Recordings over the network", .serialized)
struct RecordingLiveTests {
    static let big = 8 << 20

    /// Reads one whole response (head and `Content-Length` body) slowly: small reads with a
    /// pause between them, as a client on a slow link. `rest`: bytes read past it (the next
    /// pipelined answer).
    static func readSlowly(_ client: RawClient, pauseMicroseconds: UInt32 = 300) -> (head: String, body: [UInt8], rest: [UInt8])? {
        var all: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var headLength: Int?
        var length = 0
        while true {
            if headLength == nil, let end = all.firstRange(of: Array("\r\n\r\n".utf8)) {
                headLength = end.upperBound
                let head = String(decoding: all[..<end.lowerBound], as: UTF8.self)
                for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
                    length = Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces)) ?? 0
                }
            }
            if let headLength, all.count >= headLength + length {
                return (
                    String(decoding: all[..<headLength], as: UTF8.self), Array(all[headLength..<(headLength + length)]),
                    Array(all[(headLength + length)...])
                )
            }
            let n = buffer.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            all.append(contentsOf: buffer[0..<n])
            usleep(pauseMicroseconds)
        }
    }

    @Test("an 8 MiB recording reaches a slow reader whole and in order while the socket queue stays bounded; the connection then serves the next request")
    func slowReaderGetsWholeFile() throws {
        let recordings = try RecordingFixture(sizes: [RecordingFixture.alpha: Self.big])
        let server = try LiveServer(recordings: recordings.catalog)
        let client = try RawClient(port: server.port, timeoutSeconds: 30, receiveBufferBytes: 8192)
        defer { client.close() }
        client.send("GET /api/records/\(RecordingFixture.alpha) HTTP/1.1\r\nHost: x\r\n\r\n")
        let answer = try #require(Self.readSlowly(client))
        #expect(answer.head.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(answer.head.contains("Content-Length: \(Self.big)\r\n"))
        #expect(answer.head.contains("Content-Type: video/x-ivf\r\n"))
        let whole = answer.body == recordings.content(of: RecordingFixture.alpha)
        #expect(whole, "the body (\(answer.body.count) bytes) differs from the file")
        #expect(answer.rest.isEmpty)
        // Never more than the HTTP output cap queued for the connection (the file is 32 times that).
        let peak = server.onCore(0) { $0.counters.tcpWriteQueuePeakBytes }
        #expect(peak <= HTTPLimits().maxQueuedOutputBytes)
        // Keep-alive goes on after the file.
        client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(client.readResponses(1).first?.hasSuffix("\r\n\r\nok\n") == true)
    }

    @Test("a pipelined request behind a file download is answered after the whole file")
    func pipelinedAfterFile() throws {
        let recordings = try RecordingFixture(sizes: [RecordingFixture.alpha: 1 << 20])
        let server = try LiveServer(recordings: recordings.catalog)
        let client = try RawClient(port: server.port, timeoutSeconds: 30)
        defer { client.close() }
        client.send(
            "GET /api/records/\(RecordingFixture.alpha) HTTP/1.1\r\nHost: x\r\nRange: bytes=1000-\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        let file = try #require(Self.readSlowly(client, pauseMicroseconds: 0))
        #expect(file.head.hasPrefix("HTTP/1.1 206 Partial Content\r\n"))
        #expect(file.head.contains("Content-Range: bytes 1000-\((1 << 20) - 1)/\(1 << 20)\r\n"))
        let tail = file.body == Array(recordings.content(of: RecordingFixture.alpha)[1000...])
        #expect(tail, "the body (\(file.body.count) bytes) differs from the file's tail")
        var next = String(decoding: file.rest, as: UTF8.self)
        if !next.hasSuffix("\r\n\r\nok\n") { next += client.readResponses(1).first ?? "" }
        #expect(next.hasPrefix("HTTP/1.1 200 OK\r\n") && next.hasSuffix("\r\n\r\nok\n"), "\(next)")
    }

    @Test("Range and HEAD through curl: a-b, a-, -n, 416, and HEAD with the file's length")
    func curlRanges() throws {
        let recordings = try RecordingFixture()
        let server = try LiveServer(recordings: recordings.catalog)
        let url = server.base + "/api/records/" + RecordingFixture.openAudio
        let content = recordings.content(of: RecordingFixture.openAudio)
        let out = recordings.directory + "/out.bin"
        for (range, slice) in [("100-199", 100..<200), ("900-", 900..<1000), ("-24", 976..<1000)] {
            let r = try LiveServer.curl(["-r", range, "-o", out, "-w", "%{http_code}", url])
            #expect(r.out == "206", "\(range)")
            #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == Array(content[slice]), "\(range)")
        }
        let whole = try LiveServer.curl(["-o", out, "-w", "%{http_code}", url])
        #expect(whole.out == "200")
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content)
        let unsatisfiable = try server.request(["-r", "5000-", url])
        #expect(unsatisfiable.code == 416 && unsatisfiable.text.contains("Content-Range: bytes */1000"))
        let head = try server.request(["-I", url])
        #expect(head.code == 200)
        #expect(head.text.contains("Content-Length: 1000") && head.text.contains("Accept-Ranges: bytes"))
        #expect(head.text.contains("Content-Disposition: attachment; filename=\"\(RecordingFixture.openAudio)\""))
        #expect(try server.request(["--path-as-is", server.base + "/api/records/%2e%2e%2fPackage.swift"]).code == 400)
    }

    @Test("over TLS a large recording is read from the file in bounded pieces and arrives whole; a range too")
    func tlsDownload() throws {
        let cert = try SelfSignedCertificate()
        defer { cert.remove() }
        let recordings = try RecordingFixture(sizes: [RecordingFixture.alpha: 3 << 20])
        let server = try LiveServer(
            environment: ["TLS_CERT_FILE": cert.certificate, "TLS_KEY_FILE": cert.key], recordings: recordings.catalog)
        let url = "https://127.0.0.1:\(server.port)/api/records/\(RecordingFixture.alpha)"
        let content = recordings.content(of: RecordingFixture.alpha)
        let out = recordings.directory + "/out.bin"
        let whole = try LiveServer.curl(["--cacert", cert.certificate, "--limit-rate", "8M", "-o", out, "-w", "%{http_code}", url])
        #expect(whole.out == "200", "\(whole.err)")
        let wholeSame = try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content
        #expect(wholeSame, "the download differs from the file")
        let part = try LiveServer.curl(["--cacert", cert.certificate, "-r", "65530-200000", "-o", out, "-w", "%{http_code}", url])
        #expect(part.out == "206")
        let partSame = try Array(Data(contentsOf: URL(fileURLWithPath: out))) == Array(content[65530...200_000])
        #expect(partSame, "the range differs from the file")
        let peak = server.onCore(0) { $0.counters.tcpWriteQueuePeakBytes }
        #expect(peak <= HTTPLimits().maxQueuedOutputBytes)
    }

    @Test("a client that stops reading in the middle of a file is cut off at the write-stall timeout")
    func stalledReaderCutOff() throws {
        let recordings = try RecordingFixture(sizes: [RecordingFixture.alpha: Self.big])
        let server = try LiveServer(environment: ["HTTP_IDLE_TIMEOUT_SECONDS": "1"], recordings: recordings.catalog)
        let client = try RawClient(port: server.port, receiveBufferBytes: 4096)
        defer { client.close() }
        client.send("GET /api/records/\(RecordingFixture.alpha) HTTP/1.1\r\nHost: x\r\n\r\n")
        var aborts = 0
        let giveUp = Date().addingTimeInterval(30)
        repeat {
            usleep(100_000)
            aborts = server.onCore(0) { $0.counters.tcpWriteStallAborts }
        } while aborts == 0 && Date() < giveUp
        #expect(aborts == 1)
        #expect(try server.request([server.base + "/healthz"]).code == 200)
    }

    @Test("/metrics shows the recording counters and the catalog by state, and promtool accepts the whole text")
    func metrics() throws {
        let recordings = try RecordingFixture()
        let counters = RecordingCounters()
        counters.active.store(2, ordering: .relaxed)
        counters.started.store(7, ordering: .relaxed)
        counters.bytesWritten.store(123_456, ordering: .relaxed)
        counters.framesWritten.store(900, ordering: .relaxed)
        counters.framesSkipped.store(4, ordering: .relaxed)
        counters.bytesDroppedQueueFull.store(1000, ordering: .relaxed)
        counters.bytesDroppedWriteError.store(20, ordering: .relaxed)
        counters.damaged.store(1, ordering: .relaxed)
        let server = try LiveServer(cores: 2, recordings: recordings.catalog, recordingCounters: counters)
        let text = try LiveServer.curl([server.base + "/metrics"]).out
        for line in [
            "livesfu_recordings_active 2", "livesfu_recordings_started_total 7", "livesfu_recording_bytes_written_total 123456",
            "livesfu_recording_frames_written_total 900", "livesfu_recording_frames_skipped_total 4",
            #"livesfu_recording_dropped_bytes_total{reason="queue_full"} 1000"#,
            #"livesfu_recording_dropped_bytes_total{reason="write_error"} 20"#, "livesfu_recordings_damaged_total 1",
            #"livesfu_recordings{state="finalised"} 2"#, #"livesfu_recordings{state="uploaded"} 1"#,
            #"livesfu_recordings{state="damaged"} 1"#, #"livesfu_recordings{state="recording"} 0"#,
        ] {
            // Once, although two cores were gathered: process-wide figures are not summed per core.
            #expect(text.components(separatedBy: "\n").filter { $0 == line }.count == 1, "\(line)")
        }
        try Self.promtoolAccepts(text)
    }

    @Test("without recording the recording series are present and zero")
    func metricsWithoutRecording() throws {
        let server = try LiveServer()
        let text = try LiveServer.curl([server.base + "/metrics"]).out
        #expect(text.contains("\nlivesfu_recordings_active 0\n"))
        #expect(text.contains("\nlivesfu_recording_bytes_written_total 0\n"))
        #expect(text.contains("\n" + #"livesfu_recordings{state="uploaded"} 0"# + "\n"))
        try Self.promtoolAccepts(text)
    }

    /// `promtool check metrics` (Debian's `prometheus` package) on `text`: the exposition
    /// parses and passes its lint (names, `_total` on counters, HELP and TYPE).
    static func promtoolAccepts(_ text: String) throws {
        let promtool = "/usr/bin/promtool"
        try #require(FileManager.default.isExecutableFile(atPath: promtool), "promtool is missing: apt-get install prometheus")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: promtool)
        process.arguments = ["check", "metrics"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "promtool: \(report)")
    }
}
