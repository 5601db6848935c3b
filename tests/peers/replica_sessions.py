#!/usr/bin/env python3
"""Many full MCP sessions (official Python SDK 2.x) through one URL, noting which
replica answered each HTTP request (the `opsdeck-replica` response header) and
which server the load balancer picked (`--server-header NAME`, set by haproxy).

Usage:

    python replica_sessions.py --url URL [--header 'Name: value']... [--call TOOL JSON_ARGS]...
                               [--sessions N] [--concurrency C] [--timeout SECONDS]
                               [--mode auto|legacy|2026-07-28] [--server-header NAME]

Each session connects, lists every tool and makes the calls in order; sessions run
C at a time. A session that fails is recorded with its error and does not stop the
others. After each session one line `session N ok|failed` goes to stderr (tests wait
on it). At the end ONE JSON object goes to stdout:

    {"sessions": [{"index", "ok", "error", "seconds",
                   "exchanges": [{"method", "status", "replica", "server"}],
                   "calls": [{"tool", "is_error", "structured", "text", "replica", "server"}]}]}

Every session has its own deadline (--timeout); the whole run is killed hard
shortly after sessions x timeout if cleanup wedges. Exit 0 unless the arguments
are bad (64) or the whole run timed out (2).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any

EXIT_TIMEOUT = 2
EXIT_USAGE = 64


def parse_args(argv: list[str]) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "url": None,
        "headers": {},
        "calls": [],
        "sessions": 1,
        "concurrency": 1,
        "timeout": 20.0,
        "mode": "auto",
        "server_header": None,
    }
    i = 0
    while i < len(argv):
        arg = argv[i]
        rest = argv[i + 1 :]
        if arg == "--url" and rest:
            opts["url"] = rest[0]
            i += 2
        elif arg == "--header" and rest:
            name, sep, value = rest[0].partition(":")
            if not sep or not name.strip():
                raise ValueError(f"--header wants 'Name: value', got {rest[0]!r}")
            opts["headers"][name.strip()] = value.strip()
            i += 2
        elif arg == "--call" and len(rest) >= 2:
            args = json.loads(rest[1])
            if not isinstance(args, dict):
                raise ValueError(f"--call {rest[0]}: arguments must be a JSON object")
            opts["calls"].append((rest[0], args))
            i += 3
        elif arg in ("--sessions", "--concurrency") and rest:
            value = int(rest[0])
            if not 1 <= value <= 10_000:
                raise ValueError(f"{arg} must be 1..10000")
            opts[arg[2:]] = value
            i += 2
        elif arg == "--timeout" and rest:
            opts["timeout"] = float(rest[0])
            if not 0 < opts["timeout"] <= 600:
                raise ValueError("--timeout must be in (0, 600]")
            i += 2
        elif arg == "--mode" and rest:
            opts["mode"] = rest[0]
            i += 2
        elif arg == "--server-header" and rest:
            opts["server_header"] = rest[0].lower()
            i += 2
        else:
            raise ValueError(f"unknown or incomplete argument {arg!r}")
    if not opts["url"]:
        raise ValueError("--url is required")
    return opts


def _dump(model: Any) -> Any:
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc or repr(exc)}"


async def one_session(opts: dict[str, Any], index: int) -> dict[str, Any]:
    import anyio
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    exchanges: list[dict[str, Any]] = []

    async def note(response: Any) -> None:
        method = None
        try:
            body = json.loads(response.request.content or b"null")
            if isinstance(body, dict):
                method = body.get("method")
        except (ValueError, RuntimeError):
            pass
        exchanges.append(
            {
                "method": method,
                "http": response.request.method,
                "status": response.status_code,
                "replica": response.headers.get("opsdeck-replica"),
                "server": response.headers.get(opts["server_header"]) if opts["server_header"] else None,
            }
        )

    record: dict[str, Any] = {"index": index, "ok": False, "error": None, "exchanges": exchanges, "calls": []}
    started = time.perf_counter()
    try:
        with anyio.fail_after(opts["timeout"]):
            async with httpx2.AsyncClient(
                headers=opts["headers"],
                timeout=httpx2.Timeout(opts["timeout"]),
                event_hooks={"response": [note]},
            ) as http:
                async with Client(
                    streamable_http_client(opts["url"], http_client=http),
                    mode=opts["mode"],
                    read_timeout_seconds=opts["timeout"],
                    cache=None,
                ) as client:
                    cursor = None
                    for _ in range(100):
                        page = await client.list_tools(cursor=cursor)
                        cursor = page.next_cursor
                        if not cursor:
                            break
                    for tool, args in opts["calls"]:
                        result = _dump(await client.call_tool(tool, args))
                        last = next((e for e in reversed(exchanges) if e["method"] == "tools/call"), {})
                        record["calls"].append(
                            {
                                "tool": tool,
                                "is_error": bool(result.get("isError", False)),
                                "structured": result.get("structuredContent"),
                                "text": [b.get("text", "") for b in result.get("content") or [] if b.get("type") == "text"],
                                "replica": last.get("replica"),
                                "server": last.get("server"),
                            }
                        )
        record["ok"] = True
    except BaseException as e:  # noqa: BLE001 - one failed session is data, not the end
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        record["error"] = "timed out" if isinstance(e, TimeoutError) else _describe(e)
    record["seconds"] = round(time.perf_counter() - started, 3)
    sys.stderr.write(f"session {index} {'ok' if record['ok'] else 'failed'}\n")
    sys.stderr.flush()
    return record


async def run(opts: dict[str, Any]) -> dict[str, Any]:
    import anyio

    results: list[dict[str, Any]] = []
    limiter = anyio.Semaphore(opts["concurrency"])

    async def guarded(index: int) -> None:
        async with limiter:
            results.append(await one_session(opts, index))

    async with anyio.create_task_group() as group:
        for index in range(opts["sessions"]):
            group.start_soon(guarded, index)
    results.sort(key=lambda r: r["index"])
    return {"sessions": results}


def main(argv: list[str]) -> int:
    try:
        opts = parse_args(argv)
    except (ValueError, json.JSONDecodeError) as e:
        sys.stderr.write(f"replica_sessions: {e}\n")
        return EXIT_USAGE

    import anyio

    # Backstop: every session has its own deadline; this catches a wedged cleanup.
    waves = -(-opts["sessions"] // opts["concurrency"])
    budget = int(waves * opts["timeout"]) + 15

    def _hard_timeout(_signum: int, _frame: Any) -> None:
        sys.stderr.write(f"replica_sessions: hard timeout after {budget}s\n")
        sys.stderr.flush()
        os._exit(EXIT_TIMEOUT)

    signal.signal(signal.SIGALRM, _hard_timeout)
    signal.alarm(budget)
    try:
        result = anyio.run(run, opts)
    finally:
        signal.alarm(0)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
