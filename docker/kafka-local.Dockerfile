# syntax=docker/dockerfile:1.7
# turnstile-stream kafka-local: the embedded Kafka-compatible broker
# (franz-go's kfake, tools/kafka-local) as an image, for the container
# end-to-end tests and `make run-docker` on machines where Kafka's own image
# cannot be had (docker/compose.kafka-local.yaml). Not a production broker.
#
# Build from the repository root:
#   docker build -f docker/kafka-local.Dockerfile -t turnstile-kafka-local:local .
#
# It links confluent-kafka-go through internal/kafkatest, so it is cgo like
# the apps: Debian build stage, glibc runtime.

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
    go build -trimpath -ldflags="-s -w" -o /out/kafka-local ./tools/kafka-local \
 && mkdir -p /out/data

FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="turnstile-kafka-local" \
      org.opencontainers.image.description="turnstile-stream embedded test broker (kfake)" \
      org.opencontainers.image.source="https://github.com/turnstile-stream/turnstile-stream"
COPY --from=build /out/kafka-local /usr/local/bin/kafka-local
# --data-dir /data keeps the log across restarts of the container.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
EXPOSE 9092
HEALTHCHECK --interval=2s --timeout=6s --retries=30 CMD ["/usr/local/bin/kafka-local", "--probe", "127.0.0.1:9092", "--topics", ""]
ENTRYPOINT ["/usr/local/bin/kafka-local", "--host", "0.0.0.0", "--port", "9092"]
