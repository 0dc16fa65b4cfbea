# sips-edge: multi-stage build on the official Node 24 slim image.
# Build:  docker build -t sips-edge .
# Run:    docker run --rm -p 5060:5060/udp -p 5060:5060 -p 5061:5061 -p 127.0.0.1:9090:9090 \
#           -v $PWD/config:/etc/sips-edge:ro -v $PWD/certs:/var/lib/sips-edge/certs:ro \
#           sips-edge start --config /etc/sips-edge/sips-edge.yaml
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /opt/sips-edge
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY config ./config
COPY certs/*.pem certs/README.md ./certs/
# rtpengine for the lab's media rows (issue 14): userspace forwarding only (--table=-1), no kernel
# module in a container. A production edge talks to rtpengine over its ng port (media.rtpengine),
# usually a daemon of its own on the same host (network_mode: host) rather than in this image.
RUN apt-get update && apt-get install -y --no-install-recommends rtpengine-daemon \
 && rm -rf /var/lib/apt/lists/*
# The image runs the same dist/ the tests run; the edge never needs root (ports >= 1024).
RUN useradd --system --uid 10061 --home /opt/sips-edge sips \
 && mkdir -p /var/lib/sips-edge && chown sips /var/lib/sips-edge
USER sips
# A larger young generation: each call's objects mostly die within a scavenge or two, and fewer
# scavenges per second is the cheapest GC there is at thousands of calls/s (bench/cps.sh runs so).
ENV NODE_OPTIONS=--max-semi-space-size=64
VOLUME ["/etc/sips-edge", "/var/lib/sips-edge"]
EXPOSE 5060/udp 5060/tcp 5061/tcp 9090/tcp
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "require('http').get('http://127.0.0.1:9090/healthz',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["lab"]
