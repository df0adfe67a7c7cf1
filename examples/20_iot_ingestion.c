/*
 * IoT ingestion: device readings over UDP and TCP, processed as they arrive.
 *
 * The asyncio program it mirrors (SCENARIOS.md #20):
 *
 *     class Ingest(asyncio.DatagramProtocol):
 *         def datagram_received(self, data, addr):
 *             readings.put_nowait(("udp", data))
 *
 *     async def tcp_device_conn(reader, writer):
 *         while line := await reader.readline():
 *             await readings.put(("tcp", line))
 *
 *     async def process():
 *         while True:
 *             try: item = await readings.get()
 *             except asyncio.QueueShutDown: break
 *             transport, text = item
 *             device, value = parse(text)
 *             stats[device].add(value)
 *             if value > 30.0:
 *                 print("alert:", device, value)
 *
 *     async def udp_device(n):   # sends 25 readings, one every 2 ms
 *     async def tcp_device(n):   # one connection, 25 lines
 *
 *     async def main():
 *         readings = asyncio.Queue(256)
 *         await loop.create_datagram_endpoint(Ingest, local_addr=("127.0.0.1", 0))
 *         server = await asyncio.start_server(tcp_device_conn, "127.0.0.1", 0)
 *         consumer = asyncio.create_task(process())
 *         await asyncio.gather(*[udp_device(n) for n in range(40)],
 *                              *[tcp_device(n) for n in range(20)])
 *         ...; readings.shutdown(); await consumer; print(summary)
 *
 * What to observe: sixty simulated devices talk at once, over two
 * transports, to one in-process collector; the collector's UDP receiver
 * and its per-connection TCP handlers feed one bounded queue (a full queue
 * makes the inputs wait: back pressure) and a single processing task
 * computes per-device averages and raises alerts while data is still
 * arriving; shutting the queue down lets it drain and stop.  Everything
 * runs on loopback and the program stops by itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cio.h>

#define UDP_DEVICES 40
#define TCP_DEVICES 20
#define READINGS 25

/* ---- one bounded queue between the inputs and the processor ----------- */

struct reading {
    int device;                /* 0..59 */
    int tcp;                   /* arrived over TCP */
    double value;              /* degrees */
};

static cio_queue *readings;    /* of struct reading *, malloc'd by the inputs,
                                  freed by the processor */

/* Queues a copy of r, waiting while the queue is full (back pressure). */
static int put_reading(const struct reading *r)
{
    struct reading *copy = malloc(sizeof *copy);
    if (!copy)
        return -ENOMEM;
    *copy = *r;
    int rc = cio_queue_put(readings, copy);
    if (rc < 0)
        free(copy);
    return rc;
}

/* ---- the collector ----------------------------------------------------------- */

static int parse(const char *text, size_t len, struct reading *r)
{
    char buf[64];
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, text, len);
    buf[len] = 0;
    return sscanf(buf, "dev-%d temp=%lf", &r->device, &r->value) == 2 ? 0 : -1;
}

static int udp_receiver(void *arg, void **result)
{
    (void)result;
    cio_datagram *ep = arg;
    char buf[128];
    for (;;) {
        int n = cio_datagram_recvfrom(ep, buf, sizeof buf, NULL, NULL);
        if (n < 0)
            return n == -EBADF || n == -ECANCELED ? 0 : n; /* endpoint closed */
        struct reading r = {.tcp = 0};
        if (parse(buf, (size_t)n, &r) == 0)
            put_reading(&r);
    }
}

static int tcp_device_conn(cio_stream *s, void *arg)
{
    (void)arg;
    char line[128];
    int n;
    while ((n = cio_stream_readline(s, line, sizeof line)) > 0) {
        struct reading r = {.tcp = 1};
        if (parse(line, (size_t)n, &r) == 0)
            put_reading(&r);
    }
    return 0;
}

struct stats {
    int count;
    double sum, max;
};

static struct stats stats[UDP_DEVICES + TCP_DEVICES];
static int total_udp, total_tcp, alerts;

static int processor(void *arg, void **result)
{
    (void)arg;
    (void)result;
    void *item;
    int rc;
    while ((rc = cio_queue_get(readings, &item)) == 0) {
        struct reading r = *(struct reading *)item;
        free(item);
        if (r.device < 0 || r.device >= UDP_DEVICES + TCP_DEVICES)
            continue;
        struct stats *st = &stats[r.device];
        st->count++;
        st->sum += r.value;
        if (r.value > st->max)
            st->max = r.value;
        if (r.tcp)
            total_tcp++;
        else
            total_udp++;
        if (r.value > 30.0 && alerts++ < 5)
            printf("alert: dev-%d reports %.1f degrees\n", r.device, r.value);
    }
    return rc == CIO_ESHUTDOWN ? 0 : rc; /* shut down and drained: done */
}

