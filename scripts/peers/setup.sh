#!/usr/bin/env bash
# Install the third-party MCP peers used by opsdeck's interop tests, under
# target/peers/ (override with OPSDECK_PEERS_DIR):
#
#   venv-mcp2/  official Python MCP SDK 2.x   (pins: scripts/peers/requirements-mcp2.txt)
#   venv-mcp1/  official Python MCP SDK 1.x   (pins: scripts/peers/requirements-mcp1.txt)
#   venv-airflow/ Apache Airflow 2.10.5      (pins: scripts/peers/requirements-airflow.txt)
#   venv-airflow3/ Apache Airflow 3.1.3      (pins: scripts/peers/requirements-airflow3.txt)
#   venv-k8s/   kubernetes-validate 1.37.0   (pins: scripts/peers/requirements-k8s.txt)
#   node/       @modelcontextprotocol/inspector (CLI) + server-everything
#               (pins: scripts/peers/node/package.json + package-lock.json, via `npm ci`)
#
# System tools, checked (and installed with apt-get when missing and root): tmux (the
# console's end-to-end test), haproxy (the replica test's load balancer), and kubectl with
# kustomize v5 (the deployment manifests' test; never installed: Debian's is too old).
#
# Each peer has a stamp file written only after a successful install. The stamp
# holds the exact pinned versions (the pin/lock file contents) plus the toolchain
# version; if it matches and the expected package is on disk, the step is skipped,
# so a fully cached run does no network I/O and takes well under a second.
# Changing any pin (or the interpreter / Node major) reinstalls that peer from scratch.
#
# Any install failure exits non-zero: a peer that cannot be installed is a failure,
# never a skip. Output: one line per peer, "peer <name>: installed|cached <version>".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
peers="${OPSDECK_PEERS_DIR:-$root/target/peers}"

die() { echo "setup.sh: error: $*" >&2; exit 1; }

for tool in python3 node npm; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found on PATH (needed to install the interop peers)"
done

# The console's end-to-end test drives the real binary in a real terminal: tmux.
if ! command -v tmux >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "peer tmux: installing with apt-get"
        (apt-get update -qq && apt-get install -y -qq tmux >/dev/null) || die "cannot install tmux with apt-get"
    else
        die "'tmux' not found on PATH (needed by the console's end-to-end test); install it, e.g. apt-get install tmux"
    fi
fi
echo "peer tmux: $(tmux -V)"

# The replica test puts three `opsdeck serve --stateless` behind a real load balancer.
if ! command -v haproxy >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "peer haproxy: installing with apt-get"
        (apt-get update -qq && apt-get install -y -qq haproxy >/dev/null) || die "cannot install haproxy with apt-get"
    else
        die "'haproxy' not found on PATH (needed by tests/replicas.rs); install it, e.g. apt-get install haproxy"
    fi
fi
echo "peer haproxy: $(haproxy -v 2>/dev/null | head -n 1)"

# The manifests' test renders deploy/ with `kubectl kustomize`, which needs kustomize v5
# (the `labels` and `patches` fields). Debian bookworm's kubernetes-client is 1.20 with
# kustomize v2, which cannot render them, so it is not installed from there.
kubectl_hint="install kubectl >= 1.27 (kustomize v5) from https://pkgs.k8s.io (see https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/), e.g. the 'kubectl' package of deb https://pkgs.k8s.io/core:/stable:/v1.33/deb/ /"
command -v kubectl >/dev/null 2>&1 || die "'kubectl' not found on PATH (needed by tests/deploy_manifests.rs); $kubectl_hint"
kustomize_version="$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9]*\)\..*/\1/p')"
[[ -n "$kustomize_version" && "$kustomize_version" -ge 5 ]] \
    || die "kubectl on PATH ($(command -v kubectl)) has no kustomize v5 (found: '${kustomize_version:-none}'); $kubectl_hint"
echo "peer kubectl: $(kubectl version --client 2>/dev/null | tr '\n' ' ')"

mkdir -p "$peers"

# Serialize concurrent runs (parallel test jobs) on the same peers dir.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$peers/.setup.lock"
    flock -w 900 9 || die "timed out waiting for another setup.sh holding $peers/.setup.lock"
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_NO_WARN_SCRIPT_LOCATION=1
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false \
       npm_config_yes=true npm_config_loglevel=error

# Captured command output is shown only on failure.
run_logged() {
    local what="$1"; shift
    local log
    log="$(mktemp "${TMPDIR:-/tmp}/opsdeck-peers.XXXXXX")"
    if ! "$@" </dev/null >"$log" 2>&1; then
        echo "setup.sh: error: $what failed; output follows:" >&2
        tail -n 60 "$log" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
}

