# syntax=docker/dockerfile:1.7
# turnstile-stream gcs-local: a GCS emulator (fake-gcs-server, in memory,
# tools/gcs-local) as an image: the fake GCS that the consumer's own image
# writes to in the container end-to-end case (tests/e2e).
#
# Build from the repository root:
#   docker build -f docker/gcs-local.Dockerfile -t turnstile-gcs-local:local .

ARG GO_VERSION=1.26.8
ARG DEBIAN_RELEASE=bookworm
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
    go build -trimpath -ldflags="-s -w" -o /out/gcs-local ./tools/gcs-local

FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="turnstile-gcs-local" \
      org.opencontainers.image.description="turnstile-stream GCS emulator for tests (fake-gcs-server)" \
      org.opencontainers.image.source="https://github.com/turnstile-stream/turnstile-stream"
COPY --from=build /out/gcs-local /usr/local/bin/gcs-local
USER 65532:65532
EXPOSE 4443
HEALTHCHECK --interval=2s --timeout=6s --retries=30 CMD ["/usr/local/bin/gcs-local", "--probe", "127.0.0.1:4443"]
ENTRYPOINT ["/usr/local/bin/gcs-local", "--host", "0.0.0.0", "--port", "4443"]
