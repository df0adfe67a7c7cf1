// chat_browser.js CHAT_BINARY - three Chromium pages use the chat: they
// join, a message typed in one appears in all three, a fourth page that
// joins later gets the history, and a page that closes is announced to
// the others.  Exit 0 on success.
'use strict';
const { spawn } = require('child_process');
const { chromium } = require('playwright-core');

function startChat(bin) {
    return new Promise((resolve, reject) => {
        const p = spawn(bin, ['0'], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        p.stdout.on('data', (d) => {
            out += d;
            const m = out.match(/http:\/\/localhost:(\d+)\//);
            if (m) resolve({ proc: p, url: `http://127.0.0.1:${m[1]}/` });
        });
        p.on('exit', (code) => reject(new Error(`chat exited with ${code}`)));
    });
}

async function join(browser, url, nick) {
    const page = await browser.newPage();
    await page.goto(url);
    await page.fill('#nick', nick);
    await page.click('#join');
    await page.waitForSelector('#text', { state: 'visible' });
    return page;
}

const logHas = (page, text) =>
    page.waitForFunction((t) => document.getElementById('log').textContent.includes(t), text,
                         { timeout: 10000 });

(async () => {
    const chat = await startChat(process.argv[2]);
    const browser = await chromium.launch({
        executablePath: process.env.CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    try {
        const alice = await join(browser, chat.url, 'alice');
        const bob = await join(browser, chat.url, 'bob');
        const carol = await join(browser, chat.url, 'carol');
        for (const p of [alice, bob, carol]) await logHas(p, 'carol joined');

        await alice.fill('#text', 'hello from alice \u{1F600}');
        await alice.press('#text', 'Enter');
        for (const p of [alice, bob, carol]) await logHas(p, 'alice:hello from alice \u{1F600}');
        await carol.fill('#text', 'hi <b>all</b>');
        await carol.click('#send');
        for (const p of [alice, bob, carol]) await logHas(p, 'carol:hi <b>all</b>');

        const dave = await join(browser, chat.url, 'dave');
        await logHas(dave, 'alice:hello from alice');   // the history
        await logHas(dave, 'carol:hi <b>all</b>');

        await bob.close();
        for (const p of [alice, carol, dave]) await logHas(p, 'bob left');
        console.log('chat in chromium: 4 pages joined, messages fanned out, history, leave announced');
    } finally {
        await browser.close();
        chat.proc.kill();
    }
    process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
