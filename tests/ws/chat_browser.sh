#!/bin/sh
# chat_browser.sh CHAT_BINARY NODE_DIR - the chat example in a real browser:
# headless Chromium (Debian chromium) driven by Playwright (playwright-core
# from npm, installed into NODE_DIR by node_setup.sh).  Exit 77 (skipped)
# when chromium, node or npm is not available.
here=$(cd "$(dirname "$0")" && pwd)
chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || { echo "chat_browser: no chromium (Debian package chromium)"; exit 77; }
sh "$here/node_setup.sh" "$2" playwright-core || exit $?
NODE_PATH="$2/node_modules" CHROMIUM="$chromium" exec node "$here/chat_browser.js" "$1"
