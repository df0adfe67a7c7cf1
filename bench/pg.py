"""pg.py - the PostgreSQL benchmarks (make bench-pg), read by bench/lib.py.

Every contender talks to one PostgreSQL 15 server: the one CIO_PG_DSN names
(a libpq key=value conninfo), else a private cluster that this module starts
when it is loaded (initdb in a temporary directory, Unix socket, fsync off,
as tests/pg_util.h does) and stops at exit.  The server runs pinned to the
cores other than BENCH_CPU, where lib.py pins the clients, so server and
client do not share a core.

Groups (each program prints its benchmarks' lines; see bench/pg/cio_pg.c):
  select  `SELECT $1+1` from 64 tasks on 1 connection and on 4:
          queries/s, with the client's CPU per query (cpu_us_per_query)
  fetch   10,000 rows of (int4, int8, text), every value decoded and
          summed (the sum checked): rows/s, with the client's CPU per row (cpu_ns_per_row)
  executemany
          an INSERT of 10,000 rows of (int4, int8, text) into a temporary
          table in one batch (one round trip, one Sync), the table checked
          after each batch: rows/s and the client's CPU per row
          (cpu_ns_per_row), both over the batches alone
Contenders: cio (automatic pipelining; the fetch also through a cursor,
pg_fetch_10k_cursor; cio_pg_executemany), asyncpg and asyncpg on uvloop
(Debian's python3-asyncpg: one query in flight per connection; the
4-connection case through its pool; conn.executemany), psycopg 3 async
(Debian's python3-psycopg, its AsyncConnection: the tasks share one
connection with a cursor each, which psycopg's docs give for concurrency,
and the connection's lock runs one query at a time; the 4-connection case
through an AsyncConnectionPool, python3-psycopg-pool;
cursor.executemany, pipeline mode), plain
libpq with one query in flight per connection (libpq-sync) and in pipeline
mode 64 deep over the connections, or all 10,000 INSERTs then one Sync
(libpq-pipeline); see bench/peers/pg_asyncpg.py, pg_psycopg.py and
pg_libpq.c.  psycopg is left out, with a note, when it is not installed.
Targets are the issue's: >= 10x asyncpg+uvloop's queries/s on one
connection, <= 1.5 us client CPU per query, <= 0.25x asyncpg's CPU per row.
On a 2-core machine shared with other work, figures are noisy: the CPU per
query/row is the steadier one.
"""
import atexit
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

from lib import PY, ROOT, Bench

BUILD = os.environ.get("BENCH_BUILD", os.path.join(ROOT, "build-bench"))
PG_BIN = "/usr/lib/postgresql/15/bin"


def exe(path, *args):
    """argv of a built program, or None when it was not built."""
    return [path] + list(args) if os.access(path, os.X_OK) else None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_cluster():
    """Starts a private cluster; returns its conninfo, or None (with the
    reason printed) if the server binaries are missing."""
    if not os.access(os.path.join(PG_BIN, "pg_ctl"), os.X_OK):
        print("bench-pg: PostgreSQL 15 not found in %s (apt-get install postgresql-15)" % PG_BIN)
        return None
    d = tempfile.mkdtemp(prefix="cio-bench-pg-")
    as_user = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(d, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    cpus = os.cpu_count() or 1
    client = int(os.environ.get("BENCH_CPU", str(cpus - 1)))
    server_cpus = ",".join(str(c) for c in range(cpus) if c != client) or str(client)
    pin = ["taskset", "-c", server_cpus] if shutil.which("taskset") else []
    subprocess.run(as_user + [os.path.join(PG_BIN, "initdb"), "-D", d + "/data", "-A", "trust",
                              "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = free_port()
    opts = ("-k %s -p %d -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off" % (d, port))
    subprocess.run(pin + as_user + [os.path.join(PG_BIN, "pg_ctl"), "-D", d + "/data", "-l",
                                    d + "/log", "-w", "-o", opts, "start"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop():
        subprocess.run(as_user + [os.path.join(PG_BIN, "pg_ctl"), "-D", d + "/data", "-m",
                                  "immediate", "-w", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(d, ignore_errors=True)

    atexit.register(stop)
    print("bench-pg: private PostgreSQL 15 on cpu %s, port %d" % (server_cpus, port))
    return "host=%s port=%d user=postgres dbname=postgres" % (d, port)


if not os.environ.get("CIO_PG_DSN"):
    dsn = start_cluster()
    if dsn:
        os.environ["CIO_PG_DSN"] = dsn  # inherited by every contender

def python_peer(path, module):
    """argv of a Python peer, or None (with a note) when the module it
    needs is not installed for PY (lib.py runs this file under PY too)."""
    if importlib.util.find_spec(module) is None:
        print("bench-pg: %s not installed (scripts/deps.sh bench), %s skipped" %
              (module, os.path.basename(path)))
        return None
    return [PY, path]


PEER = os.path.join(ROOT, "bench", "peers", "pg_asyncpg.py")
PSYCOPG = python_peer(os.path.join(ROOT, "bench", "peers", "pg_psycopg.py"), "psycopg")
LIBPQ = os.path.join(BUILD, "bench", "peer_pg_libpq")
CONTENDERS = {
    "cio": exe(os.path.join(BUILD, "bench", "bench_pg")),
    "asyncpg": [PY, PEER],
    "asyncpg-uvloop": [PY, PEER, "--uvloop"],
    "psycopg": PSYCOPG,
    "libpq-sync": exe(LIBPQ, "sync"),
    "libpq-pipeline": exe(LIBPQ, "pipeline"),
}

SELECT = ["cio", "asyncpg", "asyncpg-uvloop", "psycopg", "libpq-sync", "libpq-pipeline"]
FETCH = ["cio", "asyncpg", "asyncpg-uvloop", "psycopg", "libpq-sync"]
EXECUTEMANY = ["cio", "asyncpg", "asyncpg-uvloop", "psycopg", "libpq-pipeline"]

BENCHES = [
    Bench("pg_select_1conn", "queries/s", group="select", contenders=SELECT, better="higher",
          runs=3, timeout=120),
    Bench("pg_select_4conn", "queries/s", group="select", contenders=SELECT, better="higher",
          runs=3, timeout=120),
    Bench("pg_fetch_10k", "rows/s", group="fetch", contenders=FETCH, better="higher", runs=3,
          timeout=120),
    Bench("pg_fetch_10k_cursor", "rows/s", group="fetch", contenders=["cio"], better="higher",
          runs=3, timeout=120),
    Bench("pg_executemany_10k", "rows/s", group="executemany", contenders=EXECUTEMANY,
          better="higher", runs=3, timeout=120),
]
