"""A tiny upstream for the walkthrough: answers every request with its name and the path."""

from __future__ import annotations

import http.server
import sys


class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"{NAME} got {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


if __name__ == "__main__":
    NAME, PORT = sys.argv[1], int(sys.argv[2])
    http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Echo).serve_forever()