/* ---- the devices ---------------------------------------------------------------- */

static int collector_udp_port, collector_tcp_port;

static double temperature(int device, int i)
{
    return 18.0 + device % 7 + (i % 5) * 0.5 + (device == 13 && i > 20 ? 12.0 : 0.0);
}

static int udp_device(void *arg, void **result)
{
    (void)result;
    int dev = (int)(intptr_t)arg;
    cio_datagram *ep;
    int rc = cio_datagram_open(NULL, 0, "127.0.0.1", collector_udp_port, 0, &ep);
    if (rc < 0)
        return rc;
    for (int i = 0; i < READINGS && rc >= 0; i++) {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "dev-%d temp=%.1f", dev, temperature(dev, i));
        rc = cio_datagram_send(ep, msg, (size_t)n);
        if (rc >= 0)
            rc = cio_sleep(0.002);
    }
    cio_datagram_free(ep);
    return rc < 0 ? rc : 0;
}

static int tcp_device(void *arg, void **result)
{
    (void)result;
    int dev = (int)(intptr_t)arg;
    cio_stream *s;
    int rc = cio_open_connection("127.0.0.1", collector_tcp_port, NULL, &s);
    if (rc < 0)
        return rc;
    for (int i = 0; i < READINGS && rc >= 0; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "dev-%d temp=%.1f\n", dev, temperature(dev, i));
        rc = cio_stream_write(s, line, (size_t)n);
        if (rc >= 0)
            rc = cio_sleep(0.002);
    }
    cio_stream_close(s);
    cio_stream_wait_closed(s);
    cio_stream_unref(s);
    return rc < 0 ? rc : 0;
}

static int amain(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_datagram *ep;
    int rc = cio_queue_new(NULL, 256, &readings);
    if (rc < 0)
        return rc;
    if ((rc = cio_datagram_open("127.0.0.1", 0, NULL, 0, 0, &ep)) < 0)
        return rc;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    cio_datagram_sockname(ep, (struct sockaddr *)&ss, &sl);
    char where[64];
    cio_sockaddr_format((struct sockaddr *)&ss, sl, where, sizeof where);
    collector_udp_port = atoi(strrchr(where, ':') + 1);
    cio_server *srv;
    if ((rc = cio_start_server(tcp_device_conn, NULL, "127.0.0.1", 0, NULL, &srv)) < 0)
        return rc;
    collector_tcp_port = cio_server_port(srv);
    printf("collector: UDP %s, TCP port %d\n", where, collector_tcp_port);

    cio_task *rx, *proc, *devs[UDP_DEVICES + TCP_DEVICES];
    cio_create_task(udp_receiver, ep, "udp-rx", &rx);
    cio_create_task(processor, NULL, "processor", &proc);
    for (int d = 0; d < UDP_DEVICES; d++)
        cio_create_task(udp_device, (void *)(intptr_t)d, NULL, &devs[d]);
    for (int d = UDP_DEVICES; d < UDP_DEVICES + TCP_DEVICES; d++)
        cio_create_task(tcp_device, (void *)(intptr_t)d, NULL, &devs[d]);
    int failed = 0;
    for (int d = 0; d < UDP_DEVICES + TCP_DEVICES; d++) {
        if (cio_task_await(devs[d], NULL) < 0)
            failed++;
        cio_task_unref(devs[d]);
    }
    /* Let the last datagrams and lines land, then stop the inputs. */
    cio_server_close(srv);
    cio_server_wait_closed(srv);
    cio_server_free(srv);
    cio_sleep(0.05);
    cio_datagram_free(ep);
    cio_task_await(rx, NULL);
    cio_task_unref(rx);
    cio_queue_shutdown(readings, 0); /* the processor drains what is left */
    cio_task_await(proc, NULL);
    cio_task_unref(proc);
    cio_queue_free(readings);

    int hottest = 0;
    for (int d = 0; d < UDP_DEVICES + TCP_DEVICES; d++)
        if (stats[d].max > stats[hottest].max)
            hottest = d;
    printf("%d readings over UDP, %d over TCP, %d alerts; hottest dev-%d "
           "(max %.1f, mean %.2f); %d device(s) failed\n",
           total_udp, total_tcp, alerts, hottest, stats[hottest].max,
           stats[hottest].count ? stats[hottest].sum / stats[hottest].count : 0.0, failed);
    int expected_tcp = TCP_DEVICES * READINGS;
    /* TCP delivers everything; UDP on loopback almost always does. */
    return failed || total_tcp != expected_tcp || total_udp < UDP_DEVICES * READINGS * 9 / 10
               ? -EIO : 0;
}

int main(void)
{
    return cio_run(amain, NULL, NULL) == 0 ? 0 : 1;
}
