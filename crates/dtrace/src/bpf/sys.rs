//! bpf(2) on byte buffers: map lookups, updates, deletions and walks for
//! keys and values whose sizes are known only at run time (aya's typed
//! maps need them at compile time), and test runs of a program in this
//! process (D's `BEGIN` and `END`). The crate's only `unsafe`.
//!
//! The kernel reads and writes a map's keys and values at the sizes the
//! map was created with, whatever the length of the buffer it is handed:
//! every call first asks the kernel for those sizes
//! (`BPF_OBJ_GET_INFO_BY_FD`) and refuses a buffer of another length with
//! [`io::ErrorKind::InvalidInput`]. Any other failure is the kernel's
//! errno, in [`io::Error::raw_os_error`].
//!
//! A value of a per-CPU map, read or written from user space, is one value
//! per possible CPU, each rounded up to 8 bytes: [`percpu_value_len`].

#![allow(unsafe_code)]

use std::collections::HashSet;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::OnceLock;

/// `BPF_ANY`: create the entry or replace it.
pub const BPF_ANY: u64 = 0;
/// `BPF_NOEXIST`: create the entry only if it is absent (`EEXIST` if not).
pub const BPF_NOEXIST: u64 = 1;
/// `BPF_EXIST`: replace the entry only if it is present (`ENOENT` if not).
pub const BPF_EXIST: u64 = 2;

/// The commands (`enum bpf_cmd`) this module issues.
#[derive(Debug, Clone, Copy)]
enum Cmd {
    MapLookupElem = 1,
    MapUpdateElem = 2,
    MapDeleteElem = 3,
    MapGetNextKey = 4,
    ProgTestRun = 10,
    ObjGetInfoByFd = 15,
}

/// The size handed to the kernel for every command's argument block: each
/// block below is its command's member of `union bpf_attr`, without
/// implicit padding, zero-filled to this size. A kernel whose union is
/// smaller accepts the block as long as the bytes it does not know are
/// zero; one whose union is larger reads the missing fields as zero.
const ATTR_SIZE: usize = 128;

/// `BPF_MAP_*_ELEM` and `BPF_MAP_GET_NEXT_KEY`.
#[repr(C)]
struct ElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    /// `value`, or `next_key` for `BPF_MAP_GET_NEXT_KEY`.
    value: u64,
    flags: u64,
    _rest: [u8; ATTR_SIZE - 32],
}

/// `BPF_PROG_TEST_RUN`.
#[repr(C)]
struct TestRunAttr {
    prog_fd: u32,
    /// Written by the kernel: the program's return value.
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    _rest: [u8; ATTR_SIZE - 76],
}

/// `BPF_OBJ_GET_INFO_BY_FD`.
#[repr(C)]
struct InfoAttr {
    bpf_fd: u32,
    /// The buffer's size; written back by the kernel as the bytes filled.
    info_len: u32,
    info: u64,
    _rest: [u8; ATTR_SIZE - 16],
}

/// The leading fields of `struct bpf_map_info`; the kernel fills no more
/// than the length it is given.
#[repr(C)]
#[derive(Default)]
struct RawMapInfo {
    map_type: u32,
    id: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    name: [u8; 16],
}

