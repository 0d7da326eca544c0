#!/usr/bin/env bash
# A single-node Kubernetes cluster built on this machine from real parts, no cloud, no prebuilt binaries:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl   infra/k8s/kubernetes/go.mod
#   etcd                                                                                    infra/k8s/etcd/go.mod
#   containerd, its runc shim, ctr, crictl                                                   infra/k8s/containerd/go.mod
#   prometheus (scrapes the pods it discovers through the API server)                       infra/k8s/prometheus/go.mod
#   runc, the CNI plugins (bridge, host-local, loopback, portmap), openssl, buildah         Debian
#   the pod sandbox ("pause") image: pause.c from the Kubernetes module, built with gcc, packed with buildah
#
#   infra/k8s.sh install                 build what is missing or out of date into .stack-bin/k8s (stamped)
#   infra/k8s.sh up                      install, then start the cluster; returns once the node is Ready
#   infra/k8s.sh down                    stop every pod and component, unmount, delete the network namespace
#   infra/k8s.sh status                  what runs
#   infra/k8s.sh kubectl ARGS...         kubectl as cluster admin
#   infra/k8s.sh load-image IMAGE        copy an image from buildah's storage into the cluster's containerd
#   infra/k8s.sh unload-image IMAGE      remove it from the cluster's containerd
#   infra/k8s.sh exec CMD...             run CMD inside the cluster's network namespace (curl 127.0.0.1:NODEPORT;
#                                        Prometheus's API is on 127.0.0.1:9090 there)
#
# The whole cluster lives in its own network namespace (bento-k8s): its node address, pod and Service ranges exist
# only there, so nothing it does is routed off this machine. Traffic from tests goes to 127.0.0.1 in that namespace
# (a NodePort; kube-proxy serves NodePorts on loopback). Processes join the namespace with nsenter --net, which
# keeps the host's mounts: the kubelet and containerd need /sys/fs/cgroup as it is.
#
# This VM has hybrid cgroups with every controller on v1 (the unified hierarchy holds none), and no systemd: the
# kubelet runs with the cgroupfs driver and failCgroupV1: false (Kubernetes 1.35 refuses v1 unless told), and
# containerd with SystemdCgroup = false. The kubelet also sets kernel.panic=10, kernel.panic_on_oops=1 and
# vm.overcommit_memory=1, as it does on any node.
#
# Environment: K8S_DIR [<repo>/.stack/k8s] state (certificates, etcd, images, logs); K8S_BIN [<repo>/.stack-bin/k8s]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${K8S_DIR:-$root/.stack/k8s}"
bin="${K8S_BIN:-$root/.stack-bin/k8s}"
run=/run/bento-k8s # unix sockets: their paths must stay short
netns=bento-k8s
node=bento-node
node_ip=10.203.0.1
pod_cidr=10.204.0.0/24
service_cidr=10.205.0.0/24
api_service_ip=10.205.0.1
pause_image=registry.k8s.io/pause:3.10.1
export BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"

