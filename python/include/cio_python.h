/*
 * cio_python.h - the C API of the cio Python extension, for other C
 * extensions: run C coroutines (cio tasks) on the cio loop a Python
 * program is running, and await them from Python.
 *
 *     #include <cio_python.h>          // include path: cio.get_include()
 *
 *     PyMODINIT_FUNC PyInit_myext(void)
 *     {
 *         if (CioPy_Import() < 0)      // imports cio._cio, reads its capsule
 *             return NULL;
 *         ...
 *     }
 *
 *     static int tick(void *arg, void **result) { return cio_sleep(0.1); }
 *
 *     static PyObject *myext_tick(PyObject *self, PyObject *unused)
 *     {
 *         return CioPy_StartTask(NULL, tick, NULL, "tick", NULL, NULL);
 *     }                                 // Python: await myext.tick()
 *
 * One engine.  The _cio extension links the cio engine statically; a
 * second copy in another extension would be a second engine with its own
 * thread-local "running loop", its own allocator and its own task
 * structures, and passing it the Python loop's cio_loop would corrupt
 * both.  So a client extension does NOT link libcio: every public cio_*
 * function (include/cio.h's headers) is reached through a table of
 * function pointers that _cio exports in the capsule `cio._cio._C_API`
 * (as numpy and datetime export theirs).  This header defines each
 * cio_* name as a call through that table, so client code reads like
 * ordinary cio code; it must include the cio headers only through this
 * one (it includes <cio.h> itself) and must not take `&cio_xxx` (the
 * name is already a function pointer value: pass `cio_xxx`).  The table
 * does not depend on how the dynamic linker loads extensions (Python
 * loads them RTLD_LOCAL, so _cio.so's symbols are not visible to other
 * extensions by name).  cio/pg.h is not in the table.
 *
 * Each translation unit that uses the API calls CioPy_Import() once (the
 * table pointer is static to the file).  C coroutines run on the loop
 * thread with the GIL held (the loop releases it only while it waits for
 * I/O); they must not call the Python C API themselves: convert results
 * in the converter, which runs as a loop callback outside any task.
 */
#ifndef CIO_PYTHON_H
#define CIO_PYTHON_H

#ifndef PY_SSIZE_T_CLEAN
#define PY_SSIZE_T_CLEAN
#endif
#include <Python.h>
#include <cio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The capsule's name, and the version of its layout: a client refuses a
 * capsule of another major version; within one version slots are only
 * appended (engine_count says how many the running _cio has). */
#define CIOPY_CAPSULE_NAME "cio._cio._C_API"
#define CIOPY_API_VERSION 1

/*
 * Turns a C task's result into the Python value its awaiter gets: result
 * is what the coroutine stored in *result (NULL if it stored nothing),
 * arg the argument it was started with.  Returns a new reference, or NULL
 * with a Python exception set (the awaiting Python code gets that
 * exception).  Runs on the loop thread with the GIL held, once, only on
 * success (the coroutine returned >= 0); freeing what result points to is
 * its job (or release's, which runs after it).  Without a converter the
 * value is None.  CioPy_IntResult is one for coroutines that store an
 * integer: *result = (void *)(intptr_t)n.
 */
typedef PyObject *CioPy_ConvertFn(void *result, void *arg);

/* Called once when the task has ended, however it ended (after the
 * converter, if that ran), with the GIL held: frees arg. */
typedef void CioPy_ReleaseFn(void *arg);

#include "cio_python_engine.h"

/* The engine function table: one pointer per public cio_* function. */
typedef struct CioPy_Engine {
#define CIOPY_SLOT_(name) __typeof__(name) *name;
    CIOPY_ENGINE_FUNCTIONS(CIOPY_SLOT_)
#undef CIOPY_SLOT_
} CioPy_Engine;

