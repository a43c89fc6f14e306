"""pgtmp.py -- a throwaway PostgreSQL for the benchmark (pg.sh), the same
one the e2e suite starts: this runs tests/e2e/conftest.py's Postgres
(initdb in a temp dir as an unprivileged user, a free port, its unix
socket only, fsync on).

    python3 tests/bench/pgtmp.py N

creates N fresh databases, prints one DSN per line on stdout, then
waits: SIGTERM or SIGINT stops the server and removes its dir.
"""
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "e2e"))
from conftest import Postgres  # noqa: E402


def main():
    pg = Postgres()

    def stop(sig, frame):
        pg.stop()
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 1):
        print(pg.create_db(), flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
