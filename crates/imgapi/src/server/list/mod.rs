//! `GET /images`: IMGAPI's ListImages filters, order and paging, as pure
//! functions of the query and the catalog's manifests.
//!
//! - `state`: `active` by default, `all` for every state; a manifest
//!   without `state` is active, unless it says `disabled: true`.
//! - `name`, `version`: exact, or a substring with a `~` prefix.
//! - `os`, `owner`: exact. `type`: exact, or excluded with a `!` prefix.
//! - `public`: `true` or `false` (a manifest without it is not public).
//! - `tag.<key>=<value>`: the tag's value as a string; several are ANDed.
//!   `billing_tag=<t>`: `t` is in `billing_tags`; several are ANDed.
//! - Order: by `published_at`, then uuid (ascending by default;
//!   `sort=published_at.desc` reverses both).
//! - `marker`: an image uuid or an ISO date. A uuid starts the page *at*
//!   that image in the order above (ties on `published_at` broken by
//!   uuid, so pages neither skip nor repeat); a date at the first image
//!   published then or later (earlier, descending).
//! - `limit`: 1 to 1000, 1000 by default.
//!
//! Other parameters (`account`, `channel`, `inclAdminFields`, ...) are
//! ignored. A value that cannot be read is a 422 `InvalidParameter`.

#[cfg(test)]
mod tests;

use std::cmp::Ordering;

use serde_json::Value;

/// The largest (and default) page.
pub(crate) const MAX_LIMIT: usize = 1000;

/// A parameter that cannot be read; the message names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryError(pub String);

/// A text filter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Text {
    Exact(String),
    Contains(String),
}

impl Text {
    fn parse(v: &str) -> Text {
        match v.strip_prefix('~') {
            Some(sub) => Text::Contains(sub.to_string()),
            None => Text::Exact(v.to_string()),
        }
    }

    fn matches(&self, v: Option<&str>) -> bool {
        match (self, v) {
            (Text::Exact(want), Some(v)) => v == want,
            (Text::Contains(sub), Some(v)) => v.contains(sub.as_str()),
            (_, None) => false,
        }
    }
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Marker {
    Image(String),
    /// A normalised [`time_key`].
    Date(String),
}

/// A parsed `GET /images` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListQuery {
    /// `None` = every state.
    state: Option<String>,
    name: Option<Text>,
    version: Option<Text>,
    os: Option<String>,
    owner: Option<String>,
    /// (type, excluded)
    kind: Option<(String, bool)>,
    public: Option<bool>,
    tags: Vec<(String, String)>,
    billing_tags: Vec<String>,
    limit: usize,
    marker: Option<Marker>,
    descending: bool,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            state: Some("active".into()),
            name: None,
            version: None,
            os: None,
            owner: None,
            kind: None,
            public: None,
            tags: Vec::new(),
            billing_tags: Vec::new(),
            limit: MAX_LIMIT,
            marker: None,
            descending: false,
        }
    }
}

impl ListQuery {
    /// Reads the query's (decoded) pairs; a repeated filter keeps its
    /// last value, except the tags, which add up.
    pub(crate) fn parse(pairs: &[(String, String)]) -> Result<ListQuery, QueryError> {
        let mut q = ListQuery::default();
        for (k, v) in pairs {
            match k.as_str() {
                "state" => q.state = parse_state(v)?,
                "name" => q.name = Some(Text::parse(v)),
                "version" => q.version = Some(Text::parse(v)),
                "os" => q.os = Some(v.clone()),
                "owner" => q.owner = Some(v.clone()),
                "type" => {
                    q.kind = Some(match v.strip_prefix('!') {
                        Some(t) => (t.to_string(), true),
                        None => (v.clone(), false),
                    })
                }
                "public" => q.public = Some(parse_bool(k, v)?),
                "billing_tag" => q.billing_tags.push(v.clone()),
                "limit" => q.limit = parse_limit(v)?,
                "marker" => q.marker = Some(parse_marker(v)?),
                "sort" => q.descending = parse_sort(v)?,
                _ => {
                    if let Some(tag) = k.strip_prefix("tag.") {
                        q.tags.push((tag.to_string(), v.clone()));
                    }
                }
            }
        }
        Ok(q)
    }

    /// Whether a manifest passes every filter.
    pub(crate) fn matches(&self, m: &Value) -> bool {
        let text = |k: &str| m.get(k).and_then(Value::as_str);
        self.state.as_ref().is_none_or(|s| effective_state(m) == s)
            && self.name.as_ref().is_none_or(|t| t.matches(text("name")))
            && self
                .version
                .as_ref()
                .is_none_or(|t| t.matches(text("version")))
            && self.os.as_ref().is_none_or(|o| text("os") == Some(o))
            && self.owner.as_ref().is_none_or(|o| text("owner") == Some(o))
            && self
                .kind
                .as_ref()
                .is_none_or(|(t, not)| (text("type") == Some(t)) != *not)
            && self
                .public
                .is_none_or(|p| m.get("public").and_then(Value::as_bool).unwrap_or(false) == p)
            && self.tags.iter().all(|(k, v)| {
                m.get("tags")
                    .and_then(|t| t.get(k))
                    .is_some_and(|t| as_text(t) == *v)
            })
            && self.billing_tags.iter().all(|b| {
                m.get("billing_tags")
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().any(|t| t.as_str() == Some(b)))
            })
    }
}

