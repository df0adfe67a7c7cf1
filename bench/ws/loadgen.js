// loadgen.js PORT MODE CONNS INFLIGHT SECONDS - bench-ws's load generator
// (node's ws client).  MODE echo: CONNS connections to /echo, each keeping
// INFLIGHT 32-byte messages in flight; MODE bcast: CONNS connections to
// /bcast, one of them sends a message whenever the previous one reached
// every connection.  Prints "measuring" once connected (drive.py samples
// the server's CPU there), then one JSON line {"msgs": N, "seconds": S,
// "cpu_s": C} (messages received; the generator's own CPU).  No longer the
// default: bench/ws/loadgen.c is (BENCH_WS_LOADGEN=node picks this one).
'use strict';
const WebSocket = require('ws');
const [port, mode, conns, inflight, seconds] = process.argv.slice(2).map((x, i) => i === 1 ? x : Number(x));
const url = `ws://127.0.0.1:${port}/${mode === 'bcast' ? 'bcast' : 'echo'}`;
const payload = Buffer.alloc(32, 0x61);
let msgs = 0, running = false, pending = 0;
const socks = [];

function open() {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(url, { perMessageDeflate: false });
        ws.on('open', () => resolve(ws));
        ws.on('error', reject);
    });
}

(async () => {
    for (let i = 0; i < conns; i++) socks.push(await open());
    console.log('measuring');
    const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
    running = true;
    if (mode === 'bcast') {
        for (const ws of socks) ws.on('message', () => {
            msgs++;
            if (--pending === 0 && running) { pending = conns; socks[0].send(payload); }
        });
        pending = conns;
        socks[0].send(payload);
    } else {
        for (const ws of socks) {
            ws.on('message', (d) => { msgs++; if (running) ws.send(d); });
            for (let k = 0; k < inflight; k++) ws.send(payload);
        }
    }
    setTimeout(() => {
        running = false;
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        const c = process.cpuUsage(c0);
        console.log(JSON.stringify({ msgs, seconds: s, cpu_s: (c.user + c.system) / 1e6 }));
        process.exit(0);
    }, seconds * 1000);
})().catch((e) => { console.error(e); process.exit(1); });
