#!/usr/bin/env python3
"""A stdio "MCP server" that never gets anywhere, for the host's no-hang tests.
Standard library only; it speaks raw JSON-RPC lines when it speaks at all.

    python silent_server.py MARKER [--mode silent|no-tools] [--ignore-term] [--grandchild]

- `silent`   (default) reads every line and never answers, not even `initialize`.
- `no-tools` answers `initialize`, then never answers `tools/list`.
- `--ignore-term` ignores SIGTERM and stdin's end, so only SIGKILL stops it.
- `--grandchild` starts a sleeping Python with MARKER in its arguments, as a wrapper
  (npx, uvx, a shell) would, to prove the host stops the whole process group.

MARKER is only there for the test to find its processes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time


def main() -> None:
    marker = sys.argv[1] if len(sys.argv) > 1 else "silent"
    mode = sys.argv[sys.argv.index("--mode") + 1] if "--mode" in sys.argv else "silent"
    if "--ignore-term" in sys.argv:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if "--grandchild" in sys.argv:
        subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(3600)", f"{marker}-grandchild"]
        )
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if mode == "no-tools" and message.get("method") == "initialize":
            answer = {
                "jsonrpc": "2.0",
                "id": message.get("id"),
                "result": {
                    "protocolVersion": message.get("params", {}).get("protocolVersion", "2025-06-18"),
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "silent-peer", "version": "0"},
                },
            }
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    # stdin is closed: a well-behaved server would exit now.
    if "--ignore-term" in sys.argv:
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
