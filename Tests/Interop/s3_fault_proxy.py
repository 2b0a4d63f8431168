"""An HTTP front for moto that can fail requests on purpose: it reads each request the
client sends and, per a rule, forwards it unchanged (the signed Host header included, so
moto still verifies the signature), answers it itself with an S3 error status (503
SlowDown, 429), or forwards the headers and half the body and then cuts both connections
(a part lost mid-transfer), or forwards it whole and cuts the connection instead of relaying
the answer (a request that succeeded but whose answer was lost). Every request is logged
with what was done to it."""

import socket
import threading

ERROR_BODY = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>"
              "<Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>")
REASONS = {503: ("Service Unavailable", "SlowDown", "Please reduce your request rate."),
           429: ("Too Many Requests", "TooManyRequests", "Too many requests (injected)."),
           500: ("Internal Server Error", "InternalError", "We encountered an internal error (injected)."),
           404: ("Not Found", "NoSuchUpload", "The specified upload does not exist (injected).")}


class Request:
    def __init__(self, method, target, headers, length):
        self.method, self.target, self.headers, self.length = method, target, headers, length

    @property
    def operation(self):
        """S3 operation name, from method and query."""
        q = self.target.partition("?")[2]
        if self.method == "PUT":
            return "UploadPart" if "partNumber=" in q else "PutObject"
        if self.method == "POST":
            return "CreateMultipartUpload" if "uploads" in q.split("&")[0].split("=")[0] else "CompleteMultipartUpload"
        if self.method == "DELETE":
            return "AbortMultipartUpload" if "uploadId=" in q else "DeleteObject"
        return {"HEAD": "HeadObject", "GET": "GetObject"}.get(self.method, self.method)

    @property
    def part(self):
        for item in self.target.partition("?")[2].split("&"):
            name, _, value = item.partition("=")
            if name == "partNumber":
                return int(value)
        return None


class FaultProxy:
    """`rule(request, seen)` returns "forward", an int status to answer, "cut" or
    "drop-response"; `seen`
    counts earlier requests of the same operation (and part)."""

    def __init__(self, upstream_port, rule, tls=None):
        """`tls`: an `ssl.SSLContext` (server side) to serve HTTPS in front of moto."""
        self.upstream_port = upstream_port
        self.rule = rule
        self.tls = tls
        self.log = []
        self._counts = {}
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self.endpoint = f"127.0.0.1:{self.port}"
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self._stopped = True
        self._sock.close()

    def actions(self, operation):
        return [action for (op, _part, action) in self.log if op == operation]

    def _accept(self):
        while not self._stopped:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        upstream = None
        if self.tls is not None:
            try:
                client = self.tls.wrap_socket(client, server_side=True)
            except OSError:  # a client that refused the certificate
                client.close()
                return
        reader = client.makefile("rb")
        try:
            while True:
                head = _read_head(reader)
                if head is None:
                    return
                request = _parse_request(head)
                key = (request.operation, request.part)
                with self._lock:
                    seen = self._counts.get(key, 0)
                    self._counts[key] = seen + 1
                    action = self.rule(request, seen)
                    self.log.append((request.operation, request.part, action))
                if isinstance(action, int):
                    # Answered before the body, as S3 does to a request waiting on
                    # `Expect: 100-continue` (libcurl's default for bodies over 1 MiB).
                    reason, code, message = REASONS[action]
                    payload = ERROR_BODY.format(code=code, message=message).encode()
                    client.sendall(f"HTTP/1.1 {action} {reason}\r\nContent-Type: application/xml\r\n"
                                   f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode() + payload)
                    return
                if request.headers.get("expect", "").lower() == "100-continue":
                    # The proxy takes the body itself; Expect is not among the signed headers.
                    client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                    head = b"".join(line for line in head.splitlines(keepends=True)
                                    if not line.lower().startswith(b"expect:"))
                if action == "cut":
                    if upstream is None:
                        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
                    upstream.sendall(head + reader.read(request.length // 2))
                    return
                body = reader.read(request.length) if request.length else b""
                if upstream is None:
                    upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
                    upstream_reader = upstream.makefile("rb")
                upstream.sendall(head + body)
                response, close = _read_response(upstream_reader, request.method)
                if action == "drop-response":
                    return  # done upstream, but the client never hears of it
                client.sendall(response)
                if close:
                    return
        except OSError:
            return
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    sock.close()


def _read_head(reader):
    lines = []
    while True:
        line = reader.readline(65536)
        if not line:
            return None
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            return b"".join(lines)


def _headers(head):
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().lower().decode()] = value.strip().decode("latin-1")
    return headers


def _parse_request(head):
    method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    headers = _headers(head)
    return Request(method, target, headers, int(headers.get("content-length", "0")))


def _read_response(reader, method):
    """One whole response (Content-Length, chunked, or up to close); also whether the
    connection ends after it."""
    while True:
        head = _read_head(reader)
        if head is None:
            raise OSError("upstream closed")
        status = int(head.split(b" ", 2)[1])
        if status != 100:
            break
    headers = _headers(head)
    close = headers.get("connection", "").lower() == "close"
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return head, close
    if "content-length" in headers:
        return head + reader.read(int(headers["content-length"])), close
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size_line = reader.readline(1024)
            body += size_line
            size = int(size_line.split(b";")[0], 16)
            body += reader.read(size + 2)
            if size == 0:
                return head + body, close
    return head + reader.read(), True
