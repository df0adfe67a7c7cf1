/*
 * Task errors: the awaiting code catches a failure; a forgotten one is reported.
 *
 * The asyncio program it mirrors:
 *
 *     async def parse(text):
 *         await asyncio.sleep(0.05)
 *         raise ValueError(f"cannot parse {text!r}")
 *
 *     async def main():
 *         try:
 *             await asyncio.create_task(parse("12abc"))
 *         except ValueError as e:
 *             print("caught:", e)
 *         asyncio.create_task(parse("xyz"))    # nobody awaits this one
 *         await asyncio.sleep(0.1)
 *         # -> "Task exception was never retrieved"
 *
 * What to observe: a failing task returns a negative code and may attach a
 * message with cio_set_error_message(); the awaiter gets the code from
 * cio_task_await() and the text from cio_task_error_message().  A failure
 * nobody retrieved is not lost: when the task is released the loop passes it
 * to its exception handler (here one that prints it, then hands it on to
 * the default handler, which logs it on stderr).
 */
#include <errno.h>
#include <stdio.h>
#include <cio.h>

static int parse(void *arg, void **result)
{
    const char *text = arg;
    int rc = cio_sleep(0.05);
    if (rc < 0)
        return rc;
    cio_set_error_message("cannot parse '%s'", text);
    return -EINVAL;
}

static void on_error(cio_loop *loop, const cio_exception_context *ctx, void *ud)
{
    printf("exception handler: %s: %s (%s), task '%s'\n", ctx->message,
           cio_strerror(ctx->code), ctx->error_message ? ctx->error_message : "",
           ctx->task ? cio_task_get_name(ctx->task) : "?");
    cio_loop_default_exception_handler(loop, ctx);
}

static int main_task(void *arg, void **result)
{
    cio_loop_set_exception_handler(cio_get_running_loop(), on_error, NULL);

    cio_task *t;
    int rc = cio_create_task(parse, "12abc", "parse-1", &t);
    if (rc < 0)
        return rc;
    rc = cio_task_await(t, NULL);
    if (rc < 0)
        printf("caught: %s: %s\n", cio_strerror(rc), cio_task_error_message(t));
    cio_task_unref(t);

    /* No reference kept (out NULL): the loop owns the task, and releases
     * it when it finishes, with the failure still unretrieved. */
    rc = cio_create_task(parse, "xyz", "forgotten", NULL);
    if (rc < 0)
        return rc;
    return cio_sleep(0.1);
}

int main(void)
{
    return cio_run(main_task, NULL, NULL) < 0;
}
