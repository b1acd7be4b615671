//! `imgadm list`: installed images as a table (default columns
//! `uuid,name,version,os,published`, sorted by `published_at,name`), or as
//! JSON with `-j`. Filters: `field=value` (exact; dotted paths such as
//! `tags.role=os`), `field=true|false`, `field=~sub` (substring).

use std::cmp::Ordering;

use basalt_node::images::{ImageStore, InstalledImage};
use serde_json::{Map, Value, json};

use super::{Failure, Outcome, parse};
use crate::getopt::Parsed;
use crate::output::{message, stdout};

pub(super) const DEFAULT_COLUMNS: &str = "uuid,name,version,os,published";
pub(super) const DEFAULT_SORT: &str = "published_at,name";

/// The row of a manifest: its fields plus imgadm's derived ones
/// (`published`, `published_date`/`pub`, `size`).
pub(super) fn manifest_row(manifest: Value) -> Map<String, Value> {
    let mut row = match manifest {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let published = row
        .get("published_at")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(p) = published {
        let no_ms = match (p.find('.'), p.ends_with('Z')) {
            (Some(dot), true) => format!("{}Z", &p[..dot]),
            _ => p.clone(),
        };
        row.insert("published".into(), json!(no_ms));
        let date: String = p.chars().take(10).collect();
        row.insert("published_date".into(), json!(date));
        row.insert("pub".into(), json!(date));
    }
    if let Some(size) = row
        .get("files")
        .and_then(|f| f.get(0))
        .and_then(|f| f.get("size"))
        .cloned()
    {
        row.insert("size".into(), size);
    }
    row
}

/// The row of an installed image: its manifest's, plus where it lives.
fn row(img: &InstalledImage) -> Map<String, Value> {
    let mut row = manifest_row(img.record.manifest.to_value());
    row.insert("clones".into(), json!(img.clones.len()));
    row.insert("zpool".into(), json!(img.record.zpool));
    if let Some(s) = &img.record.source {
        row.insert("source".into(), json!(s));
    }
    row
}

fn lookup<'a>(row: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    let mut parts = field.split('.');
    let mut v = row.get(parts.next()?)?;
    for p in parts {
        v = match v {
            Value::Object(m) => m.get(p)?,
            Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| text(Some(x)))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

fn matches(row: &Map<String, Value>, filter: &str) -> bool {
    let (field, want) = filter.split_once('=').unwrap_or((filter, ""));
    let got = lookup(row, field);
    if let Some(sub) = want.strip_prefix('~') {
        return got.is_some_and(|v| text(Some(v)).contains(sub));
    }
    match (got, want) {
        (Some(Value::Bool(b)), "true" | "false") => b.to_string() == want,
        (Some(v), _) => text(Some(v)) == want,
        (None, _) => false,
    }
}

fn compare(a: &Map<String, Value>, b: &Map<String, Value>, keys: &[(String, bool)]) -> Ordering {
    for (field, descending) in keys {
        let (x, y) = (lookup(a, field), lookup(b, field));
        let o = match (x, y) {
            (Some(Value::Number(m)), Some(Value::Number(n))) => m
                .as_f64()
                .partial_cmp(&n.as_f64())
                .unwrap_or(Ordering::Equal),
            _ => text(x).cmp(&text(y)),
        };
        let o = if *descending { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Renders cells padded to their column's widest value, two spaces apart.
fn table(headers: &[String], rows: &[Vec<String>], header: bool) -> String {
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([if header { headers[i].len() } else { 0 }])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", parts.join("  ").trim_end())
    };
    let mut out = String::new();
    if header {
        out.push_str(&line(headers));
    }
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

/// `imgadm list [-j] [-H] [-o fields] [-s fields] [filters]`.
pub fn list(store: &ImageStore, args: &[String]) -> Outcome {
    let p = parse(args, "jH", "os")?;
    let (images, broken) = store.list()?;
    for b in &broken {
        message(&format!("imgadm list: warning: {b}"));
    }
    let entries = images
        .iter()
        .map(|i| (row(i), i.record.to_value()))
        .collect();
    stdout(&render(entries, &p, DEFAULT_COLUMNS, Some(DEFAULT_SORT)));
    if broken.is_empty() {
        Ok(())
    } else {
        Err(Failure::Other {
            code: "InternalError",
            message: "some image records could not be read (named above)".into(),
            status: 1,
        })
    }
}

/// Filters (the operands), sorts (`-s`, else `sort`; none keeps the
/// entries' order) and renders (`-o`, else `columns`; `-H`; or `-j` for
/// the entries' JSON) what `list`, `avail` and `ancestry` show: each entry
/// is its row and its JSON.
pub(super) fn render(
    entries: Vec<(Map<String, Value>, Value)>,
    p: &Parsed,
    columns: &str,
    sort: Option<&str>,
) -> String {
    let mut rows: Vec<(Map<String, Value>, Value)> = entries
        .into_iter()
        .filter(|(r, _)| p.operands.iter().all(|f| matches(r, f)))
        .collect();
    let sort: Vec<(String, bool)> = p
        .value('s')
        .or(sort)
        .unwrap_or_default()
        .split(',')
        .filter(|k| !k.is_empty())
        .map(|k| match k.strip_prefix('-') {
            Some(rest) => (rest.to_owned(), true),
            None => (k.trim_start_matches('+').to_owned(), false),
        })
        .collect();
    rows.sort_by(|a, b| compare(&a.0, &b.0, &sort));
    if p.has('j') {
        let out: Vec<Value> = rows.into_iter().map(|(_, j)| j).collect();
        return super::pretty(&Value::Array(out));
    }
    let columns: Vec<String> = p
        .value('o')
        .unwrap_or(columns)
        .split(',')
        .map(str::to_owned)
        .collect();
    let headers: Vec<String> = columns.iter().map(|c| c.to_uppercase()).collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(r, _)| columns.iter().map(|c| text(lookup(r, c))).collect())
        .collect();
    table(&headers, &cells, !p.has('H'))
}

/// `imgadm ancestry [-P pool] [-j] [-H] [-o fields] <uuid>`: an installed
/// image and its origins, the image first.
pub fn ancestry(store: &ImageStore, args: &[String]) -> Outcome {
    let p = parse(args, "jH", "Po")?;
    super::check_pool(store, &p)?;
    let [uuid] = p.operands.as_slice() else {
        return Err(Failure::Usage("one <uuid> argument is required".into()));
    };
    let mut entries = Vec::new();
    let mut next = Some(uuid.clone());
    while let Some(u) = next {
        if entries.len() > 100 {
            break;
        }
        let img = store.get(&u)?;
        next = img.record.manifest.origin.as_ref().map(|o| o.to_string());
        entries.push((row(&img), img.record.to_value()));
    }
    let no_filters = Parsed {
        operands: Vec::new(),
        ..p
    };
    stdout(&render(
        entries,
        &no_filters,
        "uuid,name,version,published",
        None,
    ));
    Ok(())
}
