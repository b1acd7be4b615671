# Shared by images/build-* and images/cached; sourced, never run.
# shellcheck shell=bash
#
# A build script calls img_start "$@" first: from then on its stdout is
# stderr, and img_finish prints the two output paths on the real stdout.

# The owner of every basalt-built image: SmartOS's "no account" uuid.
IMG_OWNER=00000000-0000-0000-0000-000000000000

img_die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

# Checks the arguments and the user, fixes the umask (modes in the image
# must not depend on the caller's) and keeps stdout for the result.
# Sets IMG_OUTDIR (absolute).
img_start() {
    [[ $# -eq 1 && -n $1 ]] || img_die "usage: $(basename "$0") OUTDIR"
    [[ $(id -u) -eq 0 ]] || img_die "must run as root (sudo $0)"
    umask 022
    export LC_ALL=C
    mkdir -p -- "$1"
    IMG_OUTDIR=$(realpath -- "$1")
    exec 3>&1 1>&2
}

# Installs the Debian packages given that are not installed yet.
img_need_packages() {
    local pkg missing=()
    for pkg in "$@"; do
        if [[ $(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null) != installed ]]; then
            missing+=("$pkg")
        fi
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    echo "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Waits for another apt-get (a concurrent test's) instead of failing.
    local apt=(apt-get -o DPkg::Lock::Timeout=600)
    "${apt[@]}" install -y "${missing[@]}" ||
        { "${apt[@]}" update && "${apt[@]}" install -y "${missing[@]}"; } ||
        img_die "failed to install ${missing[*]}"
}

# Removes a directory tree made by a build: first unmounts whatever is
# still mounted below it (a killed debootstrap can leave /proc or a bind
# of /dev there), then deletes without ever crossing into another
# filesystem.
img_remove_tree() {
    local dir=$1 mnt
    [[ -e $dir ]] || return 0
    dir=$(realpath -- "$dir")
    # Deepest first: mountinfo lists parents before children.
    while read -r mnt; do
        umount -l -- "$mnt" || true
    done < <(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' \
        /proc/self/mountinfo | sort -r)
    rm -rf --one-file-system -- "$dir"
}

# A scratch directory under IMG_OUTDIR (same filesystem, so results can
# be renamed into place), removed when the script exits however it exits.
# Sets IMG_WORK.
img_workdir() {
    IMG_WORK=$(mktemp -d "$IMG_OUTDIR/.work.XXXXXX")
    trap 'img_remove_tree "$IMG_WORK"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# Seconds since the epoch of an ISO time such as 2025-06-01T00:00:00Z.
img_epoch() {
    date -u -d "$1" +%s
}

# Writes ROOT as a gzip-compressed tar to FILE, the same bytes for the
# same tree whenever and wherever it runs:
# - the top level of the archive is the root filesystem (./bin, ./etc),
# - owners are numeric (the zone's user namespace maps them, not names),
# - xattrs (file capabilities included) and ACLs are kept,
# - members sorted by name, every mtime EPOCH, no atime/ctime or pid in
#   pax headers, no name or time in the gzip header.
# Further arguments go to tar (build-minimal adds --owner=0 --group=0).
img_pack() {
    local root=$1 file=$2 epoch=$3
    shift 3
    tar -C "$root" --create --format=posix \
        --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
        --xattrs --xattrs-include='*' --acls --numeric-owner \
        --sort=name --mtime="@$epoch" "$@" . |
        gzip -n >"$file.part"
    mv -- "$file.part" "$file"
}

img_sha1() {
    local sum
    sum=$(sha1sum -- "$1")
    echo "${sum%% *}"
}

img_size() {
    stat -c %s -- "$1"
}

# A JSON string literal. The manifest's values are fixed strings from the
# build scripts; anything outside printable ASCII is refused, not escaped.
img_json_str() {
    [[ $1 =~ ^[[:print:]]*$ ]] || img_die "not printable ASCII: $1"
    local s=${1//\\/\\\\}
    printf '"%s"' "${s//\"/\\\"}"
}

# Writes the v2 manifest of image FILE to MANIFEST (reference 3.3):
#   img_manifest MANIFEST FILE uuid=U name=N version=V type=T os=O \
#       brand=B published_at=ISO description=D [tag.KEY=VALUE]...
# files[0] (sha1, size) is computed from FILE; compression is gzip.
img_manifest() {
    local manifest=$1 file=$2 arg key tags=() sep
    shift 2
    local -A m=()
    for arg in "$@"; do
        [[ $arg == *=* ]] || img_die "img_manifest: not key=value: $arg"
        key=${arg%%=*}
        if [[ $key == tag.* ]]; then
            tags+=("$(img_json_str "${key#tag.}"): $(img_json_str "${arg#*=}")")
        else
            m[$key]=${arg#*=}
        fi
    done
    for key in uuid name version type os brand published_at description; do
        [[ -n ${m[$key]:-} ]] || img_die "img_manifest: $key missing"
    done
    {
        printf '{\n'
        printf '  "v": 2,\n'
        printf '  "uuid": %s,\n' "$(img_json_str "${m[uuid]}")"
        printf '  "owner": %s,\n' "$(img_json_str "$IMG_OWNER")"
        printf '  "name": %s,\n' "$(img_json_str "${m[name]}")"
        printf '  "version": %s,\n' "$(img_json_str "${m[version]}")"
        printf '  "description": %s,\n' "$(img_json_str "${m[description]}")"
        printf '  "state": "active",\n'
        printf '  "disabled": false,\n'
        printf '  "public": true,\n'
        printf '  "published_at": %s,\n' "$(img_json_str "${m[published_at]}")"
        printf '  "type": %s,\n' "$(img_json_str "${m[type]}")"
        printf '  "os": %s,\n' "$(img_json_str "${m[os]}")"
        printf '  "files": [\n'
        printf '    {\n'
        printf '      "sha1": "%s",\n' "$(img_sha1 "$file")"
        printf '      "size": %s,\n' "$(img_size "$file")"
        printf '      "compression": "gzip"\n'
        printf '    }\n'
        printf '  ],\n'
        printf '  "requirements": {\n'
        printf '    "brand": %s\n' "$(img_json_str "${m[brand]}")"
        if [[ ${#tags[@]} -eq 0 ]]; then
            printf '  }\n'
        else
            printf '  },\n'
            printf '  "tags": {\n'
            sep=,
            for arg in "${!tags[@]}"; do
                [[ $arg -eq $((${#tags[@]} - 1)) ]] && sep=
                printf '    %s%s\n' "${tags[$arg]}" "$sep"
            done
            printf '  }\n'
        fi
        printf '}\n'
    } >"$manifest.part"
    mv -- "$manifest.part" "$manifest"
}

# Packs ROOT into IMG_OUTDIR as <name>-<version>.tar.gz, every mtime set to
# published_at, writes the manifest beside it, and prints both paths
# (manifest first, the order of `imgadm install -m MANIFEST -f FILE`) on
# the real stdout.
#   img_finish [--all-root] ROOT KEY=VALUE...   (keys as for img_manifest)
# --all-root records every member as owned by 0:0, whatever the tree says.
img_finish() {
    local tar_args=()
    if [[ $1 == --all-root ]]; then
        tar_args=(--owner=0 --group=0)
        shift
    fi
    local root=$1 arg name='' version='' published_at=''
    shift
    for arg in "$@"; do
        case $arg in
        name=*) name=${arg#name=} ;;
        version=*) version=${arg#version=} ;;
        published_at=*) published_at=${arg#published_at=} ;;
        esac
    done
    [[ -n $name && -n $version && -n $published_at ]] ||
        img_die "img_finish: name, version and published_at are required"
    local base=$IMG_OUTDIR/$name-$version
    img_pack "$root" "$base.tar.gz" "$(img_epoch "$published_at")" "${tar_args[@]}"
    img_manifest "$base.imgmanifest" "$base.tar.gz" "$@"
    printf '%s\n%s\n' "$base.imgmanifest" "$base.tar.gz" >&3
}

# The guest side of the metadata service (reference 4.6), the same in
# every image: img_mdata_scripts ROOT installs /usr/lib/basalt/mdata-fetch
# and /usr/lib/basalt/mdata-execute, run at every boot (by an init.d script
# or by systemd units) when the zone has the host's tools at
# /native/usr/sbin. Each image's build script says how they are started.
img_mdata_scripts() {
    local root=$1
    install -d -m 0755 "$root/usr/lib/basalt" "$root/var/svc" \
        "$root/var/svc/log" "$root/var/db"
    cat >"$root/usr/lib/basalt/mdata-fetch" <<'EOF'
#!/bin/sh
# Fetches the keys an instance's image consumes at boot (reference 4.6):
#   root_authorized_keys  -> /root/.ssh/authorized_keys (dir 700, file 600)
#   user-script           -> /var/svc/mdata-user-script (700), which
#                            mdata-execute runs
#   user-data             -> /var/db/mdata-user-data (600), never run
# A key the instance does not have (mdata-get exits 1) removes what an
# earlier boot wrote for it, except authorized_keys, which root may have
# edited. The tools retry an unreachable service; MDATA_RETRY_SECONDS
# bounds that, so that a boot never waits long for it, and a service that
# does not answer the first key ends the fetch (exit 1).
PATH=/native/usr/sbin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
: "${MDATA_RETRY_SECONDS:=10}"
export MDATA_RETRY_SECONDS
umask 077

# fetch KEY FILE MODE: FILE gets KEY's value; 0 when it did, 1 when the
# instance has no KEY (FILE removed), 2 on an error (FILE left alone).
fetch() {
    mdata-get "$1" >"$2.new"
    status=$?
    case $status in
    0)
        chmod "$3" "$2.new" && mv -f "$2.new" "$2"
        ;;
    1)
        rm -f "$2.new" "$2"
        ;;
    *)
        rm -f "$2.new"
        echo "mdata-fetch: $1: mdata-get exited with $status" >&2
        ;;
    esac
    return $status
}

mkdir -p /var/svc /var/db
# The first answer tells whether the service is there at all: when it is
# not, the boot does not wait for it twice more.
fetch user-script /var/svc/mdata-user-script 0700
[ $? -le 1 ] || exit 1
fetch user-data /var/db/mdata-user-data 0600

mkdir -p /root/.ssh
chmod 0700 /root/.ssh
if mdata-get root_authorized_keys >/root/.ssh/authorized_keys.new; then
    chmod 0600 /root/.ssh/authorized_keys.new
    mv -f /root/.ssh/authorized_keys.new /root/.ssh/authorized_keys
else
    rm -f /root/.ssh/authorized_keys.new
fi
exit 0
EOF
    cat >"$root/usr/lib/basalt/mdata-execute" <<'EOF'
#!/bin/sh
# Runs the user-script mdata-fetch wrote, as SmartOS's mdata:execute does
# at every boot, for at most MDATA_EXEC_TIMEOUT seconds (default 300).
# Its output goes to stdout and stderr: the caller decides where they go.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
script=/var/svc/mdata-user-script
[ -x "$script" ] || exit 0
echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') running $script"
exec timeout "${MDATA_EXEC_TIMEOUT:-300}" "$script"
EOF
    chmod 0755 "$root/usr/lib/basalt/mdata-fetch" "$root/usr/lib/basalt/mdata-execute"
}
