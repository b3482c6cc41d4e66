# The Switchyard host as a container image: one statically linked binary, the default routes and
# their Rust plugins, FROM scratch, run as uid 10001 with its data on a volume.
#
#   docker build -t switchyard .
#   docker run -p 127.0.0.1:8080:8080 -v switchyard-data:/var/lib/switchyard switchyard
#
# The `build` stage compiles this repository and lays out what the image holds in /image, and
# its empty data dir in /volume. To build without pulling the Rust image, lay out those two
# folders yourself and pass them in the stage's place, as tests/image.rs does with podman:
#
#   podman build --build-context build=FOLDER -t switchyard .

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# `+crt-static` links glibc into the binary, so the image needs no C library.
RUN triple="$(uname -m)-unknown-linux-gnu" \
 && RUSTFLAGS='-C target-feature=+crt-static' CARGO_PROFILE_RELEASE_STRIP=true \
    cargo build --release --locked -p switchyard --bin switchyard --target "$triple" \
 && (cd plugins/rust && cargo build --release --locked) \
 && plugins=/image/etc/switchyard/target/wasm32-wasip2/release \
 && mkdir -p /image/usr/local/bin "$plugins" /image/tmp /volume \
 && chmod 1777 /image/tmp \
 && cp "target/$triple/release/switchyard" /image/usr/local/bin/ \
 && cp routes.toml /image/etc/switchyard/ \
 && cp target/wasm32-wasip2/release/high_value.wasm target/wasm32-wasip2/release/customer_tier.wasm \
       target/wasm32-wasip2/release/notify.wasm "$plugins/"

FROM scratch
COPY --from=build /image/ /
# The data dir belongs to the user the host runs as, and so does a new volume mounted on it.
COPY --from=build --chown=10001:10001 /volume/ /var/lib/switchyard/
USER 10001:10001
# routes.toml names its plugins relative to its own folder, and the text in
# SWITCHYARD_ROUTES_TOML relative to the working directory: the same folder.
WORKDIR /etc/switchyard
VOLUME /var/lib/switchyard
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/switchyard"]
# Whatever the routes say, a container serves the order API on all its interfaces, keeps the
# admin door inside (see README, Security) and its data on the volume.
CMD ["up", "--listen", "0.0.0.0:8080", "--admin-listen", "127.0.0.1:9090", "--data-dir", "/var/lib/switchyard"]
