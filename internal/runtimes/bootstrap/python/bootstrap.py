# Starts Kumo's Python runtime (kumo_runtime.py, next to this file).
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
if os.environ.get("_KUMO_SNAPSHOT") == "1":  # pre-started: kumo_snapshot.py
    import kumo_snapshot  # noqa: E402
    kumo_snapshot.wait()
import kumo_runtime  # noqa: E402

kumo_runtime.main()
