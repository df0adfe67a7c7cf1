#include "test.h"

static int child(void *arg, void **result)
{
    int *n = arg;
    for (int i = 0; i < 3; i++) {
        (*n)++;
        CHECK_RC(cio_sleep(0), 0);
    }
    *result = (void *)(intptr_t)42;
    return 0;
}

static int main_task(void *arg, void **result)
{
    int n = 0;
    cio_task *t;
    CHECK_RC(cio_create_task(child, &n, "child", &t), 0);
    void *r = NULL;
    CHECK_RC(cio_task_await(t, &r), 0);
    CHECK_EQ((intptr_t)r, 42);
    CHECK_EQ(n, 3);
    cio_task_release(t);
    CHECK_RC(cio_sleep(0.01), 0);
    *result = (void *)(intptr_t)7;
    return 0;
}

static void smoke(void)
{
    void *r = NULL;
    CHECK_RC(cio_run(main_task, NULL, &r), 0);
    CHECK_EQ((intptr_t)r, 7);
}

int main(void)
{
    RUN(smoke);
    return test_finish();
}
