#!/usr/bin/env bash
# Builds a local stand-in for the official `node:<major>-bookworm-slim` image (node:24-bookworm-slim by default), because no container registry is
# reachable here: a Debian bookworm minbase rootfs (debootstrap, slimmed like debian:bookworm-slim) plus the host's
# Node.js and npm, laid out as in the official image, imported into buildah's storage.
#
#   infra/base-image.sh [--rebuild] [--smoke] [IMAGE_NAME]     (default localhost/bento-ts-node:<major>-bookworm-slim,
#                                                              the major version of the Node.js it copies)
#
#   --rebuild  build and replace the image even if it exists (the cached Debian rootfs is reused)
#   --smoke    afterwards, build a throwaway image FROM it with `buildah bud`, run Node and npm in it (including an
#              npm registry look-up from a build step), then clean up; also reports whether `podman run` works
#
# If the image already exists it prints its name and exits. Settings (environment):
#   STORAGE_DRIVER=vfs, BUILDAH_ISOLATION=chroot   used by every buildah call (kept if already set)
#   BASE_IMAGE_CACHE=/var/cache/bento-ts          where the slimmed Debian rootfs tarball is kept; delete the
#                                                 tarball there to debootstrap afresh (e.g. for security updates)
#   DEBIAN_MIRROR=http://deb.debian.org/debian    SOURCE_DATE_EPOCH   (image timestamps; default: the rootfs's)
#   NODE_BIN=<the node on PATH>, NODE_MODULES=/usr/lib/node_modules   the Node.js (and the npm beside it) copied into
#                                                 the image
#   BASE_IMAGE_EXTRA_CA=/usr/local/share/ca-certificates  the host's extra CAs (*.crt) the image trusts too (system
#                                                 store + NODE_EXTRA_CA_CERTS); needed where egress TLS is
#                                                 intercepted, as here. Empty: none (as the official image)
set -euo pipefail

export STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}"
export BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"
CACHE="${BASE_IMAGE_CACHE:-/var/cache/bento-ts}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
NODE_BIN="${NODE_BIN:-$(command -v node || echo /usr/bin/node)}"
NODE_MODULES="${NODE_MODULES:-/usr/lib/node_modules}"
EXTRA_CA_DIR="${BASE_IMAGE_EXTRA_CA-/usr/local/share/ca-certificates}"
SUITE=bookworm
RECIPE=1 # bump when the rootfs recipe below changes, so the cached tarball is rebuilt

rebuild=0 smoke=0 image=""
for arg in "$@"; do
  case "$arg" in
    --rebuild) rebuild=1 ;;
    --smoke) smoke=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option: $arg" >&2; exit 2 ;;
    *) image="$arg" ;;
  esac
done
[[ -x $NODE_BIN ]] || { echo "base-image.sh: no Node.js at $NODE_BIN (set NODE_BIN)" >&2; exit 1; }
IMAGE="${image:-localhost/bento-ts-node:$("$NODE_BIN" -p "process.versions.node.split('.')[0]")-bookworm-slim}"

bh() { buildah --storage-driver "$STORAGE_DRIVER" "$@"; }
have_image() { bh inspect --type image "$1" >/dev/null 2>&1; }
log() { printf '== %s\n' "$*" >&2; }

if [[ $rebuild -eq 0 && $smoke -eq 0 ]] && have_image "$IMAGE"; then echo "$IMAGE"; exit 0; fi

[[ $(id -u) -eq 0 ]] || { echo "base-image.sh: needs root (debootstrap, chroot, buildah storage)" >&2; exit 1; }
for cmd in buildah debootstrap tar chroot flock; do
  command -v "$cmd" >/dev/null || { echo "base-image.sh: $cmd is missing (apt-get install $cmd)" >&2; exit 1; }
done
[[ -x $NODE_BIN && -f $NODE_MODULES/npm/bin/npm-cli.js ]] || { echo "base-image.sh: no Node/npm at $NODE_BIN, $NODE_MODULES" >&2; exit 1; }

