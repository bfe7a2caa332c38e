# chargelog: the release binary and its browser assets in a small Debian image.
#
#   docker build -t chargelog .
#   docker run -p 3000:3000 -v chargelog-data:/data \
#     -e SMARTCAR_MANAGEMENT_TOKEN=... chargelog
#
# The build needs crates.io, npm and Debian's archive; the image needs nothing at run time.

FROM rust:1.95-bookworm AS build
# The same tool versions as scripts/lib.sh (wasm-bindgen must equal the crate in Cargo.lock).
RUN rustup target add wasm32-unknown-unknown \
 && cargo install --locked cargo-leptos@0.3.10 \
 && cargo install --locked wasm-bindgen-cli@0.2.130 \
 && apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# wasm-opt for the size-optimised WASM comes from npm's binaryen, pinned in end2end/.
COPY end2end/package.json end2end/package-lock.json end2end/
RUN npm ci --prefix end2end --ignore-scripts
COPY . .
ENV PATH="/src/end2end/node_modules/.bin:${PATH}"
RUN cargo leptos build --release --precompress --split

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data chargelog \
 && mkdir -p /data && chown chargelog /data
COPY --from=build /src/target/release/chargelog /usr/local/bin/chargelog
# The browser files' hashed names, which the binary reads from beside itself.
COPY --from=build /src/target/release/hash.txt /usr/local/bin/hash.txt
COPY --from=build /src/target/site /opt/chargelog/site
USER chargelog
WORKDIR /data
ENV LEPTOS_SITE_ROOT=/opt/chargelog/site \
    LEPTOS_SITE_ADDR=0.0.0.0:3000 \
    DATABASE_URL=sqlite:///data/chargelog.db
VOLUME ["/data"]
EXPOSE 3000
# SIGTERM (docker stop) finishes requests in flight before exiting.
STOPSIGNAL SIGTERM
ENTRYPOINT ["chargelog"]
CMD ["serve"]
