//! `nictagadm list`'s output: the table, and the parsable lines of `-p`.

use basalt_node::config::TagKind;
use basalt_node::nictags::Listed;

/// The four fields of a row: name, MAC (`-` for none), link (`-` for
/// none) and type.
fn fields(row: &Listed) -> [String; 4] {
    let (mac, kind) = match &row.kind {
        TagKind::Etherstub => ("-".to_owned(), "etherstub"),
        TagKind::Physical { mac } => (mac.to_string(), "normal"),
        TagKind::Link { .. } => ("-".to_owned(), "aggr"),
    };
    let link = row.link.clone().unwrap_or_else(|| "-".to_owned());
    [row.name.clone(), mac, link, kind.to_owned()]
}

/// The table: a header, then one line per row, each field left-aligned
/// and padded to its column's width (14, 18, 14, 16) plus one space
/// between columns, as SmartOS prints it (the last column padded too).
pub fn table(rows: &[Listed]) -> String {
    let line = |f: [&str; 4]| format!("{:<14} {:<18} {:<14} {:<16}\n", f[0], f[1], f[2], f[3]);
    let mut out = line(["NAME", "MACADDRESS", "LINK", "TYPE"]);
    for row in rows {
        let [name, mac, link, kind] = fields(row);
        out.push_str(&line([&name, &mac, &link, &kind]));
    }
    out
}

/// One line per row, the fields joined by `delim`, no header. With the
/// default delimiter `:`, the MAC's colons are escaped as `\:` so the
/// line still splits into four fields.
pub fn parsable(rows: &[Listed], delim: &str) -> String {
    rows.iter()
        .map(|row| {
            let [name, mut mac, link, kind] = fields(row);
            if delim == ":" {
                mac = mac.replace(':', "\\:");
            }
            format!("{name}{delim}{mac}{delim}{link}{delim}{kind}\n")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use basalt_model::ids::Mac;

    use super::*;

    fn rows() -> Vec<Listed> {
        vec![
            Listed {
                name: "external".into(),
                kind: TagKind::Physical {
                    mac: Mac([0x02, 0x08, 0x20, 0xaa, 0xbb, 0x01]),
                },
                link: Some("eth0".into()),
            },
            Listed {
                name: "gone".into(),
                kind: TagKind::Physical {
                    mac: Mac([0x02, 0x08, 0x20, 0xaa, 0xbb, 0x09]),
                },
                link: None,
            },
            Listed {
                name: "bonded".into(),
                kind: TagKind::Link {
                    name: "aggr0".into(),
                },
                link: Some("aggr0".into()),
            },
            Listed {
                name: "a_rather_long_tag_name".into(),
                kind: TagKind::Etherstub,
                link: None,
            },
        ]
    }

    #[test]
    fn table_columns_as_smartos_pads_them() {
        assert_eq!(
            table(&rows()),
            "NAME           MACADDRESS         LINK           TYPE            \n\
             external       02:08:20:aa:bb:01  eth0           normal          \n\
             gone           02:08:20:aa:bb:09  -              normal          \n\
             bonded         -                  aggr0          aggr            \n\
             a_rather_long_tag_name -                  -              etherstub       \n"
        );
        assert_eq!(
            table(&[]),
            "NAME           MACADDRESS         LINK           TYPE            \n"
        );
    }

    #[test]
    fn parsable_escapes_colons_only_for_the_default_delimiter() {
        assert_eq!(
            parsable(&rows()[..2], ":"),
            "external:02\\:08\\:20\\:aa\\:bb\\:01:eth0:normal\n\
             gone:02\\:08\\:20\\:aa\\:bb\\:09:-:normal\n"
        );
        assert_eq!(
            parsable(&rows(), ","),
            "external,02:08:20:aa:bb:01,eth0,normal\n\
             gone,02:08:20:aa:bb:09,-,normal\n\
             bonded,-,aggr0,aggr\n\
             a_rather_long_tag_name,-,-,etherstub\n"
        );
    }
}