version_of() { awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$root/infra/k8s/$1/go.mod"; }
K8S_VERSION="$(version_of kubernetes k8s.io/kubernetes)"
ETCD_VERSION="$(version_of etcd go.etcd.io/etcd/server/v3)"
CONTAINERD_VERSION="$(version_of containerd github.com/containerd/containerd/v2)"
CRICTL_VERSION="$(version_of containerd sigs.k8s.io/cri-tools)"
PROMETHEUS_VERSION="$(version_of prometheus github.com/prometheus/prometheus)"

# The storage bento containerize --backend buildah and infra/base-image.sh use.
buildah() { command buildah --storage-driver vfs "$@"; }
log() { printf '[k8s] %s\n' "$*" >&2; }
source "$root/infra/lib/daemons.sh"
in_ns() { nsenter --net="/run/netns/$netns" -- "$@"; }
kctl() { in_ns "$bin/kubectl" --kubeconfig "$dir/pki/admin.kubeconfig" "$@"; }
# ctr repeats containerd's cgroup v1 deprecation notice on every call: said once, in containerd.log.
ctr() { "$bin/ctr" --address "$run/containerd.sock" -n k8s.io "$@" 2> >(grep -v 'support for cgroup v1 is deprecated' >&2); }

# ---------------------------------------------------------------------------------------------------- install
apt_install() { # packages missing from the machine, from Debian
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  log "apt-get install ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# build NAME VERSION MODULE_DIR LDFLAGS PACKAGES...: go build into $bin once per version (a stamp, as MinIO's).
build() {
  local name="$1" version="$2" module="$3" ldflags="$4"; shift 4
  local stamp="$bin/$name.version"
  [[ "$(cat "$stamp" 2>/dev/null)" == "$version" ]] && return 0
  log "building $name $version (go build, infra/k8s/$module)"
  local started=$SECONDS
  mkdir -p "$bin"
  CGO_ENABLED=0 go -C "$root/infra/k8s/$module" build -trimpath -buildvcs=false -ldflags "-s -w $ldflags" -o "$bin/" "$@"
  echo "$version" > "$stamp"
  log "built $name in $((SECONDS - started)) s"
}

pause_archive() { # the sandbox image every pod starts with, as an OCI archive
  local archive="$bin/pause.oci.tar" stamp="$bin/pause.version"
  [[ -f "$archive" && "$(cat "$stamp" 2>/dev/null)" == "$K8S_VERSION $pause_image" ]] && return 0
  local src
  src="$(go -C "$root/infra/k8s/kubernetes" list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c"
  [[ -f "$src" ]] || go -C "$root/infra/k8s/kubernetes" mod download k8s.io/kubernetes
  gcc -Os -Wall -Werror -static -DVERSION="${pause_image##*:}" -o "$bin/pause" "$src"
  local c
  c="$(buildah from scratch)"
  buildah copy "$c" "$bin/pause" /pause >/dev/null
  buildah config --entrypoint '["/pause"]' --user 65535:65535 "$c"
  buildah commit -q "$c" "$pause_image" >/dev/null
  buildah rm "$c" >/dev/null
  rm -f "$archive"
  buildah push -q "$pause_image" "oci-archive:$archive:$pause_image"
  echo "$K8S_VERSION $pause_image" > "$stamp"
}

install() {
  command -v go >/dev/null || { log "Go is needed to build the cluster's binaries (apt-get install golang, or go.dev/dl)"; exit 1; }
  apt_install runc containernetworking-plugins iptables openssl buildah gcc libc6-dev util-linux iproute2
  local kv="k8s.io/component-base/version"
  build kubernetes "$K8S_VERSION" kubernetes \
    "-X $kv.gitVersion=$K8S_VERSION -X $kv.gitMajor=$(cut -d. -f1 <<<"${K8S_VERSION#v}") -X $kv.gitMinor=$(cut -d. -f2 <<<"$K8S_VERSION") -X $kv.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy \
    k8s.io/kubernetes/cmd/kubectl
  build etcd "$ETCD_VERSION" etcd "" go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3
  # go.etcd.io/etcd/server/v3 is built as "server".
  if [[ -x "$bin/server" ]]; then mv "$bin/server" "$bin/etcd"; fi
  build containerd "$CONTAINERD_VERSION $CRICTL_VERSION" containerd \
    "-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
    github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
    github.com/containerd/containerd/v2/cmd/ctr sigs.k8s.io/cri-tools/cmd/crictl
  # Only the Kubernetes service discovery: the others are compiled out.
  build prometheus "$PROMETHEUS_VERSION" prometheus "-X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION" \
    -tags remove_all_sd,enable_kubernetes_sd github.com/prometheus/prometheus/cmd/prometheus
  pause_archive
}

# ---------------------------------------------------------------------------------------------------- certificates
cert() { # name, subject, [extensions]: a key and a certificate signed by the cluster CA
  local name="$1" subject="$2" ext="${3:-}"
  [[ -f "$dir/pki/$name.crt" ]] && return 0
  openssl req -new -newkey rsa:2048 -nodes -keyout "$dir/pki/$name.key" -subj "$subject" -out "$dir/pki/$name.csr" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n%s\n' \
    "${ext:+serverAuth,}clientAuth" "$ext" > "$dir/pki/$name.ext"
  openssl x509 -req -in "$dir/pki/$name.csr" -CA "$dir/pki/ca.crt" -CAkey "$dir/pki/ca.key" -CAcreateserial \
    -days 365 -sha256 -extfile "$dir/pki/$name.ext" -out "$dir/pki/$name.crt" 2>/dev/null
  rm -f "$dir/pki/$name.csr" "$dir/pki/$name.ext"
}

kubeconfig() { # name, user certificate
  local file="$dir/pki/$1.kubeconfig"
  [[ -f "$file" ]] && return 0
  cat > "$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: bento-k8s
  cluster: { certificate-authority: $dir/pki/ca.crt, server: "https://$node_ip:6443" }
users:
- name: $1
  user: { client-certificate: $dir/pki/$2.crt, client-key: $dir/pki/$2.key }
contexts:
- name: bento-k8s
  context: { cluster: bento-k8s, user: $1 }
current-context: bento-k8s
EOF
}

certificates() {
  mkdir -p "$dir/pki"
  if [[ ! -f "$dir/pki/ca.crt" ]]; then
    openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$dir/pki/ca.key" -subj "/CN=bento-k8s-ca" -days 3650 \
      -sha256 -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$dir/pki/ca.crt" 2>/dev/null
  fi
  cert apiserver "/CN=kube-apiserver" \
    "subjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:$api_service_ip,IP:$node_ip,IP:127.0.0.1"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  cert admin "/O=system:masters/CN=bento-admin"
  cert controller-manager "/CN=system:kube-controller-manager"
  cert scheduler "/CN=system:kube-scheduler"
  cert kube-proxy "/CN=system:kube-proxy"
  cert kubelet "/O=system:nodes/CN=system:node:$node" "subjectAltName=DNS:$node,IP:$node_ip"
  [[ -f "$dir/pki/sa.key" ]] || openssl genrsa -out "$dir/pki/sa.key" 2048 2>/dev/null
  [[ -f "$dir/pki/sa.pub" ]] || openssl rsa -in "$dir/pki/sa.key" -pubout -out "$dir/pki/sa.pub" 2>/dev/null
  kubeconfig admin admin
  kubeconfig controller-manager controller-manager
  kubeconfig scheduler scheduler
  kubeconfig kube-proxy kube-proxy
  kubeconfig kubelet kubelet
}

# ---------------------------------------------------------------------------------------------------- network
network() {
  if [[ ! -e "/run/netns/$netns" ]]; then
    ip netns add "$netns"
  fi
  in_ns ip link set lo up
  if ! in_ns ip link show bento-node0 >/dev/null 2>&1; then
    # The node's address, on a bridge with no ports: local to the namespace, reachable from nowhere else.
    in_ns ip link add bento-node0 type bridge
    in_ns ip addr add "$node_ip/24" dev bento-node0
    in_ns ip link set bento-node0 up
    # Components that look for a default route find one; with no port on the bridge it leads nowhere.
    in_ns ip route add default dev bento-node0
  fi
  in_ns sysctl -qw net.ipv4.ip_forward=1
  mkdir -p "$dir/cni"
  cat > "$dir/cni/10-bento-k8s.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "bento-k8s",
  "plugins": [
    { "type": "bridge", "bridge": "bento-cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$pod_cidr" }]], "routes": [{ "dst": "0.0.0.0/0" }],
                "dataDir": "$dir/cni/leases" } },
    { "type": "portmap", "capabilities": { "portMappings": true } },
    { "type": "loopback" }
  ]
}
EOF
}