/* What the capsule points to. */
typedef struct CioPy_CAPI {
    int version;        /* CIOPY_API_VERSION of the _cio that made it */
    int engine_count;   /* slots filled in engine (append-only order) */
    const char *engine_version; /* cio_version() of the engine inside */

    /*
     * The cio_loop under the running Python event loop, or NULL with a
     * Python exception: RuntimeError "no running event loop" outside one,
     * or RuntimeError naming the loop's class when the running loop is not
     * a cio loop (asyncio's default loop, uvloop).  Borrowed: valid while
     * that loop is open.  C code on it (tasks, timers, transports, servers)
     * shares the loop with the program's Python tasks.  Needs the GIL.
     */
    cio_loop *(*running_loop)(void);

    /*
     * The cio_loop of the Python loop object pyloop (a cio.Loop, running
     * or not), or NULL with RuntimeError if pyloop is not a cio loop or is
     * closed.  Borrowed, as above.  Needs the GIL.
     */
    cio_loop *(*loop_of)(PyObject *pyloop);

    /*
     * A C coroutine as a Python one: returns a new reference to a
     * coroutine object that, once awaited (or wrapped in a task:
     * asyncio.create_task, gather, wait_for, TaskGroup), starts fn(arg) as
     * a cio task named name (copied; NULL: "Task-N") on pyloop's cio_loop
     * (pyloop NULL: the loop running when it starts; a running loop that
     * is not a cio loop is refused at once, and an await on one later
     * raises the same RuntimeError as running_loop, so the call works
     * before the loop runs: loop.run_until_complete(ext.fn())),
     * waits for it, and gives its outcome:
     *   - success: convert(result, arg), or None when convert is NULL;
     *   - failure with an errno code: OSError(errno, message) (so the
     *     subclasses: TimeoutError for -ETIMEDOUT, FileNotFoundError, ...),
     *     message being the task's error message (cio_set_error_message)
     *     or strerror;
     *   - failure with a cio code (CIO_E*): cio.CioError(message), with
     *     .code, .name (e.g. "CIO_ECLOSED") and .message;
     *   - the C task ending cancelled (-ECANCELED: cancelled by C code, or
     *     returning it): asyncio.CancelledError with its message;
     *   - the awaiting Python task cancelled (task.cancel(msg), a timeout,
     *     a TaskGroup's sibling failing): the C task is cancelled with msg
     *     (cio_task_cancel) and the Python side waits until it has
     *     unwound (its shielded cleanup included), then raises
     *     CancelledError.
     * As for a Python coroutine, nothing runs until it is awaited; a
     * coroutine dropped unawaited never runs fn (Python warns "never
     * awaited").  release(arg), if given, runs once: after the task ended,
     * when a never-started coroutine is freed, or when the loop is closed
     * under the pending task (which then never runs again, as
     * cio_loop_close does to tasks).  On failure returns NULL
     * with an exception (RuntimeError for the loop, TypeError for fn
     * NULL, MemoryError); then neither fn nor release runs and the caller
     * keeps arg.  Needs the GIL; not from inside a C task.
     */
    PyObject *(*start_task)(PyObject *pyloop, cio_coro_fn *fn, void *arg, const char *name,
                            CioPy_ConvertFn *convert, CioPy_ReleaseFn *release);

    /* The cio.CioError exception class (borrowed). */
    PyObject *error_type;

    /* Raises the Python exception for a cio or errno code (as start_task
     * maps a failure; message NULL: cio_strerror) and returns NULL. */
    PyObject *(*raise_code)(int code, const char *message);

    /* A converter: the integer the coroutine stored as
     * *result = (void *)(intptr_t)n, as a Python int. */
    CioPy_ConvertFn *int_result;

    CioPy_Engine engine; /* every public cio_* function; last: it grows */
} CioPy_CAPI;

#if !defined(CIOPY_BUILDING_CIO)
/* The table, set by CioPy_Import() (one per translation unit). */
static const CioPy_CAPI *CioPy_API
#if defined(__GNUC__)
    __attribute__((unused))
#endif
    ;

/*
 * Imports cio._cio and reads its capsule: 0, or -1 with ImportError if
 * cio is missing or its capsule is of another version or older than this
 * header (fewer engine slots).  Call it in the module's init function.
 */
static inline int CioPy_Import(void)
{
    const CioPy_CAPI *api = (const CioPy_CAPI *)PyCapsule_Import(CIOPY_CAPSULE_NAME, 0);
    if (!api)
        return -1;
    if (api->version != CIOPY_API_VERSION || api->engine_count < CIOPY_ENGINE_COUNT) {
        PyErr_Format(PyExc_ImportError,
                     "cio C API version %d with %d engine functions; this extension was "
                     "built for version %d with %d",
                     api->version, api->engine_count, CIOPY_API_VERSION, CIOPY_ENGINE_COUNT);
        return -1;
    }
    CioPy_API = api;
    return 0;
}

/* The calls, as functions of this header's names. */
#define CioPy_RunningLoop() (CioPy_API->running_loop())
#define CioPy_LoopOf(pyloop) (CioPy_API->loop_of(pyloop))
#define CioPy_StartTask(pyloop, fn, arg, name, convert, release) \
    (CioPy_API->start_task((pyloop), (fn), (arg), (name), (convert), (release)))
#define CioPy_RaiseCode(code, message) (CioPy_API->raise_code((code), (message)))
#define CioPy_Error (CioPy_API->error_type)
#define CioPy_IntResult (CioPy_API->int_result)

/* Now every cio_* name becomes a call through the table. */
#define CIOPY_ENGINE_MACROS
#include "cio_python_engine.h"
#endif

#ifdef __cplusplus
}
#endif
#endif
