#!/usr/bin/env python3
"""A third-party MCP server (official Python SDK 2.x, low-level API) that
floods its client, for the host's bounds tests: a `tools/list` as large or as
long as asked, `list_changed` notifications without pause, and stderr.

    python flooding_server.py [--per-page N] [--pages P|endless] [--cursor fresh|repeat]
                              [--description-bytes B] [--same-names] [--list-log FILE]
                              [--flood-list-changed] [--first-list-delay S]
                              [--stderr-file FILE] [--stderr-flood N]

Listing:
- `--per-page N`          tools on each page (default 10).
- `--pages P`             pages in all (default 1); `endless`: every page names a next one.
- `--cursor repeat`       every page names the same next cursor, `again`.
- `--description-bytes B` each tool's description is B bytes long.
- `--same-names`          every page repeats the same names (cheap huge pages).
- `--list-log FILE`       append one line per `tools/list` request received (its cursor).
Flooding:
- `--flood-list-changed`  from the first `tools/list` on, send
                          `notifications/tools/list_changed` without pause, forever.
- `--first-list-delay S`  answer the first `tools/list` only after S seconds.
- `--stderr-file FILE`    at start, copy FILE to stderr (a key, a long line with a token…).
- `--stderr-flood N`      then write N lines to stderr as fast as it can, and after
                          two seconds one line more, `flood over`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.stdio import stdio_server

parser = argparse.ArgumentParser()
parser.add_argument("--per-page", type=int, default=10)
parser.add_argument("--pages", default="1")
parser.add_argument("--cursor", choices=["fresh", "repeat"], default="fresh")
parser.add_argument("--description-bytes", type=int, default=0)
parser.add_argument("--same-names", action="store_true")
parser.add_argument("--list-log")
parser.add_argument("--flood-list-changed", action="store_true")
parser.add_argument("--first-list-delay", type=float, default=0.0)
parser.add_argument("--stderr-file")
parser.add_argument("--stderr-flood", type=int, default=0)
options = parser.parse_args()

endless = options.pages == "endless"
page_count = 0 if endless else int(options.pages)
description = "d" * options.description_bytes if options.description_bytes else "A tool."
pages: dict[str, list[types.Tool]] = {}
flooding: list[asyncio.Task[Any]] = []
lists_answered = [0]


def tools_of(page: int) -> list[types.Tool]:
    key = "same" if options.same_names else str(page)
    if key not in pages:
        prefix = "t" if options.same_names else f"p{page}_t"
        pages[key] = [
            types.Tool(name=f"{prefix}{i}", description=description, input_schema={"type": "object"})
            for i in range(options.per_page)
        ]
    return pages[key]


async def flood_list_changed(session: Any) -> None:
    while True:
        await session.send_tool_list_changed()


async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    cursor = params.cursor if params is not None else None
    if options.list_log:
        with open(options.list_log, "a", encoding="utf-8") as log:
            log.write(f"{cursor}\n")
    if options.flood_list_changed and not flooding:
        flooding.append(asyncio.ensure_future(flood_list_changed(ctx.session)))
    if lists_answered[0] == 0 and options.first_list_delay:
        await anyio.sleep(options.first_list_delay)
    lists_answered[0] += 1
    page = 0 if cursor in (None, "again") else int(cursor)
    if endless or page + 1 < page_count:
        next_cursor: str | None = "again" if options.cursor == "repeat" else str(page + 1)
    else:
        next_cursor = None
    return types.ListToolsResult(tools=tools_of(page), next_cursor=next_cursor)


async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=params.name)])


def write_stderr() -> None:
    err = sys.stderr
    if options.stderr_file:
        with open(options.stderr_file, encoding="utf-8") as f:
            err.write(f.read())
        err.flush()
    for i in range(options.stderr_flood):
        err.write(f"flood line {i}\n")
    err.flush()
    if options.stderr_flood:
        time.sleep(2)
        err.write("flood over\n")
        err.flush()


server = Server("flooding-peer", on_list_tools=list_tools, on_call_tool=call_tool)


async def main() -> None:
    threading.Thread(target=write_stderr, daemon=True).start()
    async with stdio_server() as (read, write):
        await server.run(
            read, write, server.create_initialization_options(NotificationOptions(tools_changed=True))
        )


if __name__ == "__main__":
    anyio.run(main)
