#!/bin/sh
# Runs browser.test.mjs: installs playwright-core (once, cached in the build folder) and uses
# Debian's chromium. Environment: FG_BUILD_DIR, FRAMESERVER, FRAMEGATE (set by meson).
set -eu
: "${FG_BUILD_DIR:?}"
here=$(cd "$(dirname "$0")" && pwd)
# playwright-core from 1.62 needs Node 20; Debian 12's own nodejs is 18, for which 1.61.1 is the
# newest. Both drive Debian's chromium over CDP. PLAYWRIGHT_VERSION overrides the choice.
if [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]; then
    PLAYWRIGHT_VERSION=${PLAYWRIGHT_VERSION:-1.65.1}
else
    PLAYWRIGHT_VERSION=${PLAYWRIGHT_VERSION:-1.61.1}
fi
export FG_NPM_WEB="$FG_BUILD_DIR/npm-web"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$CHROMIUM" ]; then
    echo "run-browser-test: $CHROMIUM not found (apt-get install -y chromium, or scripts/deps.sh)" >&2
    exit 1
fi
installed=$(node -p "require('$FG_NPM_WEB/node_modules/playwright-core/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$PLAYWRIGHT_VERSION" ]; then
    mkdir -p "$FG_NPM_WEB"
    npm install --prefix "$FG_NPM_WEB" --no-audit --no-fund --no-save --loglevel=error \
        "playwright-core@$PLAYWRIGHT_VERSION" >&2
fi
# playwright-core must not try to download browsers of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
exec node --test --test-reporter=spec "$here/browser.test.mjs"
