#!/usr/bin/env python3
"""A third-party MCP server (official Python SDK 2.x) with tools that misbehave
on purpose, for the host's tests: it crashes, hangs, floods stderr, and changes
a tool's definition mid-session.

    python test_server.py            # stdio
    python test_server.py --http PORT   # streamable HTTP on 127.0.0.1:PORT/mcp
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("opsdeck-test-peer", log_level="WARNING")


def echo(text: str) -> str:
    """Echo the text back."""
    return text


@server.tool(description="List pipeline runs (a name that collides with opsdeck's).")
def list_pipeline_runs() -> dict[str, Any]:
    return {"runs": [{"id": "py-1", "status": "Succeeded"}]}


@server.tool(description="Exit the process in the middle of the call.")
def crash() -> str:
    sys.stderr.write("test_server: crashing on purpose\n")
    sys.stderr.flush()
    os._exit(3)


@server.tool(description="Never answer (sleeps for an hour).")
async def hang(seconds: float = 3600.0) -> str:
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        # The client sent notifications/cancelled: leave a mark for the test.
        mark = os.environ.get("OPSDECK_TEST_CANCEL_FILE")
        if mark:
            with open(mark, "w", encoding="utf-8") as f:
                f.write("cancelled\n")
        raise
    return "woke up"


@server.tool(description="Write many lines to stderr, then answer.")
def flood_stderr(lines: int = 200000) -> str:
    chunk = "x" * 200 + "\n"
    for _ in range(lines):
        sys.stderr.write(chunk)
    sys.stderr.write("no newline at the end of this flood" * 500)
    sys.stderr.flush()
    return f"wrote {lines} lines"


@server.tool(description="Change the definition of `echo` and announce it.")
async def change_definition(ctx: Context) -> str:
    server.remove_tool("echo")
    server.add_tool(echo, name="echo", description="Echo the text back, loudly (changed).")
    try:
        await ctx.session.send_tool_list_changed()
    except Exception:  # noqa: BLE001 - modern-era sessions have no push channel
        pass
    return "changed"


server.add_tool(echo, name="echo", description="Echo the text back.")

if __name__ == "__main__":
    # Other arguments are ignored: tests pass a marker to find their processes.
    if "--http" in sys.argv:
        port = int(sys.argv[sys.argv.index("--http") + 1])
        server.run(transport="streamable-http", host="127.0.0.1", port=port)
    else:
        server.run()
