/*
 * cio_py.h - the CPython extension's shared declarations: the loop core
 * object (loop.c), the Handle/TimerHandle objects (handle.c) and the C API
 * capsule for other extensions (capi.c).
 *
 * The core schedules Python callbacks on a cio_loop: each scheduled Handle
 * is the argument of one cio callback (sched_cb in loop.c) and holds a
 * reference on itself while scheduled; the loop keeps the scheduled ones
 * in a list so that closing it can drop them.  The GIL is held whenever
 * Python runs and released only around the loop's blocking waits (the
 * poll hook of cio/loop.h), so the list needs no lock of its own.
 */
#ifndef CIO_PY_H
#define CIO_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <cio/loop.h>

struct fdslot;

/* The loop core: the C half of cio.Loop (the Python subclass adds the
 * rest of AbstractEventLoop). */
typedef struct CioLoop {
    PyObject_HEAD
    cio_loop *loop;            /* the engine; NULL once freed */
    struct CioHandle *sched;   /* scheduled timers (doubly linked) */
    struct CioHandle *rhead;   /* ready callbacks, FIFO (asyncio's _ready) */
    struct CioHandle **rtail;  /* &last->next, or &rhead */
    Py_ssize_t nready;         /* callbacks in the FIFO */
    int drain_pending;         /* an engine callback will run the FIFO */
    int in_run;                /* inside _run_core */
    unsigned long owner;       /* thread running _run_core */
    struct fdslot **fds;       /* reader/writer slots indexed by fd */
    int nfds;                  /* size of fds */
    PyThreadState *tstate;     /* saved while the loop waits without GIL */
    PyObject *exc_type;        /* exception that aborts run_forever */
    PyObject *exc_value;
    PyObject *exc_tb;
    int aborting;              /* exc set: callbacks are requeued, not run */
    int closed;                /* _core_close() ran */
    int debug;                 /* time callbacks, report slow ones */
} CioLoop;

/* A scheduled callback (asyncio.Handle / asyncio.TimerHandle). */
typedef struct CioHandle {
    PyObject_HEAD
    PyObject *loop;            /* the CioLoop (strong) */
    PyObject *callback;        /* NULL once cancelled */
    PyObject *args;            /* tuple, NULL once cancelled */
    PyObject *context;         /* contextvars.Context it runs in */
    cio_handle *ch;            /* the engine's timer, while cancellable */
    double when;               /* deadline (TimerHandle), else 0 */
    int cancelled;             /* cancel() was called */
    int scheduled;             /* in the loop's list, holding a self ref */
    struct CioHandle *prev, *next; /* the loop's list of scheduled ones */
    PyObject *weakreflist;
} CioHandle;

extern PyTypeObject CioHandle_Type;
extern PyTypeObject CioTimerHandle_Type;
extern PyTypeObject CioLoop_Type;

/* Interned strings and asyncio helpers looked up at import. */
extern PyObject *cio_str_call_exception_handler; /* "call_exception_handler" */
extern PyObject *cio_str_log_slow;               /* "_log_slow_callback" */
extern PyObject *cio_str_check_thread;           /* "_check_thread" */
extern PyObject *cio_format_cb;  /* asyncio.format_helpers._format_callback_source */

/* A new handle; steals nothing.  context NULL or None: a copy of the
 * current one.  timer: a TimerHandle with deadline when. */
CioHandle *cio_handle_make(PyObject *loop, PyObject *callback, PyObject *args,
                           PyObject *context, int timer, double when);
/* Runs h's callback in its context.  0 when done (an Exception went to
 * the loop's exception handler); -1 with SystemExit/KeyboardInterrupt (or
 * a failing handler) set, which must abort run_forever. */
int cio_handle_run(CioHandle *h);
/* Links h into / out of its loop's scheduled list (the list's ref). */
void cio_loop_link(CioLoop *L, CioHandle *h);
void cio_loop_unlink(CioLoop *L, CioHandle *h);
/* Takes the GIL back if the loop released it for its wait: the engine
 * dispatches I/O completions (a transport's reads) inside the wait that
 * the poll hook brackets, so a completion callback that runs Python calls
 * this first; the GIL is then kept until the next wait (the hook's "after"
 * sees it held). */
static inline void cio_py_hold_gil(CioLoop *L)
{
    if (L->tstate) {
        PyEval_RestoreThread(L->tstate);
        L->tstate = NULL;
    }
}
/* SystemExit or KeyboardInterrupt (the exception set now) raised by a
 * callback: kept to re-raise from run_forever, and the loop stops. */
void cio_loop_abort(CioLoop *L);
/* Running a callback at once instead of in the next drain, as Python
 * 3.12's eager tasks run a new task's first step: cio_loop_ready_mark
 * before scheduling it; cio_loop_take_newest after, which takes it off
 * the ready FIFO (a reference the caller owns) if it is the one callback
 * scheduled since the mark and the loop is not stopping on an exception,
 * else returns NULL and leaves the FIFO as it was; cio_loop_run_taken
 * runs it (NULL: nothing) and drops the reference.  Loop stack only. */
CioHandle **cio_loop_ready_mark(CioLoop *L);
CioHandle *cio_loop_take_newest(CioLoop *L, CioHandle **mark);
void cio_loop_run_taken(CioLoop *L, CioHandle *h);

/* capi.c: the C API capsule and cio.CioError, added to module m; and
 * _set_c_task_starter (the Python half of a started C task). */
extern PyTypeObject CioCTask_Type;
extern PyObject *cio_error_type;
int cio_capi_init(PyObject *m);
/* Called by the loop core after cio_loop_close(l): C tasks left there. */
void cio_capi_loop_closed(cio_loop *l);
PyObject *cio_set_c_task_starter(PyObject *self, PyObject *fn);
/* transport.c: adds the socket transport type (SocketTransport, a
 * subclass of asyncio.Transport); -1 with an exception set. */
int cio_transport_init(PyObject *m);
/* Adds asgi.c's _AsgiServer to the module; -1 with an exception set. */
int cio_asgi_init(PyObject *m);

#endif
