#!/usr/bin/env bash
# deps.sh WHAT - makes sure the Debian packages that WHAT needs are there,
# installing the missing ones with apt-get when run as root, else printing
# the exact command to run.  WHAT: build, test, python, aarch64, bench, compare
# (make bench-compare: no peers), report (make bench-report's charts).
set -euo pipefail
what=${1:-build}

need_cmds=(cmake:cmake cc:gcc make:make pkg-config:pkg-config)
need_pkgs=(libssl-dev zlib1g-dev libcjson-dev liburing-dev ca-certificates libpq-dev)
case "$what" in
  test)  need_cmds+=(/usr/bin/python3:python3 curl:curl openssl:openssl valgrind:valgrind clang:clang)
         need_pkgs+=(libclang-rt-14-dev postgresql-15 python3-aiohttp python3-h11 python3-websockets
                     python3-dev python3-setuptools libpython3.11-testsuite
                     python3-uvicorn python3-fastapi python3-httptools python3-asyncpg
                     python3-tornado python3-aiopg python3-psycopg2)
         # By command, not package: a machine whose node comes from another
         # build (with npm inside, which conflicts with Debian's npm package)
         # already has them.
         need_cmds+=(node:nodejs npm:npm chromium:chromium)
         ;;
  python) need_cmds+=(/usr/bin/python3:python3)
         need_pkgs+=(python3-dev python3-setuptools) ;;
  aarch64) need_cmds+=(aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu qemu-aarch64:qemu-user)
         need_pkgs+=(libc6-dev-arm64-cross) ;;
  bench) need_cmds+=(/usr/bin/python3:python3 go:golang-go valgrind:valgrind)
         need_pkgs+=(python3-uvloop libuv1-dev python3-matplotlib golang-github-gorilla-websocket-dev python3-dev python3-setuptools
                     python3-asyncpg python3-psycopg python3-psycopg-pool postgresql-15 libpq-dev)
         # bench-http: the load generator, the servers compared with cio's
         # (nginx, h2o, uvicorn with httptools, aiohttp) and libcurl for the
         # client benchmark's curl-multi peer; perf counts system calls.
         need_cmds+=(wrk:wrk nginx:nginx-light perf:linux-perf)
         need_pkgs+=(h2o python3-uvicorn python3-httptools python3-aiohttp libcurl4-openssl-dev) ;;
  compare) need_cmds+=(/usr/bin/python3:python3 git:git) ;;
  report) need_cmds+=(/usr/bin/python3:python3)
         need_pkgs+=(python3-matplotlib) ;;
esac

missing=()
for pair in "${need_cmds[@]}"; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  # A path names the very program the tests run (Debian's /usr/bin/python3,
  # not whichever python3 comes first on PATH).
  if [ "${cmd#/}" != "$cmd" ]; then
    [ -x "$cmd" ] || missing+=("$pkg")
  else
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  fi
done
for pkg in "${need_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
# Compilers' sanitizer runtimes come with gcc on Debian; nothing more to add.

[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps.sh: missing Debian packages: ${missing[*]}"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq "${missing[@]}"
else
  echo "deps.sh: run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
