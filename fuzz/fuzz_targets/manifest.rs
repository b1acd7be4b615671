//! Untrusted image manifests and PAX records through what reads them: a
//! manifest that validates writes back as a fixed point; the PAX parser
//! never panics. Any panic is a bug.

#![no_main]

use basalt_image::Manifest;
use basalt_image::extract::parse_pax;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(m) = Manifest::from_json(text)
    {
        let once = m.to_value();
        let again = Manifest::from_value(once.clone()).map(|m| m.to_value());
        assert_eq!(again.ok(), Some(once));
    }
    let _ = parse_pax(data);
});
