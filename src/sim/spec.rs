//! Parsing of the simulator's fault and range flags: `20@10s`,
//! `2@5s..20s`, `1..20`, durations like `500ms`, `10s`, `2m`.

use std::str::FromStr;
use std::time::Duration;

/// Why a flag value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SpecError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError(msg.into()))
}

/// Parses `500ms`, `10s`, `2m`, `1.5s`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, SpecError> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let value: f64 = num
        .parse()
        .map_err(|_| SpecError(format!("{s:?} is not a duration (try 500ms, 10s, 2m)")))?;
    if !value.is_finite() || value < 0.0 {
        return err(format!("{s:?} is not a non-negative duration"));
    }
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        _ => return err(format!("unknown unit {unit:?} in {s:?} (use ms, s or m)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

/// `N@T`: N nodes at virtual time T (crashes, restarts, late joins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountAt {
    /// How many nodes.
    pub count: usize,
    /// When, in virtual time from the start of the run.
    pub at: Duration,
}

impl FromStr for CountAt {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        let Some((count, at)) = s.split_once('@') else {
            return err(format!("{s:?}: expected N@TIME, e.g. 20@10s"));
        };
        let count = count
            .trim()
            .parse()
            .map_err(|_| SpecError(format!("{s:?}: {count:?} is not a node count")))?;
        Ok(CountAt {
            count,
            at: parse_duration(at)?,
        })
    }
}

/// `G@T..T2`: split the nodes into G random groups from T until T2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionSpec {
    /// Number of groups, at least 2.
    pub groups: usize,
    /// Virtual time the partition starts.
    pub from: Duration,
    /// Virtual time it heals; after `from`.
    pub until: Duration,
}

impl FromStr for PartitionSpec {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        let Some((groups, range)) = s.split_once('@') else {
            return err(format!(
                "{s:?}: expected GROUPS@FROM..UNTIL, e.g. 2@5s..20s"
            ));
        };
        let groups: usize = groups
            .trim()
            .parse()
            .map_err(|_| SpecError(format!("{s:?}: {groups:?} is not a group count")))?;
        if groups < 2 {
            return err(format!("{s:?}: a partition needs at least 2 groups"));
        }
        let Some((from, until)) = range.split_once("..") else {
            return err(format!("{s:?}: expected FROM..UNTIL after @"));
        };
        let (from, until) = (parse_duration(from)?, parse_duration(until)?);
        if until <= from {
            return err(format!("{s:?}: the partition must end after it starts"));
        }
        Ok(PartitionSpec {
            groups,
            from,
            until,
        })
    }
}

/// `MIN..MAX` milliseconds of one-way latency; each link's base latency is
/// drawn uniformly from it once per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyRange {
    /// Lowest base latency.
    pub min: Duration,
    /// Highest base latency; at least `min` (equal when one value is given).
    pub max: Duration,
}

impl FromStr for LatencyRange {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        let ms = |v: &str| -> Result<Duration, SpecError> {
            let v: f64 = v
                .trim()
                .parse()
                .map_err(|_| SpecError(format!("{s:?}: {v:?} is not a number of ms")))?;
            if !v.is_finite() || v < 0.0 {
                return err(format!("{s:?}: latency must be >= 0"));
            }
            Ok(Duration::from_secs_f64(v / 1000.0))
        };
        let (min, max) = match s.split_once("..") {
            Some((a, b)) => (ms(a)?, ms(b)?),
            None => (ms(s)?, ms(s)?),
        };
        if max < min {
            return err(format!("{s:?}: MAX must be >= MIN"));
        }
        Ok(LatencyRange { min, max })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("10h").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn fault_specs_parse() {
        assert_eq!(
            "20@10s".parse(),
            Ok(CountAt {
                count: 20,
                at: Duration::from_secs(10)
            })
        );
        assert_eq!(
            "2@5s..20s".parse(),
            Ok(PartitionSpec {
                groups: 2,
                from: Duration::from_secs(5),
                until: Duration::from_secs(20)
            })
        );
        assert!("1@5s..20s".parse::<PartitionSpec>().is_err());
        assert!("2@20s..5s".parse::<PartitionSpec>().is_err());
        assert!("20".parse::<CountAt>().is_err());
        assert_eq!(
            "1..20".parse(),
            Ok(LatencyRange {
                min: Duration::from_millis(1),
                max: Duration::from_millis(20)
            })
        );
        assert!("20..1".parse::<LatencyRange>().is_err());
    }
}