py_version="$(python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
node_major="$(node -p 'process.versions.node.split(".")[0]')"

# --- Python SDK venvs --------------------------------------------------------

# setup_venv NAME REQUIREMENTS_FILE [DISTRIBUTION IMPORT]
setup_venv() {
    local name="$1" reqs="$2" dist="${3:-mcp}" module="${4:-mcp}"
    local dir="$peers/$name" stamp="$peers/$name/.opsdeck-peer-stamp"
    [[ -f "$reqs" ]] || die "missing pin file $reqs"
    local want_mcp
    want_mcp="$(sed -n "s/^$dist==\([^[:space:]]*\).*/\1/p" "$reqs")"
    [[ -n "$want_mcp" ]] || die "$reqs does not pin $dist==X.Y.Z"
    local want
    want="python=$py_version
$(grep -v '^[[:space:]]*\(#\|$\)' "$reqs")"

    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$dir/bin/python" ]] \
        && compgen -G "$dir/lib/python*/site-packages/${dist//-/_}-$want_mcp.dist-info" >/dev/null; then
        echo "peer $name: cached $dist $want_mcp"
        return
    fi

    rm -rf "$dir"
    run_logged "creating venv $dir" python3 -m venv "$dir"
    run_logged "pip install -r $reqs into $name" "$dir/bin/python" -m pip install -q -r "$reqs"
    local got
    got="$("$dir/bin/python" -c "from importlib.metadata import version; print(version('$dist'))")" \
        || die "$name: installed, but the $dist metadata lookup failed"
    [[ "$got" == "$want_mcp" ]] || die "$name: wanted $dist $want_mcp, got $got"
    "$dir/bin/python" -c "import $module" >/dev/null 2>&1 || die "$name: 'import $module' failed after install"
    printf '%s' "$want" >"$stamp"
    echo "peer $name: installed $dist $got"
}

setup_venv venv-mcp2 "$here/requirements-mcp2.txt"
setup_venv venv-mcp1 "$here/requirements-mcp1.txt"
# A real Airflow (standalone, SQLite) for the Airflow backend's tests.
setup_venv venv-airflow "$here/requirements-airflow.txt" apache-airflow airflow
setup_venv venv-airflow3 "$here/requirements-airflow3.txt" apache-airflow airflow
# Offline schema validation of the Kubernetes manifests under deploy/.
setup_venv venv-k8s "$here/requirements-k8s.txt" kubernetes-validate kubernetes_validate

# --- Node peers (Inspector CLI, server-everything) ---------------------------

setup_node() {
    local src="$here/node" dir="$peers/node" stamp="$peers/node/.opsdeck-peer-stamp"
    [[ -f "$src/package.json" && -f "$src/package-lock.json" ]] \
        || die "missing $src/package.json or package-lock.json"
    local want
    want="node-major=$node_major
$(cat "$src/package.json")
lock-sha256=$(sha256sum "$src/package-lock.json" | cut -d' ' -f1)"

    local mods="$dir/node_modules/@modelcontextprotocol"
    local pkgs=(inspector server-everything)
    local ok=1 p
    [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] || ok=0
    for p in "${pkgs[@]}"; do [[ -f "$mods/$p/package.json" ]] || ok=0; done
    # Entry points the tests use (NB: .bin/mcp-inspector-cli is NOT the CLI; it is a
    # broken copy of the web-UI launcher - use `.bin/mcp-inspector --cli` or
    # inspector-cli/build/index.js).
    [[ -e "$dir/node_modules/.bin/mcp-inspector" && -e "$dir/node_modules/.bin/mcp-server-everything" \
        && -f "$mods/inspector-cli/build/index.js" ]] || ok=0

    if (( ok == 0 )); then
        rm -rf "$dir"
        mkdir -p "$dir"
        cp "$src/package.json" "$src/package-lock.json" "$dir/"
        run_logged "npm ci in $dir" npm ci --prefix "$dir" --engine-strict --no-fund --no-audit
        for p in "${pkgs[@]}"; do
            [[ -f "$mods/$p/package.json" ]] || die "npm ci finished but @modelcontextprotocol/$p is missing"
        done
    fi

    local versions
    versions="$(cd "$dir" && node -e '
        for (const p of ["inspector", "server-everything"]) {
          const v = require("./node_modules/@modelcontextprotocol/" + p + "/package.json").version;
          process.stdout.write(p + " " + v + "\n");
        }')" || die "could not read installed Node peer versions"
    if (( ok == 0 )); then
        printf '%s' "$want" >"$stamp"
        local state=installed
    else
        local state=cached
    fi
    while read -r p v; do
        echo "peer node/$p: $state $v"
    done <<<"$versions"
}

setup_node
