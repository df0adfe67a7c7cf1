/*
 * cio.h - asyncio for C.  Include this one header; it pulls in every part:
 *
 *   cio/common.h   error codes, allocator hook, logger
 *   cio/loop.h     the event loop: callbacks, timers, descriptor readiness
 *   cio/task.h     futures, tasks, sleep, shields, cio_run
 *   cio/net.h      sockets as coroutines, DNS, UDP endpoints
 *   cio/stream.h   buffered streams, open_connection, servers
 *   cio/combine.h  gather, wait, wait_for, as_completed, shield, timeout
 *                  scopes, task groups
 *   cio/sync.h     Lock, Event, Condition, Semaphore, Barrier
 *   cio/queue.h    FIFO, LIFO and priority queues between tasks
 *   cio/tls.h      TLS sessions over sockets (OpenSSL 3)
 *   cio/exec.h     thread pools: cio_to_thread, cio_run_in_executor
 *   cio/cfuture.h  futures between threads, wrap_future,
 *                  run_coroutine_threadsafe
 *   cio/iter.h     the asynchronous iterator interface and CIO_FOR
 *   cio/gen.h      asynchronous generators
 *   cio/cache.h    an async memoizing cache with single-flight computation
 *   cio/retry.h    retrying a coroutine with backoff and jitter
 *   cio/subprocess.h  child processes: create_subprocess_exec/_shell
 *   cio/signal.h   signal handlers run on the loop
 *   cio/process.h  process pool for CPU-bound functions
 *   cio/file.h     regular files through the thread pool
 *   cio/http_client.h  the HTTP/1.1 client: pools, redirects, bodies
 *
 * Each function's comment in those headers is its manual: what it does, its
 * errors, who owns what, and whether it may suspend the calling task.
 */
#ifndef CIO_H
#define CIO_H

#include "cio/common.h"
#include "cio/loop.h"
#include "cio/task.h"
#include "cio/net.h"
#include "cio/stream.h"
#include "cio/transport.h"
#include "cio/combine.h"
#include "cio/sync.h"
#include "cio/queue.h"
#include "cio/tls.h"
#include "cio/exec.h"
#include "cio/cfuture.h"
#include "cio/iter.h"
#include "cio/gen.h"
#include "cio/cache.h"
#include "cio/retry.h"
#include "cio/subprocess.h"
#include "cio/signal.h"
#include "cio/process.h"
#include "cio/file.h"
#include "cio/http_client.h"
#include "cio/http.h"

#endif
