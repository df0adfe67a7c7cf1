/*
 * Subprocess transport: a child process driven by protocol callbacks.
 *
 * The asyncio program it mirrors:
 *
 *     class Child(asyncio.SubprocessProtocol):
 *         def __init__(self, done):
 *             self.done = done
 *         def connection_made(self, transport):
 *             self.transport = transport
 *             stdin = transport.get_pipe_transport(0)
 *             stdin.write(b"hello from the parent\n")
 *             stdin.close()
 *         def pipe_data_received(self, fd, data):
 *             print("fd", fd, "says:", data)
 *         def pipe_connection_lost(self, fd, exc):
 *             print("fd", fd, "closed")
 *         def process_exited(self):
 *             print("exited with", self.transport.get_returncode())
 *         def connection_lost(self, exc):
 *             self.done.set_result(None)
 *
 *     async def main():
 *         loop = asyncio.get_running_loop()
 *         done = loop.create_future()
 *         script = 'read line; echo "child read: $line"; echo oops >&2; exit 3'
 *         transport, _ = await loop.subprocess_shell(lambda: Child(done), script)
 *         await done
 *         transport.close()
 *
 *     asyncio.run(main())
 *
 * What to observe: no task reads the pipes; the transport calls the
 * protocol from the loop.  stdout (fd 1) and stderr (fd 2) arrive apart;
 * each pipe's close and the exit (status 3) are reported as they happen,
 * in whatever order; connection_lost comes last, once the child has
 * exited and every pipe is closed, so the child is always reaped.
 */
#include <stdio.h>

#include <cio.h>

static void child_made(cio_transport *t, void *ud)
{
    (void)ud;
    cio_transport *in = cio_subprocess_transport_pipe(t, 0);
    const char msg[] = "hello from the parent\n";
    cio_transport_write(in, msg, sizeof msg - 1);
    cio_transport_close(in); /* the child reads EOF once this is written */
}

static void child_data(cio_transport *t, int fd, const void *data, size_t len, void *ud)
{
    (void)t;
    (void)ud;
    printf("fd %d says: %.*s", fd, (int)len, (const char *)data);
}

static void child_pipe_lost(cio_transport *t, int fd, int error, void *ud)
{
    (void)t;
    (void)ud;
    printf("fd %d closed (%s)\n", fd, error ? cio_strerror(error) : "clean");
}

static void child_exited(cio_transport *t, void *ud)
{
    (void)ud;
    int code = 0;
    cio_subprocess_transport_returncode(t, &code);
    printf("exited with %d\n", code);
}

static void child_lost(cio_transport *t, int error, void *ud)
{
    (void)t;
    (void)error;
    cio_future_set_result(ud, NULL);
}

static const cio_protocol child_protocol = {
    .connection_made = child_made,
    .pipe_data_received = child_data,
    .pipe_connection_lost = child_pipe_lost,
    .process_exited = child_exited,
    .connection_lost = child_lost,
};

static int amain(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_future *done;
    cio_future_new(NULL, &done);
    const char *script = "read line; echo \"child read: $line\"; echo oops >&2; exit 3";
    cio_transport *t;
    int rc = cio_subprocess_shell(&child_protocol, done, script, NULL, &t);
    if (rc == 0) {
        cio_await(done, NULL);
        cio_transport_close(t);
        cio_transport_unref(t);
    } else {
        fprintf(stderr, "subprocess_shell: %s\n", cio_strerror(rc));
    }
    cio_future_unref(done);
    return rc;
}

int main(void)
{
    return cio_run(amain, NULL, NULL) == 0 ? 0 : 1;
}