# ---------------------------------------------------------------------------------------------------- components
start() { # name, command...: in the namespace, detached, logging to $dir/name.log
  local name="$1"; shift
  alive "$name" && return 0
  setsid nohup nsenter --net="/run/netns/$netns" -- "$@" >>"$dir/$name.log" 2>&1 < /dev/null &
  echo $! > "$dir/$name.pid"
}

containerd_config() {
  cat > "$dir/containerd.toml" <<EOF
version = 3
root = "$dir/containerd"
state = "$run/containerd"
[grpc]
  address = "$run/containerd.sock"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = "$pause_image"
[plugins.'io.containerd.cri.v1.runtime']
  enable_cdi = false
  # This VM withholds CAP_SYS_RESOURCE, so no process may lower its OOM score: the pod sandbox's -998 would fail
  # every pod. Scores below containerd's own are raised to it instead.
  restrict_oom_score_adj = true
[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = ["/usr/lib/cni"]
  conf_dir = "$dir/cni"
[plugins.'io.containerd.cri.v1.runtime'.containerd]
  default_runtime_name = "runc"
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  BinaryName = "$(command -v runc)"
  SystemdCgroup = false
EOF
}

prometheus_config() {
  # Pods that carry the prometheus.io scrape annotations (bento deploy k8s writes them), labelled with their
  # namespace, pod and pod labels, as the usual kubernetes-pods job does; every 2 s, so a test sees data quickly.
  cat > "$dir/prometheus.yml" <<EOF
global: { scrape_interval: 2s, evaluation_interval: 2s }
scrape_configs:
  - job_name: kubernetes-pods
    kubernetes_sd_configs:
      - role: pod
        api_server: https://$node_ip:6443
        tls_config: { ca_file: $dir/pki/ca.crt, cert_file: $dir/pki/admin.crt, key_file: $dir/pki/admin.key }
    relabel_configs:
      - { source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape], action: keep, regex: "true" }
      - { source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path], target_label: __metrics_path__, regex: (.+) }
      - source_labels: [__meta_kubernetes_pod_ip, __meta_kubernetes_pod_annotation_prometheus_io_port]
        regex: (.+);(\d+)
        replacement: \$1:\$2
        target_label: __address__
      - { source_labels: [__meta_kubernetes_namespace], target_label: namespace }
      - { source_labels: [__meta_kubernetes_pod_name], target_label: pod }
      - { action: labelmap, regex: __meta_kubernetes_pod_label_(.+) }
