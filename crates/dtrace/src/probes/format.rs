//! A tracepoint's `format` file (tracefs `events/<category>/<name>/format`):
//! its id and the fields of its record, with their C types, offsets and
//! sizes — what typed `args[]` and the compiler's loads are made from.
//! Pure: the caller reads the file.

/// One field of a tracepoint record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Its name (`filename`, `prev_comm`).
    pub name: String,
    /// Its C type as the kernel writes it (`const char *`, `char[16]`).
    pub ty: String,
    /// Byte offset in the record.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
    /// Whether it is signed.
    pub signed: bool,
}

/// A tracepoint's record layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    /// The tracepoint's id (what a perf event opens).
    pub id: u32,
    /// The fields after the common header (`common_*`), in order.
    pub fields: Vec<Field>,
}

/// Why a format file was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tracepoint format: {0}")]
pub struct FormatError(String);

/// Parses a format file's text.
pub fn parse(text: &str) -> Result<Format, FormatError> {
    let mut id = None;
    let mut fields = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(v) = line.strip_prefix("ID:") {
            id = Some(
                v.trim()
                    .parse()
                    .map_err(|_| FormatError(format!("bad ID line {line:?}")))?,
            );
        } else if line.starts_with("field:") {
            let f = field(line).ok_or_else(|| FormatError(format!("bad field line {line:?}")))?;
            if !f.name.starts_with("common_") {
                fields.push(f);
            }
        }
    }
    Ok(Format {
        id: id.ok_or_else(|| FormatError("no ID line".into()))?,
        fields,
    })
}

/// `field:const char * filename;\toffset:24;\tsize:8;\tsigned:0;`
fn field(line: &str) -> Option<Field> {
    let mut decl = None;
    let (mut offset, mut size, mut signed) = (None, None, None);
    for part in line.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once(':')?;
        match k {
            "field" => decl = Some(v.trim()),
            "offset" => offset = v.parse().ok(),
            "size" => size = v.parse().ok(),
            "signed" => signed = Some(v == "1"),
            _ => {}
        }
    }
    let decl = decl?;
    // A dynamic array names its field last: `__data_loc char[] filename`,
    // type `__data_loc char[]`.
    if let Some(close) = decl.rfind(']')
        && let Some(name) = decl[close + 1..].split_whitespace().last()
    {
        return Some(Field {
            name: name.to_owned(),
            ty: decl[..=close].to_owned(),
            offset: offset?,
            size: size?,
            signed: signed?,
        });
    }
    // Otherwise the name is the last identifier of the declaration, before
    // any array bounds: `char prev_comm[16]` → `prev_comm`, type `char[16]`.
    let (head, bounds) = match decl.find('[') {
        Some(i) => (&decl[..i], &decl[i..]),
        None => (decl, ""),
    };
    let head = head.trim_end();
    let start = head
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let name = &head[start..];
    if name.is_empty() {
        return None;
    }
    let ty = format!("{}{bounds}", head[..start].trim_end());
    Some(Field {
        name: name.to_owned(),
        ty,
        offset: offset?,
        size: size?,
        signed: signed?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENAT: &str = "name: sys_enter_openat
ID: 782
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
\tfield:int flags;\toffset:32;\tsize:8;\tsigned:0;
\tfield:umode_t mode;\toffset:40;\tsize:8;\tsigned:0;

print fmt: \"dfd: 0x%08lx\", ((unsigned long)(REC->dfd))
";

    #[test]
    fn a_syscall_format_gives_its_id_and_typed_fields() {
        let f = parse(OPENAT).unwrap();
        assert_eq!(f.id, 782);
        let names: Vec<&str> = f.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["__syscall_nr", "dfd", "filename", "flags", "mode"]);
        assert_eq!(
            f.fields[2],
            Field {
                name: "filename".into(),
                ty: "const char *".into(),
                offset: 24,
                size: 8,
                signed: false
            }
        );
    }

    #[test]
    fn arrays_keep_their_bounds_in_the_type() {
        let f = parse(
            "ID: 372\n\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\
             \tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n",
        )
        .unwrap();
        assert_eq!(f.fields[0].name, "prev_comm");
        let exec = parse(
            "name: sched_process_exec\nID: 310\nformat:\n\
             \tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;\n",
        )
        .unwrap();
        assert_eq!(exec.fields[0].name, "filename");
        assert_eq!(exec.fields[0].ty, "__data_loc char[]");
        assert_eq!(f.fields[0].ty, "char[16]");
        assert!(f.fields[1].signed);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse("").is_err());
        assert!(parse("ID: x").is_err());
        assert!(parse("ID: 1\nfield:;offset:1;").is_err());
    }
}
