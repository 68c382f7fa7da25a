#!/usr/bin/env bash
# Regenerates the README's pictures of the canvas (docs/canvas-*.png) from the page in headless Chromium on the tiny
# model: runs tests/Redraft.Canvas.Tests/ScreenshotTests.cs with REDRAFT_SCREENSHOTS_DIR pointing at docs/.
# Needs ../shared/data (tokenizer, TAESD) and Debian's chromium, as the browser tests do.
set -euo pipefail
cd "$(dirname "$0")/.."
REDRAFT_SCREENSHOTS_DIR="$PWD/docs" dotnet test tests/Redraft.Canvas.Tests --filter "FullyQualifiedName~ScreenshotTests"
ls -l docs/canvas-*.png
