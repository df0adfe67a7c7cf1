/*
 * io_wait.c - descriptor I/O for tasks: run an operation of the I/O layer
 * and park until it ends.
 *
 * The task's own waiter is the op's: the backend wakes the task with the
 * op's result, so a read that waited comes back with its bytes.  If the
 * task is cancelled (or its timeout scope expires) while it waits, the op
 * is cancelled through the backend, and the task stays parked until the
 * backend confirms: on io_uring the kernel may still be writing into the
 * buffer, which lives on this task's stack.
 */
#include <unistd.h>

#include "task.h"

/* A parked op's task is interrupted: ask the backend to cancel the op.
 * It wakes the task itself once the op has ended. */
static void op_interrupt(cio_task *t, int code)
{
    struct cio__op *op = t->wait_obj;
    op->cancel_code = code;
    cio__io_cancel(t->fut.loop, op, code);
}

int cio__op_run(struct cio__op *op)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    int rc = cio__checkpoint(t);
    if (rc)
        return rc;
    op->waiter = &t->waiter;
    op->cancel_code = 0;
    if (cio__io_submit(t->fut.loop, op) == 0)
        return op->res;
    return cio__park(t, op_interrupt, op);
}

int cio__op_recv(int fd, void *buf, size_t len, int flags)
{
    struct cio__op op = {.kind = CIO__OP_RECV, .fd = fd, .buf = buf, .len = len,
                         .flags = flags};
    return cio__op_run(&op);
}

int cio__op_send(int fd, const void *buf, size_t len, int flags)
{
    struct cio__op op = {.kind = CIO__OP_SEND, .fd = fd, .buf = (void *)buf, .len = len,
                         .flags = flags};
    return cio__op_run(&op);
}

int cio__fd_wait(int fd, int write)
{
    struct cio__op op = {.kind = write ? CIO__OP_POLL_OUT : CIO__OP_POLL_IN,
                         .opflags = CIO__OPF_AFTER_EAGAIN,
                         .fd = fd};
    return cio__op_run(&op);
}

int cio__fd_close(int fd)
{
    cio_loop *loop = cio__running_loop;
    if (loop)
        return cio__io_close(loop, fd);
    return close(fd) < 0 && errno != EINTR ? -errno : 0;
}
