//! Command arguments as people type them: free text and `key=value`
//! pairs, e.g. `/lost blue umbrella where=main hall contact=ask at desk`.
//!
//! A value runs to the next ` key=` of a known key (so values may hold
//! spaces and `=`), or it may be quoted with `"` (then `\"` and `\\`
//! escape). Text before the first known key is the free text. A key given
//! twice is an error, so is an unknown `word=` that looks like a key when
//! the command takes no free text.

use std::collections::BTreeMap;

/// Parsed arguments: the free text (trimmed, maybe empty) and the values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// The free text before the first `key=`, trimmed.
    pub text: String,
    /// Each `key=value`, by key.
    pub values: BTreeMap<String, String>,
}

impl Args {
    /// The value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The value of `key`, or an error naming it.
    pub fn require(&self, key: &str) -> Result<&str, String> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("missing {key}=.."))
    }
}

/// Splits `input` into free text and the values of `keys`.
pub fn parse(input: &str, keys: &[&str]) -> Result<Args, String> {
    let mut args = Args::default();
    // Byte offsets where a known key starts (at the start or after
    // whitespace), with the key.
    let mut starts: Vec<(usize, &str)> = Vec::new();
    let bytes = input.as_bytes();
    for (i, _) in input.char_indices() {
        if i > 0 && !bytes[i - 1].is_ascii_whitespace() {
            continue;
        }
        for key in keys {
            if input[i..].starts_with(key) && input[i + key.len()..].starts_with('=') {
                starts.push((i, key));
            }
        }
    }
    let text_end = starts.first().map_or(input.len(), |(i, _)| *i);
    args.text = input[..text_end].trim().to_string();
    let mut k = 0;
    while k < starts.len() {
        let (at, key) = starts[k];
        let value_at = at + key.len() + 1;
        let rest = &input[value_at..];
        let (value, consumed) = if let Some(quoted) = rest.strip_prefix('"') {
            let (v, used) = unquote(quoted)?;
            (v, used + 1)
        } else {
            let end = starts.get(k + 1).map_or(input.len(), |(i, _)| *i) - value_at;
            (rest[..end].trim().to_string(), end)
        };
        if args.values.insert(key.to_string(), value).is_some() {
            return Err(format!("{key}= given twice"));
        }
        // Skip key starts that fell inside a quoted value.
        let next = value_at + consumed;
        k += 1;
        while k < starts.len() && starts[k].0 < next {
            k += 1;
        }
        if let Some((i, _)) = starts.get(k) {
            let between = input[next..*i].trim();
            if !between.is_empty() {
                return Err(format!("unexpected {between:?} after {key}=\"..\""));
            }
        } else if !input[next..].trim().is_empty() {
            return Err(format!(
                "unexpected {:?} after {key}=\"..\"",
                input[next..].trim()
            ));
        }
    }
    Ok(args)
}

/// Reads a quoted value (after its opening quote): the value and the
/// bytes used, closing quote included.
fn unquote(s: &str) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, i + 1)),
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\'))) => out.push(e),
                _ => return Err("a quoted value has a bad escape (use \\\" or \\\\)".into()),
            },
            c => out.push(c),
        }
    }
    Err("a quoted value has no closing quote".into())
}

/// Parses a duration like `90s`, `10m`, `2h`, `1d` (a bare number is
/// minutes) into milliseconds.
pub fn duration_ms(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "m"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (like 90s, 10m, 2h, 1d)"))?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{s:?} is not a duration (like 90s, 10m, 2h, 1d)")),
    };
    if n == 0 {
        return Err("a duration must be more than zero".into());
    }
    n.checked_mul(unit_ms)
        .ok_or_else(|| format!("{s:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_then_values_with_spaces() {
        let a = parse(
            "blue umbrella where=main hall contact=ask at desk",
            &["where", "contact"],
        )
        .expect("parses");
        assert_eq!(a.text, "blue umbrella");
        assert_eq!(a.get("where"), Some("main hall"));
        assert_eq!(a.get("contact"), Some("ask at desk"));
    }

    #[test]
    fn quoted_values_keep_keys_inside_them() {
        let a = parse(
            r#"title="where=? \"x\"" options=a,b"#,
            &["title", "options", "where"],
        )
        .expect("parses");
        assert_eq!(a.text, "");
        assert_eq!(a.get("title"), Some(r#"where=? "x""#));
        assert_eq!(a.get("options"), Some("a,b"));
    }

    #[test]
    fn unknown_keys_are_text_and_errors_are_reasons() {
        let a = parse("x=1 label=me", &["label"]).expect("parses");
        assert_eq!(a.text, "x=1");
        assert!(
            parse("label=a label=b", &["label"])
                .unwrap_err()
                .contains("twice")
        );
        assert!(
            parse("label=\"open", &["label"])
                .unwrap_err()
                .contains("closing quote")
        );
        assert!(
            parse("label=\"a\" junk", &["label"])
                .unwrap_err()
                .contains("junk")
        );
        assert_eq!(parse("", &["label"]).expect("empty"), Args::default());
        assert_eq!(
            parse("a", &["label"]).expect("text").require("label"),
            Err("missing label=..".into())
        );
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ms("90s"), Ok(90_000));
        assert_eq!(duration_ms("10m"), Ok(600_000));
        assert_eq!(duration_ms("10"), Ok(600_000));
        assert_eq!(duration_ms("2h"), Ok(7_200_000));
        assert_eq!(duration_ms("1d"), Ok(86_400_000));
        for bad in ["", "0m", "m", "5y", "-1m"] {
            assert!(duration_ms(bad).is_err(), "{bad:?}");
        }
    }
}
