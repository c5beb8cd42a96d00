# One image for every Emporium service: `emporium serve <service>` picks the role.

# The storefront (the router serves it at /): built from its lockfile in a Node stage.
FROM node:20-bookworm-slim AS storefront
WORKDIR /src/storefront
COPY storefront/package.json storefront/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY schema.graphql /src/schema.graphql
COPY storefront/ ./
RUN npx vite build

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p emporium \
 && strip target/release/emporium

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/emporium --create-home emporium \
 # Owned by the service user, so the `mail` volume mounted here starts writable.
 && install -d -o emporium -g emporium /var/lib/emporium/mail
COPY --from=build /src/target/release/emporium /usr/local/bin/emporium
COPY schema.graphql /etc/emporium/schema.graphql
COPY --from=storefront /src/storefront/dist /usr/share/emporium/storefront
USER emporium
WORKDIR /var/lib/emporium
ENV EMPORIUM_BIND_HOST=0.0.0.0 \
    EMPORIUM_SUPERGRAPH=/etc/emporium/schema.graphql \
    EMPORIUM_DATA_DIR=/var/lib/emporium \
    EMPORIUM_STOREFRONT_DIR=/usr/share/emporium/storefront \
    EMPORIUM_LOG_FORMAT=json
ENTRYPOINT ["emporium"]
CMD ["up"]
