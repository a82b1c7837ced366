import hashlib
import sqlite3
import ssl


def handler(event, context):
    ctx = ssl.create_default_context()
    return {
        "certs": ctx.cert_store_stats()["x509_ca"],
        "sha": hashlib.sha256(b"kumo").hexdigest(),
        "sqlite": sqlite3.connect(":memory:").execute("select 1+1").fetchone()[0],
    }