EOF
}

kubelet_config() {
  cat > "$dir/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This VM's controllers are all on cgroup v1, and nothing runs systemd.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$run/containerd.sock
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $dir/pki/ca.crt }
authorization: { mode: Webhook }
tlsCertFile: $dir/pki/kubelet.crt
tlsPrivateKeyFile: $dir/pki/kubelet.key
address: $node_ip
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
clusterDomain: cluster.local
podLogsDir: $dir/pod-logs
resolvConf: $dir/resolv.conf
failSwapOn: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard: { "memory.available": "200Mi", "nodefs.available": "1%", "imagefs.available": "1%" }
maxPods: 30
EOF
  # Pods get no DNS server (nothing is reachable by name from here); a file with none keeps the host's out.
  echo "options ndots:1" > "$dir/resolv.conf"
}

up() {
  local started=$SECONDS
  install
  mkdir -p "$dir" "$run"
  certificates
  network
  containerd_config
  kubelet_config
  prometheus_config
  log "starting etcd $ETCD_VERSION"
  start etcd "$bin/etcd" --name bento --data-dir "$dir/etcd" --listen-client-urls http://127.0.0.1:2379 \
    --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 \
    --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster bento=http://127.0.0.1:2380 \
    --listen-metrics-urls http://127.0.0.1:2381 --log-level warn
  wait_for etcd 60 in_ns curl -fsS http://127.0.0.1:2381/health
  log "starting the control plane (Kubernetes $K8S_VERSION)"
  start kube-apiserver "$bin/kube-apiserver" --advertise-address "$node_ip" --bind-address "$node_ip" \
    --etcd-servers http://127.0.0.1:2379 --service-cluster-ip-range "$service_cidr" --service-node-port-range 30000-32767 \
    --client-ca-file "$dir/pki/ca.crt" --tls-cert-file "$dir/pki/apiserver.crt" --tls-private-key-file "$dir/pki/apiserver.key" \
    --kubelet-client-certificate "$dir/pki/apiserver-kubelet-client.crt" --kubelet-client-key "$dir/pki/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$dir/pki/ca.crt" --kubelet-preferred-address-types InternalIP \
    --service-account-key-file "$dir/pki/sa.pub" --service-account-signing-key-file "$dir/pki/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction --allow-privileged=true \
    --profiling=false --v 1
  wait_for kube-apiserver 120 kctl get --raw /readyz
  start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig "$dir/pki/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$dir/pki/controller-manager.kubeconfig" --authorization-kubeconfig "$dir/pki/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials \
    --service-account-private-key-file "$dir/pki/sa.key" --root-ca-file "$dir/pki/ca.crt" \
    --cluster-signing-cert-file "$dir/pki/ca.crt" --cluster-signing-key-file "$dir/pki/ca.key" \
    --service-cluster-ip-range "$service_cidr" --cluster-cidr "$pod_cidr" --allocate-node-cidrs=false \
    --profiling=false --v 1
  start kube-scheduler "$bin/kube-scheduler" --kubeconfig "$dir/pki/scheduler.kubeconfig" \
    --authentication-kubeconfig "$dir/pki/scheduler.kubeconfig" --authorization-kubeconfig "$dir/pki/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --profiling=false --v 1
  log "starting containerd $CONTAINERD_VERSION"
  start containerd env PATH="$bin:$PATH" "$bin/containerd" --config "$dir/containerd.toml"
  wait_for containerd 60 ctr version
  if ! ctr images ls -q 2>/dev/null | grep -qx "$pause_image"; then ctr images import --local "$bin/pause.oci.tar" >/dev/null; fi
  log "starting the kubelet and kube-proxy"
  start kubelet env PATH="$bin:$PATH" "$bin/kubelet" --config "$dir/kubelet.yaml" --kubeconfig "$dir/pki/kubelet.kubeconfig" \
    --hostname-override "$node" --node-ip "$node_ip" --root-dir "$dir/kubelet" --v 1
  start kube-proxy "$bin/kube-proxy" --kubeconfig "$dir/pki/kube-proxy.kubeconfig" --hostname-override "$node" \
    --proxy-mode iptables --cluster-cidr "$pod_cidr" --nodeport-addresses 127.0.0.0/8,"$node_ip/32" \
    --conntrack-max-per-core 0 --metrics-bind-address 127.0.0.1:10249 --v 1
  start prometheus "$bin/prometheus" --config.file "$dir/prometheus.yml" --storage.tsdb.path "$dir/prometheus" \
    --storage.tsdb.retention.time 1d --web.listen-address 127.0.0.1:9090 --log.level warn
  wait_for kubelet 120 kctl get node "$node"
  kctl wait --for=condition=Ready "node/$node" --timeout=120s >/dev/null || {
    log "the node is not Ready; the end of $dir/kubelet.log:"; tail -n 30 "$dir/kubelet.log" >&2; exit 1; }
  wait_for prometheus 60 in_ns curl -fsS http://127.0.0.1:9090/-/ready
  log "node $node Ready in $((SECONDS - started)) s (kubectl: infra/k8s.sh kubectl ..., or KUBECONFIG=$dir/pki/admin.kubeconfig)"
}

