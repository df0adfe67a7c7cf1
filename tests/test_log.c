/*
 * test_log.c - the logger: level filtering, the CIO_LOG_LEVEL environment
 * variable (read at first use, so checked in child processes of this
 * binary started with each value), user sinks, the level and task-name
 * prefix, long lines, and the default stderr sink.
 */
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

extern char **environ;

struct captured {
    int n;
    cio_log_level level[16];
    char line[16][1100];
};

static void sink(void *ud, cio_log_level level, const char *line)
{
    struct captured *c = ud;
    if (c->n < 16) {
        c->level[c->n] = level;
        snprintf(c->line[c->n], sizeof c->line[0], "%s", line);
        c->n++;
    }
}

static void test_levels(void)
{
    struct captured c = {0};
    cio_log_set_sink(sink, &c);
    cio_log_set_level(CIO_LOG_WARNING);
    CHECK_EQ(cio_log_get_level(), CIO_LOG_WARNING);
    cio_log(CIO_LOG_DEBUG, "debug %d", 1);
    cio_log(CIO_LOG_INFO, "info %d", 2);
    cio_log(CIO_LOG_WARNING, "warning %d", 3);
    cio_log(CIO_LOG_ERROR, "error %d", 4);
    cio_log(CIO_LOG_OFF, "never"); /* OFF is not a level to log at */
    CHECK_EQ(c.n, 2);
    CHECK_EQ(c.level[0], CIO_LOG_WARNING);
    CHECK(strcmp(c.line[0], "cio warning: warning 3") == 0);
    CHECK_EQ(c.level[1], CIO_LOG_ERROR);
    CHECK(strcmp(c.line[1], "cio error: error 4") == 0);

    c.n = 0;
    cio_log_set_level(CIO_LOG_DEBUG);
    cio_log(CIO_LOG_DEBUG, "d");
    CHECK_EQ(c.n, 1);
    CHECK(strcmp(c.line[0], "cio debug: d") == 0);
    cio_log_set_level(CIO_LOG_OFF);
    cio_log(CIO_LOG_ERROR, "e");
    CHECK_EQ(c.n, 1);
    cio_log_set_level((cio_log_level)42); /* out of range: back to info */
    CHECK_EQ(cio_log_get_level(), CIO_LOG_INFO);
    cio_log_set_sink(NULL, NULL);
}

static struct captured task_lines;

static int named_task(void *arg, void **result)
{
    cio_log(CIO_LOG_WARNING, "inside %s", "a task");
    cio_task_set_name(cio_current_task(), "renamed");
    cio_log(CIO_LOG_INFO, "again");
    return 0;
}

static int log_main(void *arg, void **result)
{
    cio_log(CIO_LOG_INFO, "from main");
    cio_task *t;
    CHECK_RC(cio_create_task(named_task, NULL, "worker", &t), 0);
    CHECK_RC(cio_task_await(t, NULL), 0);
    CHECK_RC(cio_create_task(named_task, NULL, NULL, NULL), 0); /* default name */
    CHECK_RC(cio_sleep(0), 0);
    cio_task_unref(t);
    return 0;
}

static void test_task_prefix(void)
{
    memset(&task_lines, 0, sizeof task_lines);
    cio_log_set_level(CIO_LOG_INFO);
    cio_log_set_sink(sink, &task_lines);
    cio_log(CIO_LOG_INFO, "outside");
    CHECK_RC(cio_run(log_main, NULL, NULL), 0);
    cio_log_set_sink(NULL, NULL);
    CHECK_EQ(task_lines.n, 6);
    CHECK(strcmp(task_lines.line[0], "cio info: outside") == 0);
    CHECK(strcmp(task_lines.line[1], "cio info [main]: from main") == 0);
    CHECK(strcmp(task_lines.line[2], "cio warning [worker]: inside a task") == 0);
    CHECK(strcmp(task_lines.line[3], "cio info [renamed]: again") == 0);
    CHECK(strncmp(task_lines.line[4], "cio warning [Task-", 18) == 0);
    CHECK(strstr(task_lines.line[4], "]: inside a task") != NULL);
}

