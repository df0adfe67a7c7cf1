"""CPython's test_asyncio with an event loop injected, under a watchdog.

    /usr/bin/python3 python/tests/conformance.py [--loops cio,uvloop,asyncio]
        [--quick] [--json out.json] [--markdown out.md] [--timeout 60]

Two ways in, as issue 13 asks:
  mixin   the conformance mixins' concrete test classes (test_events'
          EPollEventLoopTests = EventLoopTestsMixin + SubprocessTestsMixin,
          and the same pattern in test_sock_lowlevel, test_sendfile,
          test_server, test_sslproto) subclassed with create_event_loop /
          new_loop returning the loop under test;
  module  whole modules run with the loop's policy as asyncio's default
          (asyncio.DefaultEventLoopPolicy is replaced, so a test's
          set_event_loop_policy(None) still lands on the loop under test).

Each (loop, suite) runs in a worker subprocess that reports every test as it
starts and ends; the parent gives each test --timeout seconds and, on a hang
or a crash, records it (hang / crash), kills the worker and starts a new one
after that test.  Needs Debian's libpython3.11-testsuite; uvloop is measured
if python3-uvloop is installed.
"""
import argparse
import json
import os
import select
import subprocess
import sys
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
# python/: import cio in place, unless PYTHONPATH names the build to test
# (python/tests/asan.sh's sanitizer build); workers inherit the environment.
if not os.environ.get('PYTHONPATH'):
    sys.path.insert(0, os.path.dirname(HERE))

# (suite name, mode, module, class, factory method)
SUITES = [
    ('test_events mixins', 'mixin', 'test_events', 'EPollEventLoopTests', 'create_event_loop'),
    ('test_sock_lowlevel mixin', 'mixin', 'test_sock_lowlevel', 'EPollEventLoopTests', 'create_event_loop'),
    ('test_sendfile mixin', 'mixin', 'test_sendfile', 'EPollEventLoopTests', 'create_event_loop'),
    ('test_server', 'mixin', 'test_server', 'SelectorStartServerTests', 'new_loop'),
    ('test_sslproto start_tls', 'mixin', 'test_sslproto', 'SelectorStartTLSTests', 'new_loop'),
    ('test_buffered_proto mixin', 'mixin', 'test_buffered_proto', 'BufferedProtocolSelectorTests',
     'new_loop'),
] + [(m, 'module', m, None, None) for m in (
    'test_futures', 'test_futures2', 'test_locks', 'test_queues', 'test_timeouts',
    'test_taskgroups', 'test_waitfor', 'test_runners', 'test_tasks', 'test_streams',
    'test_context', 'test_pep492', 'test_threads', 'test_subprocess', 'test_ssl',
    'test_protocols', 'test_transports', 'test_base_events', 'test_selector_events',
    'test_unix_events')]

QUICK = ['test_events mixins', 'test_futures', 'test_locks', 'test_queues', 'test_timeouts',
         'test_taskgroups', 'test_waitfor', 'test_runners']


def loop_factory(name):
    if name == 'cio':
        import cio
        return cio.new_event_loop, cio.EventLoopPolicy
    if name == 'uvloop':
        import uvloop

        # test_utils.TestCase.close_loop reads loop._default_executor,
        # which uvloop's Loop keeps private: answer None, as issue 13's
        # measurement of uvloop had to.
        class UvLoop(uvloop.Loop):
            _default_executor = None

        class UvPolicy(uvloop.EventLoopPolicy):
            def _loop_factory(self):
                return UvLoop()
        return UvLoop, UvPolicy
    import asyncio
    import selectors
    return (lambda: asyncio.SelectorEventLoop(selectors.EpollSelector())), None


LOOPS_MADE = [0]


def count_loops(loop):
    """Counts the loops under test the suite creates (a module run whose
    tests never made one measured nothing)."""
    import asyncio
    if loop == 'cio':
        import cio
        cls = cio.Loop
    elif loop == 'uvloop':
        return
    else:
        cls = asyncio.SelectorEventLoop
    init = cls.__init__

    def counting_init(self, *a, **k):
        LOOPS_MADE[0] += 1
        init(self, *a, **k)
    cls.__init__ = counting_init