fn parse_state(v: &str) -> Result<Option<String>, QueryError> {
    match v {
        "all" => Ok(None),
        "active" | "unactivated" | "disabled" | "creating" | "failed" => Ok(Some(v.to_string())),
        _ => Err(QueryError(format!(
            "state: \"{v}\" is not one of active, unactivated, disabled, creating, failed, all"
        ))),
    }
}

fn parse_bool(k: &str, v: &str) -> Result<bool, QueryError> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(QueryError(format!("{k}: \"{v}\" is not true or false"))),
    }
}

fn parse_limit(v: &str) -> Result<usize, QueryError> {
    match v.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(QueryError(format!(
            "limit: \"{v}\" is not an integer from 1 to {MAX_LIMIT}"
        ))),
    }
}

fn parse_marker(v: &str) -> Result<Marker, QueryError> {
    if super::reply::is_uuid(v) {
        return Ok(Marker::Image(v.to_string()));
    }
    time_key(v).map(Marker::Date).ok_or_else(|| {
        QueryError(format!(
            "marker: \"{v}\" is neither an image uuid nor a date"
        ))
    })
}

/// `true` for descending.
fn parse_sort(v: &str) -> Result<bool, QueryError> {
    match v {
        "published_at" | "published_at.asc" => Ok(false),
        "published_at.desc" => Ok(true),
        _ => Err(QueryError(format!(
            "sort: \"{v}\" is not published_at, published_at.asc or published_at.desc"
        ))),
    }
}

/// A tag value as the query compares it: a string as is, anything else
/// as its JSON (`true`, `3`).
fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The state a listing sees: the manifest's `state`, `active` when it has
/// none; `disabled` when it says `disabled: true` (as IMGAPI derives it).
pub(crate) fn effective_state(m: &Value) -> &str {
    let state = m.get("state").and_then(Value::as_str).unwrap_or("active");
    if state == "active" && m.get("disabled").and_then(Value::as_bool) == Some(true) {
        "disabled"
    } else {
        state
    }
}

/// An ISO date normalised so that keys compare as times:
/// `YYYY-MM-DDTHH:MM:SS.fffffffff`. Accepts a bare date, a missing
/// fraction, and a `Z` or `+00:00` suffix; `None` for anything else.
pub(crate) fn time_key(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if !(s.is_ascii() && digits(0..4) && b.get(4) == Some(&b'-') && digits(5..7)) {
        return None;
    }
    if !(b.get(7) == Some(&b'-') && digits(8..10)) {
        return None;
    }
    let mut rest = &s[10..];
    let mut time = "00:00:00";
    if let Some(r) = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' ')) {
        let t = r.as_bytes();
        let ok = t.len() >= 8
            && t[2] == b':'
            && t[5] == b':'
            && [0, 1, 3, 4, 6, 7].iter().all(|&i| t[i].is_ascii_digit());
        if !ok {
            return None;
        }
        time = &r[..8];
        rest = &r[8..];
    }
    let mut frac = String::new();
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        frac.push_str(&r[..n.min(9)]);
        rest = &r[n..];
    }
    if !matches!(rest, "" | "Z" | "+00:00") {
        return None;
    }
    while frac.len() < 9 {
        frac.push('0');
    }
    Some(format!("{}T{time}.{frac}", &s[..10]))
}

/// Where a manifest sits in the listing order: (`published_at`, uuid).
/// One without a readable `published_at` sorts first.
fn order_key(m: &Value) -> (String, &str) {
    let time = m
        .get("published_at")
        .and_then(Value::as_str)
        .and_then(time_key)
        .unwrap_or_default();
    (time, m.get("uuid").and_then(Value::as_str).unwrap_or(""))
}

/// One page of `images` for `q`: filtered, ordered, from the marker,
/// at most `limit` long. A marker uuid is looked up among all the
/// images, not only those the filters keep.
pub(crate) fn select(images: Vec<Value>, q: &ListQuery) -> Result<Vec<Value>, QueryError> {
    let start: Option<(String, Option<String>)> = match &q.marker {
        None => None,
        Some(Marker::Date(d)) => Some((d.clone(), None)),
        Some(Marker::Image(uuid)) => {
            let m = images
                .iter()
                .find(|m| m.get("uuid").and_then(Value::as_str) == Some(uuid.as_str()))
                .ok_or_else(|| QueryError(format!("marker: image {uuid} was not found")))?;
            let (time, uuid) = order_key(m);
            Some((time, Some(uuid.to_string())))
        }
    };
    let mut keyed: Vec<((String, String), Value)> = images
        .into_iter()
        .filter(|m| q.matches(m))
        .map(|m| {
            let (t, u) = order_key(&m);
            ((t, u.to_string()), m)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    if q.descending {
        keyed.reverse();
    }
    let page = keyed
        .into_iter()
        .filter(|((time, uuid), _)| match &start {
            None => true,
            Some((mt, mu)) => {
                let ord = match mu {
                    Some(mu) => (time.as_str(), uuid.as_str()).cmp(&(mt.as_str(), mu.as_str())),
                    None => time.as_str().cmp(mt.as_str()),
                };
                if q.descending {
                    ord != Ordering::Greater
                } else {
                    ord != Ordering::Less
                }
            }
        })
        .take(q.limit)
        .map(|(_, m)| m)
        .collect();
    Ok(page)
}
