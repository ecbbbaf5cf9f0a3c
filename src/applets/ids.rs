//! Ids people type: names chosen by a person (`lunch`, `help-desk`) and
//! short prefixes of op ids for items that get no name (`7f3a`).
//!
//! * A **name** is 1 to [`NAME_CHARS_MAX`] characters of `a-z`, `0-9`, `-`
//!   and `_`, starting with a letter or a digit. Names are compared as
//!   written (lower case only, so `Lunch` is refused rather than
//!   silently folded).
//! * An item without a name is known by its creating op's id. People see
//!   the shortest prefix of its hex that is unique among the applet's
//!   items, at least [`SHORT_HEX_MIN`] digits, and may type any prefix
//!   that picks out one item.

use crate::id::OpId;

/// Longest name.
pub const NAME_CHARS_MAX: usize = 32;
/// Fewest hex digits shown for an op-id item.
pub const SHORT_HEX_MIN: usize = 4;

/// Checks a person-chosen name.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("an id cannot be empty".into());
    }
    if name.len() > NAME_CHARS_MAX {
        return Err(format!("an id has at most {NAME_CHARS_MAX} characters"));
    }
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    if !name.chars().all(ok_char) {
        return Err(format!(
            "id {name:?}: use lower-case letters, digits, '-' and '_'"
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!("id {name:?} must start with a letter or a digit"));
    }
    Ok(())
}

/// The shortest unique prefix (at least [`SHORT_HEX_MIN`] hex digits) of
/// `id` among `all` (which may include `id` itself).
pub fn short<'a>(id: &OpId, all: impl IntoIterator<Item = &'a OpId>) -> String {
    let hex = id.to_string();
    let others: Vec<String> = all
        .into_iter()
        .filter(|o| *o != id)
        .map(|o| o.to_string())
        .collect();
    let mut len = SHORT_HEX_MIN;
    while len < hex.len() && others.iter().any(|o| o.starts_with(&hex[..len])) {
        len += 1;
    }
    hex[..len].to_string()
}

/// The one id in `all` that `prefix` (hex, any case) picks out.
pub fn resolve<'a>(prefix: &str, all: impl IntoIterator<Item = &'a OpId>) -> Result<OpId, String> {
    let want = prefix.trim().to_ascii_lowercase();
    if want.is_empty() || !want.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("{prefix:?} is not an item id (hex digits)"));
    }
    let mut found = all
        .into_iter()
        .filter(|id| id.to_string().starts_with(&want));
    match (found.next(), found.next()) {
        (Some(id), None) => Ok(*id),
        (None, _) => Err(format!("no item {prefix}")),
        (Some(_), Some(_)) => Err(format!(
            "{prefix} matches more than one item: type more of it"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(first: u8, second: u8) -> OpId {
        let mut b = [0u8; 32];
        b[0] = first;
        b[1] = second;
        OpId(b)
    }

    #[test]
    fn names_are_checked() {
        for good in ["lunch", "q1", "help-desk", "a_b", "7up"] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in ["", "Lunch", "-x", "a b", "é", &"x".repeat(33)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn short_ids_grow_until_unique_and_resolve_back() {
        let a = id(0x7f, 0x3a);
        let b = id(0x7f, 0x3b);
        let c = id(0x12, 0x00);
        let all = [a, b, c];
        assert_eq!(short(&c, &all), "1200");
        assert_eq!(short(&a, &all), "7f3a");
        assert_eq!(resolve("7F3A", &all), Ok(a));
        assert_eq!(resolve("12", &all), Ok(c));
        assert!(resolve("7f3", &all).unwrap_err().contains("more than one"));
        assert!(resolve("99", &all).unwrap_err().contains("no item"));
        assert!(resolve("zz", &all).is_err());
    }
}
