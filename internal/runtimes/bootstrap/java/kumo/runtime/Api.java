package kumo.runtime;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A Runtime API client: HTTP/1.1 over one kept-alive connection with
 * TCP_NODELAY, each request written in one piece.
 */
final class Api {
    /** One answer of the Runtime API. */
    static final class Response {
        final int status;
        final Map<String, String> headers; // lower-case names
        final byte[] body;

        Response(int status, Map<String, String> headers, byte[] body) {
            this.status = status;
            this.headers = headers;
            this.body = body;
        }

        String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }
    }

    private final String host;
    private final int port;
    private final String hostHeader;
    private Socket sock;
    private InputStream in;
    private OutputStream out;

    Api(String addr) {
        int i = addr.lastIndexOf(':');
        String h = i < 0 ? addr : addr.substring(0, i);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        this.host = h.isEmpty() ? "127.0.0.1" : h;
        this.port = i < 0 ? 80 : Integer.parseInt(addr.substring(i + 1));
        this.hostHeader = addr;
    }

    Response request(String method, String path, byte[] body, String... headers) throws IOException {
        for (int attempt = 0; ; attempt++) {
            if (sock == null) {
                connect();
            }
            try {
                return roundTrip(method, path, body, headers);
            } catch (IOException e) {
                close();
                if (attempt > 0) {
                    throw e;
                }
            }
        }
    }

    private void connect() throws IOException {
        Socket s = new Socket();
        s.setTcpNoDelay(true);
        s.connect(new InetSocketAddress(host, port));
        sock = s;
        in = new BufferedInputStream(s.getInputStream(), 65536);
        out = s.getOutputStream();
    }

    private void close() {
        if (sock != null) {
            try {
                sock.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
        sock = null;
    }

    private Response roundTrip(String method, String path, byte[] body, String[] headers) throws IOException {
        StringBuilder h = new StringBuilder(256);
        h.append(method).append(' ').append(path).append(" HTTP/1.1\r\nHost: ").append(hostHeader)
                .append("\r\nContent-Length: ").append(body == null ? 0 : body.length).append("\r\n");
        for (int i = 0; i + 1 < headers.length; i += 2) {
            h.append(headers[i]).append(": ").append(headers[i + 1].replace('\r', ' ').replace('\n', ' ')).append("\r\n");
        }
        h.append("\r\n");
        byte[] head = h.toString().getBytes(StandardCharsets.UTF_8);
        int n = body == null ? 0 : body.length;
        byte[] req = new byte[head.length + n];
        System.arraycopy(head, 0, req, 0, head.length);
        if (n > 0) {
            System.arraycopy(body, 0, req, head.length, n);
        }
        out.write(req);
        out.flush();

        String status = line();
        String[] parts = status.split(" ", 3);
        if (parts.length < 2) {
            throw new IOException("bad status line: " + status);
        }
        int code = Integer.parseInt(parts[1]);
        Map<String, String> hs = new HashMap<>();
        for (String l = line(); !l.isEmpty(); l = line()) {
            int c = l.indexOf(':');
            if (c > 0) {
                hs.put(l.substring(0, c).trim().toLowerCase(Locale.ROOT), l.substring(c + 1).trim());
            }
        }
        byte[] data;
        if ("chunked".equalsIgnoreCase(hs.get("transfer-encoding"))) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            while (true) {
                String size = line();
                int semi = size.indexOf(';');
                int len = Integer.parseInt((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
                if (len == 0) {
                    while (!line().isEmpty()) {
                        // trailers
                    }
                    break;
                }
                b.write(take(len));
                line();
            }
            data = b.toByteArray();
        } else {
            String cl = hs.get("content-length");
            data = take(cl == null ? 0 : Integer.parseInt(cl));
        }
        if ("close".equalsIgnoreCase(hs.get("connection"))) {
            close();
        }
        return new Response(code, hs, data);
    }

    private byte[] take(int n) throws IOException {
        byte[] b = in.readNBytes(n);
        if (b.length != n) {
            throw new IOException("runtime api closed the connection");
        }
        return b;
    }

    private String line() throws IOException {
        StringBuilder b = new StringBuilder(64);
        while (true) {
            int c = in.read();
            if (c < 0) {
                throw new IOException("runtime api closed the connection");
            }
            if (c == '\n') {
                int l = b.length();
                if (l > 0 && b.charAt(l - 1) == '\r') {
                    b.setLength(l - 1);
                }
                return b.toString();
            }
            b.append((char) c);
        }
    }
}
