/*
 * waitq.c - the interrupt shared by the waits of src/sync/ whose
 * primitive keeps no count of its waiters beyond the queue itself (lock,
 * event, condition, semaphore, queue getters and putters).
 */
#include "waitq.h"

void cio__waitq_interrupt(cio_task *t, int code)
{
    struct cio__waitq_entry *w = t->wait_obj;
    cio__waitq_remove(w);
    cio__wake(t, code);
}
