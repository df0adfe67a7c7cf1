/*
 * Fetching data concurrently: three fetch_data() calls, results in order.
 *
 * The asyncio program it mirrors:
 *
 *     async def fetch_data(n, delay):
 *         print(f"fetching {n}...")
 *         await asyncio.sleep(delay)          # a network call, say
 *         print(f"fetched {n}")
 *         return {"id": n, "data": f"payload {n}"}
 *
 *     async def main():
 *         results = await asyncio.gather(
 *             fetch_data(1, 0.3), fetch_data(2, 0.1), fetch_data(3, 0.2))
 *         print(results)
 *
 * What to observe: the fetches finish in the order 2, 3, 1 and take 0.3 s in
 * all, yet the results come back in the order asked: cio_gather() stores
 * each task's result at the index of its future.  Each fetch writes into a
 * record the caller owns, which outlives the task.
 */
#include <stdio.h>
#include <cio.h>

struct fetch {
    int id;          /* what to fetch */
    double delay;    /* how long the "network" takes */
    char data[32];   /* the payload, filled in by fetch_data */
};

static int fetch_data(void *arg, void **result)
{
    struct fetch *f = arg;
    printf("fetching %d...\n", f->id);
    int rc = cio_sleep(f->delay);
    if (rc < 0)
        return rc;
    snprintf(f->data, sizeof f->data, "payload %d", f->id);
    printf("fetched %d\n", f->id);
    *result = f->data;
    return 0;
}

static int main_task(void *arg, void **result)
{
    struct fetch req[3] = {{1, 0.3, ""}, {2, 0.1, ""}, {3, 0.2, ""}};
    cio_task *tasks[3];
    cio_future *futs[3];
    int n = 0, rc = 0;
    for (; n < 3; n++) {
        if ((rc = cio_create_task(fetch_data, &req[n], NULL, &tasks[n])) < 0)
            break;
        futs[n] = cio_task_future(tasks[n]);
    }

    void *results[3];
    if (rc == 0)
        rc = cio_gather(futs, 3, 0, results, NULL);
    for (int i = 0; i < n; i++)
        cio_task_unref(tasks[i]);
    if (rc < 0)
        return rc;
    for (int i = 0; i < 3; i++)
        printf("result %d: {id: %d, data: \"%s\"}\n", i, req[i].id,
               (const char *)results[i]);
    return 0;
}

int main(void)
{
    return cio_run(main_task, NULL, NULL) < 0;
}
