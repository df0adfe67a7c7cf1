/*
 * cio/subprocess.h - child processes (asyncio.create_subprocess_exec,
 * create_subprocess_shell and asyncio.subprocess.Process), and the same
 * children under a protocol (loop.subprocess_exec / subprocess_shell,
 * SubprocessTransport and SubprocessProtocol; see the last section).
 *
 * A subprocess belongs to the loop running when it was created.  It is
 * reaped as soon as it exits, whether or not anyone waits (the loop
 * watches a pidfd, Linux >= 5.3, and reaps with waitid(P_PIDFD); kernels
 * without pidfd fall back to a 10 ms waitpid(WNOHANG) poll), so it never
 * lingers as a zombie.  Signals go through pidfd_send_signal, so a
 * recycled pid is never hit.  Its pipes are non-blocking descriptors read
 * and written by the calls below.  When the loop closes it kills
 * (SIGKILL) and reaps the children still running; the objects must still
 * be freed.
 *
 * The child starts (with posix_spawn) with every signal at its default
 * disposition and an empty signal mask, whatever the parent blocked or
 * handled.
 *
 * Writes to a pipe never raise SIGPIPE: the write blocks SIGPIPE in the
 * calling thread and consumes the signal it caused, so the process-wide
 * disposition is left alone.
 *
 *     cio_subprocess *p;
 *     cio_subprocess_options o = {.stdin_mode = CIO_SUBPROCESS_PIPE,
 *                              .stdout_mode = CIO_SUBPROCESS_PIPE};
 *     cio_create_subprocess_exec("cat", (char *[]){"cat", NULL}, &o, &p);
 *     char *out;
 *     cio_subprocess_communicate(p, "hello", 5, &out, NULL, NULL, NULL);
 *     int code;
 *     cio_subprocess_returncode(p, &code);      // 1, code == 0; out == "hello"
 *     cio_free(out);
 *     cio_subprocess_free(p);
 *
 * Tested with cat, sh, sleep and true in tests/test_subprocess.c, with and
 * without pidfd, and through streams in tests/test_subprocess_stream.c.
 */
#ifndef CIO_SUBPROCESS_H
#define CIO_SUBPROCESS_H

#include "loop.h"
#include "stream.h"
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A child process (opaque). */
typedef struct cio_subprocess cio_subprocess;

/* What a standard stream of the child is connected to. */
enum {
    CIO_SUBPROCESS_INHERIT = 0, /* the parent's own descriptor (asyncio's None) */
    CIO_SUBPROCESS_PIPE = 1,    /* a pipe the parent reads/writes (PIPE) */
    CIO_SUBPROCESS_DEVNULL = 2, /* /dev/null (DEVNULL) */
    CIO_SUBPROCESS_STDOUT = 3   /* stderr only: same as stdout (STDOUT) */
};

/* Options of a new subprocess; all-zero (or NULL) inherits everything. */
typedef struct cio_subprocess_options {
    int stdin_mode;          /* CIO_SUBPROCESS_INHERIT, _PIPE or _DEVNULL */
    int stdout_mode;         /* CIO_SUBPROCESS_INHERIT, _PIPE or _DEVNULL */
    int stderr_mode;         /* ... or CIO_SUBPROCESS_STDOUT */
    const char *cwd;         /* working directory, NULL: the parent's */
    char *const *env;        /* environment (NULL-terminated), NULL: the parent's */
} cio_subprocess_options;

/*
 * Starts file with argv (argv[0] is the program's name; NULL-terminated),
 * searching PATH if file has no '/'.  Everything given is copied or used
 * during the call only.  The caller owns *out: cio_subprocess_free().
 * Does not suspend (the child is started with posix_spawn).
 * Errors: -EINVAL (file/argv/out NULL, bad mode), -ENOENT / -EACCES /
 * other errno of the exec, -ENOMEM, -EMFILE, CIO_ENOLOOP (no running loop).
 */
CIO_EXTERN int cio_create_subprocess_exec(const char *file, char *const argv[],
                                          const cio_subprocess_options *opts,
                                          cio_subprocess **out);

/* As cio_create_subprocess_exec, running "/bin/sh -c cmd". */
CIO_EXTERN int cio_create_subprocess_shell(const char *cmd, const cio_subprocess_options *opts,
                                           cio_subprocess **out);

/* The child's process id. */
CIO_EXTERN int cio_subprocess_pid(const cio_subprocess *p);

/*
 * Process.returncode: 1 and *code = the exit status (0..255), or minus the
 * signal number that killed it, once the child was reaped; 0 while it
 * runs.  -EINVAL if p or code is NULL.  Does not suspend.
 */
CIO_EXTERN int cio_subprocess_returncode(const cio_subprocess *p, int *code);

