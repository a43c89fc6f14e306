"""Operational hardening (issue #12): shared counters given back when a
worker dies mid-signing, secrets kept from local users and out of logs,
and contrib/run.sh stopping nginx and Portcullis together however it
ends."""
import itertools
import os
import signal
import threading
import time

import requests

from conftest import wait_for


def hammer_leaves(s, stop, codes, tag):
    """Ask for leaves of ever new services (cache misses) until stop."""
    n = itertools.count()
    sess = requests.Session()
    while not stop.is_set():
        try:
            r = sess.get("%s/v1/agent/connect/ca/leaf/%s-%d" % (s.url, tag, next(n)),
                         timeout=10)
            codes.append(r.status_code)
        except requests.RequestException:
            codes.append(0)


def test_leaf_issuance_recovers_after_workers_die_mid_signing(make_server):
    s = make_server(workers=2, threads=4)
    r = s.put("/v1/connect/ca/configuration",
              {"Provider": "consul",
               "Config": {"CSRMaxPerSecond": 0, "CSRMaxConcurrent": 1}})
    assert r.status_code == 200, r.text
    for rnd in range(3):
        stop, codes = threading.Event(), []
        ts = [threading.Thread(target=hammer_leaves, args=(s, stop, codes, "r%dt%d" % (rnd, i)))
              for i in range(12)]
        for t in ts:
            t.start()
        # Signing is busy (one at a time, the rest queue on the limit).
        wait_for(lambda: codes.count(200) >= 3, timeout=20, what="leaves")
        before = s.workers()
        for pid in before:
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: len(s.workers()) == 2 and not set(s.workers()) & set(before),
                 timeout=15, what="workers restarted")
        stop.set()
        for t in ts:
            t.join(30)
        # Within a few seconds of the restart, new leaves are issued again.
        end = time.time() + 5
        while True:
            r = s.get("/v1/agent/connect/ca/leaf/after-%d" % rnd)
            if r.status_code == 200 or time.time() > end:
                break
            time.sleep(0.2)
        assert r.status_code == 200, (rnd, r.status_code, r.text)
        assert "(pid %d) killed by signal 9" % before[0] in s.logtext()
