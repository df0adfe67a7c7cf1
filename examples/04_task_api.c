/*
 * The task API: names, state, results, cancellation, all tasks.
 *
 * The asyncio program it mirrors:
 *
 *     async def work():
 *         await asyncio.sleep(0.1)
 *         return 42
 *
 *     async def main():
 *         t = asyncio.create_task(work(), name="worker")
 *         print(t.get_name()); t.set_name("answer")
 *         print(t.done(), t.cancelled())
 *         t.result()            # InvalidStateError: result is not set
 *         print(asyncio.all_tasks())
 *         print(await t, t.result())
 *         c = asyncio.create_task(work(), name="doomed")
 *         c.cancel("not needed")
 *         c.result()            # CancelledError: not needed
 *
 * What to observe: asking for a result too early returns CIO_EINVALSTATE
 * (asyncio's InvalidStateError); a cancelled task's result is -ECANCELED
 * with the message given to cio_task_cancel().  A result is a void *: an
 * integer travels as (void *)(intptr_t).  cio_all_tasks() lists the tasks
 * not yet done, main included.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <cio.h>

static int work(void *arg, void **result)
{
    int rc = cio_sleep(0.1);
    if (rc < 0)
        return rc;
    *result = (void *)(intptr_t)42;
    return 0;
}

static void show_state(cio_task *t)
{
    printf("  %-8s done=%d cancelled=%d\n", cio_task_get_name(t), cio_task_done(t),
           cio_task_cancelled(t));
}

static int main_task(void *arg, void **result)
{
    cio_task *t, *c;
    void *value;
    int rc = cio_create_task(work, NULL, "worker", &t);
    if (rc < 0)
        return rc;

    printf("name: %s\n", cio_task_get_name(t));
    cio_task_set_name(t, "answer");
    printf("renamed: %s\n", cio_task_get_name(t));
    show_state(t);

    rc = cio_task_result(t, &value);
    printf("result too early: %s\n", cio_strerror(rc));

    cio_task *all[8];
    size_t n = cio_all_tasks(NULL, all, 8);
    printf("all tasks (%zu):\n", n);
    for (size_t i = 0; i < n && i < 8; i++)
        printf("  #%llu %s\n", (unsigned long long)cio_task_id(all[i]),
               cio_task_get_name(all[i]));

    rc = cio_task_await(t, &value);
    printf("awaited: status %d, value %d\n", rc, (int)(intptr_t)value);
    rc = cio_task_result(t, &value);
    printf("result now: status %d, value %d\n", rc, (int)(intptr_t)value);
    show_state(t);
    cio_task_unref(t);

    rc = cio_create_task(work, NULL, "doomed", &c);
    if (rc < 0)
        return rc;
    printf("cancel: %d\n", cio_task_cancel(c, "not needed"));
    rc = cio_task_await(c, NULL);
    printf("awaiting it: %s\n", cio_strerror(rc));
    rc = cio_task_result(c, NULL);
    printf("its result: %s (%s)\n", cio_strerror(rc), cio_task_error_message(c));
    show_state(c);
    cio_task_unref(c);
    return 0;
}

int main(void)
{
    return cio_run(main_task, NULL, NULL) < 0;
}
