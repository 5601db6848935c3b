# syntax=docker/dockerfile:1
# opsdeck's container image: `opsdeck serve --http` as a stateless replica.
#
#   docker build -t opsdeck:dev .
#
# The final stage is distroless (no shell, no package manager) and runs as the
# nonroot user (65532). Logs (JSON lines) and the audit trail go to stdout, so
# the root filesystem can be mounted read-only and no HOME is needed.
# Kubernetes probes /health/live and /health/ready (deploy/), so the image has
# no HEALTHCHECK of its own.

FROM docker.io/library/rust:1-bookworm AS builder
WORKDIR /src
# Only what the build reads (see .dockerignore): build.rs embeds the sandbox
# estate and the error knowledge base; Cargo needs the declared bench targets.
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY benches ./benches
COPY fixtures/sandbox ./fixtures/sandbox
COPY knowledge ./knowledge
RUN cargo build --release --locked --bin opsdeck \
 && install -D -m 0555 target/release/opsdeck /out/opsdeck

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="opsdeck" \
      org.opencontainers.image.description="DataOps MCP tool server (streamable HTTP, stateless replicas)" \
      org.opencontainers.image.licenses="MIT"
COPY --from=builder --chown=0:0 /out/opsdeck /usr/local/bin/opsdeck
USER 65532:65532
EXPOSE 8765
ENTRYPOINT ["/usr/local/bin/opsdeck", "serve"]
CMD ["--http", "0.0.0.0:8765", "--stateless", "--log-output", "stdout", "--log-format", "json", "--audit-log", "stdout"]