/*
 * Process.wait: suspends until the child exits; returns 0 and sets *code
 * (may be NULL) as cio_subprocess_returncode.  Cancelling the caller
 * returns -ECANCELED at once and leaves the child alone.  Several tasks may
 * wait at once.  Errors: -ECANCELED, -ETIMEDOUT, CIO_ENOTASK, -EINVAL.
 * Suspends.
 */
CIO_EXTERN int cio_subprocess_wait(cio_subprocess *p, int *code);

/*
 * Process.communicate: writes input (len bytes, may be 0) to stdin, then
 * closes it, while reading stdout and stderr to EOF; then waits for the
 * child to exit.  *out / *err (each may be NULL to discard that stream, or
 * is set to NULL if that stream is not a pipe) receive NUL-terminated
 * buffers the caller frees with cio_free(); *outlen / *errlen (may be NULL)
 * their lengths.  input must stay valid during the call.  A child that
 * exits without reading its input is not an error (EPIPE is ignored).
 * Returns 0 (see cio_subprocess_returncode for the status), or
 * -ECANCELED / -ETIMEDOUT (nothing is returned; the child goes on),
 * -EBUSY (another task reads or writes these pipes), -ENOMEM, CIO_ENOTASK.
 * Suspends.
 */
CIO_EXTERN int cio_subprocess_communicate(cio_subprocess *p, const void *input, size_t len,
                                          char **out, size_t *outlen, char **err,
                                          size_t *errlen);

/*
 * Reads up to len bytes from the child's stdout (fd 1) or stderr (fd 2)
 * pipe: returns how many (0 at end of file).  buf must stay valid during
 * the call.  Errors: -EBADF (that stream is not a pipe), -EBUSY (another
 * task reads it), -ECANCELED, -ETIMEDOUT, CIO_ENOTASK, -EINVAL.  Suspends.
 * (See cio_subprocess_stdout_stream for the same pipe as a stream.)
 */
CIO_EXTERN int cio_subprocess_read(cio_subprocess *p, int fd, void *buf, size_t len);

/*
 * Writes all len bytes to the child's stdin (asyncio's write + drain).
 * Returns 0.  Errors: -EPIPE (the child closed its stdin; no SIGPIPE is
 * raised), -EBADF (stdin is not a pipe or was closed), -EBUSY,
 * -ECANCELED / -ETIMEDOUT (part of the data may have been written),
 * CIO_ENOTASK, -EINVAL.  buf must stay valid during the call.  Suspends.
 */
CIO_EXTERN int cio_subprocess_write(cio_subprocess *p, const void *buf, size_t len);

/* Closes the child's stdin (it reads EOF).  0, or -EBADF if it is not an
 * open pipe, -EBUSY if a task is writing to it.  Does not suspend. */
CIO_EXTERN int cio_subprocess_close_stdin(cio_subprocess *p);

/*
 * Process.stdin / .stdout / .stderr as streams (asyncio's StreamWriter and
 * StreamReader): *out is a cio_stream over the child's pipe, made at the
 * first call (later calls return the same one), so a child's output can
 * be read with cio_stream_readline, CIO_FOR over cio_stream_lines_aiter,
 * readuntil..., and its input written with cio_stream_write + drain;
 * cio_stream_write_eof or cio_stream_close on stdin closes the pipe (the
 * child reads EOF, once queued bytes are written).  The stream belongs to
 * p: do not release it; cio_subprocess_free does.  The pipe calls above
 * (read, write, close_stdin, communicate) keep working and go through the
 * stream once it exists (so buffered bytes are not lost between them).
 * Errors: -EINVAL (NULL, p of another loop), -EBADF (that stream is not a
 * pipe, or was closed with cio_subprocess_close_stdin), -ENOMEM.  Does not
 * suspend.
 *
 *     cio_stream *out;
 *     cio_subprocess_stdout_stream(p, &out);
 *     char line[256];
 *     int n;
 *     while ((n = cio_stream_readline(out, line, sizeof line)) > 0)
 *         printf("child: %.*s", n, line);
 */
CIO_EXTERN int cio_subprocess_stdin_stream(cio_subprocess *p, cio_stream **out);
CIO_EXTERN int cio_subprocess_stdout_stream(cio_subprocess *p, cio_stream **out);
CIO_EXTERN int cio_subprocess_stderr_stream(cio_subprocess *p, cio_stream **out);

/*
 * Process.send_signal / terminate (SIGTERM) / kill (SIGKILL).  Returns 0;
 * after the child was reaped the signal is not sent and 0 is returned
 * (never a signal to a recycled pid: the pidfd names the process).
 * Errors: -EINVAL (bad signal), -EPERM.  Do not suspend.
 */
