//! The narrow layer over btrfs-progs and util-linux: pure builders of the
//! commands basalt runs and pure parsers of their text output (btrfs-progs
//! 6.2's JSON output is incomplete, so text is parsed). Tested on captured
//! output; nothing here runs a command.

use std::path::Path;

use crate::exec::Cmd;

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// `mkfs.btrfs` of a pool file or device, labelled with the pool's name.
pub fn mkfs(target: &Path, label: &str) -> Cmd {
    Cmd::new(
        "mkfs.btrfs",
        ["-q".into(), "-L".into(), label.into(), p(target)],
    )
}

/// The per-mount flags every pool mount has on the host: a set-uid file or a
/// device node that a zone makes in its root (where its root is uid 0 on
/// disk) must mean nothing to the host. Zones get set-uid back on their own
/// idmapped mount of their root.
pub const HOST_FLAGS: [&str; 2] = ["nosuid", "nodev"];

/// Mounting a pool (`-o loop` for a file; the loop device is released at
/// unmount).
pub fn mount(source: &Path, mountpoint: &Path, loop_file: bool) -> Cmd {
    let opts = if loop_file {
        "loop,noatime,nosuid,nodev"
    } else {
        "noatime,nosuid,nodev"
    };
    Cmd::new(
        "mount",
        [
            "-t".into(),
            "btrfs".into(),
            "-o".into(),
            opts.into(),
            p(source),
            p(mountpoint),
        ],
    )
}

/// Giving a mounted pool (or a bind of one) the host flags.
pub fn remount_host_flags(mountpoint: &Path) -> Cmd {
    Cmd::new(
        "mount",
        [
            "-o".into(),
            format!("remount,bind,{}", HOST_FLAGS.join(",")),
            p(mountpoint),
        ],
    )
}

/// Unmounting a pool.
pub fn umount(mountpoint: &Path) -> Cmd {
    Cmd::new("umount", [p(mountpoint)])
}

/// Turning on quota accounting (qgroups) for a pool.
pub fn quota_enable(mountpoint: &Path) -> Cmd {
    Cmd::new("btrfs", ["quota".into(), "enable".into(), p(mountpoint)])
}

/// Creating a subvolume.
pub fn subvolume_create(path: &Path) -> Cmd {
    Cmd::new("btrfs", ["subvolume".into(), "create".into(), p(path)])
}

/// Deleting subvolumes.
pub fn subvolume_delete(paths: &[&Path]) -> Cmd {
    let mut args = vec!["subvolume".to_owned(), "delete".to_owned()];
    args.extend(paths.iter().map(|x| p(x)));
    Cmd::new("btrfs", args)
}

/// Snapshotting a subvolume, read-only or writable.
pub fn snapshot(source: &Path, dest: &Path, readonly: bool) -> Cmd {
    let mut args = vec!["subvolume".to_owned(), "snapshot".to_owned()];
    if readonly {
        args.push("-r".into());
    }
    args.extend([p(source), p(dest)]);
    Cmd::new("btrfs", args)
}

/// Listing every subvolume with ids, generations and uuids.
pub fn subvolume_list(mountpoint: &Path) -> Cmd {
    Cmd::new(
        "btrfs",
        ["subvolume", "list", "-u", "-q", "-R", "-c", "-g"]
            .iter()
            .map(|s| (*s).to_owned())
            .chain([p(mountpoint)]),
    )
}

/// Showing qgroup usage and limits in bytes, after a sync.
pub fn qgroup_show(mountpoint: &Path) -> Cmd {
    Cmd::new(
        "btrfs",
        [
            "qgroup".into(),
            "show".into(),
            "--raw".into(),
            "-re".into(),
            "--sync".into(),
            p(mountpoint),
        ],
    )
}

/// Setting (or with `None` clearing) the referenced-size limit of a
/// subvolume.
pub fn qgroup_limit(bytes: Option<u64>, path: &Path) -> Cmd {
    let size = bytes.map_or_else(|| "none".to_owned(), |b| b.to_string());
    Cmd::new("btrfs", ["qgroup".into(), "limit".into(), size, p(path)])
}

/// Sending a read-only snapshot as a stream, incremental from `parent`.
pub fn send(snapshot: &Path, parent: Option<&Path>) -> Cmd {
    let mut args = vec!["send".to_owned(), "-q".to_owned()];
    if let Some(parent) = parent {
        args.extend(["-p".to_owned(), p(parent)]);
    }
    args.push(p(snapshot));
    Cmd::new("btrfs", args)
}

