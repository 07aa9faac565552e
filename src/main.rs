//! smb1scan: finds SMBv1 exposure, unpatched MS17-010 and DoublePulsar across whole networks.
//! The thin edge: parse flags, build the plan, run it, map the outcome to an exit code.
#![forbid(unsafe_code)]

mod cli;
mod cli_clients;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}

/// One line for an error chain: each cause is added after `: ` only when the text so far does not
/// already contain it (our errors often quote their source, `{what}: {source}`, so anyhow's `{:#}`
/// would print the OS error twice).
pub fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::error_line;

    #[derive(Debug, thiserror::Error)]
    #[error("opening x.csv: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("opening x.csv")]
    struct Wrapping(#[source] std::io::Error);

    fn io() -> std::io::Error {
        std::io::Error::from_raw_os_error(2)
    }

    #[test]
    fn a_cause_already_quoted_is_not_repeated() {
        let e = anyhow::Error::new(Quoting(io()));
        assert_eq!(format!("{e:#}").matches("os error 2").count(), 2, "{e:#}");
        let line = error_line(&e);
        assert_eq!(line.matches("os error 2").count(), 1, "{line}");
        assert!(line.starts_with("opening x.csv: No such file"), "{line}");
    }

    #[test]
    fn a_cause_not_yet_said_is_added() {
        let e = anyhow::Error::new(Wrapping(io()));
        let line = error_line(&e);
        assert!(line.starts_with("opening x.csv: "), "{line}");
        assert!(line.contains("os error 2"), "{line}");
        // anyhow context on top of a quoting error: each text once.
        let e = anyhow::Error::new(Quoting(io())).context("writing the report");
        let line = error_line(&e);
        assert!(
            line.starts_with("writing the report: opening x.csv: "),
            "{line}"
        );
        assert_eq!(line.matches("os error 2").count(), 1, "{line}");
    }
}
