/*
 * cio/signal.h - Unix signal handlers that run on the loop
 * (loop.add_signal_handler / remove_signal_handler).
 *
 * The handler is not a C signal handler: the real handler only writes the
 * signal number to a non-blocking self-pipe the loop watches, and the loop then calls the
 * callback as an ordinary loop callback, so it may do anything a callback
 * may (cancel tasks, complete futures, schedule work).  Signals arriving
 * close together may be coalesced into one call, as the kernel does.  A
 * self-pipe rather than signalfd, because signalfd needs the signal
 * blocked in every thread, including threads cio does not own.
 *
 * A signal is handled by one loop at a time in the whole process.  cio's
 * worker threads block every signal, so they never take one.
 *
 * cio_run() also uses this: while it runs in the main thread, with SIGINT
 * at its default disposition, Ctrl-C cancels the main task (asyncio.Runner);
 * a second Ctrl-C before the main task has finished kills the process as
 * the default disposition would.  The previous disposition is restored
 * when cio_run returns.  That handler does not count as an event source,
 * so a main task that nothing can wake is still reported as
 * CIO_ESTALLED.  Handlers are removed when their loop closes.
 */
#ifndef CIO_SIGNAL_H
#define CIO_SIGNAL_H

#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Calls cb(arg) on loop each time signal sig arrives, until removed or the
 * loop closes.  Replaces an earlier handler of sig on the same loop.  The
 * previous disposition of sig is saved and restored on removal.  A
 * registered handler counts as a source of events: the loop does not
 * report CIO_ESTALLED while one is installed.  Does not suspend.
 * Errors: -EINVAL (loop or cb NULL; sig out of range, SIGKILL or SIGSTOP),
 * -EBUSY (another loop handles sig), CIO_ECLOSED, -ENOMEM, -EMFILE,
 * CIO_EWRONGTHREAD (debug mode).
 */
CIO_EXTERN int cio_loop_add_signal_handler(cio_loop *loop, int sig, cio_callback_fn *cb,
                                           void *arg);

/*
 * Removes the handler of sig and restores the disposition sig had before:
 * 1 if a handler was removed, 0 if there was none, -EINVAL for a bad
 * argument.  Does not suspend.
 */
CIO_EXTERN int cio_loop_remove_signal_handler(cio_loop *loop, int sig);

#ifdef __cplusplus
}
#endif
#endif