/// Receiving a stream into a directory (the subvolume keeps the sender's
/// snapshot name).
pub fn receive(dir: &Path) -> Cmd {
    Cmd::new("btrfs", ["receive".into(), "-q".into(), p(dir)])
}

/// Marking a file no-copy-on-write (it must still be empty).
pub fn nocow(file: &Path) -> Cmd {
    Cmd::new("chattr", ["+C".into(), p(file)])
}

/// One subvolume as `btrfs subvolume list -u -q -R -c -g` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subvolume {
    /// Subvolume id (its qgroup is `0/<id>`).
    pub id: u64,
    /// Generation of its last change.
    pub generation: u64,
    /// Generation at its creation.
    pub cgen: u64,
    /// UUID of the subvolume it was snapshotted from.
    pub parent_uuid: Option<String>,
    /// UUID of the snapshot it was received from.
    pub received_uuid: Option<String>,
    /// Its own UUID.
    pub uuid: String,
    /// Path relative to the filesystem's top.
    pub path: String,
}

fn uuid_field(v: &str) -> Option<String> {
    (v != "-").then(|| v.to_owned())
}

/// Parses `btrfs subvolume list -u -q -R -c -g` output. A line that does
/// not parse (a subvolume whose path holds a newline splits into two) is
/// skipped with a warning: such a subvolume is not in basalt's layout, and
/// whoever made it must not stop the pool from listing.
pub fn parse_subvolume_list(text: &str) -> Vec<Subvolume> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|line| {
            let parsed = parse_subvolume_line(line);
            if parsed.is_none() {
                tracing::warn!(line, "skipping a subvolume line that does not parse");
            }
            parsed
        })
        .collect()
}

fn parse_subvolume_line(line: &str) -> Option<Subvolume> {
    let (fields, path) = line.split_once(" path ")?;
    let words: Vec<&str> = fields.split_whitespace().collect();
    let value = |key: &str| words.windows(2).find(|w| w[0] == key).map(|w| w[1]);
    Some(Subvolume {
        id: value("ID")?.parse().ok()?,
        generation: value("gen")?.parse().ok()?,
        cgen: value("cgen")?.parse().ok()?,
        parent_uuid: uuid_field(value("parent_uuid")?),
        received_uuid: uuid_field(value("received_uuid")?),
        uuid: value("uuid")?.to_owned(),
        path: path.to_owned(),
    })
}

/// One qgroup as `btrfs qgroup show --raw -re` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qgroup {
    /// The subvolume id of a level-0 qgroup `0/<id>`.
    pub id: u64,
    /// Bytes referenced.
    pub referenced: u64,
    /// Bytes exclusive to it.
    pub exclusive: u64,
    /// Limit on referenced bytes.
    pub max_referenced: Option<u64>,
}