/// Issues `cmd` with `attr` as its argument block, returning the call's
/// non-negative result or its errno.
///
/// # Safety
///
/// Every address in `attr` must be null or valid for the reads and writes
/// the kernel makes through it for `cmd`, at the sizes the kernel uses (a
/// map's own key and value sizes, not the buffers' lengths).
unsafe fn bpf<A>(cmd: Cmd, attr: &mut A) -> io::Result<i64> {
    const { assert!(size_of::<A>() == ATTR_SIZE) };
    // SAFETY: `attr` is a live, writable, fully initialised block of
    // ATTR_SIZE bytes (no implicit padding), so the kernel's reads of it
    // and its write-backs (`retval`, `info_len`) stay inside it; the
    // addresses it holds are the caller's promise.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_int,
            std::ptr::from_mut(attr),
            ATTR_SIZE as libc::c_uint,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A buffer's address as the kernel takes it; null for an empty one (the
/// kernel refuses a non-null key for a map whose keys are empty).
fn addr(buf: &[u8]) -> u64 {
    if buf.is_empty() {
        0
    } else {
        buf.as_ptr().expose_provenance() as u64
    }
}

fn addr_mut(buf: &mut [u8]) -> u64 {
    if buf.is_empty() {
        0
    } else {
        buf.as_mut_ptr().expose_provenance() as u64
    }
}

fn raw_fd(fd: BorrowedFd<'_>) -> u32 {
    // A descriptor that is open is never negative.
    fd.as_raw_fd() as u32
}

/// Ok(true) on success, Ok(false) on `ENOENT`.
fn found(r: io::Result<i64>) -> io::Result<bool> {
    match r {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

fn elem_attr(fd: BorrowedFd<'_>, key: u64, value: u64, flags: u64) -> ElemAttr {
    ElemAttr {
        map_fd: raw_fd(fd),
        _pad: 0,
        key,
        value,
        flags,
        _rest: [0; ATTR_SIZE - 32],
    }
}

/// What the kernel says of a map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapInfo {
    /// Its `enum bpf_map_type`.
    pub map_type: u32,
    /// Its id, unique while it exists.
    pub id: u32,
    pub key_size: u32,
    /// One value's size, as created (per CPU, for a per-CPU map).
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
    /// Its name, as far as the kernel kept it (15 bytes).
    pub name: String,
}

impl MapInfo {
    /// Whether its values are kept one per CPU.
    pub fn is_percpu(&self) -> bool {
        // PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE.
        matches!(self.map_type, 5 | 6 | 10 | 21)
    }

    /// How many bytes a lookup writes and an update reads for one entry.
    pub fn value_len(&self) -> io::Result<usize> {
        let size = self.value_size as usize;
        if self.is_percpu() {
            percpu_value_len(size)
        } else {
            Ok(size)
        }
    }
}

/// What the kernel says of the map behind `fd`.
pub fn map_info(fd: BorrowedFd<'_>) -> io::Result<MapInfo> {
    let mut raw = RawMapInfo::default();
    let mut attr = InfoAttr {
        bpf_fd: raw_fd(fd),
        info_len: size_of::<RawMapInfo>() as u32,
        info: std::ptr::from_mut(&mut raw).expose_provenance() as u64,
        _rest: [0; ATTR_SIZE - 16],
    };
    // SAFETY: `info` is `raw`, writable for `info_len` bytes, and the
    // kernel writes no more than `info_len` bytes into it.
    unsafe { bpf(Cmd::ObjGetInfoByFd, &mut attr) }?;
    let name_len = raw.name.iter().position(|&b| b == 0).unwrap_or(16);
    Ok(MapInfo {
        map_type: raw.map_type,
        id: raw.id,
        key_size: raw.key_size,
        value_size: raw.value_size,
        max_entries: raw.max_entries,
        flags: raw.map_flags,
        name: String::from_utf8_lossy(&raw.name[..name_len]).into_owned(),
    })
}

/// A map's descriptor with the key and value lengths the kernel uses for
/// it. They cannot change while the descriptor is borrowed: a map's sizes
/// are fixed at its creation, and a borrowed descriptor stays open.
struct SizedMap<'fd> {
    fd: BorrowedFd<'fd>,
    key_len: usize,
    value_len: usize,
    max_entries: usize,
}

impl<'fd> SizedMap<'fd> {
    fn new(fd: BorrowedFd<'fd>) -> io::Result<Self> {
        let info = map_info(fd)?;
        Ok(SizedMap {
            fd,
            key_len: info.key_size as usize,
            value_len: info.value_len()?,
            max_entries: info.max_entries as usize,
        })
    }

    fn check(&self, what: &str, len: usize, want: usize) -> io::Result<()> {
        if len == want {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} of {len} bytes for a map whose {what}s are {want} bytes"),
        ))
    }

    fn lookup(&self, key: &[u8], value: &mut [u8]) -> io::Result<bool> {
        self.check("key", key.len(), self.key_len)?;
        self.check("value", value.len(), self.value_len)?;
        let mut attr = elem_attr(self.fd, addr(key), addr_mut(value), 0);
        // SAFETY: the kernel reads the map's key size from `key` and
        // writes its value length into `value`, the lengths just checked.
        found(unsafe { bpf(Cmd::MapLookupElem, &mut attr) })
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> io::Result<()> {
        self.check("key", key.len(), self.key_len)?;
        self.check("value", value.len(), self.value_len)?;
        let mut attr = elem_attr(self.fd, addr(key), addr(value), flags);
        // SAFETY: the kernel only reads `key` and `value`, at most at the
        // lengths just checked (less when a flag selects one CPU's value).
        unsafe { bpf(Cmd::MapUpdateElem, &mut attr) }.map(drop)
    }

    fn delete(&self, key: &[u8]) -> io::Result<bool> {
        self.check("key", key.len(), self.key_len)?;
        let mut attr = elem_attr(self.fd, addr(key), 0, 0);
        // SAFETY: the kernel only reads the map's key size from `key`, the
        // length just checked.
        found(unsafe { bpf(Cmd::MapDeleteElem, &mut attr) })
    }

    fn next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> io::Result<bool> {
        if let Some(key) = key {
            self.check("key", key.len(), self.key_len)?;
        }
        self.check("key", next.len(), self.key_len)?;
        let key = key.map_or(0, addr);
        let mut attr = elem_attr(self.fd, key, addr_mut(next), 0);
        // SAFETY: the kernel reads the map's key size from `key` (null:
        // the first key) and writes as many bytes into `next`, the lengths
        // just checked.
        found(unsafe { bpf(Cmd::MapGetNextKey, &mut attr) })
    }
}

