// interop.js - node's `ws` (npm) as a peer of cio's WebSocket code, for
// tests/test_ws_interop.c (NODE_PATH points at the managed node_modules).
//   node interop.js server         echo server; prints its port first
//   node interop.js client PORT    checks cio's echo server
// Exit 0 when every check passed.
'use strict';
const WebSocket = require('ws');
const assert = require('assert');

function server() {
    const wss = new WebSocket.Server({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
    wss.on('listening', () => console.log(wss.address().port));
    wss.on('connection', (ws) => {
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    setTimeout(() => process.exit(0), 60000);
}

function open(url, comp) {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(url, ['chat'], { perMessageDeflate: comp, maxPayload: 1 << 22 });
        const queue = [], waiters = [];
        ws.on('message', (data, isBinary) => {
            const m = isBinary ? data : data.toString('utf8');
            if (waiters.length) waiters.shift()(m); else queue.push(m);
        });
        ws.recv = () => queue.length ? Promise.resolve(queue.shift())
                                     : new Promise((r) => waiters.push(r));
        ws.on('open', () => resolve(ws));
        ws.on('error', reject);
    });
}

async function roundtrip(ws, m) {
    ws.send(m);
    const r = await ws.recv();
    assert.deepStrictEqual(r, m);
}

async function client(port) {
    for (const comp of [true, false]) {
        const ws = await open(`ws://127.0.0.1:${port}/echo`, comp);
        // CIO_WS_DEFLATE=0: cio was built without zlib and never compresses.
        assert.strictEqual(ws.extensions.includes('permessage-deflate'),
                           comp && process.env.CIO_WS_DEFLATE !== '0', ws.extensions);
        assert.strictEqual(ws.protocol, 'chat');
        for (const m of ['hello', 'κόσμε'.repeat(1000), Buffer.alloc(80000, 0xab), '', Buffer.alloc(0)])
            await roundtrip(ws, m);
        ws.send('frag', { fin: false });           // fragmented
        ws.send('men', { fin: false });
        ws.send('ted', { fin: true });
        assert.strictEqual(await ws.recv(), 'fragmented');
        await new Promise((resolve) => { ws.once('pong', resolve); ws.ping('x'); });
        await new Promise((resolve) => { ws.once('close', (code) => { assert.strictEqual(code, 1000); resolve(); }); ws.close(1000); });
        const wf = await open(`ws://127.0.0.1:${port}/frag`, comp);
        await roundtrip(wf, 'y'.repeat(5000));
        await roundtrip(wf, Buffer.alloc(5001, 1));
        wf.close(4000, 'done');
    }
    console.log('node ws client: ok');
    process.exit(0);
}

if (process.argv[2] === 'server') server();
else client(Number(process.argv[3])).catch((e) => { console.error(e); process.exit(1); });