static void test_long_line(void)
{
    struct captured c = {0};
    cio_log_set_sink(sink, &c);
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cio_log(CIO_LOG_ERROR, "%s", big);
    CHECK_EQ(c.n, 1);
    CHECK(strncmp(c.line[0], "cio error: xxx", 14) == 0);
    CHECK(strlen(c.line[0]) < 1024); /* truncated, NUL-terminated */
    cio_log_set_sink(NULL, NULL);
}

/* Runs this binary as "child" with CIO_LOG_LEVEL=value (NULL: unset),
 * with its stderr to a pipe; returns the level it reports and stores what
 * it wrote to stderr in err. */
static int child_level(const char *self, const char *value, char *err, size_t errcap)
{
    char *envp[64];
    int n = 0;
    char var[64];
    for (char **e = environ; *e && n < 60; e++)
        if (strncmp(*e, "CIO_LOG_LEVEL=", 14) != 0)
            envp[n++] = *e;
    if (value) {
        snprintf(var, sizeof var, "CIO_LOG_LEVEL=%s", value);
        envp[n++] = var;
    }
    envp[n] = NULL;
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char *argv[] = {(char *)self, "child", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, self, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return -2; /* could not run ourselves (say, under qemu-user) */
    }
    size_t got = 0;
    ssize_t r;
    while (got + 1 < errcap && (r = read(fds[0], err + got, errcap - 1 - got)) > 0)
        got += (size_t)r;
    err[got] = 0;
    close(fds[0]);
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return -1;
    /* 127: the exec failed in the child (posix_spawn may report it so). */
    return WEXITSTATUS(status) == 127 ? -2 : WEXITSTATUS(status);
}

static const char *self_path;

static void test_env_level(void)
{
    static const struct {
        const char *value;
        int level;
    } cases[] = {
        {NULL, CIO_LOG_INFO},       {"debug", CIO_LOG_DEBUG}, {"info", CIO_LOG_INFO},
        {"WARNING", CIO_LOG_WARNING}, {"error", CIO_LOG_ERROR}, {"off", CIO_LOG_OFF},
        {"bogus", CIO_LOG_INFO},    {"", CIO_LOG_INFO},
    };
    char err[4096];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int lv = child_level(self_path, cases[i].value, err, sizeof err);
        if (lv == -2) {
            /* Under qemu-user without binfmt_misc the kernel cannot exec
             * this binary again: nothing to check here. */
            test_skip_case("cannot spawn this binary again (no binfmt for this "
                           "architecture?)");
            return;
        }
        if (lv != cases[i].level)
            fprintf(stderr, "  CIO_LOG_LEVEL=%s\n", cases[i].value ? cases[i].value : "(unset)");
        CHECK_EQ(lv, cases[i].level);
        /* The child logs one line per level to the default sink, stderr. */
        int want_warning = cases[i].level <= CIO_LOG_WARNING;
        CHECK_EQ(strstr(err, "cio warning: child warning\n") != NULL, want_warning);
        CHECK_EQ(strstr(err, "cio debug: child debug\n") != NULL,
                 cases[i].level == CIO_LOG_DEBUG);
        CHECK_EQ(strstr(err, "cio error: child error\n") != NULL, cases[i].level <= CIO_LOG_ERROR);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        /* The first call reads CIO_LOG_LEVEL. */
        cio_log(CIO_LOG_DEBUG, "child debug");
        cio_log(CIO_LOG_WARNING, "child warning");
        cio_log(CIO_LOG_ERROR, "child error");
        return (int)cio_log_get_level();
    }
    self_path = "/proc/self/exe";
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) {
        buf[n] = 0;
        self_path = buf;
    }
    RUN(test_env_level);
    RUN(test_levels);
    RUN(test_task_prefix);
    RUN(test_long_line);
    return test_finish();
}
