//! Sizes as ZFS reads and prints them: `10G`, `512M`, `1.5T`, plain bytes;
//! printed with one decimal below 10 of a unit (`1.5G`, `96K`, `10G`).

/// Parses a size such as `10G`, `512m`, `1.5T`, `4096` or `100GB` (binary
/// units, as ZFS).
pub fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let unit = unit.to_ascii_uppercase();
    let unit = unit
        .strip_suffix("IB")
        .or_else(|| unit.strip_suffix('B'))
        .unwrap_or(&unit);
    let shift = match unit {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        "P" => 50,
        _ => return None,
    };
    let bytes = n * (1u64 << shift) as f64;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// Formats bytes as ZFS does in human output: exact multiples as integers
/// (`512B`, `96K`, `10G`), others with as many decimals as fit in five
/// characters (`1.50G`, `24.3G`, `138M`).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "K", "M", "G", "T", "P", "E"];
    let mut index = 0;
    while index + 1 < UNITS.len() && bytes >= 1u64 << (10 * (index + 1)) {
        index += 1;
    }
    let unit = UNITS[index];
    let divisor = 1u64 << (10 * index);
    if bytes.is_multiple_of(divisor) {
        return format!("{}{unit}", bytes / divisor);
    }
    let value = bytes as f64 / divisor as f64;
    for precision in [2, 1, 0] {
        let text = format!("{value:.precision$}{unit}");
        if text.len() <= 5 {
            return text;
        }
    }
    format!("{value:.0}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("10G"), Some(10 << 30));
        assert_eq!(parse_size("10g"), Some(10 << 30));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("1.5T"), Some(3 << 39));
        assert_eq!(parse_size("100GB"), Some(100 << 30));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("10Q"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn formats() {
        assert_eq!(format_size(0), "0B");
        assert_eq!(format_size(512), "512B");
        assert_eq!(format_size(96 * 1024), "96K");
        assert_eq!(format_size(3 << 29), "1.50G");
        assert_eq!(format_size((243 << 30) / 10), "24.3G");
        assert_eq!(format_size(138 * (1 << 20) + 5), "138M");
        assert_eq!(format_size(10 << 30), "10G");
        assert_eq!(format_size(1 << 30), "1G");
        assert_eq!(format_size(16384), "16K");
    }
}
