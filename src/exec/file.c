/*
 * file.c - regular files through the thread pool: whole-file read and
 * write, and an open file read or written chunk by chunk.
 *
 * Divided into: whole-file calls, open, chunked read/write, close.
 *
 * Ownership under cancellation: every job lives on the heap and is freed
 * either by the caller after a normal return or by the pool's on_discard
 * callback when the caller was cancelled, so a thread never writes into
 * memory its caller has already released.  A chunked read lands in the
 * file's own buffer and is copied to the caller's only on the loop's
 * thread.  Writes read the caller's buffer from the thread, so they are
 * shielded once started (see cio/file.h).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec.h"
#include "cio/file.h"

#define CHUNK_MAX ((size_t)1 << 20)

struct cio_file {
    int fd;
    int busy;                  /* a call (maybe abandoned) is in flight */
    int close_pending;         /* closed while busy: close when it returns */
    int free_pending;          /* freed while busy: free when it returns */
    char *chunk;               /* where the thread reads a chunk */
    size_t chunk_cap;
};

/* ---- whole files ---------------------------------------------------------- */

struct whole {
    char *path;                /* owned copy */
    const void *wdata;         /* write: the caller's bytes */
    size_t len;                /* write: their length; read: bytes read */
    int flags;                 /* write: CIO_FILE_* */
    char *data;                /* read: the buffer (owned until handed over) */
};

static void whole_free(struct whole *j)
{
    cio__free(j->path);
    cio__free(j->data);
    cio__free(j);
}

static void whole_discard(void *arg, int rc, void *result) { whole_free(arg); }

