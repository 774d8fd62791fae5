"""moto's server, made linearizable for the tests.

moto's own `moto_server` serves each request on its own thread with no lock between a condition
check and its write: racing conditional updates on DynamoDB can both win there, which DynamoDB
never allows. This runs the very same WSGI application (`DomainDispatcherApplication`) on a
threaded werkzeug server (so keep-alive connections and slow clients still overlap), but one
request at a time inside the application: every request is applied atomically, in one order.

werkzeug's server closes every connection after one response (`Connection: close`), unlike
AWS. `--keep-alive` serves the same application through cheroot instead, which keeps HTTP/1.1
connections open, so a test can see whether a client reuses its connection (and TLS session).

Usage: python scripts/moto_server.py [-H HOST] [-p PORT] [-c CERT -k KEY] [--keep-alive]
"""

import argparse
import io
import os
import signal
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


class Serialized:
    """WSGI middleware: the wrapped application handles one request at a time, start to finish
    (the response body is drawn inside the lock too, since moto builds it lazily at times)."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        # Read the body before taking the lock: a slow upload must not hold up everyone else.
        length = environ.get("CONTENT_LENGTH")
        if length:
            body = environ["wsgi.input"].read(int(length))
            environ["wsgi.input"] = io.BytesIO(body)
        with self.lock:
            result = self.app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


def serve_keep_alive(app, args):
    from cheroot import wsgi
    from cheroot.ssl.builtin import BuiltinSSLAdapter

    server = wsgi.Server((args.host, args.port), app, numthreads=16, timeout=60)
    if args.ssl_cert and args.ssl_key:
        server.ssl_adapter = BuiltinSSLAdapter(args.ssl_cert, args.ssl_key)
    try:
        server.start()
    finally:
        server.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    parser.add_argument("-c", "--ssl-cert", help="PEM certificate: serve HTTPS")
    parser.add_argument("-k", "--ssl-key", help="PEM private key of --ssl-cert")
    parser.add_argument("--keep-alive", action="store_true", help="keep connections open (cheroot)")
    args = parser.parse_args(argv)

    # moto builds some URLs (queues, presigned links) from MOTO_PORT.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    if args.keep_alive:
        serve_keep_alive(Serialized(app), args)
        return
    ssl_context = (args.ssl_cert, args.ssl_key) if args.ssl_cert and args.ssl_key else None
    run_simple(
        args.host,
        args.port,
        Serialized(app),
        threaded=True,
        ssl_context=ssl_context,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
