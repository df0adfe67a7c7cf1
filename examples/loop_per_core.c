/*
 * One loop per core: an echo server on N loops in N threads, one port.
 *
 * The asyncio program it mirrors (asyncio has one loop per thread too;
 * the pattern is uvloop's and every thread-per-core server's):
 *
 *     class Echo(asyncio.Protocol):
 *         def connection_made(self, t): self.t = t
 *         def data_received(self, d): self.t.write(d)
 *
 *     async def serve(port, stop):                 # one per thread
 *         srv = await asyncio.get_running_loop().create_server(
 *             Echo, '127.0.0.1', port, reuse_port=True)
 *         await stop.wait()
 *         srv.close(); await srv.wait_closed()
 *
 *     def on_signal():                             # on loop 0 only
 *         for loop, stop in shards:
 *             loop.call_soon_threadsafe(stop.set)
 *     loop0.add_signal_handler(signal.SIGTERM, on_signal)
 *
 * Usage: loop_per_core [PORT [LOOPS]].  With no arguments it serves an
 * ephemeral port on 2 loops, connects 40 clients itself, then sends
 * itself SIGTERM (what `make test` runs).  With a PORT (0: any) it
 * prints "port N" and serves until SIGINT or SIGTERM.
 *
 * What to observe: each loop has its own listening socket bound to the
 * same port with SO_REUSEPORT (cio_transport_options.reuse_port), so the
 * kernel spreads the connections over the loops and no lock or cross-
 * thread call is needed while serving.  Only loop 0 handles the signals
 * (cio_loop_add_signal_handler: one loop per signal in a process); it
 * tells every other loop through cio_call_soon_threadsafe(), which is the
 * only cross-thread traffic, once, at shutdown.  Each loop then closes
 * its server and its connections and prints how many it served; the
 * process exits 0.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cio.h>

#define MAX_LOOPS 64
#define DEMO_CLIENTS 40

/* One loop and what it serves. */
struct shard {
    int index;
    pthread_t thread;          /* (shard 0 runs in the main thread) */
    int started;               /* thread made */
    cio_loop *loop;            /* published once its stop event exists */
    cio_event *stop;           /* set on its own loop: shut down */
    unsigned long conns;       /* connections it served (its thread only) */
    int rc;                    /* how its main task ended */
};

static struct shard shards[MAX_LOOPS];
static int nshards = 2;
static int port;               /* the shared port, once shard 0 bound it */
static int demo;               /* no arguments: connect clients ourselves */
static int stopping;           /* the first signal came (loop 0 only) */
static int quit;               /* atomic: shards not yet published stop at once */
static int ready;              /* atomic: shards listening */

/* ---- the echo protocol ---- */

static void echo_made(cio_transport *t, void *ud)
{
    (void)t;
    ((struct shard *)ud)->conns++;
}

static void echo_data(cio_transport *t, const void *data, size_t len, void *ud)
{
    (void)ud;
    if (cio_transport_write(t, data, len) < 0)
        cio_transport_abort(t);
}

static const cio_protocol echo_protocol = {.connection_made = echo_made,
                                           .data_received = echo_data};

static int echo_factory(void *arg, const cio_protocol **proto, void **ud)
{
    *proto = &echo_protocol;
    *ud = arg; /* the shard: connections count on their own loop */
    return 0;
}

/* ---- shutdown: the signal on loop 0, the others told thread-safely ---- */

/* Runs on the shard's own loop. */
static void set_stop(void *arg)
{
    cio_event_set(((struct shard *)arg)->stop);
}

static void on_signal(void *arg)
{
    (void)arg;
    if (stopping)
        return;
    stopping = 1;
    __atomic_store_n(&quit, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < nshards; i++) {
        cio_loop *l = __atomic_load_n(&shards[i].loop, __ATOMIC_SEQ_CST);
        if (!l)
            continue; /* not started yet: it sees quit */
        if (i == 0)
            set_stop(&shards[0]);
        else if (cio_call_soon_threadsafe(l, set_stop, &shards[i]) < 0)
            fprintf(stderr, "loop %d could not be told\n", i);
    }
}

/* ---- a loop's main task ---- */

static void *demo_clients(void *arg);
static void *shard_thread(void *arg);