static int read_all_fn(void *arg, void **result)
{
    struct whole *j = arg;
    int fd = open(j->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    size_t cap = fstat(fd, &st) == 0 && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
    int rc = 0;
    j->data = cio__malloc(cap);
    if (!j->data)
        rc = -ENOMEM;
    while (rc == 0) {
        if (j->len + 1 >= cap) {
            char *b = cio__realloc(j->data, cap * 2);
            if (!b) {
                rc = -ENOMEM;
                break;
            }
            j->data = b;
            cap *= 2;
        }
        ssize_t n = read(fd, j->data + j->len, cap - j->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = -errno;
        else if (n == 0)
            break;
        else
            j->len += (size_t)n;
    }
    close(fd);
    if (rc == 0)
        j->data[j->len] = 0;
    return rc;
}

static int write_full_fd(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_all_fn(void *arg, void **result)
{
    struct whole *j = arg;
    int oflags = O_WRONLY | O_CREAT | O_CLOEXEC |
                 ((j->flags & CIO_FILE_APPEND) ? O_APPEND : O_TRUNC);
    int fd = open(j->path, oflags, 0666);
    if (fd < 0)
        return -errno;
    int rc = write_full_fd(fd, j->wdata, j->len);
    if (rc == 0 && (j->flags & CIO_FILE_SYNC) && fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && rc == 0 && errno != EINTR)
        rc = -errno;
    return rc;
}

int cio_file_read_all(const char *path, char **data, size_t *len)
{
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!path || !data)
        return cio__bad_arg(cio__running_loop, __func__, "path or data is NULL");
    struct whole *j = cio__calloc(1, sizeof *j);
    if (!j || !(j->path = cio__strdup(path))) {
        cio__free(j);
        return -ENOMEM;
    }
    int rc = cio_run_in_executor_discard(NULL, read_all_fn, j, NULL, whole_discard);
    if (rc == -ECANCELED || rc == -ETIMEDOUT)
        return rc; /* j belongs to whole_discard now */
    if (rc == 0) {
        *data = j->data;
        if (len)
            *len = j->len;
        j->data = NULL;
    }
    whole_free(j);
    return rc;
}

int cio_file_write_all(const char *path, const void *data, size_t len, int flags)
{
    if (!path || (!data && len))
        return cio__bad_arg(cio__running_loop, __func__, "path or data is NULL");
    if (flags & ~(CIO_FILE_APPEND | CIO_FILE_SYNC))
        return cio__bad_arg(cio__running_loop, __func__, "unknown flags");
    int rc = cio_checkpoint();
    if (rc)
        return rc;
    struct whole *j = cio__calloc(1, sizeof *j);
    if (!j || !(j->path = cio__strdup(path))) {
        cio__free(j);
        return -ENOMEM;
    }
    j->wdata = data;
    j->len = len;
    j->flags = flags;
    cio_shield_begin(); /* the thread reads the caller's buffer */
    rc = cio_run_in_executor(NULL, write_all_fn, j, NULL);
    cio_shield_end();
    whole_free(j);
    return rc;
}

/* ---- open ---------------------------------------------------------------- */

struct open_job {
    char *path;
    int oflags;
    int fd;                    /* the result, -1 until opened */
};

static int open_fn(void *arg, void **result)
{
    struct open_job *j = arg;
    j->fd = open(j->path, j->oflags, 0666);
    return j->fd < 0 ? -errno : 0;
}

static void open_discard(void *arg, int rc, void *result)
{
    struct open_job *j = arg;
    if (j->fd >= 0)
        close(j->fd);
    cio__free(j->path);
    cio__free(j);
}

static int parse_mode(const char *m)
{
    int plus = m[1] == '+' || (m[1] && m[2] == '+');
    switch (m[0]) {
    case 'r': return plus ? O_RDWR : O_RDONLY;
    case 'w': return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC;
    case 'a': return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND;
    default: return -1;
    }
}

int cio_file_open(const char *path, const char *mode, cio_file **out)
{
    if (out)
        *out = NULL;
    if (!path || !mode || !out)
        return cio__bad_arg(cio__running_loop, __func__, "path, mode or out is NULL");
    int oflags = parse_mode(mode);
    if (oflags < 0)
        return cio__bad_arg(cio__running_loop, __func__, "mode is not r, r+, w, w+, a or a+");
    cio_file *f = cio__calloc(1, sizeof *f);
    struct open_job *j = cio__calloc(1, sizeof *j);
    if (!f || !j || !(j->path = cio__strdup(path))) {
        cio__free(f);
        cio__free(j);
        return -ENOMEM;
    }
    j->oflags = oflags | O_CLOEXEC;
    j->fd = -1;
    int rc = cio_run_in_executor_discard(NULL, open_fn, j, NULL, open_discard);
    if (rc == -ECANCELED || rc == -ETIMEDOUT) {
        cio__free(f);
        return rc;
    }
    if (rc < 0) {
        if (j->fd >= 0)
            close(j->fd);
        cio__free(f);
    } else {
        f->fd = j->fd;
        *out = f;
    }
    cio__free(j->path);
    cio__free(j);
    return rc < 0 ? rc : 0;
}

/* ---- chunks --------------------------------------------------------------- */

struct chunk_job {
    cio_file *f;
    size_t len;                /* bytes wanted */
    const void *wbuf;          /* write: the caller's bytes */
};

static void file_free(cio_file *f)
{
    cio__free(f->chunk);
    cio__free(f);
}

static int read_chunk_fn(void *arg, void **result)
{
    struct chunk_job *j = arg;
    for (;;) {
        ssize_t n = read(j->f->fd, j->f->chunk, j->len);
        if (n >= 0)
            return (int)n;
        if (errno != EINTR)
            return -errno;
    }
}

/* A cancelled read returned: the file is free again (or closes now). */
static void chunk_discard(void *arg, int rc, void *result)
{
    struct chunk_job *j = arg;
    cio_file *f = j->f;
    f->busy = 0;
    if (f->close_pending && f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    if (f->free_pending)
        file_free(f);
    cio__free(j);
}

int cio_file_read(cio_file *f, void *buf, size_t len)
{
    if (!f || (!buf && len))
        return cio__bad_arg(cio__running_loop, __func__, "f or buf is NULL");
    if (f->busy)
        return -EBUSY;
    if (f->fd < 0 || f->close_pending)
        return -EBADF;
    if (len > CHUNK_MAX)
        len = CHUNK_MAX;
    if (len == 0)
        return 0;
    if (f->chunk_cap < len) {
        char *c = cio__realloc(f->chunk, len);
        if (!c)
            return -ENOMEM;
        f->chunk = c;
        f->chunk_cap = len;
    }
    struct chunk_job *j = cio__malloc(sizeof *j);
    if (!j)
        return -ENOMEM;
    j->f = f;
    j->len = len;
    j->wbuf = NULL;
    f->busy = 1;
    int rc = cio_run_in_executor_discard(NULL, read_chunk_fn, j, NULL, chunk_discard);
    if (rc == -ECANCELED || rc == -ETIMEDOUT)
        return rc; /* chunk_discard frees j and releases f */
    f->busy = 0;
    cio__free(j);
    if (rc > 0)
        memcpy(buf, f->chunk, (size_t)rc);
    return rc;
}

static int write_chunk_fn(void *arg, void **result)
{
    struct chunk_job *j = arg;
    return write_full_fd(j->f->fd, j->wbuf, j->len);
}

int cio_file_write(cio_file *f, const void *buf, size_t len)
{
    if (!f || (!buf && len))
        return cio__bad_arg(cio__running_loop, __func__, "f or buf is NULL");
    if (f->busy)
        return -EBUSY;
    if (f->fd < 0 || f->close_pending)
        return -EBADF;
    int rc = cio_checkpoint();
    if (rc)
        return rc;
    struct chunk_job j = {f, len, buf};
    f->busy = 1;
    cio_shield_begin(); /* the thread reads buf and j */
    rc = cio_run_in_executor(NULL, write_chunk_fn, &j, NULL);
    cio_shield_end();
    f->busy = 0;
    return rc;
}

int cio_file_close(cio_file *f)
{
    if (!f)
        return cio__bad_arg(cio__running_loop, __func__, "f is NULL");
    if (f->busy) {
        f->close_pending = 1; /* the abandoned read still uses fd */
        return 0;
    }
    if (f->fd < 0)
        return 0;
    int rc = close(f->fd) < 0 && errno != EINTR ? -errno : 0;
    f->fd = -1;
    return rc;
}

void cio_file_free(cio_file *f)
{
    if (!f)
        return;
    if (f->busy) {
        f->close_pending = f->free_pending = 1;
        return;
    }
    if (f->fd >= 0)
        close(f->fd);
    file_free(f);
}