/// Reads the value stored under `key` into `value`; false when there is
/// none. `value` is [`percpu_value_len`] long for a per-CPU map.
pub fn map_lookup(fd: BorrowedFd<'_>, key: &[u8], value: &mut [u8]) -> io::Result<bool> {
    SizedMap::new(fd)?.lookup(key, value)
}

/// Stores `value` under `key`; `flags` is [`BPF_ANY`], [`BPF_NOEXIST`] or
/// [`BPF_EXIST`].
pub fn map_update(fd: BorrowedFd<'_>, key: &[u8], value: &[u8], flags: u64) -> io::Result<()> {
    SizedMap::new(fd)?.update(key, value, flags)
}

/// Removes the entry under `key`; false when there was none.
pub fn map_delete(fd: BorrowedFd<'_>, key: &[u8]) -> io::Result<bool> {
    SizedMap::new(fd)?.delete(key)
}

/// Writes into `next` the key that follows `key` (the first key for
/// `None`, and also, for a hash map, when `key` is not in the map); false
/// after the last.
pub fn map_next_key(fd: BorrowedFd<'_>, key: Option<&[u8]>, next: &mut [u8]) -> io::Result<bool> {
    SizedMap::new(fd)?.next_key(key, next)
}

/// How many passes over the whole map a walk may make. A walk goes back
/// to the first key each time the key it stands on is deleted under it,
/// and keys may be added behind it as fast as it moves: past this many
/// passes it gives up rather than chase the map forever.
const WALK_PASSES: usize = 8;

/// Every entry of a map, as (key, value) pairs in the kernel's order;
/// `value_size` is [`percpu_value_len`] for a per-CPU map.
///
/// Entries may be deleted and added while the walk runs: an entry deleted
/// between its key being found and its value read is skipped; when the key
/// the walk stands on is deleted, the kernel sends it back to the first
/// key, and it passes over the keys it has already returned to carry on
/// from where it was. Each entry is returned at most once, and every entry
/// present throughout the walk is returned. The walk is bounded: if the
/// map changes so fast that it has not finished after eight times the
/// map's capacity of steps, it fails ([`io::ErrorKind::Other`]).
pub fn map_entries(
    fd: BorrowedFd<'_>,
    key_size: usize,
    value_size: usize,
) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let map = SizedMap::new(fd)?;
    map.check("key", key_size, map.key_len)?;
    map.check("value", value_size, map.value_len)?;
    let steps = map
        .max_entries
        .saturating_add(1)
        .saturating_mul(WALK_PASSES);
    walk(&map, key_size, value_size, steps)
}

