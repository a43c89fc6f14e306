"""Hold N concurrent blocking queries against one Portcullis instance,
then make one write and measure how fast every one of them is released.

    blockers.py URL N

Prints one JSON line: held, released, p50/p99/max release latency (ms
after the write was acknowledged), and the time to park them all.
Raw asyncio sockets: one client process can hold 10,000+ connections.
"""
import asyncio
import json
import sys
import time
import urllib.parse
import urllib.request


async def blocker(host, port, path, ready, released, t_write):
    try:
        r, w = await asyncio.open_connection(host, port)
    except OSError:
        return
    w.write(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
    await w.drain()
    ready.append(1)
    try:
        line = await r.readline()
        if line.startswith(b"HTTP/1.1 200"):
            released.append(time.monotonic())
        await r.read()
    except OSError:
        pass
    w.close()


async def main(url, n):
    u = urllib.parse.urlparse(url)
    base = url + "/v1/connect/intentions"
    idx = int(urllib.request.urlopen(base).headers["X-Consul-Index"])
    path = "/v1/connect/intentions?index=%d&wait=120s" % idx
    ready, released, t_write = [], [], []
    t0 = time.monotonic()
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(blocker(u.hostname, u.port, path, ready, released, t_write)))
        if i % 500 == 499:
            await asyncio.sleep(0.05)
    while len(ready) < n and time.monotonic() - t0 < 60:
        await asyncio.sleep(0.05)
    await asyncio.sleep(2.0)          # let the server park them all
    parked_s = time.monotonic() - t0
    early = len(released)
    req = urllib.request.Request(url + "/v1/connect/intentions/exact?source=bench&destination=blockers",
                                 data=json.dumps({"Action": "allow"}).encode(), method="PUT")
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, lambda: urllib.request.urlopen(req).read())
    tw = time.monotonic()
    await asyncio.wait(tasks, timeout=60)
    lat = sorted((t - tw) * 1000 for t in released[early:])
    pct = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else None
    print(json.dumps({"held": len(ready) - early, "released": len(lat), "early": early,
                      "park_s": round(parked_s, 1), "p50_ms": pct(0.5), "p99_ms": pct(0.99),
                      "max_ms": round(lat[-1], 1) if lat else None}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