mkdir -p "$CACHE"
tmp="$(mktemp -d /var/tmp/base-image.XXXXXX)"
ctr="" smoke_ctr=""
cleanup() {
  local m
  # Nothing may stay mounted in the work tree before it is deleted (debootstrap mounts proc/sys, maybe /dev).
  for m in $(findmnt -rn -o TARGET | grep -F "$tmp/" | sort -r); do umount -l "$m" 2>/dev/null || true; done
  [[ -n $smoke_ctr ]] && bh rm "$smoke_ctr" >/dev/null 2>&1
  [[ -n $ctr ]] && bh rm "$ctr" >/dev/null 2>&1
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

# One build at a time (per cache directory); whoever waited may find the image already built.
exec 9>"$CACHE/.lock"
flock 9

arch="$(dpkg --print-architecture)"
rootfs_tar="$CACHE/debian-$SUITE-slim-$arch.r$RECIPE.tar"

# Deterministic tar of a directory: sorted names, numeric owners, no atime/ctime, every mtime clamped.
det_tar() { # dir epoch out [tar options...]
  local dir="$1" epoch="$2" out="$3"; shift 3
  tar -C "$dir" --sort=name --numeric-owner --mtime="@$epoch" --clamp-mtime --xattrs "$@" \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -cf "$out" .
}

build_rootfs() {
  local root="$tmp/rootfs" t0=$SECONDS
  log "debootstrap --variant=minbase $SUITE ($MIRROR)"
  if ! debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$root" "$MIRROR" >"$tmp/debootstrap.log" 2>&1; then
    tail -n 30 "$tmp/debootstrap.log" >&2
    [[ -f $root/debootstrap/debootstrap.log ]] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
    exit 1
  fi
  log "debootstrap done ($((SECONDS - t0)) s); slimming"

  # Apt sources as in debian:bookworm (with updates and security), and the official image's dpkg/apt settings
  # (debuerreotype's "slimify"), so packages installed later by derived images stay slim too.
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# as in debian:*-slim: no docs, man pages or translations
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Acquire::GzipIndexes "true";' >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
  printf 'Apt::AutoRemove::SuggestsImportant "false";\n' >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod 755 "$root/usr/sbin/policy-rc.d"

  # Files the slimify rules above would not have installed.
  find "$root/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  rm -rf "$root"/usr/share/{man,info,groff,lintian,linda}/*

  # Caches, logs and host leftovers; the runtime provides /etc/resolv.conf, /etc/hosts and /etc/hostname.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/var/cache/apt/archives/partial/* "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old \
    "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/debootstrap "$root"/tmp/* "$root"/var/tmp/* \
    "$root"/root/.cache
  rm -f "$root/etc/resolv.conf" "$root/etc/machine-id"
  : >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

  # The build date of the rootfs becomes its files' mtime (and, by default, the image's timestamps).
  local epoch
  epoch="${SOURCE_DATE_EPOCH:-$(date +%s)}"
  log "writing $rootfs_tar"
  # Empty /dev, /proc, /sys, /run: the runtime mounts them.
  det_tar "$root" "$epoch" "$rootfs_tar.part" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' --exclude='./run/*'
  touch -d "@$epoch" "$rootfs_tar.part"
  mv "$rootfs_tar.part" "$rootfs_tar"
  rm -rf --one-file-system "$root"
}

build_image() {
  local t0=$SECONDS node_version epoch root="$tmp/rootfs"
  [[ -f $rootfs_tar ]] || build_rootfs
  log "rootfs $rootfs_tar ($(du -h "$rootfs_tar" | cut -f1)) + Node from $NODE_BIN"
  node_version="$("$NODE_BIN" -p process.versions.node)"
  epoch="${SOURCE_DATE_EPOCH:-$(stat -c %Y "$rootfs_tar")}"

  mkdir -p "$root"
  tar -C "$root" --numeric-owner --xattrs -xpf "$rootfs_tar"

  # Node as in the official image: /usr/local/bin/node, npm (and corepack, if present) under
  # /usr/local/lib/node_modules, relative symlinks in /usr/local/bin, headers in /usr/local/include/node.
  install -D -m 755 "$NODE_BIN" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules" "$root/usr/local/include"
  cp -a "$NODE_MODULES/npm" "$root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  if [[ -f $NODE_MODULES/corepack/dist/corepack.js ]]; then
    cp -a "$NODE_MODULES/corepack" "$root/usr/local/lib/node_modules/corepack"
    ln -s ../lib/node_modules/corepack/dist/corepack.js "$root/usr/local/bin/corepack"
  fi
  local inc
  inc="$(dirname "$(dirname "$NODE_BIN")")/include/node"
  [[ -d $inc ]] && cp -a "$inc" "$root/usr/local/include/node"
  chown -R 0:0 "$root/usr/local"
  # The official image's entrypoint: `docker run IMAGE -e ...` / `IMAGE script.js` run through node.
  cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e

# Run command with node if the first argument contains a "-" or is not a system command. The last
# part inside the "{}" is a workaround for the following bug in ash/dash:
# https://bugs.debian.org/cgi-bin/bugreport.cgi?bug=874264
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi

exec "$@"
EOF
  chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"

  # Extra CAs the host trusts (e.g. a TLS-intercepting egress proxy's), so npm/curl in build steps and containers
  # reach the registries as the host does: added to the system store and to Node's (NODE_EXTRA_CA_CERTS).
  local extra_ca=() cfg_ca=()
  if [[ -n $EXTRA_CA_DIR && -d $EXTRA_CA_DIR ]]; then
    mapfile -t extra_ca < <(find "$EXTRA_CA_DIR" -maxdepth 1 -name '*.crt' -type f | sort)
  fi
  if [[ ${#extra_ca[@]} -gt 0 ]]; then
    log "adding host CAs from $EXTRA_CA_DIR: ${extra_ca[*]##*/}"
    install -m 644 "${extra_ca[@]}" "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null 2>&1 || chroot "$root" update-ca-certificates
    cfg_ca=(--env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
      --label "bento-ts.extra-ca=$(IFS=,; echo "${extra_ca[*]##*/}")")
  fi

  # The `node` user, as the official image creates it.
  chroot "$root" groupadd --gid 1000 node
  chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  rm -f "$root"/etc/{passwd,group,shadow,gshadow,subuid,subgid}- "$root"/var/log/{lastlog,faillog}
  [[ "$(chroot "$root" /usr/local/bin/node -p process.versions.node)" == "$node_version" ]]

  log "importing into buildah storage ($STORAGE_DRIVER) as $IMAGE"
  ctr="$(bh from --quiet scratch)"
  local mnt
  mnt="$(bh mount "$ctr")"
  det_tar "$root" "$epoch" - | tar -C "$mnt" --numeric-owner --xattrs -xpf -
  bh umount "$ctr" >/dev/null
  bh config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_VERSION="$node_version" \
    "${cfg_ca[@]}" \
    --entrypoint '["docker-entrypoint.sh"]' --cmd '["node"]' \
    --os linux --arch "$("$NODE_BIN" -p 'process.arch==="x64"?"amd64":process.arch')" \
    --label org.opencontainers.image.title="bento-ts-node" \
    --label org.opencontainers.image.description="local stand-in for node:$node_version-$SUITE-slim (infra/base-image.sh)" \
    --label org.opencontainers.image.version="$node_version" \
    --created-by "infra/base-image.sh: debootstrap --variant=minbase $SUITE (slim) + node $node_version" \
    "$ctr"
  local old
  old="$(bh inspect --type image --format '{{.FromImageID}}' "$IMAGE" 2>/dev/null || true)"
  bh commit --quiet --format docker --timestamp "$epoch" --identity-label=false --rm "$ctr" "$IMAGE" >/dev/null
  ctr=""
  # A replaced image (--rebuild) is left without a name; drop it unless a container or another name still uses it.
  if [[ -n $old && $old != "$(bh inspect --type image --format '{{.FromImageID}}' "$IMAGE")" ]]; then
    bh rmi "$old" >/dev/null 2>&1 || true
  fi
  log "built $IMAGE ($((SECONDS - t0)) s)"
}

smoke_test() {
  local smoke_img=localhost/base-smoke:1 out rc
  log "smoke test: buildah bud FROM $IMAGE"
  cat >"$tmp/Dockerfile" <<EOF
FROM $IMAGE
RUN node -e "console.log(process.version)" && npm --version
RUN npm view is-number version
USER node
EOF
  bh bud --format docker --isolation "$BUILDAH_ISOLATION" --storage-driver "$STORAGE_DRIVER" \
    -t "$smoke_img" -f "$tmp/Dockerfile" "$tmp" >&2
  local server="require('http').createServer((q,s)=>s.end('ok')).listen(3999,()=>{require('http').get('http://127.0.0.1:3999',r=>{r.on('data',d=>{console.log(String(d));process.exit(0)})})})"
  smoke_ctr="$(bh from --quiet "$smoke_img")"
  out="$(bh run --isolation "$BUILDAH_ISOLATION" "$smoke_ctr" -- node -e "$server")"
  [[ $out == ok ]] || { echo "smoke: buildah run printed '$out', expected 'ok'" >&2; exit 1; }
  log "smoke: buildah run: server inside the container answered '$out'"

  # With chroot isolation the container shares the host's network: a server in it is reachable on 127.0.0.1.
  local port=3998 pid i
  # buildah itself (not a subshell: a function would be) in a process group of its own, so that stopping it
  # cannot leave buildah or the server behind; buildah passes SIGTERM on to the process in the container.
  setsid buildah --storage-driver "$STORAGE_DRIVER" run --isolation "$BUILDAH_ISOLATION" "$smoke_ctr" -- \
    node -e "require('http').createServer((q,s)=>s.end('ok '+process.getuid())).listen($port,'127.0.0.1')" >&2 &
  pid=$!
  out=""
  for i in $(seq 1 40); do
    out="$("$NODE_BIN" -e "require('http').get('http://127.0.0.1:$port',r=>r.on('data',d=>console.log(String(d)))).on('error',()=>{})")"
    [[ -n $out ]] && break
    sleep 0.25
  done
  kill -TERM -- "-$pid" 2>/dev/null || true
  for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [[ $out == "ok 1000" ]] || { echo "smoke: host could not reach a server in the container on :$port ('$out')" >&2; exit 1; }
  log "smoke: host reached the server in the container (buildah run) on 127.0.0.1:$port as uid 1000 (USER node)"
  bh rm "$smoke_ctr" >/dev/null; smoke_ctr=""

  if command -v podman >/dev/null; then
    rc=0
    out="$(timeout 120 podman --storage-driver "$STORAGE_DRIVER" run --rm --network host "$smoke_img" node -e "$server" 2>&1)" || rc=$?
    if [[ $rc -eq 0 && $out == ok ]]; then log "smoke: podman run works"
    else
      # In this sandbox: crun rejects podman's default rlimits and then the hybrid cgroup setup; runc (not
      # installed) works with `--ulimit nofile=20000:20000 --ulimit nproc=4096:4096`. buildah run is the way here.
      log "smoke: podman run does not work here (exit $rc): $out"
    fi
  fi
  bh rmi "$smoke_img" >/dev/null
  log "smoke test passed"
}

if [[ $rebuild -eq 1 ]] || ! have_image "$IMAGE"; then build_image; fi
[[ $smoke -eq 1 ]] && smoke_test
echo "$IMAGE"