def load_suite(loop, mode, module, cls_name, method):
    import asyncio
    count_loops(loop)
    factory, policy = loop_factory(loop)
    if mode == 'module' and policy is not None:
        asyncio.DefaultEventLoopPolicy = policy
        asyncio.events.DefaultEventLoopPolicy = policy
        asyncio.set_event_loop_policy(None)
    mod = __import__('test.test_asyncio.' + module, fromlist=['x'])
    loader = unittest.TestLoader()
    if mode == 'mixin':
        base = getattr(mod, cls_name)
        cls = type(base.__name__, (base,), {method: lambda self: factory()})
        cls.__module__ = base.__module__
        suite = loader.loadTestsFromTestCase(cls)
    else:
        suite = loader.loadTestsFromModule(mod)

    def flat(s):
        for t in s:
            if isinstance(t, unittest.TestSuite):
                yield from flat(t)
            else:
                yield t
    return mod, list(flat(suite))


class Reporter(unittest.TestResult):
    """Prints one line per test start and end to the parent."""

    def __init__(self, out):
        super().__init__()
        self.out = out

    def _emit(self, *words):
        self.out.write(' '.join(str(w).replace('\n', ' ') for w in words) + '\n')
        self.out.flush()

    def startTest(self, test):
        super().startTest(test)
        self._emit('T', test.id())

    def addSuccess(self, test):
        self._emit('R', test.id(), 'pass', '-')

    def _why(self, err):
        exc = err[1]
        # the innermost test-file line too: which assertion of a test failed
        tb = traceback.extract_tb(err[2])
        where = next((f'{os.path.basename(f.filename)}:{f.lineno} ' for f in reversed(tb)
                      if 'test_asyncio' in f.filename), '')
        return (where + type(exc).__name__ + ': ' + str(exc)).replace('\n', ' ')[:300]

    def addFailure(self, test, err):
        self._emit('R', test.id(), 'fail', self._why(err))

    def addError(self, test, err):
        self._emit('R', test.id(), 'error', self._why(err))

    def addSkip(self, test, reason):
        self._emit('R', test.id(), 'skip', reason[:200])

    def addExpectedFailure(self, test, err):
        self._emit('R', test.id(), 'pass', 'expected failure')

    def addUnexpectedSuccess(self, test):
        self._emit('R', test.id(), 'fail', 'unexpected success')


def worker(args):
    out = os.fdopen(os.dup(1), 'w')
    # The tests' own output goes to stderr so it cannot garble the protocol.
    os.dup2(2, 1)
    # Ctrl-C as an interactive run has it, whoever started us: a shell runs
    # background jobs with SIGINT ignored, and test_runners' interrupt tests
    # then wait forever for a KeyboardInterrupt (on every loop alike).
    import signal
    signal.signal(signal.SIGINT, signal.default_int_handler)
    mod, tests = load_suite(args.loop, args.mode, args.module, args.cls, args.method)
    if args.list:
        for t in tests:
            out.write('L ' + t.id() + '\n')
        out.flush()
        return
    skip = set(args.skip or [])
    result = Reporter(out)
    setup = getattr(mod, 'setUpModule', None)
    if setup:
        setup()
    by_class = {}
    for t in tests:
        if t.id() in skip:
            continue
        by_class.setdefault(type(t), []).append(t)
    for cls, ts in by_class.items():
        suite = unittest.TestSuite(ts)
        suite(result)
    teardown = getattr(mod, 'tearDownModule', None)
    if teardown:
        teardown()
    out.write(f'LOOPS {LOOPS_MADE[0]}\n')
    out.write('DONE\n')
    out.flush()


def run_suite(loop, suite, timeout):
    name, mode, module, cls, method = suite
    base = [sys.executable, os.path.abspath(__file__), '--worker', '--loop', loop,
            '--mode', mode, '--module', module]
    if cls:
        base += ['--cls', cls, '--method', method]
    listing = subprocess.run(base + ['--list'], capture_output=True, text=True, timeout=120)
    ids = [l[2:] for l in listing.stdout.splitlines() if l.startswith('L ')]
    if not ids:
        return {'tests': 0, 'error': listing.stderr.strip().splitlines()[-1:]}
    results = {}
    loops_made = 0
    while len(results) < len(ids):
        skip = list(results)
        cmd = base[:]
        for s in skip:
            cmd += ['--skip', s]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL, bufsize=0)
        current, deadline, buf = None, time.monotonic() + timeout, b''
        finished = False

        def next_line():
            # Raw reads: select() must see everything not yet consumed.
            nonlocal buf
            while b'\n' not in buf:
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    return None
                buf += chunk
            line, _, buf = buf.partition(b'\n')
            return line.decode('utf-8', 'replace') + '\n'
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                if current:
                    results[current] = ('hang', f'no result within {timeout:.0f} s')
                else:  # stalled between tests: blame the next one
                    nxt = next(i for i in ids if i not in results)
                    results[nxt] = ('hang', 'worker stalled before its result')
                break
            if b'\n' not in buf:
                r, _, _ = select.select([p.stdout], [], [], left)
                if not r:
                    continue
            line = next_line()
            if not line:
                if current:
                    results[current] = ('crash', f'worker died (exit {p.wait()})')
                elif not finished:
                    for i in ids:
                        results.setdefault(i, ('crash', 'worker died between tests'))
                break
            line = line.rstrip('\n')
            if line == 'DONE':
                finished = True
                for i in ids:  # tests the runner never reached
                    results.setdefault(i, ('crash', 'not run'))
                break
            kind, _, rest = line.partition(' ')
            if kind == 'LOOPS':
                loops_made += int(rest)
            elif kind == 'T':
                current = rest
                deadline = time.monotonic() + timeout
            elif kind == 'R':
                tid, status, why = rest.split(' ', 2)
                results[tid] = (status, why)
                current = None
        if p.poll() is None:
            p.kill()
        p.wait()
    return {'tests': len(ids), 'results': results, 'loops_made': loops_made}


