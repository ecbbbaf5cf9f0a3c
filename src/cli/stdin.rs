//! Standard input, one line at a time, on its own thread.
//!
//! A blocking read of the terminal would keep a tokio runtime alive after
//! Ctrl-C until Enter is pressed (tokio's own stdin reads on its blocking
//! pool, which the runtime waits for). So a plain thread reads, and hands
//! lines over a bounded channel; the process exits without waiting for it.
//!
//! Bad input costs that line only: a line longer than the limit is skipped
//! to its end and reported as [`Input::TooLong`]; a line that is not UTF-8
//! is reported as [`Input::NotUtf8`]; the next line is read as usual.

use std::io::BufRead;

use tokio::sync::mpsc;

/// Lines waiting for the client (a person types slower; a script that
/// writes faster waits for the client).
pub const LINES_QUEUED_MAX: usize = 64;

/// One thing read from standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A line, without its line ending.
    Line(String),
    /// A line over the limit: `len` bytes were skipped.
    TooLong {
        /// Length of the skipped line in bytes, not counting the newline.
        len: usize,
    },
    /// A line that is not UTF-8 text.
    NotUtf8,
    /// Reading failed; nothing more comes.
    Failed(String),
}

/// Reads `reader` line by line into `sink` until the end of input or until
/// `sink` returns false. Lines longer than `max` bytes are skipped whole.
pub fn read_lines(mut reader: impl BufRead, max: usize, mut sink: impl FnMut(Input) -> bool) {
    let mut line: Vec<u8> = Vec::new();
    let mut skipped: usize = 0; // bytes dropped of an over-long line
    loop {
        let (used, ended) = match reader.fill_buf() {
            Ok([]) => {
                // End of input: a last line without a newline still counts.
                if skipped > 0 {
                    let _ = sink(Input::TooLong {
                        len: skipped + line.len(),
                    });
                } else if !line.is_empty() {
                    let _ = sink(finish(std::mem::take(&mut line)));
                }
                return;
            }
            Ok(buf) => match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    take(&mut line, &mut skipped, &buf[..i], max);
                    (i + 1, true)
                }
                None => {
                    take(&mut line, &mut skipped, buf, max);
                    (buf.len(), false)
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = sink(Input::Failed(e.to_string()));
                return;
            }
        };
        reader.consume(used);
        if ended {
            let input = if skipped > 0 {
                Input::TooLong {
                    len: skipped + line.len(),
                }
            } else {
                finish(std::mem::take(&mut line))
            };
            line.clear();
            skipped = 0;
            if !sink(input) {
                return;
            }
        }
    }
}

/// Adds `bytes` to the line, or counts them as skipped once it is too long.
fn take(line: &mut Vec<u8>, skipped: &mut usize, bytes: &[u8], max: usize) {
    if *skipped > 0 || line.len() + bytes.len() > max {
        *skipped += line.len() + bytes.len();
        line.clear();
    } else {
        line.extend_from_slice(bytes);
    }
}

fn finish(mut line: Vec<u8>) -> Input {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    match String::from_utf8(line) {
        Ok(s) => Input::Line(s),
        Err(_) => Input::NotUtf8,
    }
}

/// Starts the reader thread on the process's standard input. The channel
/// closes at the end of input.
pub fn spawn(max: usize) -> mpsc::Receiver<Input> {
    let (tx, rx) = mpsc::channel(LINES_QUEUED_MAX);
    let spawned = std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            read_lines(stdin.lock(), max, |input| tx.blocking_send(input).is_ok());
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the stdin reader: {e}");
    }
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8], max: usize) -> Vec<Input> {
        let mut out = Vec::new();
        // A tiny buffer, so lines straddle reads.
        let reader = std::io::BufReader::with_capacity(3, input);
        read_lines(reader, max, |i| {
            out.push(i);
            true
        });
        out
    }

    #[test]
    fn a_long_line_and_bad_utf8_cost_only_their_own_line() {
        let mut input = b"hello\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 50));
        input.extend(b"\ncaf\xe9\nstill here\r\nlast");
        assert_eq!(
            all(&input, 20),
            vec![
                Input::Line("hello".into()),
                Input::TooLong { len: 50 },
                Input::NotUtf8,
                Input::Line("still here".into()),
                Input::Line("last".into()),
            ]
        );
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_kept() {
        assert_eq!(
            all(b"abcd\nabcde\n", 4),
            vec![Input::Line("abcd".into()), Input::TooLong { len: 5 }]
        );
    }

    #[test]
    fn reading_stops_when_the_sink_says_so() {
        let mut seen = 0;
        read_lines(&b"a\nb\nc\n"[..], 10, |_| {
            seen += 1;
            seen < 2
        });
        assert_eq!(seen, 2);
    }
}
