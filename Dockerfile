# The hitcounter web image: a static Go binary on scratch, run as uid 65532.
# Build: docker build -t hitcounter/web .   (compose.yaml does this for you)

ARG GO_IMAGE=golang:1.26.8-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
# Modules first, so that editing code does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/hitcounter ./cmd/hitcounter

FROM scratch
# CA certificates for rediss:// (managed Redis over TLS).
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/hitcounter /hitcounter
USER 65532:65532
ENV PORT=5000
EXPOSE 5000
# Readiness: see the healthcheck sub-command for why. No shell or curl needed.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD ["/hitcounter", "healthcheck"]
# Exec form: the Go process is PID 1 and receives SIGTERM itself.
ENTRYPOINT ["/hitcounter"]
