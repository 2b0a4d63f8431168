/// One packet of an RTCP compound, as a typed view.
public enum RTCPPacket {
    case senderReport(RTCPSenderReport)
    case receiverReport(RTCPReceiverReport)
    case sdes(RTCPSourceDescription)
    case bye(RTCPBye)
    case nack(RTCPNack)
    case pli(RTCPPictureLossIndication)
    case fir(RTCPFullIntraRequest)
    case remb(RTCPRemb)
    case twcc(RTCPTransportFeedback)
    /// Any other type (APP, XR, other feedback formats), left opaque.
    case other(RTCPHeader)

    /// Classifies and validates one packet.
    init(validating h: RTCPHeader) throws(RTCPError) {
        switch (h.packetType, h.count) {
        case (RTCPHeader.senderReportType, _): self = .senderReport(try RTCPSenderReport(validating: h))
        case (RTCPHeader.receiverReportType, _): self = .receiverReport(try RTCPReceiverReport(validating: h))
        case (RTCPHeader.sourceDescriptionType, _): self = .sdes(try RTCPSourceDescription(validating: h))
        case (RTCPHeader.byeType, _): self = .bye(try RTCPBye(validating: h))
        case (RTCPHeader.transportFeedbackType, 1): self = .nack(try RTCPNack(validating: h))
        case (RTCPHeader.transportFeedbackType, 15): self = .twcc(try RTCPTransportFeedback(validating: h))
        case (RTCPHeader.payloadFeedbackType, 1): self = .pli(try RTCPPictureLossIndication(validating: h))
        case (RTCPHeader.payloadFeedbackType, 4): self = .fir(try RTCPFullIntraRequest(validating: h))
        case (RTCPHeader.payloadFeedbackType, 15) where RTCPRemb.matches(h): self = .remb(try RTCPRemb(validating: h))
        default: self = .other(h)
        }
    }

    /// The common header of whichever packet this is.
    public var header: RTCPHeader {
        switch self {
        case .senderReport(let p): p.header
        case .receiverReport(let p): p.header
        case .sdes(let p): p.header
        case .bye(let p): p.header
        case .nack(let p): p.header
        case .pli(let p): p.header
        case .fir(let p): p.header
        case .remb(let p): p.header
        case .twcc(let p): p.header
        case .other(let h): h
        }
    }
}
