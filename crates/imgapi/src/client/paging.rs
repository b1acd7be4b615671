//! `GET /images` page after page, as SmartOS's client pages.
//!
//! Each page asks for `limit=1000` from `marker=<uuid of the last image
//! so far>`. The server answers from the marker image itself, so every
//! page after the first starts with an image already listed, which is
//! dropped. A page shorter than the limit is the last; so is a page that
//! adds nothing (a server that ignores `marker` would otherwise be asked
//! forever).

/// The page size: IMGAPI's default and maximum `limit`.
pub(crate) const PAGE: usize = 1000;

/// Lists everything: `fetch(marker)` gets one page of at most [`PAGE`]
/// images starting at `marker` (the given `start` for the first page).
pub(crate) fn list_all<E>(
    start: Option<String>,
    mut fetch: impl FnMut(Option<&str>) -> Result<Vec<serde_json::Value>, E>,
) -> Result<Vec<serde_json::Value>, E> {
    let mut all = Vec::new();
    let mut marker = start;
    loop {
        let mut page = fetch(marker.as_deref())?;
        let last_page = page.len() < PAGE;
        if let Some(m) = &marker
            && page.first().and_then(|i| i["uuid"].as_str()) == Some(m.as_str())
        {
            page.remove(0);
        }
        let Some(next) = page
            .last()
            .and_then(|i| i["uuid"].as_str())
            .map(str::to_string)
        else {
            // Nothing new (or an image without a uuid, which cannot be
            // paged from).
            all.extend(page);
            return Ok(all);
        };
        if marker.as_deref() == Some(next.as_str()) {
            // The same page again: the server ignores the marker.
            return Ok(all);
        }
        all.extend(page);
        if last_page {
            return Ok(all);
        }
        marker = Some(next);
    }
}
