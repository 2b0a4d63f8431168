/// The HTTP/1.1 control plane of livesfu.
public enum HTTPServerInfo {
    public static let name = "HTTP"
}