static int shard_main(void *arg, void **result)
{
    (void)result;
    struct shard *sh = arg;
    cio_loop *loop = cio_get_running_loop();
    int rc = cio_event_new(loop, &sh->stop);
    if (rc < 0)
        return rc;
    if (sh->index == 0) {
        /* Replaces cio_run's own SIGINT/SIGTERM handling on this loop. */
        if ((rc = cio_loop_add_signal_handler(loop, SIGINT, on_signal, NULL)) < 0 ||
            (rc = cio_loop_add_signal_handler(loop, SIGTERM, on_signal, NULL)) < 0)
            goto out;
    }
    cio_transport_options o = {.reuse_port = 1, .family = AF_INET, .backlog = 1024};
    cio_server *srv = NULL;
    if ((rc = cio_create_server(echo_factory, sh, "127.0.0.1", port, &o, &srv)) < 0) {
        fprintf(stderr, "loop %d: cannot listen: %s\n", sh->index, cio_strerror(rc));
        if (sh->index == 0)
            goto out;
        raise(SIGTERM); /* stop the others too */
    } else if (sh->index == 0) {
        port = cio_server_port(srv);
        /* The others bind the port shard 0 got. */
        for (int i = 1; i < nshards; i++) {
            if (pthread_create(&shards[i].thread, NULL, shard_thread, &shards[i]) != 0) {
                fprintf(stderr, "cannot start loop %d\n", i);
                nshards = i;
                break;
            }
            shards[i].started = 1;
        }
    }
    __atomic_store_n(&sh->loop, loop, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&ready, 1, __ATOMIC_SEQ_CST);
    if (sh->index == 0) {
        /* Every loop listens before anyone is told the port (a moment at
         * startup; serving never polls). */
        while (__atomic_load_n(&ready, __ATOMIC_SEQ_CST) < nshards &&
               !__atomic_load_n(&quit, __ATOMIC_SEQ_CST))
            cio_sleep(0.001);
        printf("port %d\n", port);
        fflush(stdout);
        pthread_t client;
        if (demo && pthread_create(&client, NULL, demo_clients, NULL) == 0)
            pthread_detach(client);
    }
    if (!__atomic_load_n(&quit, __ATOMIC_SEQ_CST))
        rc = cio_event_wait(sh->stop);
    if (srv) {
        cio_server_close(srv);
        cio_server_abort_clients(srv);
        cio_server_wait_closed(srv);
        cio_server_free(srv);
    }
out:
    cio_event_free(sh->stop);
    return rc < 0 ? rc : 0;
}

static void *shard_thread(void *arg)
{
    struct shard *sh = arg;
    sh->rc = cio_run(shard_main, sh, NULL);
    return NULL;
}

/* ---- the demo's clients (plain blocking sockets, another thread) ---- */

static void *demo_clients(void *arg)
{
    (void)arg;
    int ok = 0;
    for (int i = 0; i < DEMO_CLIENTS; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        char got[6] = {0};
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
            write(fd, "hello", 5) == 5 && recv(fd, got, 5, MSG_WAITALL) == 5 &&
            !strcmp(got, "hello"))
            ok++;
        if (fd >= 0)
            close(fd);
    }
    printf("clients: %d of %d echoed\n", ok, DEMO_CLIENTS);
    fflush(stdout);
    kill(getpid(), SIGTERM);
    return NULL;
}

int main(int argc, char **argv)
{
    demo = argc < 2;
    port = argc > 1 ? atoi(argv[1]) : 0;
    if (argc > 2)
        nshards = atoi(argv[2]);
    if (nshards < 1 || nshards > MAX_LOOPS || port < 0 || port > 65535) {
        fprintf(stderr, "usage: loop_per_core [PORT [LOOPS (1..%d)]]\n", MAX_LOOPS);
        return 2;
    }
    for (int i = 0; i < nshards; i++)
        shards[i].index = i;
    shards[0].rc = cio_run(shard_main, &shards[0], NULL);
    int failed = shards[0].rc < 0;
    for (int i = 1; i < nshards; i++) {
        if (!shards[i].started)
            continue;
        pthread_join(shards[i].thread, NULL);
        failed |= shards[i].rc < 0;
    }
    for (int i = 0; i < nshards; i++)
        printf("loop %d served %lu connections\n", i, shards[i].conns);
    return failed ? 1 : 0;
}
