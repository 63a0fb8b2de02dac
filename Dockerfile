# syntax=docker/dockerfile:1
#
# callbridge: a static binary in a distroless image, run as a non-root user.
#
#   docker build -t callbridge .
#   docker run --rm -p 8080:8080 -p 5070:5070/udp -p 20000-20999:20000-20999/udp \
#     -v $PWD/bridge.yaml:/etc/callbridge/bridge.yaml:ro \
#     -v callbridge-data:/var/lib/callbridge callbridge
#
# Configuration: the YAML file mounted at /etc/callbridge/bridge.yaml
# (BRIDGE_CONFIG), and any key through its BRIDGE_* environment variable
# (docs/CONFIG.md); the environment wins over the file.
#
# Ports (publish the ones your config uses):
#   8080/tcp               http.listen: widget, WebSocket /v1/ws, stats, /metrics
#   5070/udp               sip.listen: the bridge's SIP user agent
#   20000-20999/udp        sip.rtp_ports: RTP to and from the trunk
#   webrtc.udp_port/udp    ICE with the browsers; set webrtc.udp_port (one port,
#                          e.g. 3478) and webrtc.nat_1to1_ips (the host's public
#                          IP) so browsers can reach the container.
# Behind NAT, also set sip.external_ip.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
# CGO off: the SQLite store (modernc.org/sqlite) is pure Go, so the binary
# is static and runs on distroless/static.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" \
      -o /out/bridge ./cmd/bridge \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/bridge /usr/local/bin/bridge
# The store's default SQLite file lives in the working directory.
COPY --from=build --chown=65532:65532 /out/data /var/lib/callbridge
WORKDIR /var/lib/callbridge
VOLUME ["/var/lib/callbridge"]
# Listen on all of the container's interfaces (the defaults are loopback).
# These override the config file's http.listen and sip.listen; pass -e with
# another value, or an empty one to use the file's.
ENV BRIDGE_CONFIG=/etc/callbridge/bridge.yaml \
    BRIDGE_HTTP_LISTEN=0.0.0.0:8080 \
    BRIDGE_SIP_LISTEN=udp:0.0.0.0:5070
USER 65532:65532
EXPOSE 8080/tcp 5070/udp 20000-20999/udp
# SIGTERM drains calls before exiting; give it time (docker stop -t 600),
# as docs/OPERATIONS.md says.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/bridge"]
