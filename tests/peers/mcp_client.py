#!/usr/bin/env python3
"""Interop MCP client built on the official Python SDK, 1.x or 2.x.

Usage (all options go BEFORE the `--` that starts the server command):

    python mcp_client.py [options] --stdio -- CMD [ARGS...]
    python mcp_client.py [options] --http URL

Options:
    --header 'Name: value'   extra HTTP header (repeatable; --http only)
    --call TOOL JSON_ARGS    call TOOL with a JSON object of arguments (repeatable, in order)
    --ping                   send `ping` after listing tools
    --timeout SECONDS        overall deadline (default 30); on expiry exit 2
    --mode auto|legacy|2026-07-28
                             2.x only: how the SDK connects. `auto` (SDK default) probes
                             `server/discover` at 2026-07-28 and falls back to `initialize`;
                             `legacy` goes straight to `initialize`. 1.x always uses `initialize`.

It connects, negotiates, lists tools (every page), optionally pings, performs the calls
in order and prints ONE JSON object on stdout:

    {"sdk_version", "protocol_version", "server_name", "server_version", "era",
     "tools": [{"name", "annotations", "has_output_schema", "input_schema"}],
     "ping": {"ok": true, "ms": float} | null,
     "calls": [{"tool", "is_error", "structured", "text", "error"}]}

A tool call answered with a JSON-RPC error is recorded (is_error=true, error={code, message,
data}) and does not fail the run. Anything else that goes wrong (spawn/connect failure,
negotiation failure, a failed ping, transport error, invalid result, timeout) prints the
error on stderr and exits non-zero (1, or 2 for the timeout). The server's own stderr is
passed through to ours.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from importlib.metadata import version as _dist_version
from typing import Any

EXIT_FAILURE = 1
EXIT_TIMEOUT = 2
EXIT_USAGE = 64

SDK_VERSION = _dist_version("mcp")
SDK_MAJOR = int(SDK_VERSION.split(".", 1)[0])

_USAGE = (
    "usage: mcp_client.py [--header 'Name: value']... [--call TOOL JSON_ARGS]... [--ping]\n"
    "                     [--timeout SECONDS] [--mode auto|legacy|2026-07-28]\n"
    "                     (--stdio -- CMD [ARGS...] | --http URL)\n"
)


class UsageError(Exception):
    pass


def parse_args(argv: list[str]) -> dict[str, Any]:
    """Hand-rolled because everything after `--` is the server command, verbatim."""
    opts: dict[str, Any] = {
        "stdio": None,
        "http": None,
        "headers": {},
        "calls": [],
        "ping": False,
        "timeout": 30.0,
        "mode": "auto",
    }
    stdio_flag = False
    i = 0
    while i < len(argv):
        arg = argv[i]

        def need(n: int) -> list[str]:
            if i + n >= len(argv):
                raise UsageError(f"{arg} needs {n} argument(s)")
            return argv[i + 1 : i + 1 + n]

        if arg == "--":
            opts["stdio"] = argv[i + 1 :]
            break
        if arg == "--stdio":
            stdio_flag = True
            i += 1
        elif arg == "--http":
            (opts["http"],) = need(1)
            i += 2
        elif arg == "--header":
            (raw,) = need(1)
            name, sep, value = raw.partition(":")
            if not sep or not name.strip():
                raise UsageError(f"--header wants 'Name: value', got {raw!r}")
            opts["headers"][name.strip()] = value.strip()
            i += 2
        elif arg == "--call":
            tool, raw_args = need(2)
            try:
                call_args = json.loads(raw_args)
            except json.JSONDecodeError as e:
                raise UsageError(f"--call {tool}: JSON_ARGS is not JSON: {e}") from None
            if not isinstance(call_args, dict):
                raise UsageError(f"--call {tool}: JSON_ARGS must be a JSON object")
            opts["calls"].append((tool, call_args))
            i += 3
        elif arg == "--ping":
            opts["ping"] = True
            i += 1
        elif arg == "--timeout":
            (raw,) = need(1)
            try:
                opts["timeout"] = float(raw)
            except ValueError:
                raise UsageError(f"--timeout wants a number, got {raw!r}") from None
            i += 2
        elif arg == "--mode":
            (opts["mode"],) = need(1)
            i += 2
        elif arg in ("-h", "--help"):
            sys.stdout.write(_USAGE)
            sys.exit(0)
        elif stdio_flag and not arg.startswith("-"):
            raise UsageError(f"--stdio: put `--` before the server command ({arg!r} ...)")
        else:
            raise UsageError(f"unknown argument {arg!r} (options go before `--`)")

    if stdio_flag != (opts["stdio"] is not None):
        raise UsageError("--stdio must be followed (after other options) by `-- CMD [ARGS...]`")
    if stdio_flag and not opts["stdio"]:
        raise UsageError("--stdio: empty server command after `--`")
    if (opts["stdio"] is None) == (opts["http"] is None):
        raise UsageError("give exactly one of --stdio -- CMD... or --http URL")
    if opts["headers"] and opts["http"] is None:
        raise UsageError("--header only applies to --http")
    if SDK_MAJOR < 2 and opts["mode"] not in ("auto", "legacy"):
        raise UsageError(f"--mode {opts['mode']!r} needs mcp 2.x (installed: {SDK_VERSION})")
    return opts


# ----------------------------------------------------------------------------- helpers


def _dump(model: Any) -> Any:
    """Pydantic model -> wire-shaped (camelCase) JSON data, on both SDK majors."""
    if model is None:
        return None
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


def tool_entry(tool: Any) -> dict[str, Any]:
    wire = _dump(tool)
    return {
        "name": wire["name"],
        "annotations": wire.get("annotations"),
        "has_output_schema": wire.get("outputSchema") is not None,
        "input_schema": wire.get("inputSchema"),
    }


def call_entry(tool: str, result: Any) -> dict[str, Any]:
    wire = _dump(result)
    content = wire.get("content") or []
    return {
        "tool": tool,
        "is_error": bool(wire.get("isError", False)),
        "structured": wire.get("structuredContent"),
        "text": [block.get("text", "") for block in content if block.get("type") == "text"],
        "content_types": [block.get("type") for block in content],
        "error": None,
    }


def call_error_entry(tool: str, err: Any) -> dict[str, Any]:
    data = getattr(err, "error", None)  # ErrorData on both majors
    return {
        "tool": tool,
        "is_error": True,
        "structured": None,
        "text": [],
        "content_types": [],
        "error": {
            "code": getattr(data, "code", None),
            "message": getattr(data, "message", str(err)),
            "data": getattr(data, "data", None),
        },
    }


def _mcp_error_types() -> tuple[type[BaseException], ...]:
    from mcp.shared import exceptions as exc_mod

    found = tuple(
        t for t in (getattr(exc_mod, "MCPError", None), getattr(exc_mod, "McpError", None)) if isinstance(t, type)
    )
    return found or (Exception,)


def _stdio_params(command: list[str]) -> Any:
    from mcp import StdioServerParameters

    # Pass the full environment through (the SDK default is a small allowlist), so
    # the server under test sees RUST_LOG, config paths, etc.
    return StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))


# ----------------------------------------------------------------------------- 2.x


async def run_v2(opts: dict[str, Any]) -> dict[str, Any]:
    from contextlib import AsyncExitStack

    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    mcp_errors = _mcp_error_types()
    out: dict[str, Any] = {"sdk_version": SDK_VERSION}
    async with AsyncExitStack() as stack:
        if opts["http"] is not None:
            http = await stack.enter_async_context(
                httpx2.AsyncClient(
                    headers=opts["headers"],
                    timeout=httpx2.Timeout(opts["timeout"], read=opts["timeout"]),
                )
            )
            server: Any = streamable_http_client(opts["http"], http_client=http)
        else:
            server = _stdio_params(opts["stdio"])

        client = await stack.enter_async_context(
            Client(
                server,
                mode=opts["mode"],
                read_timeout_seconds=opts["timeout"],
                cache=None,  # every list/call must reach the server
            )
        )
        session = client.session
        out["protocol_version"] = client.protocol_version
        out["era"] = "legacy" if session.initialize_result is not None else "modern"
        info = client.server_info
        out["server_name"] = info.name if info else None
        out["server_version"] = info.version if info else None

        tools: list[Any] = []
        cursor: str | None = None
        for _ in range(1000):
            page = await client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        else:
            raise RuntimeError("tools/list: more than 1000 pages, giving up")
        out["tools"] = [tool_entry(t) for t in tools]

        out["ping"] = None
        if opts["ping"]:
            t0 = time.perf_counter()
            try:
                # Client.send_ping is deprecated (ping is gone at 2026-07-28); use the
                # session's, which sends whatever the negotiated era stamps.
                await session.send_ping()
            except mcp_errors as e:
                hint = " (ping does not exist at 2026-07-28; try --mode legacy)" if out["era"] == "modern" else ""
                raise RuntimeError(f"ping failed: {e}{hint}") from e
            out["ping"] = {"ok": True, "ms": round((time.perf_counter() - t0) * 1000, 3)}

        out["calls"] = []
        for tool, args in opts["calls"]:
            try:
                result = await client.call_tool(tool, args)
            except mcp_errors as e:
                out["calls"].append(call_error_entry(tool, e))
            else:
                out["calls"].append(call_entry(tool, result))
    return out


# ----------------------------------------------------------------------------- 1.x


async def run_v1(opts: dict[str, Any]) -> dict[str, Any]:
    from contextlib import AsyncExitStack
    from datetime import timedelta

    from mcp import ClientSession

    mcp_errors = _mcp_error_types()
    out: dict[str, Any] = {"sdk_version": SDK_VERSION}
    async with AsyncExitStack() as stack:
        if opts["http"] is not None:
            import httpx
            from mcp.client import streamable_http as sh

            if hasattr(sh, "streamable_http_client"):  # >= 1.24-ish
                http = await stack.enter_async_context(
                    httpx.AsyncClient(
                        headers=opts["headers"],
                        timeout=httpx.Timeout(opts["timeout"], read=opts["timeout"]),
                    )
                )
                streams = await stack.enter_async_context(sh.streamable_http_client(opts["http"], http_client=http))
            else:  # older 1.x
                streams = await stack.enter_async_context(
                    sh.streamablehttp_client(opts["http"], headers=opts["headers"], timeout=opts["timeout"])
                )
            read, write = streams[0], streams[1]
        else:
            from mcp.client.stdio import stdio_client

            read, write = await stack.enter_async_context(stdio_client(_stdio_params(opts["stdio"])))

        session = await stack.enter_async_context(
            ClientSession(read, write, read_timeout_seconds=timedelta(seconds=opts["timeout"]))
        )
        init = await session.initialize()
        out["protocol_version"] = str(init.protocolVersion)
        out["era"] = "legacy"
        out["server_name"] = init.serverInfo.name
        out["server_version"] = init.serverInfo.version

        tools: list[Any] = []
        cursor: str | None = None
        for _ in range(1000):
            page = await session.list_tools(cursor=cursor) if cursor else await session.list_tools()
            tools.extend(page.tools)
            cursor = page.nextCursor
            if not cursor:
                break
        else:
            raise RuntimeError("tools/list: more than 1000 pages, giving up")
        out["tools"] = [tool_entry(t) for t in tools]

        out["ping"] = None
        if opts["ping"]:
            t0 = time.perf_counter()
            try:
                await session.send_ping()
            except mcp_errors as e:
                raise RuntimeError(f"ping failed: {e}") from e
            out["ping"] = {"ok": True, "ms": round((time.perf_counter() - t0) * 1000, 3)}

        out["calls"] = []
        for tool, args in opts["calls"]:
            try:
                result = await session.call_tool(tool, args)
            except mcp_errors as e:
                out["calls"].append(call_error_entry(tool, e))
            else:
                out["calls"].append(call_entry(tool, result))
    return out


# ----------------------------------------------------------------------------- main


def _describe(exc: BaseException) -> str:
    """Flatten exception groups (anyio task groups wrap transport errors in them)."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    text = str(exc) or repr(exc)
    return f"{type(exc).__name__}: {text}"


