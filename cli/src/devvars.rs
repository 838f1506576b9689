//! The local secrets file of `wrangler dev` (`.dev.vars`, dotenv lines `NAME=value`), where
//! `npm start` keeps `ADMIN_TOKEN` and `SIGNING_KEYS`.

use std::{fs, path::Path};

/// The value of `name` in a dotenv text (quotes stripped), as wrangler reads it.
pub fn lookup(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (key, value) = line.trim().split_once('=')?;
        if key.trim() != name {
            return None;
        }
        let value = value.trim();
        let unquoted = ['\'', '"'].iter().find_map(|q| {
            value
                .strip_prefix(*q)
                .and_then(|v| v.strip_suffix(*q))
                .filter(|_| value.len() > 1)
        });
        Some(unquoted.unwrap_or(value).to_owned())
    })
}

/// Reads `name` from the dotenv file at `path`; `None` when the file or the line is missing.
pub fn read(path: &Path, name: &str) -> Option<String> {
    lookup(&fs::read_to_string(path).ok()?, name)
}

/// `text` with the line of `name` set to `NAME='value'` (appended when missing); every other
/// line kept as it is.
pub fn with_line(text: &str, name: &str, value: &str) -> String {
    let line = format!("{name}='{value}'");
    let prefix = format!("{name}=");
    let mut found = false;
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with(&prefix) {
                found = true;
                line.clone()
            } else {
                l.to_owned()
            }
        })
        .collect();
    if !found {
        lines.push(line);
    }
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_unquoted() {
        let text = "# c\nA='x y'\nADMIN_TOKEN=\"tok\"\nB = plain \n";
        assert_eq!(lookup(text, "A").as_deref(), Some("x y"));
        assert_eq!(lookup(text, "ADMIN_TOKEN").as_deref(), Some("tok"));
        assert_eq!(lookup(text, "B").as_deref(), Some("plain"));
        assert_eq!(lookup(text, "C"), None);
        assert_eq!(read(Path::new("/nonexistent/.dev.vars"), "A"), None);
    }

    #[test]
    fn setting_a_line_keeps_the_others_and_appends_when_missing() {
        let text = "# c\nSIGNING_KEYS='old'\nADMIN_TOKEN=t";
        assert_eq!(
            with_line(text, "SIGNING_KEYS", "new"),
            "# c\nSIGNING_KEYS='new'\nADMIN_TOKEN=t\n"
        );
        assert_eq!(with_line("A=1\n", "B", "2"), "A=1\nB='2'\n");
    }
}
