#!/usr/bin/env python3
"""B3, B3 multi-header, Jaeger and W3C, through our service and back out.

OpenTelemetry Python's own propagators (opentelemetry-propagator-b3 and
opentelemetry-propagator-jaeger from PyPI, and the API's W3C ones) stand in
front of and behind our W3C test service (examples/w3c-test-service), which
is started with OTEL_PROPAGATORS:

  caller (Python, one format) -> our service -> far peer (Python)

For each caller format, the far peer must read one trace: the caller's
trace id and sampled flag in every format our service wrote, one span id
(our client span's, never the caller's) in all of them, and the caller's
baggage. A mixed chain (B3 in, W3C + B3 out) checks that only the formats
asked for are written.

Run: python3 tests/interop/propagators.py target/debug/w3c-test-service
(CI installs the packages in a virtual environment first.) Servers listen
on 127.0.0.1 only; every wait is bounded.
"""

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry import baggage, context, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.b3 import B3MultiFormat, B3SingleFormat
from opentelemetry.propagators.jaeger import JaegerPropagator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

W3C = TraceContextTextMapPropagator()
FORMATS = {
    "tracecontext": W3C,
    "b3": B3SingleFormat(),
    "b3multi": B3MultiFormat(),
    "jaeger": JaegerPropagator(),
}
BAGGAGE = W3CBaggagePropagator()

received = {}
received_lock = threading.Lock()


class FarPeer(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        case = json.loads(body or b"{}").get("case", "?")
        headers = {name.lower(): value for name, value in self.headers.items()}
        with received_lock:
            received[case] = headers
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(binary, propagators):
    port = free_port()
    env = dict(os.environ, OTEL_PROPAGATORS=propagators)
    process = subprocess.Popen(
        [binary, "--port", str(port)], env=env, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            if process.poll() is not None:
                sys.exit(f"the service exited with {process.returncode}")
            time.sleep(0.1)
    process.kill()
    sys.exit("the service did not start within 30 s")


def call(port, far, case, fmt, trace_id, span_id, sampled, with_baggage=True, narrow=False):
    """The caller: one format's headers (and W3C baggage, or Jaeger's own)."""
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    parent = SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags)
    cx = trace.set_span_in_context(NonRecordingSpan(parent))
    if with_baggage:
        # No space: OpenTelemetry Python's W3C baggage writes one as "+"
        # (urllib's quote_plus), which W3C Baggage reads as a plus sign.
        cx = baggage.set_baggage("tenant", "acme/eu;1", context=cx)
    headers = {}
    FORMATS[fmt].inject(headers, context=cx)
    if narrow:
        # OpenTelemetry Python writes every trace id in 32 digits; a 64-bit
        # caller (Zipkin's tracers, Jaeger clients) writes 16.
        wide, short = f"{trace_id:032x}", f"{trace_id:016x}"
        headers = {name: value.replace(wide, short) for name, value in headers.items()}
    if with_baggage and fmt != "jaeger":
        BAGGAGE.inject(headers, context=cx)
    body = json.dumps([{"url": far, "arguments": {"case": case}}]).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/test",
        data=body,
        headers=dict(headers, **{"content-type": "application/json"}),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200, response.status
    return headers


def read(fmt, headers):
    """What the far peer's propagator for `fmt` reads from its request."""
    cx = FORMATS[fmt].extract(headers)
    sc = trace.get_current_span(cx).get_span_context()
    return sc if sc.is_valid else None


failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL", message)


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/w3c-test-service"
    far = ThreadingHTTPServer(("127.0.0.1", 0), FarPeer)
    threading.Thread(target=far.serve_forever, daemon=True).start()
    far_url = f"http://127.0.0.1:{far.server_address[1]}/far"

    service, port = start_service(binary, "tracecontext,baggage,b3,b3multi,jaeger")
    try:
        for fmt in FORMATS:
            for sampled in (True, False):
                for narrow in (False, True) if fmt != "tracecontext" else (False,):
                    case = f"{fmt}/{'sampled' if sampled else 'unsampled'}{'/64-bit' if narrow else ''}"
                    trace_id = random.getrandbits(64 if narrow else 128) | 1
                    span_id = random.getrandbits(64) | 1
                    sent = call(port, far_url, case, fmt, trace_id, span_id, sampled, narrow=narrow)
                    got = received.get(case)
                    check(got is not None, f"{case}: the far peer was not called (sent {sent})")
                    if got is None:
                        continue
                    span_ids = set()
                    for out_fmt in FORMATS:
                        sc = read(out_fmt, got)
                        check(sc is not None, f"{case}: no {out_fmt} context at the far peer: {got}")
                        if sc is None:
                            continue
                        check(sc.trace_id == trace_id, f"{case}: {out_fmt} trace id {sc.trace_id:032x} != {trace_id:032x}")
                        check(sc.trace_flags.sampled == sampled, f"{case}: {out_fmt} sampled {sc.trace_flags.sampled} != {sampled}")
                        check(sc.span_id != span_id, f"{case}: {out_fmt} passed the caller's span id on")
                        span_ids.add(sc.span_id)
                    check(len(span_ids) == 1, f"{case}: one span id in every format, got {span_ids}")
                    if narrow:
                        # Written back as wide as it came: 16 digits.
                        first = lambda name, sep: got.get(name, "").split(sep)[0 if name != "traceparent" else 1]
                        check(first("b3", "-") == f"{trace_id:016x}", f"{case}: b3 not written 64-bit: {got}")
                        check(first("uber-trace-id", ":") == f"{trace_id:016x}", f"{case}: uber-trace-id not written 64-bit")
                        check(got.get("traceparent", "-").split("-")[1] == f"{trace_id:032x}", f"{case}: traceparent not padded")
                    check("x-b3-parentspanid" not in got, f"{case}: X-B3-ParentSpanId propagated")
                    for reader in (BAGGAGE, JaegerPropagator()):
                        bag = baggage.get_all(reader.extract(got))
                        check(bag.get("tenant") == "acme/eu;1", f"{case}: {type(reader).__name__} baggage {dict(bag)} (headers {got})")
                    print("ok", case)
    finally:
        service.kill()
        service.wait(timeout=10)

    # The mixed chain: B3 in, W3C and B3 out, nothing else.
    service, port = start_service(binary, "b3,tracecontext")
    try:
        trace_id, span_id = random.getrandbits(128) | 1, random.getrandbits(64) | 1
        call(port, far_url, "mixed", "b3", trace_id, span_id, True, with_baggage=False)
        got = received.get("mixed", {})
        for out_fmt in ("b3", "tracecontext"):
            sc = read(out_fmt, got)
            check(sc is not None and sc.trace_id == trace_id and sc.trace_flags.sampled, f"mixed: {out_fmt} at the far peer: {got}")
        ids = {sc.span_id for sc in (read("tracecontext", got), read("b3", got)) if sc}
        check(len(ids) == 1, "mixed: one span id")
        for absent in ("x-b3-traceid", "uber-trace-id", "baggage"):
            check(absent not in got, f"mixed: {absent} written though not asked for: {got}")
        print("ok mixed (B3 in, W3C + B3 out)")
    finally:
        service.kill()
        service.wait(timeout=10)
    far.shutdown()

    if failures:
        sys.exit(f"{len(failures)} interop failures")
    print("all interop cases passed")


if __name__ == "__main__":
    main()
