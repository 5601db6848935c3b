#!/usr/bin/env python3
"""A third-party MCP server (official Python SDK 2.x) that shows what it was
given: the tool `environment` returns its whole environment, and with
`--dump FILE` it writes the environment to FILE as JSON at startup, so a test
can check a server started by `opsdeck ask` without a model to call the tool.

    python env_dump_server.py [--dump FILE]
"""

from __future__ import annotations

import json
import os
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("env-dump-peer", log_level="WARNING")


@server.tool(description="Return this process's environment variables.")
def environment() -> dict[str, str]:
    return dict(os.environ)


if __name__ == "__main__":
    if "--dump" in sys.argv:
        path = sys.argv[sys.argv.index("--dump") + 1]
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(dict(os.environ), f)
        os.replace(path + ".tmp", path)
    server.run()
