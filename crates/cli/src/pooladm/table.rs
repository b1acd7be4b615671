//! `pooladm list` and `get` output as ZFS prints it: a header of upper-case
//! property names, columns as wide as their widest cell, two spaces apart,
//! numbers right-aligned; `-H` drops the header and separates with tabs;
//! `-p` prints exact numbers.

use basalt_pool::size::format_size;
use basalt_pool::{Dataset, Kind};

/// A property `list -o` and `get` know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prop {
    /// `name`
    Name,
    /// `type`
    Type,
    /// `used`
    Used,
    /// `avail`
    Available,
    /// `refer`
    Referenced,
    /// `mountpoint`
    Mountpoint,
    /// `quota`
    Quota,
    /// `origin`
    Origin,
    /// `creation`
    Creation,
    /// `volsize`
    Volsize,
}

impl Prop {
    /// Every property, in `get all` order.
    pub const ALL: [Prop; 10] = [
        Prop::Name,
        Prop::Type,
        Prop::Creation,
        Prop::Used,
        Prop::Available,
        Prop::Referenced,
        Prop::Mountpoint,
        Prop::Origin,
        Prop::Quota,
        Prop::Volsize,
    ];

    /// Parses a property name (with ZFS's short forms).
    pub fn parse(s: &str) -> Option<Prop> {
        Some(match s {
            "name" => Prop::Name,
            "type" => Prop::Type,
            "used" => Prop::Used,
            "avail" | "available" => Prop::Available,
            "refer" | "referenced" => Prop::Referenced,
            "mountpoint" => Prop::Mountpoint,
            "quota" => Prop::Quota,
            "origin" => Prop::Origin,
            "creation" => Prop::Creation,
            "volsize" => Prop::Volsize,
            _ => return None,
        })
    }

    /// The property's name.
    pub fn name(self) -> &'static str {
        match self {
            Prop::Name => "name",
            Prop::Type => "type",
            Prop::Used => "used",
            Prop::Available => "avail",
            Prop::Referenced => "refer",
            Prop::Mountpoint => "mountpoint",
            Prop::Quota => "quota",
            Prop::Origin => "origin",
            Prop::Creation => "creation",
            Prop::Volsize => "volsize",
        }
    }

    fn numeric(self) -> bool {
        matches!(
            self,
            Prop::Used | Prop::Available | Prop::Referenced | Prop::Quota | Prop::Volsize
        )
    }

    /// The value of this property of `d`, exact with `parsable`.
    pub fn value(self, d: &Dataset, parsable: bool) -> String {
        let size = |n: u64| {
            if parsable {
                n.to_string()
            } else {
                format_size(n)
            }
        };
        match self {
            Prop::Name => d.name.clone(),
            Prop::Type => d.kind.as_str().to_owned(),
            Prop::Used => size(d.used),
            Prop::Available if d.kind == Kind::Snapshot => "-".into(),
            Prop::Available => size(d.available),
            Prop::Referenced => size(d.referenced),
            Prop::Mountpoint => d
                .mountpoint
                .as_ref()
                .map_or_else(|| "-".into(), |m| m.display().to_string()),
            Prop::Quota if d.kind == Kind::Snapshot => "-".into(),
            Prop::Quota => d
                .quota
                .map_or_else(|| if parsable { "0".into() } else { "none".into() }, size),
            Prop::Origin => d.origin.clone().unwrap_or_else(|| "-".into()),
            Prop::Creation if parsable => d.creation.to_string(),
            Prop::Creation => humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(d.creation),
            )
            .to_string(),
            Prop::Volsize => d.volsize.map_or_else(|| "-".into(), size),
        }
    }
}

/// Renders rows of cells under `headers`.
pub fn render(headers: &[&str], right: &[bool], rows: &[Vec<String>], scripted: bool) -> String {
    let mut out = String::new();
    if scripted {
        for row in rows {
            out.push_str(&row.join("\t"));
            out.push('\n');
        }
        return out;
    }
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let text: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if right[i] {
                    format!("{c:>w$}", w = widths[i])
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        format!("{}\n", text.join("  ").trim_end())
    };
    out.push_str(&line(headers.to_vec()));
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// Renders datasets with the given properties.
pub fn datasets(props: &[Prop], rows: &[Dataset], scripted: bool, parsable: bool) -> String {
    let headers: Vec<String> = props.iter().map(|p| p.name().to_uppercase()).collect();
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let right: Vec<bool> = props.iter().map(|p| p.numeric()).collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|d| props.iter().map(|p| p.value(d, parsable)).collect())
        .collect();
    render(&headers, &right, &cells, scripted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_like_zfs() {
        let rows = vec![
            vec!["zones".to_owned(), "1.50G".to_owned(), "/zones".to_owned()],
            vec![
                "zones/a".to_owned(),
                "96K".to_owned(),
                "/zones/a".to_owned(),
            ],
        ];
        assert_eq!(
            render(
                &["NAME", "USED", "MOUNTPOINT"],
                &[false, true, false],
                &rows,
                false
            ),
            "NAME      USED  MOUNTPOINT\nzones    1.50G  /zones\nzones/a    96K  /zones/a\n"
        );
        assert_eq!(
            render(
                &["NAME", "USED"],
                &[false, true],
                &[vec!["a".into(), "1".into()]],
                true
            ),
            "a\t1\n"
        );
    }
}
