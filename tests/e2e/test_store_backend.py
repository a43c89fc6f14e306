"""The store block: backend choice and the PostgreSQL DSN's secrecy."""
import subprocess

import conftest
from conftest import free_port


def start(tmp_path, store_hcl, timeout=30):
    d = tmp_path / "d"
    extra = tmp_path / "extra.hcl"
    extra.write_text(store_hcl)
    subprocess.run(["sh", conftest.SRC + "/contrib/mkconf.sh", str(d), "1",
                    str(extra)], check=True)
    return subprocess.run([conftest.BIN, "-c", str(d / "portcullis.hcl")],
                          capture_output=True, text=True, timeout=timeout)


def test_unknown_store_backend_stops_the_start_with_a_clear_message(tmp_path):
    p = start(tmp_path, 'store {\n backend = "mysql"\n}\n')
    assert p.returncode != 0
    assert 'store.backend must be "sqlite" or "postgres"' in p.stderr


def test_dsn_with_the_sqlite_backend_is_refused(tmp_path):
    p = start(tmp_path, 'store {\n dsn = "host=/nonexistent password=pw-x"\n}\n')
    assert p.returncode != 0
    assert 'store.dsn is only for store.backend "postgres"' in p.stderr
    assert "pw-x" not in p.stderr + p.stdout


def test_unreachable_postgres_stops_the_start_without_logging_the_password(
        tmp_path):
    dsn = ("host=127.0.0.1 port=%d dbname=nope user=pc "
           "password=s3cr3t-pw connect_timeout=2" % free_port())
    p = start(tmp_path, 'store {\n backend = "postgres"\n dsn = "%s"\n}\n'
              % dsn)
    out = p.stderr + p.stdout
    assert p.returncode != 0
    assert "cannot open store" in out
    assert "cannot connect to PostgreSQL" in out
    assert "s3cr3t-pw" not in out
