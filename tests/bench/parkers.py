"""Hold N concurrent requests (blocking queries) spread over several
client processes, then, when told, make one request (a write) and time
the replies that follow it.  tests/bench/park.sh drives it.

    parkers.py URL PATHS N PROCS  < commands  > events

PATHS: one path, or several separated by "|" (request i asks path i
modulo their number).

No process may hold more than the host's fd cap (20,000 here), and one
source address has ~28,000 ephemeral ports towards one server port: so
PROCS processes, process i connecting from 127.0.0.(i+2).  Each holds
its share with raw asyncio protocols (no streams: the client's own cost
is part of both the measured run and its baseline).

Events on stdout, one line each:
    sent HELD               every request is written (HELD connected)
    result {json}           after "go": see below
Commands on stdin, one line each:
    go METHOD URL WINDOW [BODY]
        t0 = now; send METHOD URL (BODY); then collect every reply that
        arrives within WINDOW seconds of t0 (or all N, if sooner).
        result: held, early (replies before go), released (200s after
        go), other (non-200s after go), ack_ms (the write's reply),
        last_ms, p50_ms, p99_ms (after t0, over the replies after go).
After the result the processes close their connections and exit.
"""
import asyncio
import json
import os
import sys
import time
import urllib.parse
import urllib.request


class Holder(asyncio.Protocol):
    def __init__(self, req, out):
        self.req = req
        self.out = out      # list of (t, status)
        self.got = False
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.req)

    def data_received(self, data):
        if not self.got:
            self.got = True
            status = data[9:12] if data.startswith(b"HTTP/1.") else b"000"
            self.out.append((time.monotonic(), int(status or 0)))

    def connection_lost(self, exc):
        if not self.got:
            self.got = True
            self.out.append((time.monotonic(), 0))


async def child_main(host, port, paths, n, src, cmd_fd, res_fd):
    loop = asyncio.get_running_loop()
    reqs = [("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % p).encode()
            for p in paths.split("|")]
    out = []
    held = 0
    for i in range(n):
        req = reqs[i % len(reqs)]
        try:
            await loop.create_connection(lambda: Holder(req, out), host, port,
                                         local_addr=(src, 0))
            held += 1
        except OSError:
            pass
        if i % 200 == 199:
            await asyncio.sleep(0.005)
    os.write(res_fd, ("sent %d\n" % held).encode())
    parent = os.getppid()

    async def orphaned():        # the parent killed: let go of it all
        while os.getppid() == parent:
            await asyncio.sleep(0.5)
        os._exit(1)
    watch = asyncio.ensure_future(orphaned())
    # Wait for "collect T0 DEADLINE" from the parent.
    line = b""
    fut = loop.create_future()

    def readable():
        nonlocal line
        line += os.read(cmd_fd, 4096)
        if b"\n" in line and not fut.done():
            fut.set_result(line)
    loop.add_reader(cmd_fd, readable)
    msg = (await fut).split()
    loop.remove_reader(cmd_fd)
    t0, deadline = float(msg[1]), float(msg[2])
    while len(out) < held and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    early = [s for t, s in out if t < t0]
    after = [(t - t0, s) for t, s in out if t >= t0]
    os.write(res_fd, (json.dumps({"held": held, "early": len(early), "after": after}) + "\n").encode())


def read_line(fd):
    b = b""
    while not b.endswith(b"\n"):
        c = os.read(fd, 1)
        if not c:
            break
        b += c
    return b.decode()


def main():
    url, path, n, procs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    u = urllib.parse.urlparse(url)
    kids = []
    for i in range(procs):
        share = n // procs + (1 if i < n % procs else 0)
        c_r, c_w = os.pipe()
        r_r, r_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(c_w)
            os.close(r_r)
            try:
                asyncio.run(child_main(u.hostname, u.port, path, share,
                                       "127.0.0.%d" % (i + 2), c_r, r_w))
            finally:
                os._exit(0)
        os.close(c_r)
        os.close(r_w)
        kids.append((pid, c_w, r_r))
    held = sum(int(read_line(r).split()[1]) for _, _, r in kids)
    print("sent %d" % held, flush=True)
    cmd = sys.stdin.readline().split(None, 4)
    if not cmd or cmd[0] != "go":
        for pid, _, _ in kids:
            os.kill(pid, 9)
        return
    method, target, window = cmd[1], cmd[2], float(cmd[3])
    body = cmd[4].strip().encode() if len(cmd) > 4 else None
    t0 = time.monotonic()
    for _, w, _ in kids:
        os.write(w, b"collect %f %f\n" % (t0, t0 + window))
    req = urllib.request.Request(target, data=body, method=method)
    urllib.request.urlopen(req, timeout=60).read()
    ack = time.monotonic() - t0
    res = [json.loads(read_line(r)) for _, _, r in kids]
    for pid, _, _ in kids:
        os.waitpid(pid, 0)
    after = [a for r in res for a in r["after"]]
    ok = sorted(t * 1000 for t, s in after if s == 200)
    pct = lambda p: round(ok[min(len(ok) - 1, int(p * len(ok)))], 1) if ok else None
    print("result " + json.dumps({
        "held": sum(r["held"] for r in res), "early": sum(r["early"] for r in res),
        "released": len(ok), "other": len(after) - len(ok),
        "ack_ms": round(ack * 1000, 1), "last_ms": round(ok[-1], 1) if ok else None,
        "p50_ms": pct(0.5), "p99_ms": pct(0.99)}), flush=True)


if __name__ == "__main__":
    main()
