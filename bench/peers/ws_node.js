// ws_node.js PORT - node's `ws` peer of bench-ws: echo on /echo, fan-out
// of each message to every /bcast connection; compression off.
'use strict';
const WebSocket = require('ws');
const wss = new WebSocket.Server({ host: '127.0.0.1', port: Number(process.argv[2]), perMessageDeflate: false });
const bcast = new Set();
wss.on('connection', (ws, req) => {
    if (req.url === '/bcast') {
        bcast.add(ws);
        ws.on('close', () => bcast.delete(ws));
        ws.on('message', (d, bin) => { for (const c of bcast) c.send(d, { binary: bin }); });
    } else {
        ws.on('message', (d, bin) => ws.send(d, { binary: bin }));
    }
});
