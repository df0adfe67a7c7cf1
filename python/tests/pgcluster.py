"""pgcluster.py - a private PostgreSQL 15 cluster for the Python tests, made
the way the C tests make theirs (tests/pg_util.h): initdb in a temporary
directory, the server on a Unix socket in that directory and on a free
loopback port, fsync off; as root the server runs as `postgres` (runuser).

    cl = PgCluster()
    why = cl.start()          # None, or why not (binaries missing: skip)
    ... cl.dsn_unix, cl.dsn_tcp, cl.socket_dir, cl.port ...
    cl.stop()

A watchdog shell outlives the test: once this process is gone it stops the
server and removes the directory, so a killed test leaves no cluster behind.
"""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

PG_BIN = '/usr/lib/postgresql/15/bin'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def plain_env():
    """This environment without LD_PRELOAD: under python/tests/asan.sh the
    interpreter has libasan preloaded, and PostgreSQL's programs must not
    (initdb's `postgres -V` hangs with it)."""
    env = dict(os.environ)
    env.pop('LD_PRELOAD', None)
    return env


class PgCluster:
    def __init__(self):
        self.dir = None      # the temporary directory (socket and data/)
        self.port = None     # the TCP port (also names the socket file)
        self.up = False      # the server was started
        self.as_user = []    # runuser prefix when root

    def _run(self, argv, **kw):
        return subprocess.run(self.as_user + argv, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=plain_env(), **kw).returncode

    def start(self):
        """Starts the cluster: None on success, else why it cannot run."""
        if not (os.access(PG_BIN + '/initdb', os.X_OK) and os.access(PG_BIN + '/pg_ctl', os.X_OK)):
            return 'PostgreSQL 15 server binaries not found in %s (apt-get install postgresql-15)' % PG_BIN
        self.dir = tempfile.mkdtemp(prefix='cio-pypg-')
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam('postgres')
            except KeyError:
                return 'running as root and there is no postgres user to run the server'
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ['runuser', '-u', 'postgres', '--']
        data = os.path.join(self.dir, 'data')
        if self._run([PG_BIN + '/initdb', '-D', data, '-A', 'trust', '-U', 'postgres',
                      '--no-sync', '-E', 'UTF8', '--locale=C']) != 0:
            return 'initdb failed'
        # The watchdog: once this process is gone, stop the server and clean up.
        # The shell puts it in the background and returns at once.
        watch = ('while kill -0 %d 2>/dev/null; do sleep 1; done; %s %s/pg_ctl -D %s -m immediate stop; rm -rf %s'
                 % (os.getpid(), ' '.join(self.as_user), PG_BIN, data, self.dir))
        subprocess.run(['sh', '-c', 'setsid sh -c "$0" >/dev/null 2>&1 </dev/null &', watch],
                       env=plain_env(), check=False)
        for _ in range(5):
            self.port = free_port()
            opts = ('-k %s -p %d -c listen_addresses=127.0.0.1 -c fsync=off '
                    '-c synchronous_commit=off -c full_page_writes=off -c max_connections=100'
                    % (self.dir, self.port))
            if self._run([PG_BIN + '/pg_ctl', '-D', data, '-l', os.path.join(self.dir, 'log'),
                          '-w', '-t', '60', '-o', opts, 'start']) == 0:
                self.up = True
                break
        if not self.up:
            return 'the PostgreSQL server did not start (see %s/log)' % self.dir
        return None

    @property
    def socket_dir(self):
        return self.dir

    @property
    def dsn_tcp(self):
        return 'postgresql://postgres@127.0.0.1:%d/postgres' % self.port

    def stop(self):
        if self.up:
            self._run([PG_BIN + '/pg_ctl', '-D', os.path.join(self.dir, 'data'),
                       '-m', 'immediate', '-w', 'stop'])
            self.up = False
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