# ---------------------------------------------------------------------------------------------------- down
stop() { # name: SIGTERM, then SIGKILL after 10 s
  alive "$1" || { rm -f "$dir/$1.pid"; return 0; }
  local pid; pid="$(cat "$dir/$1.pid")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/$1.pid"
}

down() {
  stop prometheus
  stop kubelet
  if alive containerd; then
    # Every pod sandbox stopped and removed through the CRI: containers killed, their network torn down by CNI.
    "$bin/crictl" --runtime-endpoint "unix://$run/containerd.sock" rmp --all --force >/dev/null 2>&1 || true
  fi
  stop kube-proxy
  stop containerd
  # Shims outlive containerd by design; whatever is left of the pods' processes goes with them.
  pkill -9 -f "^$bin/containerd-shim-runc-v2 " 2>/dev/null || true
  for procs in /sys/fs/cgroup/pids/kubepods*/cgroup.procs /sys/fs/cgroup/pids/kubepods*/**/cgroup.procs; do
    [[ -f "$procs" ]] && xargs -r kill -9 < "$procs" 2>/dev/null || true
  done
  stop kube-scheduler
  stop kube-controller-manager
  stop kube-apiserver
  stop etcd
  # Mounts the kubelet and containerd made (volumes, rootfs overlays, sandbox shm), deepest first.
  findmnt -rn -o TARGET | grep -E "^($dir|$run)/" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  for ns in $(ip netns list | awk '{print $1}' | grep '^cni-'); do
    # Pod namespaces containerd left behind hold an address of the pod range only.
    ip netns exec "$ns" ip -4 -o addr 2>/dev/null | grep -q "${pod_cidr%.*}\." && ip netns del "$ns"
  done
  [[ -e "/run/netns/$netns" ]] && ip netns del "$netns"
  # The kubelet's cgroups, emptied above, deepest first.
  find /sys/fs/cgroup/*/kubepods* -depth -type d -exec rmdir {} + 2>/dev/null || true
  # Address leases of pods that no longer exist.
  rm -rf "$run" "$dir/cni/leases"
  log "stopped"
}

status() {
  local name
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy prometheus; do
    if alive "$name"; then echo "$name: running (pid $(cat "$dir/$name.pid"))"; else echo "$name: stopped"; fi
  done
  alive kube-apiserver && kctl get nodes -o wide 2>/dev/null || true
}

load_image() { # a buildah image, into containerd's k8s.io namespace under the same name
  local image="$1" archive
  archive="$(mktemp -d)/image.tar"
  buildah push -q "$image" "oci-archive:$archive:$image"
  ctr images import --local "$archive" >/dev/null
  rm -rf "$(dirname "$archive")"
  log "loaded $image"
}

case "${1:-status}" in
  install) install ;;
  up) up ;;
  down) down ;;
  status) status ;;
  kubectl) shift; kctl "$@" ;;
  load-image) load_image "${2:?an image name}" ;;
  unload-image) ctr images rm "${2:?an image name}" >/dev/null ;;
  exec) shift; exec nsenter --net="/run/netns/$netns" -- "$@" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac
