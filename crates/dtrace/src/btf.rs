//! The kernel's BTF, read just far enough to find struct members.
//!
//! D's `ppid` and `vtimestamp` read fields of the current `struct
//! task_struct`, whose layout depends on how the kernel was built. The
//! kernel describes its types in BTF (`/sys/kernel/btf/vmlinux`; the format
//! is linux's `Documentation/bpf/btf.rst`). [`Btf::parse`] indexes the type
//! records in one pass (where each record starts, and the named structs);
//! [`Btf::member`] then walks a member path through nested structs and
//! unions, named or anonymous, and through typedefs and qualifiers.
//!
//! The bytes are untrusted: every offset is bounds-checked, every walk has
//! a bound (chains of typedefs, nesting of anonymous members, each
//! aggregate searched at most once per name), and corrupt input is an
//! error, never a panic or a loop. Only little-endian BTF is read.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::{fs, io};

/// Where the running kernel publishes its BTF.
pub const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

const MAGIC: u16 = 0xeb9f;
const HEADER_LEN: usize = 24;
/// `name_off`, `info` and `size_or_type`, before each kind's own data.
const RECORD_LEN: usize = 12;
/// A `struct btf_member`: `name_off`, `type`, `offset`.
const MEMBER_LEN: usize = 12;
/// Typedefs, qualifiers or array levels followed before giving up.
const MAX_CHAIN: usize = 64;
/// Levels of anonymous structs and unions searched for a member.
const MAX_NESTING: usize = 32;

/// Byte offsets of the task fields D's built-ins read. Their sizes are
/// checked as they are found: `real_parent` is a pointer, `tgid` and
/// `pid` 4-byte integers, `sum_exec_runtime` an 8-byte integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskOffsets {
    /// `task_struct.real_parent` (a pointer).
    pub real_parent: u32,
    /// `task_struct.tgid` (`pid_t`, 4 bytes).
    pub tgid: u32,
    /// `task_struct.pid` (`pid_t`, 4 bytes).
    pub pid: u32,
    /// `task_struct.se.sum_exec_runtime` (u64): `se` (struct
    /// sched_entity) plus `sum_exec_runtime` in it.
    pub sum_exec_runtime: u32,
}

impl TaskOffsets {
    /// The offsets in an already parsed BTF.
    pub fn from_btf(btf: &Btf<'_>) -> Result<Self, BtfError> {
        Ok(TaskOffsets {
            real_parent: task_field(btf, &["real_parent"], Shape::Pointer)?,
            tgid: task_field(btf, &["tgid"], Shape::Int4)?,
            pid: task_field(btf, &["pid"], Shape::Int4)?,
            sum_exec_runtime: task_field(btf, &["se", "sum_exec_runtime"], Shape::Int8)?,
        })
    }
}

/// The task offsets in the BTF `btf`.
pub fn task_offsets(btf: &[u8]) -> Result<TaskOffsets, BtfError> {
    TaskOffsets::from_btf(&Btf::parse(btf)?)
}

/// The running kernel's BTF, read from [`KERNEL_BTF`].
pub fn read_kernel_btf() -> Result<Vec<u8>, BtfError> {
    fs::read(KERNEL_BTF).map_err(|source| BtfError::Read {
        path: KERNEL_BTF.into(),
        source,
    })
}

/// The task offsets of the running kernel.
pub fn read_kernel_task_offsets() -> Result<TaskOffsets, BtfError> {
    task_offsets(&read_kernel_btf()?)
}

/// The byte offset of a member path in a named struct, following nested
/// (named or anonymous) struct and union members, e.g.
/// `member_offset(btf, "task_struct", &["se", "sum_exec_runtime"])`.
pub fn member_offset(btf: &Btf<'_>, strukt: &str, path: &[&str]) -> Result<u32, BtfError> {
    Ok(btf.member(strukt, path)?.offset)
}

/// What a task field's type must be.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Pointer,
    Int4,
    Int8,
}

impl Shape {
    fn describe(self) -> &'static str {
        match self {
            Shape::Pointer => "a pointer",
            Shape::Int4 => "a 4-byte integer",
            Shape::Int8 => "an 8-byte integer",
        }
    }
}

fn task_field(btf: &Btf<'_>, path: &[&str], shape: Shape) -> Result<u32, BtfError> {
    const TASK: &str = "task_struct";
    let member = btf.member(TASK, path)?;
    let ty = btf.resolve(member.ty)?;
    let kind = btf.kind(ty)?;
    let fits = match shape {
        Shape::Pointer => kind == Kind::Ptr,
        Shape::Int4 => kind == Kind::Int && btf.size_of(ty)? == Some(4),
        Shape::Int8 => kind == Kind::Int && btf.size_of(ty)? == Some(8),
    };
    if !fits {
        return Err(BtfError::Shape {
            strukt: TASK.into(),
            path: path.join("."),
            expected: shape.describe(),
        });
    }
    Ok(member.offset)
}

/// Why BTF could not be read, or lacks what was asked of it.
#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    /// failed to read the BTF file
    #[error("failed to read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// fewer bytes than a BTF header
    #[error("the BTF is {len} bytes, shorter than its 24-byte header")]
    TooShort { len: usize },
    /// big-endian BTF, which is not read
    #[error("the BTF is big-endian; only little-endian BTF is supported")]
    BigEndian,
    /// not BTF at all
    #[error("not BTF: the magic number is {magic:#06x}, not 0xeb9f")]
    BadMagic { magic: u16 },
    /// a BTF version this parser does not know
    #[error("unsupported BTF version {version} (only version 1 is known)")]
    Version { version: u8 },
    /// the header's length is too short or beyond the data
    #[error("the BTF header claims {hdr_len} bytes, not between 24 and the data's {len}")]
    HeaderLen { hdr_len: u32, len: usize },
    /// a section lies outside the data
    #[error(
        "the BTF's {section} section (offset {offset}, {len} bytes) lies outside \
         the {available} bytes after its header"
    )]
    Section {
        section: &'static str,
        offset: u32,
        len: u32,
        available: usize,
    },
    /// a type record runs past the end of the type section
    #[error("BTF type {id} runs past the end of the type section")]
    Truncated { id: TypeId },
    /// a type record of an unknown kind
    #[error("BTF type {id} has unknown kind {kind}")]
    UnknownKind { id: TypeId, kind: u32 },
    /// a name offset that is not a string of the string section
    #[error(
        "BTF string offset {offset} is not a NUL-terminated UTF-8 string in the string section"
    )]
    BadString { offset: u32 },
    /// a reference to a type that does not exist
    #[error("the BTF refers to type {id}, which it does not define")]
    NoType { id: TypeId },
    /// too long a chain of typedefs, qualifiers or arrays (a cycle)
    #[error("BTF type {id} starts a chain of more than 64 typedefs, qualifiers or arrays")]
    Chain { id: TypeId },
    /// anonymous members nested too deep
    #[error("BTF type {id} nests anonymous members more than 32 deep")]
    TooDeep { id: TypeId },
    /// no struct of that name
    #[error("the kernel's BTF has no struct {name}")]
    NoStruct { name: String },
    /// no member of that name
    #[error("struct {strukt} in the kernel's BTF has no member {path}")]
    NoMember { strukt: String, path: String },
    /// a path goes on through a member that is no struct or union
    #[error("member {path} of struct {strukt} is not a struct or union, so has no member {next}")]
    NotAggregate {
        strukt: String,
        path: String,
        next: String,
    },
    /// a path reaches or crosses a bitfield
    #[error("member {path} of struct {strukt} is a bitfield, not byte-addressable")]
    Bitfield { strukt: String, path: String },
    /// a member's offset does not fit 32 bits
    #[error("member {path} of struct {strukt} lies beyond 4 GiB")]
    Overflow { strukt: String, path: String },
    /// a member of the wrong type or size
    #[error("member {path} of struct {strukt} in the kernel's BTF is not {expected}")]
    Shape {
        strukt: String,
        path: String,
        expected: &'static str,
    },
}

/// A type's id: its record's position, counted from 1; 0 is `void`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeId(pub u32);

impl TypeId {
    pub const VOID: TypeId = TypeId(0);
}

impl fmt::Display for TypeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A type's kind (`BTF_KIND_*`); `Void` is type 0, which has no record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Void,
    Int,
    Ptr,
    Array,
    Struct,
    Union,
    Enum,
    Fwd,
    Typedef,
    Volatile,
    Const,
    Restrict,
    Func,
    FuncProto,
    Var,
    Datasec,
    Float,
    DeclTag,
    TypeTag,
    Enum64,
}

impl Kind {
    fn from_raw(kind: u32) -> Option<Kind> {
        use Kind::*;
        const KINDS: [Kind; 19] = [
            Int, Ptr, Array, Struct, Union, Enum, Fwd, Typedef, Volatile, Const, Restrict, Func,
            FuncProto, Var, Datasec, Float, DeclTag, TypeTag, Enum64,
        ];
        let index = usize::try_from(kind.checked_sub(1)?).ok()?;
        KINDS.get(index).copied()
    }

    /// Bytes of kind-specific data after the record, for `vlen` items.
    fn data_len(self, vlen: usize) -> usize {
        use Kind::*;
        match self {
            Int | Var | DeclTag => 4,
            Array => 12,
            Struct | Union | Datasec | Enum64 => 12 * vlen,
            Enum | FuncProto => 8 * vlen,
            _ => 0,
        }
    }

    /// Kinds whose `size_or_type` names another type without changing it.
    fn is_alias(self) -> bool {
        matches!(
            self,
            Kind::Typedef | Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag
        )
    }
}

/// A member found by [`Btf::member`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Bytes from the start of the struct.
    pub offset: u32,
    /// Its type, as declared (typedefs and qualifiers included).
    pub ty: TypeId,
}

/// One type record: the common fields and the kind's own data.
#[derive(Debug, Clone, Copy)]
struct Record<'a> {
    name_off: u32,
    kind: Kind,
    kind_flag: bool,
    size_or_type: u32,
    data: &'a [u8],
}

/// A member of a struct or union record, in bits.
#[derive(Debug, Clone, Copy)]
struct Found {
    bits: u64,
    bitfield: bool,
    ty: TypeId,
}

/// Parsed BTF, borrowing the bytes it was parsed from.
pub struct Btf<'a> {
    types: &'a [u8],
    strings: &'a [u8],
    /// Where each type's record starts in `types`, by id - 1.
    starts: Vec<u32>,
    /// Named structs and their name offsets, in id order.
    structs: Vec<(u32, TypeId)>,
}

impl fmt::Debug for Btf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Btf")
            .field("types", &self.starts.len())
            .field("structs", &self.structs.len())
            .field("string_bytes", &self.strings.len())
            .finish()
    }
}

fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    let word = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(word.try_into().ok()?))
}

/// The common fields of the record at `at`: name offset, info, size or type.
fn record_head(types: &[u8], at: usize) -> Option<(u32, u32, u32)> {
    let head: &[u8; RECORD_LEN] = types
        .get(at..at.checked_add(RECORD_LEN)?)?
        .try_into()
        .ok()?;
    let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    Some((word(0), word(4), word(8)))
}

/// The string at `offset` in the string section.
fn string_at(strings: &[u8], offset: u32) -> Result<&str, BtfError> {
    let tail = usize::try_from(offset).ok().and_then(|o| strings.get(o..));
    tail.and_then(|t| t.get(..t.iter().position(|&b| b == 0)?))
        .and_then(|s| std::str::from_utf8(s).ok())
        .ok_or(BtfError::BadString { offset })
}

/// The section `offset..offset + len` after the header.
fn section<'a>(
    after_header: &'a [u8],
    section: &'static str,
    offset: u32,
    len: u32,
) -> Result<&'a [u8], BtfError> {
    let start = usize::try_from(offset).ok();
    let end = start.and_then(|s| s.checked_add(usize::try_from(len).ok()?));
    start
        .zip(end)
        .and_then(|(s, e)| after_header.get(s..e))
        .ok_or(BtfError::Section {
            section,
            offset,
            len,
            available: after_header.len(),
        })
}

impl<'a> Btf<'a> {
    /// Reads the header and indexes every type record.
    pub fn parse(data: &'a [u8]) -> Result<Self, BtfError> {
        let head = data
            .get(..HEADER_LEN)
            .ok_or(BtfError::TooShort { len: data.len() })?;
        let magic = u16::from_le_bytes([head[0], head[1]]);
        if magic == MAGIC.swap_bytes() {
            return Err(BtfError::BigEndian);
        }
        if magic != MAGIC {
            return Err(BtfError::BadMagic { magic });
        }
        if head[2] != 1 {
            return Err(BtfError::Version { version: head[2] });
        }
        let word = |at| le32(head, at).unwrap_or(0);
        let hdr_len = word(4);
        let after_header = usize::try_from(hdr_len)
            .ok()
            .filter(|&l| l >= HEADER_LEN)
            .and_then(|l| data.get(l..))
            .ok_or(BtfError::HeaderLen {
                hdr_len,
                len: data.len(),
            })?;
        let types = section(after_header, "type", word(8), word(12))?;
        let strings = section(after_header, "string", word(16), word(20))?;
        let (starts, structs) = index(types)?;
        Ok(Btf {
            types,
            strings,
            starts,
            structs,
        })
    }

    /// How many types there are (ids 1 to this; 0 is `void`).
    pub fn type_count(&self) -> usize {
        self.starts.len()
    }

    /// The struct named `name` (the first, should there be several). The
    /// named structs are scanned, comparing bytes: a few thousand
    /// comparisons cost less than hashing every name at parse time.
    pub fn find_struct(&self, name: &str) -> Result<TypeId, BtfError> {
        let name_is = |offset: u32| {
            let at = usize::try_from(offset).unwrap_or(usize::MAX);
            let end = at.saturating_add(name.len());
            self.strings.get(at..end) == Some(name.as_bytes()) && self.strings.get(end) == Some(&0)
        };
        self.structs
            .iter()
            .find(|&&(offset, _)| !name.is_empty() && name_is(offset))
            .map(|&(_, id)| id)
            .ok_or_else(|| BtfError::NoStruct { name: name.into() })
    }

    /// `ty`'s kind.
    pub fn kind(&self, ty: TypeId) -> Result<Kind, BtfError> {
        if ty == TypeId::VOID {
            return Ok(Kind::Void);
        }
        Ok(self.record(ty)?.kind)
    }

    /// `ty`'s name, "" for an anonymous type or `void`.
    pub fn name(&self, ty: TypeId) -> Result<&'a str, BtfError> {
        if ty == TypeId::VOID {
            return Ok("");
        }
        string_at(self.strings, self.record(ty)?.name_off)
    }

    /// The type `ty` stands for, through typedefs, `const`, `volatile`,
    /// `restrict` and type tags.
    pub fn resolve(&self, ty: TypeId) -> Result<TypeId, BtfError> {
        let mut at = ty;
        for _ in 0..MAX_CHAIN {
            if at == TypeId::VOID {
                return Ok(at);
            }
            let record = self.record(at)?;
            if !record.kind.is_alias() {
                return Ok(at);
            }
            at = TypeId(record.size_or_type);
        }
        Err(BtfError::Chain { id: ty })
    }

    /// What `ty` points to, through typedefs and qualifiers; none if it is
    /// no pointer.
    pub fn pointee(&self, ty: TypeId) -> Result<Option<TypeId>, BtfError> {
        let ty = self.resolve(ty)?;
        if self.kind(ty)? != Kind::Ptr {
            return Ok(None);
        }
        Ok(Some(TypeId(self.record(ty)?.size_or_type)))
    }

    /// `ty`'s size in bytes, through typedefs, qualifiers and arrays; none
    /// for types without one in BTF (`void`, functions, pointers: their
    /// size is the target's, which BTF does not record).
    pub fn size_of(&self, ty: TypeId) -> Result<Option<u32>, BtfError> {
        let mut count = 1u64;
        let mut at = ty;
        for _ in 0..MAX_CHAIN {
            at = self.resolve(at)?;
            if at == TypeId::VOID {
                return Ok(None);
            }
            let record = self.record(at)?;
            match record.kind {
                Kind::Int
                | Kind::Struct
                | Kind::Union
                | Kind::Enum
                | Kind::Enum64
                | Kind::Float
                | Kind::Datasec => {
                    let size = count.checked_mul(u64::from(record.size_or_type));
                    return Ok(size.and_then(|s| u32::try_from(s).ok()));
                }
                Kind::Array => {
                    let elem = le32(record.data, 0).ok_or(BtfError::Truncated { id: at })?;
                    let elems = le32(record.data, 8).ok_or(BtfError::Truncated { id: at })?;
                    count = count.saturating_mul(u64::from(elems));
                    at = TypeId(elem);
                }
                _ => return Ok(None),
            }
        }
        Err(BtfError::Chain { id: ty })
    }

    /// The member at `path` in struct `strukt`: each name is looked up in
    /// the struct or union the previous one resolves to, searching through
    /// anonymous members. An empty path is the struct itself.
    pub fn member(&self, strukt: &str, path: &[&str]) -> Result<Member, BtfError> {
        let mut ty = self.find_struct(strukt)?;
        let mut bits = 0u64;
        let so_far = |n: usize| path.get(..n).unwrap_or(path).join(".");
        for (i, name) in path.iter().enumerate() {
            let aggregate = self.resolve(ty)?;
            if !matches!(self.kind(aggregate)?, Kind::Struct | Kind::Union) {
                return Err(BtfError::NotAggregate {
                    strukt: strukt.into(),
                    path: so_far(i),
                    next: (*name).into(),
                });
            }
            let mut searched = HashSet::from([aggregate]);
            let found = self.find_in(aggregate, name, &mut searched, 0)?;
            let found = found.ok_or_else(|| BtfError::NoMember {
                strukt: strukt.into(),
                path: so_far(i + 1),
            })?;
            if found.bitfield || found.bits % 8 != 0 {
                return Err(BtfError::Bitfield {
                    strukt: strukt.into(),
                    path: so_far(i + 1),
                });
            }
            bits += found.bits;
            ty = found.ty;
        }
        let offset = u32::try_from(bits / 8).map_err(|_| BtfError::Overflow {
            strukt: strukt.into(),
            path: path.join("."),
        })?;
        Ok(Member { offset, ty })
    }

    /// The member `name` of the struct or union `aggregate`, or of the
    /// anonymous ones inside it. Each aggregate is searched once
    /// (`searched`): not finding it there once, it will not be found there
    /// again, and a cycle ends.
    fn find_in(
        &self,
        aggregate: TypeId,
        name: &str,
        searched: &mut HashSet<TypeId>,
        depth: usize,
    ) -> Result<Option<Found>, BtfError> {
        if depth > MAX_NESTING {
            return Err(BtfError::TooDeep { id: aggregate });
        }
        let record = self.record(aggregate)?;
        for member in record.data.chunks_exact(MEMBER_LEN) {
            let (name_off, ty, offset) =
                record_head(member, 0).ok_or(BtfError::Truncated { id: aggregate })?;
            let (bits, bitfield) = if record.kind_flag {
                (offset & 0xff_ffff, offset >> 24 != 0)
            } else {
                (offset, false)
            };
            let (bits, ty) = (u64::from(bits), TypeId(ty));
            if name_off != 0 {
                if string_at(self.strings, name_off)? == name {
                    return Ok(Some(Found { bits, bitfield, ty }));
                }
                continue;
            }
            let inner = self.resolve(ty)?;
            if matches!(self.kind(inner)?, Kind::Struct | Kind::Union)
                && searched.insert(inner)
                && let Some(found) = self.find_in(inner, name, searched, depth + 1)?
            {
                let bits = found.bits + bits;
                return Ok(Some(Found { bits, ..found }));
            }
        }
        Ok(None)
    }

    fn record(&self, id: TypeId) -> Result<Record<'a>, BtfError> {
        let index = usize::try_from(id.0).ok().and_then(|i| i.checked_sub(1));
        let start = index
            .and_then(|i| self.starts.get(i))
            .ok_or(BtfError::NoType { id })?;
        read_record(self.types, *start as usize).ok_or(BtfError::Truncated { id })
    }
}

/// The record at `at`, if it lies within `types`; an unknown kind reads as
/// `Void` (the index refuses them before any lookup can meet one).
fn read_record(types: &[u8], at: usize) -> Option<Record<'_>> {
    let (name_off, info, size_or_type) = record_head(types, at)?;
    let kind = Kind::from_raw((info >> 24) & 0x1f).unwrap_or(Kind::Void);
    let vlen = usize::try_from(info & 0xffff).ok()?;
    let data_at = at.checked_add(RECORD_LEN)?;
    let data = types.get(data_at..data_at.checked_add(kind.data_len(vlen))?)?;
    Some(Record {
        name_off,
        kind,
        kind_flag: info >> 31 != 0,
        size_or_type,
        data,
    })
}

/// One pass over the type section: where each record starts, and the
/// named structs with their name offsets, in order.
type Index = (Vec<u32>, Vec<(u32, TypeId)>);

fn index(types: &[u8]) -> Result<Index, BtfError> {
    // Most records are 12 to 24 bytes.
    let mut starts = Vec::with_capacity(types.len() / 16);
    let mut structs = Vec::new();
    let mut at = 0usize;
    while at < types.len() {
        // At most one record per 12 bytes of a section of u32 length.
        let id = TypeId(u32::try_from(starts.len() + 1).unwrap_or(u32::MAX));
        let (name_off, info, _) = record_head(types, at).ok_or(BtfError::Truncated { id })?;
        let raw_kind = (info >> 24) & 0x1f;
        let kind = Kind::from_raw(raw_kind).ok_or(BtfError::UnknownKind { id, kind: raw_kind })?;
        let len = RECORD_LEN + kind.data_len((info & 0xffff) as usize);
        let end = at
            .checked_add(len)
            .filter(|&end| end <= types.len())
            .ok_or(BtfError::Truncated { id })?;
        starts.push(u32::try_from(at).map_err(|_| BtfError::Truncated { id })?);
        if kind == Kind::Struct && name_off != 0 {
            structs.push((name_off, id));
        }
        at = end;
    }
    Ok((starts, structs))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const INT: u32 = 1;
    const PTR: u32 = 2;
    const ARRAY: u32 = 3;
    const STRUCT: u32 = 4;
    const UNION: u32 = 5;
    const ENUM: u32 = 6;
    const FWD: u32 = 7;
    const TYPEDEF: u32 = 8;
    const VOLATILE: u32 = 9;
    const CONST: u32 = 10;
    const RESTRICT: u32 = 11;
    const FUNC: u32 = 12;
    const FUNC_PROTO: u32 = 13;
    const VAR: u32 = 14;
    const DATASEC: u32 = 15;
    const FLOAT: u32 = 16;
    const DECL_TAG: u32 = 17;
    const TYPE_TAG: u32 = 18;
    const ENUM64: u32 = 19;

    /// Builds BTF blobs record by record.
    struct Blob {
        types: Vec<u8>,
        strings: Vec<u8>,
        count: u32,
    }

    impl Blob {
        fn new() -> Self {
            Blob {
                types: Vec::new(),
                strings: vec![0],
                count: 0,
            }
        }

        fn name(&mut self, s: &str) -> u32 {
            if s.is_empty() {
                return 0;
            }
            let off = self.strings.len() as u32;
            self.strings.extend_from_slice(s.as_bytes());
            self.strings.push(0);
            off
        }

        /// Appends a record with its kind's data; returns its id.
        fn ty(&mut self, name: &str, kind: u32, vlen: u32, size_or_type: u32, data: &[u32]) -> u32 {
            let kind_flag = kind & 0x80 != 0;
            let info = vlen | (kind & 0x1f) << 24 | u32::from(kind_flag) << 31;
            let name = self.name(name);
            for w in [name, info, size_or_type].iter().chain(data) {
                self.types.extend_from_slice(&w.to_le_bytes());
            }
            self.count += 1;
            self.count
        }

        /// A struct or union of `(name, type, offset)` members; `kind | 0x80`
        /// sets the kind flag (offsets carry bitfield sizes).
        fn aggregate(
            &mut self,
            kind: u32,
            name: &str,
            size: u32,
            members: &[(&str, u32, u32)],
        ) -> u32 {
            let mut data = Vec::new();
            for &(n, ty, off) in members {
                data.extend([self.name(n), ty, off]);
            }
            self.ty(name, kind, members.len() as u32, size, &data)
        }

        fn finish(&self) -> Vec<u8> {
            let (tl, sl) = (self.types.len() as u32, self.strings.len() as u32);
            let mut out = vec![0x9f, 0xeb, 1, 0];
            for w in [24, 0, tl, tl, sl] {
                out.extend_from_slice(&w.to_le_bytes());
            }
            out.extend_from_slice(&self.types);
            out.extend_from_slice(&self.strings);
            out
        }
    }

    /// A task_struct whose pid and tgid sit in an anonymous union (and an
    /// anonymous struct in it), after a bitfield, with `se` behind
    /// qualifiers; then a record of every other kind, and a last struct
    /// that is found only if every record's length was right.
    fn fixture() -> Vec<u8> {
        let mut b = Blob::new();
        let int = b.ty("int", INT, 0, 4, &[0x0100_0020]);
        let ull = b.ty("unsigned long long", INT, 0, 8, &[64]);
        let u64_ = b.ty("u64", TYPEDEF, 0, ull, &[]);
        let pid_t = b.ty("pid_t", TYPEDEF, 0, int, &[]);
        let se = b.aggregate(
            STRUCT,
            "sched_entity",
            16,
            &[("load", ull, 0), ("sum_exec_runtime", u64_, 64)],
        );
        let const_se = b.ty("", CONST, 0, se, &[]);
        let volatile_se = b.ty("", VOLATILE, 0, const_se, &[]);
        let ptr = b.ty("", PTR, 0, 9, &[]);
        let task = b.aggregate(
            STRUCT | 0x80,
            "task_struct",
            40,
            &[
                ("state", int, 0),
                ("flags", int, 32 | 3 << 24),
                ("", 10, 64),
                ("se", volatile_se, 128),
                ("real_parent", ptr, 256),
            ],
        );
        assert_eq!((ptr, task), (8, 9));
        let anon_union = b.aggregate(UNION, "", 8, &[("pid", pid_t, 0), ("", 11, 0)]);
        let anon_struct = b.aggregate(STRUCT, "", 8, &[("spare", int, 0), ("tgid", pid_t, 32)]);
        assert_eq!((anon_union, anon_struct), (10, 11));
        let (a, c) = (b.name("A"), b.name("C"));
        b.ty("e", ENUM, 2, 4, &[a, 0, c, 1]);
        let array = b.ty("", ARRAY, 0, 0, &[int, int, 5]);
        assert_eq!(array, 13);
        let proto = b.ty("", FUNC_PROTO, 1, int, &[0, int]);
        b.ty("f", FUNC, 0, proto, &[]);
        let var = b.ty("v", VAR, 0, int, &[1]);
        b.ty(".data", DATASEC, 1, 4, &[var, 0, 4]);
        b.ty("double", FLOAT, 0, 8, &[]);
        b.ty("tag", DECL_TAG, 0, task, &[u32::MAX]);
        b.ty("rcu", TYPE_TAG, 0, task, &[]);
        b.ty("e64", ENUM64, 1, 8, &[a, 1, 2]);
        b.ty("fwd", FWD, 0, 0, &[]);
        b.ty("", RESTRICT, 0, ptr, &[]);
        let last = b.aggregate(STRUCT, "last", 4, &[("x", int, 0)]);
        assert_eq!(last, 24);
        b.finish()
    }

    const FIXTURE_TASK: TaskOffsets = TaskOffsets {
        real_parent: 32,
        tgid: 12,
        pid: 8,
        sum_exec_runtime: 24,
    };

    #[test]
    fn finds_the_task_offsets_through_anonymous_members() {
        assert_eq!(task_offsets(&fixture()).unwrap(), FIXTURE_TASK);
    }

    #[test]
    fn walks_every_kind_and_resolves_types() {
        let data = fixture();
        let btf = Btf::parse(&data).unwrap();
        assert_eq!(btf.type_count(), 24);
        assert_eq!(btf.find_struct("last").unwrap(), TypeId(24));
        assert_eq!(member_offset(&btf, "last", &["x"]).unwrap(), 0);
        assert_eq!(btf.name(TypeId(24)).unwrap(), "last");
        let se = btf.member("task_struct", &["se"]).unwrap();
        assert_eq!(
            se,
            Member {
                offset: 16,
                ty: TypeId(7)
            }
        );
        assert_eq!(btf.resolve(se.ty).unwrap(), TypeId(5));
        assert_eq!(btf.kind(TypeId(8)).unwrap(), Kind::Ptr);
        assert_eq!(btf.pointee(TypeId(23)).unwrap(), Some(TypeId(9)));
        assert_eq!(btf.pointee(TypeId(9)).unwrap(), None);
        assert_eq!(btf.kind(TypeId(20)).unwrap(), Kind::TypeTag);
        assert_eq!(btf.kind(TypeId::VOID).unwrap(), Kind::Void);
        assert_eq!(btf.size_of(TypeId(9)).unwrap(), Some(40));
        assert_eq!(btf.size_of(TypeId(13)).unwrap(), Some(20));
        assert_eq!(btf.size_of(TypeId(8)).unwrap(), None);
        assert_eq!(btf.size_of(se.ty).unwrap(), Some(16));
        assert_eq!(member_offset(&btf, "task_struct", &[]).unwrap(), 0);
        assert!(matches!(btf.kind(TypeId(25)), Err(BtfError::NoType { .. })));
    }

    #[test]
    fn lookups_name_what_is_missing() {
        let data = fixture();
        let btf = Btf::parse(&data).unwrap();
        let err = |path: &[&str]| btf.member("task_struct", path).unwrap_err().to_string();
        assert_eq!(
            err(&["flags"]),
            "member flags of struct task_struct is a bitfield, not byte-addressable"
        );
        assert_eq!(
            err(&["se", "vruntime"]),
            "struct task_struct in the kernel's BTF has no member se.vruntime"
        );
        assert_eq!(
            err(&["pid", "x"]),
            "member pid of struct task_struct is not a struct or union, so has no member x"
        );
        assert_eq!(
            btf.find_struct("nope").unwrap_err().to_string(),
            "the kernel's BTF has no struct nope"
        );
        // A union is not a struct; an anonymous struct has no name.
        assert!(btf.find_struct("e").is_err() && btf.find_struct("").is_err());
    }

    #[test]
    fn corrupt_headers_and_records_are_errors() {
        // The messages below count the fixture's 24 + 508 + 169 bytes.
        let sections = |d: &[u8]| (le32(d, 12).unwrap(), le32(d, 20).unwrap());
        assert_eq!(sections(&fixture()), (508, 169));
        // The type section's length cut into the middle of the last record.
        let shorten = |d: &mut Vec<u8>| {
            let len = le32(d, 12).unwrap() - 4;
            d[12..16].copy_from_slice(&len.to_le_bytes());
        };
        type Edit<'a> = &'a dyn Fn(&mut Vec<u8>);
        let cases: [(Edit<'_>, &str); 9] = [
            (
                &|d| d.swap(0, 1),
                "the BTF is big-endian; only little-endian BTF is supported",
            ),
            (
                &|d| d[0] = 0,
                "not BTF: the magic number is 0xeb00, not 0xeb9f",
            ),
            (
                &|d| d[2] = 2,
                "unsupported BTF version 2 (only version 1 is known)",
            ),
            (
                &|d| d.truncate(23),
                "the BTF is 23 bytes, shorter than its 24-byte header",
            ),
            (
                &|d| d[4] = 23,
                "the BTF header claims 23 bytes, not between 24 and the data's 701",
            ),
            (
                &|d| d[23] = 0x80,
                "the BTF's string section (offset 508, 2147483817 bytes) lies outside \
                 the 677 bytes after its header",
            ),
            (
                &|d| d[15] = 0xff,
                "the BTF's type section (offset 0, 4278190588 bytes) lies outside \
                 the 677 bytes after its header",
            ),
            (
                &shorten,
                "BTF type 24 runs past the end of the type section",
            ),
            // Type 1's kind set to 20.
            (&|d| d[24 + 7] = 20, "BTF type 1 has unknown kind 20"),
        ];
        for (edit, message) in cases {
            let mut data = fixture();
            edit(&mut data);
            assert_eq!(Btf::parse(&data).unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn cycles_and_deep_nesting_end_in_errors() {
        let mut b = Blob::new();
        b.ty("loop", TYPEDEF, 0, 1, &[]);
        let anon = b.aggregate(STRUCT, "", 4, &[("", 3, 0)]);
        b.aggregate(STRUCT, "s", 4, &[("", anon, 0), ("t", 1, 0)]);
        let mut inner = b.aggregate(STRUCT, "", 4, &[("deep", 0, 0)]);
        for _ in 0..40 {
            inner = b.aggregate(UNION, "", 4, &[("", inner, 0)]);
        }
        b.aggregate(STRUCT, "top", 4, &[("", inner, 0)]);
        let data = b.finish();
        let btf = Btf::parse(&data).unwrap();
        let chain = "BTF type 1 starts a chain of more than 64 typedefs, qualifiers or arrays";
        assert_eq!(btf.resolve(TypeId(1)).unwrap_err().to_string(), chain);
        assert_eq!(btf.size_of(TypeId(1)).unwrap_err().to_string(), chain);
        let err = |strukt, path: &[&str]| btf.member(strukt, path).unwrap_err().to_string();
        assert_eq!(err("s", &["t", "u"]), chain);
        // s holds an anonymous struct holding s: each is searched once.
        assert_eq!(
            err("s", &["x"]),
            "struct s in the kernel's BTF has no member x"
        );
        assert!(err("top", &["deep"]).ends_with("nests anonymous members more than 32 deep"));
    }

    /// Everything a caller could ask of `data`; errors are fine, panics
    /// and hangs are not.
    fn exercise(data: &[u8]) {
        let _ = task_offsets(data);
        let Ok(btf) = Btf::parse(data) else { return };
        for path in [&["se", "sum_exec_runtime"][..], &["tgid"], &["x"], &[]] {
            for name in ["task_struct", "last", "sched_entity"] {
                let _ = btf.member(name, path);
            }
        }
        for id in 0..=btf.type_count() as u32 + 1 {
            let id = TypeId(id);
            let _ = (
                btf.kind(id),
                btf.name(id),
                btf.resolve(id),
                btf.size_of(id),
                btf.pointee(id),
            );
        }
    }

    /// Words of type records: small offsets and ids, anything, and an
    /// `info` of a known kind with two items.
    fn word() -> impl Strategy<Value = u32> {
        prop_oneof![0u32..40, any::<u32>(), (1u32..20).prop_map(|k| k << 24 | 2)]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            exercise(&bytes);
        }

        #[test]
        fn truncations_never_panic(len in 0usize..800) {
            let data = fixture();
            exercise(&data[..len.min(data.len())]);
        }

        #[test]
        fn corruptions_never_panic(
            edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        ) {
            let mut data = fixture();
            for (at, byte) in edits {
                let len = data.len();
                data[at % len] = byte;
            }
            exercise(&data);
        }

        #[test]
        fn random_records_never_panic(words in prop::collection::vec(word(), 0..60)) {
            let mut b = Blob::new();
            for w in words {
                b.types.extend_from_slice(&w.to_le_bytes());
            }
            b.name("task_struct");
            b.name("se");
            exercise(&b.finish());
        }
    }
}