/// The two calls a walk makes, apart so that the walk can be tested on a
/// map in memory.
trait Walkable {
    fn next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> io::Result<bool>;
    fn lookup(&self, key: &[u8], value: &mut [u8]) -> io::Result<bool>;
}

impl Walkable for SizedMap<'_> {
    fn next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> io::Result<bool> {
        SizedMap::next_key(self, key, next)
    }

    fn lookup(&self, key: &[u8], value: &mut [u8]) -> io::Result<bool> {
        SizedMap::lookup(self, key, value)
    }
}

type Entries = Vec<(Vec<u8>, Vec<u8>)>;

fn walk(
    map: &impl Walkable,
    key_len: usize,
    value_len: usize,
    steps: usize,
) -> io::Result<Entries> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    // The last key known to exist: where the next step starts from.
    let mut at: Option<Vec<u8>> = None;
    let mut next = vec![0; key_len];
    let mut value = vec![0; value_len];
    for _ in 0..steps {
        if !map.next_key(at.as_deref(), &mut next)? {
            return Ok(out);
        }
        if seen.contains(&next) {
            // Back at the start: pass over what was already returned.
            at = Some(next.clone());
            continue;
        }
        if map.lookup(&next, &mut value)? {
            seen.insert(next.clone());
            out.push((next.clone(), value.clone()));
            at = Some(next.clone());
        }
        // Otherwise deleted since its key was found: step on from `at`,
        // which still exists (or, if it went too, from the first key).
    }
    Err(io::Error::other(format!(
        "map kept changing under the walk: gave up after {steps} steps"
    )))
}

/// Where the kernel lists the CPUs that may ever be brought online.
const POSSIBLE_CPUS: &str = "/sys/devices/system/cpu/possible";

/// How many CPUs may ever be online: what per-CPU values are counted in.
/// Read once from `/sys/devices/system/cpu/possible` ("0-3", "0,2-5").
pub fn possible_cpus() -> io::Result<usize> {
    static CACHE: OnceLock<usize> = OnceLock::new();
    if let Some(&n) = CACHE.get() {
        return Ok(n);
    }
    let text = std::fs::read_to_string(POSSIBLE_CPUS)
        .map_err(|e| io::Error::new(e.kind(), format!("failed to read {POSSIBLE_CPUS}: {e}")))?;
    let n = count_cpus(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("failed to parse {POSSIBLE_CPUS}: {:?}", text.trim()),
        )
    })?;
    Ok(*CACHE.get_or_init(|| n))
}

/// How many CPUs a kernel CPU list ("0-3", "0,2-5", "0") names; `None`
/// when it is malformed or empty.
fn count_cpus(list: &str) -> Option<usize> {
    let list = list.trim();
    if list.is_empty() {
        return None;
    }
    list.split(',').try_fold(0usize, |n, part| {
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (cpu_number(lo)?, cpu_number(hi)?),
            None => (cpu_number(part)?, cpu_number(part)?),
        };
        if lo > hi {
            return None;
        }
        n.checked_add(hi - lo + 1)
    })
}

fn cpu_number(s: &str) -> Option<usize> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The length of a per-CPU map's value as user space reads and writes it:
/// `value_size` rounded up to 8, once per possible CPU.
pub fn percpu_value_len(value_size: usize) -> io::Result<usize> {
    Ok(value_size.next_multiple_of(8) * possible_cpus()?)
}

