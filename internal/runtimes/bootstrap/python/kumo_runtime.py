# Kumo's Python runtime: the Lambda Runtime API loop for Python handlers.
# Standard library only, and as few imports as possible before the
# handler's own: every import here is paid on every cold start. It is a
# module (started by bootstrap.py) so that its byte code, compiled once
# when the server starts, is not compiled again on every cold start.
import sys
import os
import time
import _socket

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))
_request_id = ""  # the invocation running now; "" during init


# --- JSON: the json module's C accelerators used directly, which spares
# importing json (and re, enum) when the function does not; any surprise
# falls back to the json module.

def _default(o):
    if type(o).__name__ == "Decimal" and type(o).__module__ == "decimal":
        return float(o) if o % 1 else int(o)
    raise TypeError("Object of type %s is not JSON serializable" % type(o).__name__)


class _ScanContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__
    memo = {}


try:
    import _json
    _scan = _json.make_scanner(_ScanContext)
    _WS = " \t\n\r"

    def _loads(b):
        s = b.decode("utf-8")
        i = len(s) - len(s.lstrip(_WS))
        try:
            obj, end = _scan(s, i)
        except Exception:
            obj, end = None, -1
        finally:
            _ScanContext.memo.clear()
        if end < 0 or s[end:].strip(_WS):
            import json
            return json.loads(s)
        return obj

    def _dumps(obj, ensure_ascii=True):
        enc = _json.make_encoder({}, _default, _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring,
                                 None, ": ", ", ", False, False, True)
        return "".join(enc(obj, 0))

    _dumps(["", 1, 1.5, None, True, {"k": [False]}])
    _loads(b'{"k": [1, 2.5, "s", null, true]}')
except Exception:
    def _loads(b):
        import json
        return json.loads(b)

    def _dumps(obj, ensure_ascii=True):
        import json
        return json.dumps(obj, ensure_ascii=ensure_ascii, default=_default)


# --- Runtime API client: HTTP/1.1 over one kept-alive connection ---------

class _API:
    def __init__(self, addr):
        host, _, port = addr.rpartition(":")
        self.addr = (host.strip("[]") or "127.0.0.1", int(port))
        self.host = addr.encode()
        self.sock = None
        self.buf = b""

    def _connect(self):
        s = _socket.socket(_socket.AF_INET6 if ":" in self.addr[0] else _socket.AF_INET, _socket.SOCK_STREAM)
        s.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        s.connect(self.addr)
        self.sock, self.buf = s, b""

    def request(self, method, path, body=b"", headers=()):
        for attempt in (0, 1):
            if self.sock is None:
                self._connect()
            try:
                return self._roundtrip(method, path, body, headers)
            except (OSError, ConnectionError):
                self.close()
                if attempt:
                    raise

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None

    def _roundtrip(self, method, path, body, headers):
        head = [method.encode() + b" " + path.encode() + b" HTTP/1.1", b"Host: " + self.host,
                b"Content-Length: " + str(len(body)).encode()]
        for k, v in headers:
            head.append(k.encode() + b": " + v.encode("utf-8", "replace").replace(b"\r", b"").replace(b"\n", b""))
        head = b"\r\n".join(head) + b"\r\n\r\n"
        if len(body) <= 65536:
            self.sock.sendall(head + body)
        else:
            self.sock.sendall(head)
            self.sock.sendall(body)
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            data = self._chunked()
        else:
            data = self._take(int(hdrs.get("content-length", "0")))
        if hdrs.get("connection", "").lower() == "close":
            self.close()
        return status, hdrs, data

    def _fill(self):
        # Only for headers and chunk-size lines, which are short: bodies
        # are read by _take, in time linear in their size.
        b = self.sock.recv(65536)
        if not b:
            raise ConnectionError("runtime api closed the connection")
        self.buf += b

    def _take(self, n):
        """Returns the next n bytes of the stream (bytes or a bytearray):
        what is buffered, then read from the socket straight into one
        buffer of the full size."""
        if len(self.buf) >= n:
            data, self.buf = self.buf[:n], self.buf[n:]
            return data
        out = bytearray(n)
        have = len(self.buf)
        out[:have] = self.buf
        self.buf = b""
        view = memoryview(out)
        while have < n:
            got = self.sock.recv_into(view[have:], n - have)
            if not got:
                raise ConnectionError("runtime api closed the connection")
            have += got
        view.release()
        return out

    def _chunked(self):
        out = []
        while True:
            while b"\r\n" not in self.buf:
                self._fill()
            line, self.buf = self.buf.split(b"\r\n", 1)
            n = int(line.split(b";")[0], 16)
            if n == 0:
                # Trailers, if any, end with an empty line.
                while not self.buf.startswith(b"\r\n") and b"\r\n\r\n" not in self.buf:
                    self._fill()
                self.buf = self.buf[2:] if self.buf.startswith(b"\r\n") else self.buf.split(b"\r\n\r\n", 1)[1]
                return b"".join(out)
            out.append(self._take(n + 2)[:n])


