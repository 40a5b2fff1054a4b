# syntax=docker/dockerfile:1
#
# ctibridge's container image: one static binary on a distroless base, run as
# a non-root user. See docs/operations.md#deploying.
#
#   docker build -t ctibridge .
#   docker run --rm -p 8080:8080 -v "$PWD/ctibridge.yaml:/etc/ctibridge/ctibridge.yaml:ro" ctibridge
#
# The default command is "ctibridge run"; any other command replaces it:
# docker run --rm ctibridge version, ... validate --config FILE.
#
# Build from a clone (not a git worktree) to stamp the VCS revision into the
# binary: the go command reads it from the .git directory in the context.

ARG GO_VERSION=1.26.8
ARG BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM golang:${GO_VERSION} AS build
WORKDIR /src
ENV GOTOOLCHAIN=local
# Modules first, so that this layer stays cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# CGO_ENABLED=0: a static binary that needs no libc (the SQLite driver is
# pure Go). -trimpath: no paths of the build machine in it. -buildvcs=true:
# the revision and commit time for "ctibridge version" and
# ctibridge_build_info. -s -w drop the symbol tables the runtime does not
# need (stack traces and pprof keep their names).
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -buildvcs=true -ldflags="-s -w" -o /out/ctibridge ./cmd/ctibridge \
    && /out/ctibridge version
# The working directory of the final image, where a SQLite store with the
# default dsn (./ctibridge.db) lands: owned by the user the image runs as.
RUN mkdir -p /out/data

FROM ${BASE_IMAGE}
COPY --from=build /out/ctibridge /usr/local/bin/ctibridge
COPY --from=build --chown=65532:65532 /out/data /var/lib/ctibridge
WORKDIR /var/lib/ctibridge
# distroless' "nonroot" user, by number so that Kubernetes' runAsNonRoot can
# check it without reading /etc/passwd.
USER 65532:65532
# Listen on every interface (CTIBRIDGE_LISTEN takes the place of the config's
# listen key): the config's default, 127.0.0.1, cannot be reached from
# outside a container. The config file is mounted at CTIBRIDGE_CONFIG.
ENV CTIBRIDGE_LISTEN=0.0.0.0:8080 \
    CTIBRIDGE_CONFIG=/etc/ctibridge/ctibridge.yaml
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/ctibridge", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/ctibridge"]
CMD ["run"]