def summarize(res):
    c = {'pass': 0, 'fail': 0, 'error': 0, 'skip': 0, 'hang': 0, 'crash': 0}
    for status, _ in res.get('results', {}).values():
        c[status] = c.get(status, 0) + 1
    return c


def markdown(all_res, loops):
    lines = ['| suite | tests | ' + ' | '.join(f'{l} pass / fail / skip / hang' for l in loops) + ' |',
             '|---|---:|' + '---|' * len(loops)]
    for name in all_res[loops[0]]:
        n = max(all_res[l][name].get('tests', 0) for l in loops)
        cells = []
        for l in loops:
            c = summarize(all_res[l][name])
            cells.append(f"{c['pass']} / {c['fail'] + c['error'] + c['crash']} / {c['skip']} / {c['hang']}")
        lines.append(f'| {name} | {n} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--worker', action='store_true')
    ap.add_argument('--list', action='store_true')
    ap.add_argument('--loop', default='cio')
    ap.add_argument('--loops', default='cio,uvloop,asyncio')
    ap.add_argument('--mode')
    ap.add_argument('--module')
    ap.add_argument('--cls')
    ap.add_argument('--method')
    ap.add_argument('--skip', action='append')
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--only', action='append', help='suite names to run')
    ap.add_argument('--timeout', type=float, default=60)
    ap.add_argument('--json')
    ap.add_argument('--markdown')
    ap.add_argument('--min-pass', type=int, default=None,
                    help='exit 1 unless cio passes at least this many tests in all')
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    loops = []
    for l in args.loops.split(','):
        try:
            loop_factory(l)
            loops.append(l)
        except ImportError as e:
            print(f'conformance: loop {l} unavailable ({e}); skipped')
    suites = SUITES
    if args.quick:
        suites = [s for s in SUITES if s[0] in QUICK]
    if args.only:
        suites = [s for s in SUITES if s[0] in args.only]
    all_res = {l: {} for l in loops}
    for s in suites:
        for l in loops:
            t0 = time.monotonic()
            r = run_suite(l, s, args.timeout)
            r['seconds'] = round(time.monotonic() - t0, 1)
            all_res[l][s[0]] = r
            c = summarize(r)
            print(f"{s[0]:28s} {l:8s} tests {r.get('tests', 0):4d}  pass {c['pass']:4d}  "
                  f"fail {c['fail'] + c['error']:3d}  skip {c['skip']:3d}  hang {c['hang']:2d}  "
                  f"crash {c['crash']:2d}  loops {r.get('loops_made', 0):4d}  ({r['seconds']} s)",
                  flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(all_res, f, indent=1, sort_keys=True)
    if args.markdown:
        with open(args.markdown, 'w') as f:
            f.write(markdown(all_res, loops))
    if args.min_pass is not None and 'cio' in all_res:
        total = sum(summarize(r)['pass'] for r in all_res['cio'].values())
        bad = sum(summarize(r)['hang'] + summarize(r)['crash'] for r in all_res['cio'].values())
        print(f'conformance: cio passes {total} (at least {args.min_pass} wanted), '
              f'{bad} hangs/crashes')
        if total < args.min_pass or bad:
            for name, r in all_res['cio'].items():  # say which, and why
                for tid, (status, why) in sorted(r.get('results', {}).items()):
                    if status not in ('pass', 'skip'):
                        print(f'  {status}: {tid}: {why[:600]}')
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