/// Parses `btrfs qgroup show --raw -re` output (level-0 qgroups only).
pub fn parse_qgroup_show(text: &str) -> Vec<Qgroup> {
    text.lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let id = cols.first()?.strip_prefix("0/")?.parse().ok()?;
            Some(Qgroup {
                id,
                referenced: cols.get(1)?.parse().ok()?,
                exclusive: cols.get(2)?.parse().ok()?,
                max_referenced: cols.get(3).and_then(|v| v.parse().ok()),
            })
        })
        .collect()
}

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// Where it is mounted.
    pub mountpoint: String,
    /// Its per-mount options (`rw,nosuid,nodev,noatime`).
    pub options: String,
    /// The filesystem type.
    pub fstype: String,
    /// The mounted device or file.
    pub source: String,
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.by_ref().take(3).collect();
            match u8::from_str_radix(&code, 8) {
                Ok(b) => out.push(b as char),
                Err(_) => {
                    out.push('\\');
                    out.push_str(&code);
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses `/proc/self/mountinfo`.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mut l = left.split_whitespace().skip(4);
            let mountpoint = l.next()?;
            let options = l.next()?;
            let mut r = right.split_whitespace();
            let fstype = r.next()?;
            let source = r.next()?;
            Some(MountEntry {
                mountpoint: unescape(mountpoint),
                options: options.to_owned(),
                fstype: fstype.to_owned(),
                source: unescape(source),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "\
ID 256 gen 9 cgen 9 top level 5 parent_uuid -                                    received_uuid -                                    uuid 41d1acc2-49a8-224a-a8b3-8f3ee327b86b path ds
ID 257 gen 9 cgen 9 top level 5 parent_uuid 41d1acc2-49a8-224a-a8b3-8f3ee327b86b received_uuid -                                    uuid aaecf9f7-ebdf-4549-8f5f-295b1b1af8b7 path .snapshots/ds/s1
ID 258 gen 10 cgen 10 top level 5 parent_uuid -                                    received_uuid aaecf9f7-ebdf-4549-8f5f-295b1b1af8b7 uuid b94f496f-e13d-e24c-ab4b-9d02b7eabe87 path .snapshots/new/s1
";

    const QGROUPS: &str = "\
Qgroupid    Referenced    Exclusive  Max referenced  Max exclusive   Path 
--------    ----------    ---------  --------------  -------------   ---- 
0/5              16384        16384            none           none   <toplevel>
0/256            16384        16384         1048576           none   ds
0/257            16384        16384            none           none   .snapshots/ds/s1
";

    #[test]
    fn subvolume_list_captured_from_btrfs_progs_6_2() {
        let subs = parse_subvolume_list(LIST);
        assert_eq!(subs.len(), 3);
        assert_eq!(subs[0].id, 256);
        assert_eq!(subs[0].parent_uuid, None);
        assert_eq!(subs[0].path, "ds");
        assert_eq!(
            subs[1].parent_uuid.as_deref(),
            Some("41d1acc2-49a8-224a-a8b3-8f3ee327b86b")
        );
        assert_eq!(
            subs[2].received_uuid.as_deref(),
            Some("aaecf9f7-ebdf-4549-8f5f-295b1b1af8b7")
        );
        assert_eq!(subs[2].generation, 10);
        assert_eq!(subs[2].path, ".snapshots/new/s1");
        assert!(parse_subvolume_list("garbage line\n").is_empty());
        let spaced = "ID 300 gen 1 cgen 1 top level 5 parent_uuid - received_uuid - uuid u path a dir/with path in it";
        assert_eq!(
            parse_subvolume_list(spaced)[0].path,
            "a dir/with path in it"
        );
    }

    #[test]
    fn qgroups_captured_from_btrfs_progs_6_2() {
        let q = parse_qgroup_show(QGROUPS);
        assert_eq!(q.len(), 3);
        assert_eq!(
            q[1],
            Qgroup {
                id: 256,
                referenced: 16384,
                exclusive: 16384,
                max_referenced: Some(1048576)
            }
        );
        assert_eq!(q[2].max_referenced, None);
    }

    #[test]
    fn mountinfo() {
        let text = "36 25 0:32 / /zones rw,noatime shared:17 - btrfs /dev/loop0 rw,space_cache=v2,subvolid=5,subvol=/\n\
                    40 25 0:33 / /mnt/with\\040space rw - ext4 /dev/vdb rw\n";
        let m = parse_mountinfo(text);
        assert_eq!(
            m[0],
            MountEntry {
                mountpoint: "/zones".into(),
                options: "rw,noatime".into(),
                fstype: "btrfs".into(),
                source: "/dev/loop0".into()
            }
        );
        assert_eq!(m[1].mountpoint, "/mnt/with space");
    }

    #[test]
    fn builders() {
        assert_eq!(
            snapshot(Path::new("/z/a"), Path::new("/z/.snapshots/a/s"), true).to_string(),
            "btrfs subvolume snapshot -r /z/a /z/.snapshots/a/s"
        );
        assert_eq!(
            send(
                Path::new("/z/.snapshots/a/s2"),
                Some(Path::new("/z/.snapshots/a/s1"))
            )
            .to_string(),
            "btrfs send -q -p /z/.snapshots/a/s1 /z/.snapshots/a/s2"
        );
        assert_eq!(
            qgroup_limit(None, Path::new("/z/a")).to_string(),
            "btrfs qgroup limit none /z/a"
        );
        assert_eq!(
            qgroup_limit(Some(1024), Path::new("/z/a")).to_string(),
            "btrfs qgroup limit 1024 /z/a"
        );
        assert_eq!(
            mount(Path::new("/p.img"), Path::new("/zones"), true).to_string(),
            "mount -t btrfs -o loop,noatime,nosuid,nodev /p.img /zones"
        );
        assert_eq!(
            subvolume_list(Path::new("/zones")).to_string(),
            "btrfs subvolume list -u -q -R -c -g /zones"
        );
    }
}
