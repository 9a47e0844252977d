# syntax=docker/dockerfile:1
# Multi-stage build: cgo is needed for the embedded DuckDB, so the build
# stage has a C toolchain; the runtime stage has only what the binary links.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/sluice ./cmd/sluice

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libstdc++6 tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /project --shell /usr/sbin/nologin sluice \
 && mkdir -p /project && chown sluice /project
COPY --from=build /out/sluice /usr/local/bin/sluice
USER 10001
WORKDIR /project
# sluice run: the scheduler daemon, with probes, metrics and the status page
# on port 8080 (see README, Running in production).
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["sluice", "healthcheck"]
ENTRYPOINT ["sluice"]
# Mount the project at /project; override the command for other verbs
# (docker run ... sluice sync --project /project).
CMD ["run", "--project", "/project", "--listen", ":8080", "--log-format", "json"]
