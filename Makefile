# cio - the commands users type.  Everything builds with CMake underneath.
#   make run     build, then run the tour of the examples
#   make test    build and run every test: normal, ASan+UBSan, TSan for
#                the threaded tests, and aarch64 under qemu
#   make bench   run every benchmark (make bench-core, bench-sync, ...)
#   make bench-python
#                asyncio vs uvloop vs cio's loop on the same Python programs
#   make bench-asgi
#                cio.serve_asgi vs uvicorn (uvloop+httptools, asyncio+h11)
#   make bench-compare BASE=<git rev> [AREAS="core sync net"]
#                cio at revision BASE against the current tree, side by
#                side on this machine: the change of every benchmark, flagged
#                when worse by > 5% (appended to build/bench/compare.jsonl)
#   make bench-report
#                PNG charts into build/bench/: one per area from
#                results.jsonl (latest run of each benchmark), and the
#                before/after of compare.jsonl
#   make fuzz    fuzz the HTTP parser (libFuzzer, clang), FUZZ_SECONDS each
#   make install install the library, headers, cio.pc and CMake package
#   make docs    regenerate docs/api/ from the headers' comments
#   make chat    build, then run the browser chat (examples/chat/) on
#                http://localhost:8080/ (CHAT_PORT to change it)
#   make python  build the CPython extension (import cio) in place in
#                python/ for /usr/bin/python3 (docs/python.md)

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_TSAN ?= build-tsan
BUILD_A64  ?= build-aarch64
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 60
PREFIX     ?= /usr/local
BASE       ?=
AREAS      ?=
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

# cmake --build runs make below us: without this every level prints
# "Entering directory" lines around the build's own output.
MAKEFLAGS  += --no-print-directory
CTEST_ARGS ?= --output-on-failure -j$(JOBS)

CHAT_PORT  ?= 8080

.PHONY: chat all deps build run docs python test test-normal test-asan test-tsan test-aarch64 bench bench-% bench-python bench-asgi \
        bench-compare bench-report fuzz install clean

all: build

deps:
	@bash scripts/deps.sh build

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

chat: build
	$(BUILD)/examples/chat $(CHAT_PORT)

# The tour shows the examples' output, so the build is quiet here: its
# output goes to $(BUILD)/build.log, shown only if the build fails.
run: deps
	@echo "building cio in $(BUILD)/ (log: $(BUILD)/build.log) ..."
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS) >$(BUILD)/build.log 2>&1 || { tail -n 60 $(BUILD)/build.log; exit 1; }
	@bash scripts/tour.sh $(BUILD)

# The asyncio event loop for CPython: python/cio/_cio*.so, in place
# (PYTHONPATH=python); `pip install --no-build-isolation ./python` installs.
python:
	@bash scripts/deps.sh python
	cd python && /usr/bin/python3 setup.py -q build_ext --inplace --force

test:
	@bash scripts/deps.sh test
	$(MAKE) test-normal test-asan test-tsan test-aarch64

# The benchmark programs are compiled here too (not run), so they never rot.
test-normal:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCIO_BUILD_TESTS=ON -DCIO_BUILD_EXAMPLES=ON -DCIO_BUILD_BENCH=ON >/dev/null
	cmake --build $(BUILD) -j$(JOBS)
	$(MAKE) python
	cd $(BUILD) && ctest $(CTEST_ARGS)

test-asan:
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DCIO_SANITIZE=address,undefined -DCIO_BUILD_TESTS=ON -DCIO_BUILD_EXAMPLES=ON >/dev/null
	cmake --build $(BUILD_ASAN) -j$(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1 CIO_TEST_TIMEOUT_MULTIPLIER=3 ctest $(CTEST_ARGS)

# Threaded code under ThreadSanitizer: the tests labelled "threads".
test-tsan:
	cmake -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=Debug -DCIO_SANITIZE=thread -DCIO_BUILD_TESTS=ON -DCIO_BUILD_EXAMPLES=OFF >/dev/null
	cmake --build $(BUILD_TSAN) -j$(JOBS)
	cd $(BUILD_TSAN) && CIO_TEST_TIMEOUT_MULTIPLIER=5 ctest $(CTEST_ARGS) -L threads

# The aarch64 context switch, cross-built and run under qemu-user.
test-aarch64:
	@bash scripts/deps.sh aarch64
	cmake -S . -B $(BUILD_A64) -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCIO_BUILD_TESTS=ON -DCIO_BUILD_EXAMPLES=ON >/dev/null
	cmake --build $(BUILD_A64) -j$(JOBS)
	cd $(BUILD_A64) && CIO_TEST_TIMEOUT_MULTIPLIER=5 ctest $(CTEST_ARGS)

# The headers are the reference; docs/api/*.md is generated from them
# (scripts/check_docs.sh, ctest docs_check, fails if it is stale).
docs:
	/usr/bin/python3 scripts/gen_api_docs.py

bench:
	@bash scripts/deps.sh bench
	$(MAKE) python
	@bash bench/run.sh all

# Explicit rules win over bench-% (which would take them for areas).
bench-compare:
	@test -n "$(BASE)" || { echo 'usage: make bench-compare BASE=<git rev> [AREAS="core sync net"]' >&2; exit 2; }
	@bash scripts/deps.sh compare
	@bash bench/compare.sh "$(BASE)" $(AREAS)

bench-report:
	@bash scripts/deps.sh report
	@/usr/bin/python3 bench/report.py

# The Python loops (asyncio, uvloop, cio's) on the same programs
# (bench/python.py); the cio contender needs the extension, built here.
bench-python:
	@bash scripts/deps.sh bench
	$(MAKE) python
	@bash bench/run.sh python

# cio.serve_asgi against uvicorn (uvloop+httptools, asyncio+h11): needs
# the extension, wrk, python3-uvicorn/-uvloop/-httptools/-h11/-fastapi.
bench-asgi:
	@bash scripts/deps.sh bench
	$(MAKE) python
	@bash bench/run.sh asgi

bench-%:
	@bash scripts/deps.sh bench
	@bash bench/run.sh $*

# The HTTP parser's fuzz targets, each for FUZZ_SECONDS (the corpus grows
# in $(BUILD_FUZZ)/corpus/ from run to run); ctest runs them for 10 s.
fuzz:
	sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(abspath $(BUILD_FUZZ))

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN) $(BUILD_A64) $(BUILD_FUZZ)
