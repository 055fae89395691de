#!/usr/bin/env python3
"""What one emberd sends to Pyroscope: runs emberd at its default settings (99 Hz, whole host,
DWARF, 60 s snapshots) pushing over https:// with basic auth to a loopback receiver, counts every
byte on the wire in both directions (TLS handshakes included) and every request, and prints the
figures per hour.

    bench/fleet/push_bytes.py --emberd build/daemon/emberd --minutes 5

The receiver is Python's TLS server behind a byte-counting TCP relay; its certificates are made
by the openssl command in a temporary directory."""

import argparse
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counts = {"up": 0, "down": 0, "connections": 0, "requests": 0, "bodies": 0, "statuses": {}}
lock = threading.Lock()


def make_pki(d):
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
        "-subj", "/CN=bench ca", "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem")
    with open(f"{d}/ext", "w") as f:
        f.write("subjectAltName=DNS:localhost\n")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
        "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr")
    run("x509", "-req", "-in", f"{d}/server.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key",
        "-CAcreateserial", "-days", "1", "-extfile", f"{d}/ext", "-out", f"{d}/server.pem")


class Ingest(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = 200 if self.path.startswith("/ingest?") and self.headers["Authorization"].startswith("Basic ") else 400
        with lock:
            counts["requests"] += 1
            counts["bodies"] += len(body)
            counts["statuses"][status] = counts["statuses"].get(status, 0) + 1
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def pump(src, dst, key):
    while True:
        try:
            data = src.recv(65536)
        except OSError:
            data = b""
        if not data:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            return
        with lock:
            counts[key] += len(data)
        dst.sendall(data)


def relay(listener, backend_port):
    while True:
        client, _ = listener.accept()
        backend = socket.create_connection(("127.0.0.1", backend_port))
        with lock:
            counts["connections"] += 1
        threading.Thread(target=pump, args=(client, backend, "up"), daemon=True).start()
        threading.Thread(target=pump, args=(backend, client, "down"), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--emberd", required=True)
    ap.add_argument("--minutes", type=float, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        make_pki(d)
        server = ThreadingHTTPServer(("127.0.0.1", 0), Ingest)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(f"{d}/server.pem", f"{d}/server.key")
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=relay, args=(listener, server.server_address[1]), daemon=True).start()
        with open(f"{d}/password", "w") as f:
            f.write("glc_" + "x" * 120 + "\n")  # a Grafana Cloud access token is about this long
        os.chmod(f"{d}/password", 0o600)
        with open(f"{d}/emberd.toml", "w") as f:
            f.write(f"""[storage]
directory = "{d}/data"
[http]
listen = "127.0.0.1:0"
[push]
url = "https://localhost:{listener.getsockname()[1]}"
basic_auth_user = "123456"
basic_auth_password_file = "{d}/password"
tenant_id = "team-a"
ca_file = "{d}/ca.pem"
""")
        emberd = subprocess.Popen([args.emberd, "--config", f"{d}/emberd.toml"], stderr=subprocess.PIPE, text=True)
        snapshots = []
        def read_log():
            for line in emberd.stderr:
                if "msg=snapshot " in line:
                    snapshots.append(line.strip())
        threading.Thread(target=read_log, daemon=True).start()
        time.sleep(args.minutes * 60 + 5)
        emberd.terminate()
        emberd.wait(timeout=60)
        time.sleep(2)
        with lock:
            c = dict(counts)
        hours = args.minutes / 60
        print(f"run: {args.minutes} min, {len(snapshots)} snapshots logged, statuses {c['statuses']}")
        print(f"requests: {c['requests']} ({c['connections']} TLS connections) -> {c['requests'] / hours:.0f}/hour")
        print(f"pprof+form bodies: {c['bodies']} B -> {c['bodies'] / hours / 1e6:.2f} MB/hour")
        print(f"on the wire up (emberd -> server, TLS included): {c['up']} B -> {c['up'] / hours / 1e6:.2f} MB/hour")
        print(f"on the wire down: {c['down']} B -> {c['down'] / hours / 1e3:.1f} kB/hour")
        if c["requests"]:
            n = c["requests"]
            print(f"per push: {c['up'] / n / 1e3:.1f} kB up, {c['down'] / n / 1e3:.2f} kB down; "
                  f"at the default 60 s interval: 60 pushes, {60 * c['up'] / n / 1e6:.2f} MB/hour up")
        for s in snapshots:
            print("  " + s)


if __name__ == "__main__":
    main()
