# Kumo's pre-started runtime (the linux sandbox driver's snapshots): the
# interpreter starts and imports Kumo's runtime and the modules handlers
# use before the function is known, says so by writing one byte to stdin
# (a socket), then waits for the function's environment and working
# directory on it (JSON, then EOF). Nothing of
# the function runs before wait returns; the environment is then exactly
# a fresh start's.
import os
import sys

# Imported ahead for handlers; a function that ships a module of the same
# name gets its own (the preloaded one is dropped, see _unshadow).
_PRELOAD = ("json", "http.client", "urllib.request", "urllib.parse", "base64", "datetime", "decimal", "uuid")


def wait():
    before = set(sys.modules)
    import kumo_runtime  # noqa: F401
    for name in _PRELOAD:
        try:
            __import__(name)
        except Exception:
            pass
    preloaded = {m.partition(".")[0] for m in set(sys.modules) - before} - {"kumo_runtime", "kumo_snapshot"}
    try:
        os.write(0, b"\n")  # ready: stdin is the init's socket
    except OSError:
        pass
    chunks = []
    while True:
        try:
            chunk = os.read(0, 1 << 16)
        except InterruptedError:
            continue
        if not chunk:
            break
        chunks.append(chunk)
    if not chunks:
        sys.exit(1)  # the sandbox is being recycled
    import json
    spec = json.loads(b"".join(chunks))
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.environ.clear()
    for kv in spec["env"]:
        k, _, v = kv.partition("=")
        os.environ[k] = v
    os.chdir(spec.get("dir") or "/var/task")
    _unshadow(preloaded)
    # Each snapshot is its own process, so this state is its own already;
    # reseeded anyway, as a snapshot restored from a copy would need.
    if "random" in sys.modules:
        sys.modules["random"].seed()


def _unshadow(preloaded):
    task = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
    v = "python%d.%d" % sys.version_info[:2]
    dirs = [task, "/opt/python", "/opt/python/lib/%s/site-packages" % v]
    # One listing per directory rather than two stats per module and
    # directory: what the function ships at the top of them.
    shipped = set()
    for d in dirs:
        try:
            for e in os.listdir(d):
                shipped.add(e[:-3] if e.endswith(".py") else e)
        except OSError:
            pass
    for name in preloaded & shipped:
        if name in sys.builtin_module_names:
            continue
        for m in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[m]
