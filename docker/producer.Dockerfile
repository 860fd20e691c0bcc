# syntax=docker/dockerfile:1.7
# turnstile-stream producer: publishes MTA turnstile counts to Kafka.
#
# Build from the repository root (the context must hold go.mod):
#   docker build -f docker/producer.Dockerfile -t turnstile-producer:local .
#
# confluent-kafka-go needs cgo; it links the librdkafka it bundles for
# linux/amd64 glibc, so the build stage is Debian-based and the runtime is a
# small glibc image of the same Debian release (distroless base, non-root).

ARG GO_VERSION=1.26.8
ARG DEBIAN_RELEASE=bookworm
# Base images are build arguments so that a machine without a registry can
# pass local equivalents (scripts/images.sh, docs/containers.md); the
# defaults are the real images.
ARG BUILD_IMAGE=golang:${GO_VERSION}-${DEBIAN_RELEASE}
ARG RUNTIME_IMAGE=gcr.io/distroless/base-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
# Unset (the default) Go uses its own proxy. scripts/images.sh sets it to
# file:///gomodproxy, the host's module cache mounted read-only, where builds
# reach no module proxy; go.sum still checks every module.
ARG GOPROXY
WORKDIR /src
ENV CGO_ENABLED=1 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w" -o /out/producer ./apps/producer

FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="turnstile-producer" \
      org.opencontainers.image.description="turnstile-stream producer" \
      org.opencontainers.image.source="https://github.com/turnstile-stream/turnstile-stream"
COPY --from=build /out/producer /usr/local/bin/producer
# distroless "nonroot" is uid/gid 65532. /config holds the librdkafka
# properties file (mount it read-only; pass --config /config/client.properties).
USER 65532:65532
VOLUME ["/config"]
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/producer"]