/// Runs the raw-tracepoint program `fd` once, in this thread, with `ctx`
/// as its arguments (`ctx->args[i]`), and returns its return value. The
/// program need only be loaded, not attached; it runs as this process
/// (its pid, uid and cgroup are the caller's), on this CPU.
///
/// The kernel refuses (`EINVAL`) a `ctx` shorter than the furthest
/// argument the program reads, or longer than 12 arguments.
pub fn prog_test_run(fd: BorrowedFd<'_>, ctx: &[u64]) -> io::Result<u32> {
    let ctx_size = u32::try_from(size_of_val(ctx))
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "context too large"))?;
    let ctx_in = if ctx.is_empty() {
        0
    } else {
        ctx.as_ptr().expose_provenance() as u64
    };
    let mut attr = TestRunAttr {
        prog_fd: raw_fd(fd),
        retval: 0,
        data_size_in: 0,
        data_size_out: 0,
        data_in: 0,
        data_out: 0,
        repeat: 0,
        duration: 0,
        ctx_size_in: ctx_size,
        ctx_size_out: 0,
        ctx_in,
        ctx_out: 0,
        flags: 0,
        cpu: 0,
        batch_size: 0,
        _rest: [0; ATTR_SIZE - 76],
    };
    // SAFETY: the kernel reads `ctx_size_in` bytes from `ctx_in`, which
    // are `ctx`; with no data or context out given it writes nothing
    // outside the attr block (`retval`, and for other program types the
    // sizes out and `duration`).
    unsafe { bpf(Cmd::ProgTestRun, &mut attr) }?;
    Ok(attr.retval)
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn attr_blocks_match_the_kernel_layout() {
        assert_eq!(std::mem::offset_of!(ElemAttr, key), 8);
        assert_eq!(std::mem::offset_of!(ElemAttr, value), 16);
        assert_eq!(std::mem::offset_of!(ElemAttr, flags), 24);
        assert_eq!(std::mem::offset_of!(TestRunAttr, data_in), 16);
        assert_eq!(std::mem::offset_of!(TestRunAttr, repeat), 32);
        assert_eq!(std::mem::offset_of!(TestRunAttr, ctx_size_in), 40);
        assert_eq!(std::mem::offset_of!(TestRunAttr, ctx_in), 48);
        assert_eq!(std::mem::offset_of!(TestRunAttr, flags), 64);
        assert_eq!(std::mem::offset_of!(TestRunAttr, batch_size), 72);
        assert_eq!(std::mem::offset_of!(InfoAttr, info), 8);
        assert_eq!(std::mem::offset_of!(RawMapInfo, max_entries), 16);
        assert_eq!(std::mem::offset_of!(RawMapInfo, name), 24);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(count_cpus("0\n"), Some(1));
        assert_eq!(count_cpus("0-3\n"), Some(4));
        assert_eq!(count_cpus("0,2-5"), Some(5));
        assert_eq!(count_cpus("0-1,4,6-7"), Some(5));
        for bad in ["", "\n", "3-1", "0-", "-1", "a", "0,,1", "+1", "0 -3"] {
            assert_eq!(count_cpus(bad), None, "{bad:?}");
        }
    }

    /// A hash map in memory that answers as the kernel's does: a missing
    /// key's successor is the first key. `before` runs before each call,
    /// numbered from 0, with `true` for a lookup.
    struct Fake<F> {
        entries: RefCell<Vec<(Vec<u8>, Vec<u8>)>>,
        calls: Cell<usize>,
        before: RefCell<F>,
    }

    impl<F: FnMut(usize, bool, &mut Vec<(Vec<u8>, Vec<u8>)>)> Fake<F> {
        fn new(keys: impl IntoIterator<Item = u8>, before: F) -> Self {
            let entries = keys.into_iter().map(|k| (vec![k], vec![k, !k])).collect();
            Fake {
                entries: RefCell::new(entries),
                calls: Cell::new(0),
                before: RefCell::new(before),
            }
        }

        fn hook(&self, lookup: bool) {
            let n = self.calls.get();
            self.calls.set(n + 1);
            let mut before = self.before.borrow_mut();
            (*before)(n, lookup, &mut self.entries.borrow_mut());
        }
    }

    impl<F: FnMut(usize, bool, &mut Vec<(Vec<u8>, Vec<u8>)>)> Walkable for Fake<F> {
        fn next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> io::Result<bool> {
            self.hook(false);
            let entries = self.entries.borrow();
            let at = key
                .and_then(|k| entries.iter().position(|(e, _)| e == k))
                .map_or(0, |i| i + 1);
            let Some((k, _)) = entries.get(at) else {
                return Ok(false);
            };
            next.copy_from_slice(k);
            Ok(true)
        }

        fn lookup(&self, key: &[u8], value: &mut [u8]) -> io::Result<bool> {
            self.hook(true);
            let entries = self.entries.borrow();
            let Some((_, v)) = entries.iter().find(|(k, _)| k == key) else {
                return Ok(false);
            };
            value.copy_from_slice(v);
            Ok(true)
        }
    }

    fn keys(entries: &Entries) -> Vec<u8> {
        entries.iter().map(|(k, _)| k[0]).collect()
    }

    fn remove(entries: &mut Vec<(Vec<u8>, Vec<u8>)>, key: u8) {
        entries.retain(|(k, _)| k[0] != key);
    }

    #[test]
    fn a_still_map_is_walked_in_order() {
        let map = Fake::new(1..=5, |_, _, _| {});
        let got = walk(&map, 1, 2, 100).unwrap();
        assert_eq!(keys(&got), [1, 2, 3, 4, 5]);
        assert!(got.iter().all(|(k, v)| *v == [k[0], !k[0]]));
        assert!(
            walk(&Fake::new([], |_, _, _| {}), 1, 2, 100)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn an_entry_deleted_before_its_lookup_is_skipped() {
        // Calls: next 0, lookup 1, next 2 (finds 2), lookup 3.
        let map = Fake::new(1..=5, |n, lookup, e| {
            if n == 3 {
                assert!(lookup);
                remove(e, 2);
            }
        });
        assert_eq!(keys(&walk(&map, 1, 2, 100).unwrap()), [1, 3, 4, 5]);
    }

    #[test]
    fn the_walk_carries_on_when_its_key_is_deleted_under_it() {
        // After 1, 2 and 3 are read, 3 goes: the kernel answers with the
        // first key, and the walk passes over 1 and 2 to reach 4.
        let map = Fake::new(1..=5, |n, lookup, e| {
            if n == 6 {
                assert!(!lookup);
                remove(e, 3);
            }
        });
        assert_eq!(keys(&walk(&map, 1, 2, 100).unwrap()), [1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_map_that_never_settles_ends_the_walk() {
        // Each step deletes the key the walk stands on and adds a new one.
        let mut fresh = 10u8;
        let map = Fake::new(1..=5, move |_, lookup, e| {
            if !lookup && !e.is_empty() {
                e.remove(0);
                e.push((vec![fresh], vec![fresh, !fresh]));
                fresh += 1;
            }
        });
        let e = walk(&map, 1, 2, 48).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Other);
    }

    proptest! {
        /// Whatever is deleted when: no key twice, every key never deleted
        /// present, every value the one stored.
        #[test]
        fn deletions_during_a_walk(
            n in 0u8..40,
            deletions in proptest::collection::vec((0usize..200, any::<u8>()), 0..(WALK_PASSES - 1)),
        ) {
            let deleted: HashSet<u8> = deletions.iter().map(|&(_, k)| k % n.max(1)).collect();
            let map = Fake::new(0..n, |call, _, e| {
                for &(at, k) in &deletions {
                    if at == call {
                        remove(e, k % n.max(1));
                    }
                }
            });
            let steps = (usize::from(n) + 1) * WALK_PASSES;
            let got = walk(&map, 1, 2, steps).unwrap();
            let mut unique = keys(&got);
            unique.sort_unstable();
            unique.dedup();
            prop_assert_eq!(unique.len(), got.len());
            for k in 0..n {
                if !deleted.contains(&k) {
                    prop_assert!(unique.contains(&k), "key {} missing", k);
                }
            }
            prop_assert!(got.iter().all(|(k, v)| *v == [k[0], !k[0]]));
        }
    }
}