CIO_EXTERN int cio_subprocess_send_signal(cio_subprocess *p, int sig);
CIO_EXTERN int cio_subprocess_terminate(cio_subprocess *p);
CIO_EXTERN int cio_subprocess_kill(cio_subprocess *p);

/*
 * Frees p and closes its pipes.  A child still running is killed
 * (SIGKILL) and reaped first, so none is left behind.  If the loop closes
 * first, it kills and reaps its running children itself; p must still be
 * freed.  Must not be called while a task waits on p.  NULL is a no-op.
 */
CIO_EXTERN void cio_subprocess_free(cio_subprocess *p);

/* ---- subprocess transports (callbacks, no task) ------------------------------ */

/*
 * loop.subprocess_exec: starts file with argv as cio_create_subprocess_exec
 * does (same spawning, reaping and signals) and drives it with proto's
 * SubprocessProtocol members, no task involved: connection_made (before
 * this returns), then pipe_data_received(fd 1 or 2) as the child writes,
 * pipe_connection_lost(fd 0, 1 or 2) as each pipe closes, and
 * process_exited once it is reaped, in the order they happen; then
 * connection_lost(0) once the child has exited and every pipe has closed
 * (asyncio's order).  stdin's pause_writing / resume_writing go to the
 * protocol's members of those names.  opts NULL makes stdin, stdout and
 * stderr pipes (asyncio's defaults); otherwise opts says, as for
 * cio_create_subprocess_exec (pipe, /dev/null, inherit, stderr to
 * stdout; cwd, env).  Write to the child with
 * cio_transport_write(cio_subprocess_transport_pipe(t, 0), ...) and close
 * its stdin with cio_transport_close on that pipe.  *out gets a reference
 * owned by the caller (cio_transport_unref); the transport holds itself
 * until connection_lost, so the child is always reaped.  Errors: as
 * cio_create_subprocess_exec (-EINVAL, -ENOENT, -EACCES, -ENOMEM,
 * CIO_ENOLOOP...); nothing is left running then and no callback ran.
 * Does not suspend.
 *
 *     static void out(cio_transport *t, int fd, const void *d, size_t n,
 *                     void *ud) { fwrite(d, 1, n, stdout); }
 *     static void done(cio_transport *t, int err, void *ud) { ... }
 *     static const cio_protocol proto = {.pipe_data_received = out,
 *                                        .connection_lost = done};
 *     cio_transport *t;
 *     cio_subprocess_exec(&proto, NULL, "ls", (char *[]){"ls", NULL},
 *                         NULL, &t);
 */
CIO_EXTERN int cio_subprocess_exec(const cio_protocol *proto, void *ud, const char *file,
                                   char *const argv[], const cio_subprocess_options *opts,
                                   cio_transport **out);

/* loop.subprocess_shell: as cio_subprocess_exec, running "/bin/sh -c cmd". */
CIO_EXTERN int cio_subprocess_shell(const cio_protocol *proto, void *ud, const char *cmd,
                                    const cio_subprocess_options *opts, cio_transport **out);

/* SubprocessTransport.get_pid: the child's process id, or -EINVAL when t
 * is not a subprocess transport. */
CIO_EXTERN int cio_subprocess_transport_pid(const cio_transport *t);

/* SubprocessTransport.get_returncode: as cio_subprocess_returncode: 1 and
 * *code (exit status, or minus the signal) once reaped, 0 while running,
 * -EINVAL. */
CIO_EXTERN int cio_subprocess_transport_returncode(const cio_transport *t, int *code);

/*
 * SubprocessTransport.get_pipe_transport: the pipe transport of the
 * child's fd (0 stdin: a write pipe, 1 stdout / 2 stderr: read pipes), or
 * NULL if that stream is not a pipe (or t is not a subprocess transport).
 * It belongs to t (valid as long as t is; do not release it); its
 * protocol is t's own, so do not replace it.
 */
CIO_EXTERN cio_transport *cio_subprocess_transport_pipe(const cio_transport *t, int fd);

/*
 * SubprocessTransport.send_signal / terminate (SIGTERM) / kill (SIGKILL):
 * as cio_subprocess_send_signal (0 after the child was reaped: no signal
 * to a recycled pid).  BaseTransport.close (cio_transport_close) closes
 * the pipes and kills the child if it still runs; process_exited and
 * connection_lost follow.  Errors: -EINVAL, -EPERM.  Do not suspend.
 */
CIO_EXTERN int cio_subprocess_transport_send_signal(cio_transport *t, int sig);
CIO_EXTERN int cio_subprocess_transport_terminate(cio_transport *t);
CIO_EXTERN int cio_subprocess_transport_kill(cio_transport *t);

#ifdef __cplusplus
}
#endif
#endif
