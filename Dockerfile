# The Woodpecker plugin image of the publish step (.woodpecker/build-arm.yml):
# sealpub, its shared libraries and the plugin entrypoint, on Debian slim. No
# docker client: sealpub reads images from the Docker Engine API itself
# (docker-daemon:IMAGE). Multi-arch: every stage starts from Debian's
# multi-arch images and builds for the platform it runs on, e.g.
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t REPO/sealpub-publisher:0.1.0 --push .
#
# or a plain "docker build" on an amd64 and on an arm64 machine.

# ---- sealpub, built with Debian 12's compiler and -dev packages
FROM debian:12 AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config \
        libssl-dev libdeflate-dev liburing-dev libcurl4-openssl-dev libpq-dev libsqlite3-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the library and the CLI are built from (see .dockerignore).
COPY CMakeLists.txt ./
COPY cmake/ cmake/
COPY include/ include/
COPY src/ src/
COPY bench/ bench/
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DSEALPUB_TESTS=OFF \
    && cmake --build /build -j"$(nproc)" --target sealpub_cli \
    && strip /build/sealpub \
    && /build/sealpub version --verbose

# ---- the step image
FROM debian:12-slim
# sealpub's shared libraries, and the CA certificates libcurl needs for
# HTTPS to S3.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates libssl3 libdeflate0 liburing2 libcurl4 libpq5 libsqlite3-0 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/sealpub /usr/bin/sealpub
# The plugin entrypoint: settings (PLUGIN_*) -> sealpub publish docker-daemon:...;
# given a command (docker run IMAGE sealpub fetch ...), it runs that instead.
COPY scripts/woodpecker-plugin.sh /usr/bin/sealpub-woodpecker
RUN sealpub version --verbose && bash -n /usr/bin/sealpub-woodpecker
ENTRYPOINT ["/usr/bin/sealpub-woodpecker"]