def main(argv: list[str]) -> int:
    try:
        opts = parse_args(argv)
    except UsageError as e:
        sys.stderr.write(f"mcp_client: {e}\n{_USAGE}")
        return EXIT_USAGE

    import anyio

    timeout = opts["timeout"]

    # Backstop: if cancellation/cleanup itself wedges (a server that ignores SIGTERM,
    # a stuck pipe), die hard shortly after the deadline instead of hanging CI.
    def _hard_timeout(_signum: int, _frame: Any) -> None:
        sys.stderr.write(f"mcp_client: hard timeout after {timeout + 10:.0f}s (cleanup hung)\n")
        sys.stderr.flush()
        os._exit(EXIT_TIMEOUT)

    signal.signal(signal.SIGALRM, _hard_timeout)
    signal.alarm(int(timeout) + 10)

    runner = run_v2 if SDK_MAJOR >= 2 else run_v1

    async def guarded() -> dict[str, Any]:
        with anyio.fail_after(timeout):
            return await runner(opts)

    try:
        result = anyio.run(guarded)
    except TimeoutError:
        sys.stderr.write(f"mcp_client: timed out after {timeout:g}s (sdk {SDK_VERSION})\n")
        return EXIT_TIMEOUT
    except BaseException as e:  # noqa: BLE001 - report anything, including groups
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        if os.environ.get("MCP_CLIENT_TRACEBACK"):
            traceback.print_exc()
        # A timeout that surfaced inside a task group still counts as a timeout.
        leaves = [e]
        while leaves and isinstance(leaves[0], BaseExceptionGroup):
            leaves = list(leaves[0].exceptions)
        if leaves and all(isinstance(x, TimeoutError) for x in leaves):
            sys.stderr.write(f"mcp_client: timed out after {timeout:g}s (sdk {SDK_VERSION})\n")
            return EXIT_TIMEOUT
        sys.stderr.write(f"mcp_client: failed (sdk {SDK_VERSION}): {_describe(e)}\n")
        return EXIT_FAILURE
    finally:
        signal.alarm(0)

    sys.stdout.write(json.dumps(result, sort_keys=False) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
