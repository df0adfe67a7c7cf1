/*
 * cio/file.h - regular files without blocking the loop (what aiofiles and
 * loop.run_in_executor(None, open(...).read) give asyncio programs).
 *
 * epoll cannot wait for regular files, so every call here runs its system
 * calls in the loop's default thread pool (cio/exec.h) and suspends the
 * calling task meanwhile; other tasks keep running.
 *
 * Cancellation: reads and opens return -ECANCELED at once (the thread's
 * late data or descriptor is dropped and freed).  Writes use the caller's
 * buffer in the thread, so a write that has started is shielded: it
 * finishes and returns its own result, and the cancellation takes effect
 * at the caller's next suspension point (cancellation is level-triggered).
 * A write cancelled before it started returns -ECANCELED, writing nothing.
 *
 * Streaming a big file in bounded memory:
 *
 *     cio_file *f;
 *     char buf[65536];
 *     int n;
 *     cio_file_open("big.log", "r", &f);
 *     while ((n = cio_file_read(f, buf, sizeof buf)) > 0)
 *         consume(buf, n);              // other tasks run during each read
 *     cio_file_free(f);                 // closes, frees
 */
#ifndef CIO_FILE_H
#define CIO_FILE_H

#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An open file (opaque). */
typedef struct cio_file cio_file;

/*
 * Reads the whole file at path.  *data receives a buffer the caller frees
 * with cio_free(), NUL-terminated (not counted in *len); len may be NULL.
 * path is copied.  Suspends.  Errors: negated errno of open/read (-ENOENT,
 * -EACCES, -EISDIR...), -ENOMEM, -ECANCELED, -ETIMEDOUT, CIO_ENOTASK,
 * -EINVAL.
 */
CIO_EXTERN int cio_file_read_all(const char *path, char **data, size_t *len);

/* Flags of cio_file_write_all. */
enum {
    CIO_FILE_APPEND = 1 << 0,  /* append instead of truncating */
    CIO_FILE_SYNC = 1 << 1     /* fsync before returning */
};

/*
 * Writes len bytes of data to path, creating it (mode 0666 & ~umask) or
 * truncating it (or appending, CIO_FILE_APPEND).  data must stay valid
 * during the call.  Suspends.  Errors: negated errno of open/write/fsync,
 * -ENOMEM, -ECANCELED / -ETIMEDOUT (only before the write started, see
 * the file comment), CIO_ENOTASK, -EINVAL.
 */
CIO_EXTERN int cio_file_write_all(const char *path, const void *data, size_t len, int flags);

/*
 * Opens path with a mode as fopen's: "r", "r+", "w", "w+", "a", "a+".
 * The caller owns *out: cio_file_free() (cio_file_close() first to see
 * close(2)'s error).  Suspends.  Errors: negated
 * errno of open, -EINVAL (bad mode), -ENOMEM, -ECANCELED, -ETIMEDOUT,
 * CIO_ENOTASK.
 */
CIO_EXTERN int cio_file_open(const char *path, const char *mode, cio_file **out);

/*
 * Reads the next chunk of at most len bytes (and at most 1 MiB) into
 * buf: returns how many, 0 at end of file.  Reading chunk after chunk
 * streams a file of any size in bounded memory.  buf is written only by
 * the loop's thread, after the chunk arrived.  Suspends.  Errors: negated
 * errno of read, -EBUSY (another call on f, maybe an abandoned one, is in
 * flight), -ECANCELED,
 * -ETIMEDOUT, -ENOMEM, CIO_ENOTASK, -EINVAL.
 */
CIO_EXTERN int cio_file_read(cio_file *f, void *buf, size_t len);

/*
 * Writes all len bytes at the current position (the end for "a" modes).
 * buf must stay valid during the call.  Returns 0.  Suspends.  Errors:
 * negated errno of write, -EBUSY, -ECANCELED / -ETIMEDOUT (only before the
 * write started), -ENOMEM, CIO_ENOTASK, -EINVAL.
 */
CIO_EXTERN int cio_file_write(cio_file *f, const void *buf, size_t len);

/*
 * Closes f's descriptor (file.close()); f itself stays until
 * cio_file_free.  Later reads and writes fail with -EBADF; closing again
 * returns 0.  If an abandoned (cancelled) read is still running in a
 * thread, the close happens when it returns.  Returns 0, or the negated
 * errno of close(2) (the descriptor is closed anyway: a write error the
 * kernel reports only at close, as NFS may, shows here).  Errors: -EINVAL
 * (NULL).  Does not suspend.
 */
CIO_EXTERN int cio_file_close(cio_file *f);

/*
 * Closes f if cio_file_close was not called (ignoring close(2)'s error)
 * and frees it; with an abandoned read still running, when it returns.
 * NULL is a no-op.  Does not suspend.
 */
CIO_EXTERN void cio_file_free(cio_file *f);

#ifdef __cplusplus
}
#endif
#endif
