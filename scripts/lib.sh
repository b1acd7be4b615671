# Shared by scripts/install and scripts/test; sourced, never run.
# shellcheck shell=bash

# Debian 12 packages basalt needs to build and run, in one place. Later
# subsystems add theirs here as they arrive: nftables (net),
# qemu-system-x86 (vm), ...
#   build-essential  cc, also for the zone security test's system-call probe
#   btrfs-progs  the pool (mkfs.btrfs, btrfs subvolume/qgroup/send/receive)
#   e2fsprogs    chattr +C for no-copy-on-write volumes
#   util-linux   mount -o loop, blkid; flock and unshare for images/
#   busybox-static          the minimal test image (images/build-minimal)
#   debootstrap             the Debian test image (images/build-debian)
#   debian-archive-keyring  debootstrap checks the archive's signatures with it
#   gzip, tar               image files: GNU tar with xattrs, gzip -n
#   runc                    the peer of the zone benchmark (crates/cli/benches/zone.rs)
#   cloud-init              its SmartOS datasource's clients, run against the metadata
#                           service by a host test (crates/cli/tests/zones.rs)
#   nftables                nft: the anti-spoofing rules (crates/net)
#   iproute2                tc: bandwidth caps (crates/net); ip: the network tests'
#                           own namespaces and fixtures
#   iperf3                  throughput in the network tests and benchmark
#   python3                 crafts and captures raw frames in the anti-spoofing tests
#   bsdutils                script(1): a terminal for imgadm's progress bar in the
#                           image-server tests (crates/cli/tests/imgapi.rs)
#   curl                    the peer of the import benchmark (crates/cli/benches/imgapi.rs)
#   openssl                 a self-signed certificate for the https source test
#   bpftrace                the second opinion on dtrace's counts and the peer of its
#                           benchmark (crates/cli/tests/dtrace_run.rs, benches/dtrace.rs)
BASALT_APT_PACKAGES=(build-essential pkg-config ca-certificates btrfs-progs e2fsprogs util-linux
    busybox-static debootstrap debian-archive-keyring gzip tar runc cloud-init
    nftables iproute2 iperf3 python3 bsdutils curl openssl bpftrace)

# The checkout this file belongs to.
# shellcheck disable=SC2034 # used by the scripts that source this file
BASALT_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

need_root() {
    [[ $(id -u) -eq 0 ]] || die "must run as root (sudo $0)"
}

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    local had_cloud_init=
    dpkg-query -W -f='${Status}' cloud-init 2>/dev/null | grep -q 'ok installed' && had_cloud_init=1
    apt-get -o DPkg::Lock::Timeout=600 update
    apt-get -o DPkg::Lock::Timeout=600 install -y "${BASALT_APT_PACKAGES[@]}"
    # Installed for its client classes only: it must not configure the host
    # at its next boot (one that already used it keeps it).
    if [[ -z $had_cloud_init && -d /etc/cloud ]]; then
        touch /etc/cloud/cloud-init.disabled
    fi
}

# Finds the rustup toolchain, also when sudo has reset PATH; the pinned
# version comes from rust-toolchain.toml.
need_cargo() {
    if ! command -v cargo >/dev/null 2>&1; then
        local dir
        for dir in "${CARGO_HOME:-$HOME/.cargo}/bin" /root/.cargo/bin; do
            if [[ -x $dir/cargo ]]; then
                PATH="$dir:$PATH"
                break
            fi
        done
    fi
    command -v cargo >/dev/null 2>&1 ||
        die "cargo not found: basalt needs Rust 1.95 installed with rustup (https://rustup.rs)"
}

# Creates the directories vmadm expects under a data root ("" for /).
make_data_root() {
    local root=${1%/}
    mkdir -p "$root/etc/zones" "$root/var/log/vm/logs" "$root/usbkey" "$root/zones"
}

# The top-level "uuid" of a pretty-printed example payload.
example_uuid() {
    local uuid
    uuid=$(sed -nE 's/^  "uuid": "([0-9a-f-]{36})",?$/\1/p' "$1")
    [[ $uuid =~ ^[0-9a-f-]{36}$ ]] || die "$1: no top-level \"uuid\" line"
    echo "$uuid"
}

# Runs `vmadm validate create -f FILE`. Succeeds when the payload is valid,
# or when its only problems are keys vmadm drops on create (bad_properties,
# as in a payload from Ansible's vmadm module); prints what vmadm said.
validate_example() {
    local vmadm=$1 file=$2 out
    if out=$("$vmadm" validate create -f "$file" 2>&1); then
        echo "$out"
        return 0
    fi
    echo "$out"
    if grep -q '"bad_values": \[\]' <<<"$out" &&
        grep -q '"missing_properties": \[\]' <<<"$out"; then
        echo "(create drops the keys listed in bad_properties)"
        return 0
    fi
    return 1
}
