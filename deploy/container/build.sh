#!/usr/bin/env bash
# Builds Roleport's image from deploy/container/Containerfile with buildah, without any image
# registry: both base images are made here from Debian's package mirror.
#
#   deploy/container/build.sh [TAG]      # default tag: localhost/roleport:dev
#
# - localhost/roleport-base/debian:bookworm   debootstrap --variant=minbase (made once, kept)
# - localhost/roleport-base/rust:<version>    that plus this machine's Rust toolchain (rustup's
#                                             active one) and its local CAs, standing in for
#                                             docker.io/library/rust
# Then `buildah bud --isolation chroot` with those as RUST_IMAGE and RUNTIME_IMAGE. The build context
# is only what the Containerfile copies (git's tracked and new files). The release build's target
# directory is a buildah cache mount, so later builds compile only what changed. Prints the image's
# name and id last.
set -euo pipefail
cd "$(dirname "$0")/../.."
TAG=${1:-localhost/roleport:dev}
STATE=${ROLEPORT_CONTAINER_STATE:-$PWD/.run/container}
DEBIAN_BASE=localhost/roleport-base/debian:bookworm
mkdir -p "$STATE"
say() { echo "container: $*" >&2; }

need=()
command -v buildah >/dev/null || need+=(buildah)
command -v debootstrap >/dev/null || need+=(debootstrap)
if ((${#need[@]})); then
  say "installing ${need[*]} (apt)"
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; trap 'rm -f /usr/sbin/policy-rc.d' EXIT; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >"$STATE/apt.log" 2>&1 ||
    { tail -20 "$STATE/apt.log" >&2; exit 1; }
fi

image_exists() { buildah inspect --type image "$1" >/dev/null 2>&1; }

if ! image_exists "$DEBIAN_BASE"; then
  say "making $DEBIAN_BASE with debootstrap (a minute or two, once)"
  rm -rf "$STATE/rootfs"
  debootstrap --variant=minbase bookworm "$STATE/rootfs" http://deb.debian.org/debian >"$STATE/debootstrap.log" 2>&1 ||
    { tail -20 "$STATE/debootstrap.log" >&2; exit 1; }
  rm -rf "$STATE/rootfs/var/cache/apt/archives/"*.deb "$STATE/rootfs/var/lib/apt/lists/"*
  tar -C "$STATE/rootfs" -czf "$STATE/rootfs.tar.gz" .
  ctr=$(buildah from scratch)
  buildah add "$ctr" "$STATE/rootfs.tar.gz" / >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/bash "$ctr"
  buildah commit -q "$ctr" "$DEBIAN_BASE" >/dev/null
  buildah rm "$ctr" >/dev/null
  rm -rf "$STATE/rootfs" "$STATE/rootfs.tar.gz"
fi

if ! command -v cargo >/dev/null && [[ -f $HOME/.cargo/env ]]; then source "$HOME/.cargo/env"; fi
SYSROOT=$(rustc --print sysroot)
RUST_VERSION=$(rustc --version | awk '{print $2}')
RUST_BASE=localhost/roleport-base/rust:$RUST_VERSION-bookworm
if ! image_exists "$RUST_BASE"; then
  say "making $RUST_BASE from $SYSROOT (once per toolchain)"
  ctr=$(buildah from "$DEBIAN_BASE")
  buildah copy "$ctr" "$SYSROOT" /usr/local/rust >/dev/null
  # Certificate authorities this machine adds locally (an egress proxy's, where crates.io is reached
  # through one) go into the builder only, never into the runtime image; the builder's
  # ca-certificates install picks them up.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    buildah copy "$ctr" /usr/local/share/ca-certificates/ /usr/local/share/ca-certificates/ >/dev/null
  fi
  # The official rust image's layout: cargo on PATH, CARGO_HOME=/usr/local/cargo.
  buildah config --env CARGO_HOME=/usr/local/cargo \
    --env PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
  buildah commit -q "$ctr" "$RUST_BASE" >/dev/null
  buildah rm "$ctr" >/dev/null
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
git ls-files -co --exclude-standard -- Cargo.toml Cargo.lock src vendor benches migrations templates static |
  tar -c -T - | tar -x -C "$context"
say "building $TAG (release build inside the builder stage)"
buildah bud --isolation chroot --format docker --layers --force-rm -q \
  --build-arg RUST_IMAGE="$RUST_BASE" --build-arg RUNTIME_IMAGE="$DEBIAN_BASE" \
  -f deploy/container/Containerfile -t "$TAG" "$context" >"$STATE/build.log" 2>&1 ||
  { tail -40 "$STATE/build.log" >&2; say "build failed (log: $STATE/build.log)"; exit 1; }
echo "$TAG $(buildah inspect --type image --format '{{.FromImageID}}' "$TAG")"
