#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs the third-party MCP peers the
# tests use (cached under target/peers), checks formatting and lints, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== peers (Python MCP SDK 2.x and 1.x, MCP Inspector, server-everything)"
scripts/peers/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

echo "== cargo test"
cargo test