_api = _API(os.environ["AWS_LAMBDA_RUNTIME_API"])
_BASE = "/2018-06-01/runtime/"


def _post(path, body, error_type=None):
    headers = [("Content-Type", "application/json")]
    if error_type:
        headers.append(("Lambda-Runtime-Function-Error-Type", error_type))
    try:
        status, _, data = _api.request("POST", _BASE + path, body, headers)
    except OSError:
        # The Runtime API went away (the platform retires the sandbox,
        # possibly right after it took this result): nothing to log.
        sys.exit(0)
    if status >= 300 and status != 413:
        _log_raw("[ERROR] Runtime API answered %d to POST %s: %s" % (status, path, data.decode("utf-8", "replace")))


# --- Logs ---------------------------------------------------------------

def _log_raw(msg):
    # One call, one log line: embedded newlines become carriage returns.
    sys.stdout.write(msg.replace("\n", "\r") + "\n")
    sys.stdout.flush()


def _timestamp():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


def _log_error(err):
    lines = ["[ERROR] " + err["errorType"] + ": " + err["errorMessage"] if err["errorMessage"] else "[ERROR] " + err["errorType"]]
    trace = err.get("stackTrace")
    if trace is not None:
        lines.append("Traceback (most recent call last):")
        for t in trace:
            lines.extend(t.splitlines() if t else [""])
    _log_raw("\n".join(lines))


def _configure_logging(logging):
    """Sets the root logger up as Lambda's: one handler writing
    [LEVEL]\\t<time>Z\\t<request id>\\t<message>, level WARNING."""

    class LambdaLoggerHandler(logging.Handler):
        def emit(self, record):
            try:
                _log_raw(self.format(record))
            except Exception:
                self.handleError(record)

    class LambdaLoggerFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _request_id
            return True

    fmt = logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
                            "%Y-%m-%dT%H:%M:%S")
    fmt.converter = time.gmtime
    h = LambdaLoggerHandler()
    h.setFormatter(fmt)
    h.addFilter(LambdaLoggerFilter())
    root = logging.getLogger()
    root.addHandler(h)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level in ("DEBUG", "INFO", "WARN", "WARNING", "ERROR", "CRITICAL", "FATAL"):
        root.setLevel("WARNING" if level == "WARN" else "CRITICAL" if level == "FATAL" else level)


class _AfterImport:
    """A meta path finder that runs after(module) once the module named
    name has been executed the first time anything imports it, and then
    leaves sys.meta_path: what it sets up costs nothing to a function that
    never imports that module."""

    def __init__(self, name, after):
        self.name = name
        self.after = after

    def find_spec(self, name, path=None, target=None):
        if name != self.name:
            return None
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find else None
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = loader.exec_module
        after = self.after

        def exec_then(module):
            exec_module(module)
            after(module)

        loader.exec_module = exec_then
        return spec


