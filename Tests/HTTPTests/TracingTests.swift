import Testing

@testable import HTTP
@testable import Telemetry

/// Tracing's sans-IO parts: W3C `traceparent`, the samplers, the OTEL_* settings and the
/// OTLP protobuf encoding (the interop test decodes real exports with the official
/// definitions; here, the wire bytes of small messages).
@Suite("Tracing")
struct TracingTests {
    @Test("traceparent parses per W3C Trace Context and invalid values start a new trace")
    func traceparent() throws {
        let c = try #require(TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
        #expect(c.traceIDHigh == 0x4bf9_2f35_77b3_4da6)
        #expect(c.traceIDLow == 0xa3ce_929d_0e0e_4736)
        #expect(c.spanID == 0x00f0_67aa_0ba9_02b7)
        #expect(c.sampled)
        #expect(c.traceparent == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")?.sampled == false)
        // A later version may append fields after a dash.
        #expect(TraceContext(traceparent: "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra") != nil)
        for bad in [
            "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            #expect(TraceContext(traceparent: bad) == nil, "\(bad)")
        }
    }

    @Test("parent-based samplers follow the caller's flag; ratio samplers decide by trace id")
    func samplers() {
        let sampledParent = TraceContext(traceIDHigh: 1, traceIDLow: 2, spanID: 3, sampled: true)
        let unsampledParent = TraceContext(traceIDHigh: 1, traceIDLow: 2, spanID: 3, sampled: false)
        #expect(TraceSampler.parentBasedAlwaysOn.sample(parent: unsampledParent, traceIDLow: 5) == false)
        #expect(TraceSampler.parentBasedAlwaysOn.sample(parent: nil, traceIDLow: 5))
        #expect(TraceSampler.parentBasedAlwaysOff.sample(parent: sampledParent, traceIDLow: 5))
        #expect(TraceSampler.parentBasedAlwaysOff.sample(parent: nil, traceIDLow: 5) == false)
        #expect(TraceSampler.alwaysOff.sample(parent: sampledParent, traceIDLow: 5) == false)
        #expect(TraceSampler.traceIDRatio(0.5).sample(parent: nil, traceIDLow: 1))
        #expect(TraceSampler.traceIDRatio(0.5).sample(parent: nil, traceIDLow: UInt64(Int64.max)) == false)
        #expect(TraceSampler(name: "parentbased_traceidratio", argument: 0.25) == .parentBasedTraceIDRatio(0.25))
        #expect(TraceSampler(name: "jaeger_remote", argument: nil) == nil)
    }

    @Test("OTEL_* settings: endpoint, headers, resource and sampler; no endpoint, no tracing")
    func settings() throws {
        #expect(try Configuration.load(environment: [:]).tracing == nil)
        let c = try Configuration.load(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/", "OTEL_EXPORTER_OTLP_HEADERS": "api-key=a%2Cb, x=1",
            "OTEL_RESOURCE_ATTRIBUTES": "service.name=fromres,deployment.environment=prod", "OTEL_TRACES_SAMPLER": "traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.1",
        ])
        let t = try #require(c.tracing)
        #expect(t.tracesURL == "http://collector:4318/v1/traces")
        #expect(t.headers.map { "\($0.0)=\($0.1)" } == ["api-key=a,b", "x=1"])
        #expect(t.resource.map { "\($0.0)=\($0.1)" } == ["service.name=fromres", "deployment.environment=prod"])
        #expect(t.sampler == .traceIDRatio(0.1))
        let named = try Configuration.load(environment: [
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://c/otlp/traces", "OTEL_SERVICE_NAME": "edge-1",
        ])
        #expect(named.tracing?.tracesURL == "https://c/otlp/traces")
        #expect(named.tracing?.resource.first.map { "\($0.0)=\($0.1)" } == "service.name=edge-1")
        #expect(named.tracing?.sampler == .parentBasedAlwaysOn)
        for bad in [
            ["OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"],
            ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"],
            ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_HEADERS": "novalue"],
            ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_TRACES_SAMPLER": "sometimes"],
            ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_TRACES_SAMPLER_ARG": "2"],
        ] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try Configuration.load(environment: bad) }
        }
        #expect(Configuration.options.first { $0.env == "OTEL_EXPORTER_OTLP_HEADERS" }?.kind == .secret)
    }

    @Test("OTLP protobuf: field numbers and wire types of a span and its attributes")
    func protobuf() {
        // KeyValue{key:"a", value:AnyValue{string_value:"b"}} = 0a 01 61 12 03 0a 01 62
        #expect(OTLPProtobuf.keyValue("a", .string("b")) == [0x0A, 0x01, 0x61, 0x12, 0x03, 0x0A, 0x01, 0x62])
        // int_value (field 3, varint) 300 = 18 ac 02
        #expect(OTLPProtobuf.keyValue("a", .int(300)) == [0x0A, 0x01, 0x61, 0x12, 0x03, 0x18, 0xAC, 0x02])
        var span = Span(
            context: TraceContext(traceIDHigh: 1, traceIDLow: 2, spanID: 3, sampled: true), parentSpanID: 0, name: "n",
            kind: .server, startUnixNanos: 5)
        span.endUnixNanos = 6
        let bytes = OTLPProtobuf.span(span)
        // trace_id (1, 16 bytes big-endian), span_id (2), no parent (4), name (5), kind (6) = SERVER, times (7, 8 fixed64).
        #expect(Array(bytes[0..<2]) == [0x0A, 16])
        #expect(Array(bytes[2..<18]) == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2])
        #expect(Array(bytes[18..<28]) == [0x12, 8, 0, 0, 0, 0, 0, 0, 0, 3])
        #expect(Array(bytes[28..<31]) == [0x2A, 1, 0x6E])
        #expect(Array(bytes[31..<33]) == [0x30, 2])
        #expect(Array(bytes[33..<42]) == [0x39, 5, 0, 0, 0, 0, 0, 0, 0])
        #expect(Array(bytes[42..<51]) == [0x41, 6, 0, 0, 0, 0, 0, 0, 0])
        #expect(bytes.count == 51)
    }

    @Test("session milestones are named in the order a session meets them")
    func eventNames() {
        #expect(SessionTracing.name(.iceConnected) == "ice.connected")
        #expect(SessionTracing.name(.dtlsConnected) == "dtls.connected")
        #expect(SessionTracing.name(.firstMediaOut) == "media.first_out")
        #expect(SessionTracing.name(.iceRestart) == "ice.restart")
    }
}