def _patch_botocore(session_module):
    url = os.environ.get("AWS_ENDPOINT_URL", "")
    if not url or os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return
    try:
        import botocore
        version = tuple(int(x) for x in botocore.__version__.split(".")[:3])
    except (ImportError, ValueError):
        return
    if version >= (1, 31, 57):
        return
    create_client = session_module.Session.create_client

    def create_client_at_endpoint(self, service_name, *args, **kwargs):
        # endpoint_url is the fifth parameter after service_name.
        if len(args) < 5 and kwargs.get("endpoint_url") is None:
            kwargs["endpoint_url"] = url
        return create_client(self, service_name, *args, **kwargs)

    session_module.Session.create_client = create_client_at_endpoint


# --- Errors ---------------------------------------------------------------

def _error(message, typ, trace, request_id):
    return {"errorMessage": message, "errorType": typ, "requestId": request_id, "stackTrace": trace}


def _exception_error(exc, request_id):
    import traceback
    frames = traceback.extract_tb(exc.__traceback__)
    # Frames of this file are the runtime's, not the function's.
    while frames and frames[0].filename == __file__:
        frames = traceback.StackSummary.from_list(frames[1:])
    return _error(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


class _Fault(Exception):
    def __init__(self, typ, msg, trace=None):
        Exception.__init__(self, msg)
        self.typ, self.msg, self.trace = typ, msg, trace if trace is not None else []


def _fault_handler(fault):
    def handler(event, context):
        raise fault
    return handler


def _load_handler(spec):
    try:
        modname, fname = spec.rsplit(".", 1)
    except ValueError as e:
        raise _Fault("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (spec, e))
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise _Fault("Runtime.BuiltInModuleConflict", "Cannot use built-in module %s as a handler module" % modname)
        name = modname.replace("/", ".")
        __import__(name)
        mod = sys.modules[name]
    except ImportError as e:
        raise _Fault("Runtime.ImportModuleError", "Unable to import module '%s': %s" % (modname, e))
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise _Fault("Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (modname, e), trace)
    try:
        return getattr(mod, fname)
    except AttributeError:
        # Lambda reports a missing handler on each invocation.
        return _fault_handler(_Fault("Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (fname, modname)))


# --- Context ----------------------------------------------------------------

class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.cognito_identity_id, self.cognito_identity_pool_id)


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")


class ClientContext:
    __slots__ = ("custom", "env", "client")


class LambdaContext:
    def __init__(self, request_id, deadline_ms, arn, client_context, identity):
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = arn
        self._deadline_ms = deadline_ms
        self.tenant_id = None

        ident = CognitoIdentity()
        ident.cognito_identity_id = identity.get("cognitoIdentityId") if identity else None
        ident.cognito_identity_pool_id = identity.get("cognitoIdentityPoolId") if identity else None
        self.identity = ident

        self.client_context = None
        if client_context:
            cc = ClientContext()
            cc.custom = client_context.get("custom")
            cc.env = client_context.get("env")
            cc.client = None
            c = client_context.get("client")
            if c:
                cl = Client()
                cl.installation_id = c.get("installation_id")
                cl.app_title = c.get("app_title")
                cl.app_version_name = c.get("app_version_name")
                cl.app_version_code = c.get("app_version_code")
                cl.app_package_name = c.get("app_package_name")
                cc.client = cl
            self.client_context = cc

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, msg):
        sys.stdout.write(str(msg))
        sys.stdout.flush()

    def __repr__(self):
        return ("LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,function_name=%s,"
                "memory_limit_in_mb=%s,function_version=%s,invoked_function_arn=%s,client_context=%s,identity=%s])" % (
                    self.aws_request_id, self.log_group_name, self.log_stream_name, self.function_name,
                    self.memory_limit_in_mb, self.function_version, self.invoked_function_arn,
                    self.client_context, self.identity))


def _json_header(value):
    if not value:
        return None
    try:
        return _loads(value.encode("utf-8"))
    except ValueError:
        return None


# --- The loop ---------------------------------------------------------------

def _runtime_version():
    env = os.environ.get("AWS_EXECUTION_ENV", "")
    if env.startswith("AWS_Lambda_python"):
        try:
            major, minor = env[len("AWS_Lambda_python"):].split(".")[:2]
            return int(major), int(minor)
        except ValueError:
            pass
    return sys.version_info[:2]


def _set_path(sdk):
    major, minor = _runtime_version()
    versions = ["python%d.%d" % (major, minor)]
    actual = "python%d.%d" % sys.version_info[:2]
    if actual not in versions:
        versions.append(actual)
    task = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
    front = [task] + ["/opt/python/lib/%s/site-packages" % v for v in versions] + ["/opt/python"]
    rest = [p for p in sys.path if p not in front and p not in ("", _RUNTIME_DIR)]
    # The AWS SDK comes last, as on Lambda: a function's own boto3 (in its
    # code or a layer) wins.
    sys.path[:] = front + rest + [p for p in sdk if p not in front and p not in rest]




def main():
    global _request_id
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except (AttributeError, ValueError):
            pass
    # The logging module is configured the first time anything imports
    # it. A botocore older than 1.31.57 (boto3 1.28.57, the first to read
    # AWS_ENDPOINT_URL) is made to send clients to AWS_ENDPOINT_URL, as a
    # current one does, when botocore.session is first imported: a host's
    # boto3 may be that old (Debian 12 ships 1.26); a client given its own
    # endpoint_url keeps it.
    sys.meta_path.insert(0, _AfterImport("logging", _configure_logging))
    sys.meta_path.insert(0, _AfterImport("botocore.session", _patch_botocore))
    # bootstrap.py's arguments are the directories of the AWS SDK; the
    # function sees sys.argv as on Lambda.
    sdk = sys.argv[1:]
    del sys.argv[1:]
    _set_path(sdk)
    # Python 3.12 and later answer with Unicode characters unescaped.
    ensure_ascii = _runtime_version() < (3, 12)
    os.chdir(os.environ.get("LAMBDA_TASK_ROOT", "/var/task"))

    try:
        handler = _load_handler(os.environ.get("_HANDLER", ""))
    except _Fault as f:
        err = _error(f.msg, f.typ, f.trace, "")
    except Exception as e:
        err = _exception_error(e, "")
    else:
        err = None
    if err is not None:
        _log_error(err)
        _post("init/error", _dumps(err).encode(), err["errorType"])
        sys.exit(1)

    while True:
        try:
            status, h, body = _api.request("GET", _BASE + "invocation/next")
        except OSError:
            # The Runtime API refused or closed the connection: the
            # platform is retiring this sandbox. Nothing to tell the
            # function's log.
            sys.exit(0)
        if status != 200:
            raise SystemExit("runtime api answered %d to /next: %r" % (status, body[:200]))
        rid = h.get("lambda-runtime-aws-request-id", "")
        _request_id = rid
        trace = h.get("lambda-runtime-trace-id")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        try:
            deadline = int(h.get("lambda-runtime-deadline-ms", "0"))
        except ValueError:
            deadline = 0
        ctx = LambdaContext(rid, deadline, h.get("lambda-runtime-invoked-function-arn"),
                            _json_header(h.get("lambda-runtime-client-context")),
                            _json_header(h.get("lambda-runtime-cognito-identity")))
        err = None
        try:
            event = _loads(body) if body else {}
            # A large event's bytes are not kept while the handler runs:
            # the memory counts against the function's limit.
            body = None
            result = handler(event, ctx)
        except _Fault as f:
            err = _error(f.msg, f.typ, f.trace, rid)
        except Exception as e:
            err = _exception_error(e, rid)
        else:
            try:
                out = _dumps(result, ensure_ascii).encode("utf-8")
            except Exception as e:
                err = _error("Unable to marshal response: %s" % e, "Runtime.MarshalError", [], rid)
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
        if err is not None:
            _log_error(err)
            _post("invocation/" + rid + "/error", _dumps(err, ensure_ascii).encode("utf-8"), err["errorType"])
        else:
            _post("invocation/" + rid + "/response", out)
