//! The crate's error type: every parser returns [`ParseError`] instead of panicking.

use thiserror::Error;

/// Why a message from the wire could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// Fewer bytes than the structure needs.
    #[error("truncated {what}: need {need} bytes, have {have}")]
    Truncated {
        /// The structure being parsed.
        what: &'static str,
        /// Bytes required.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A field holds a value the format does not allow (wrong magic, impossible length, ...).
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// The field or structure.
        what: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// A length from the wire exceeds the crate's explicit bound for it.
    #[error("{what} of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// The field or structure.
        what: &'static str,
        /// The length the peer announced.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// nom reported an error at some position.
    #[error("malformed {what}: {kind:?}")]
    Nom {
        /// The structure being parsed.
        what: &'static str,
        /// nom's error kind.
        kind: nom::error::ErrorKind,
    },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, ParseError>;

impl ParseError {
    pub(crate) fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        ParseError::Invalid {
            what,
            detail: detail.into(),
        }
    }

    /// Converts a nom error for the structure `what` into a [`ParseError`].
    pub(crate) fn from_nom(what: &'static str, e: nom::Err<nom::error::Error<&[u8]>>) -> Self {
        match e {
            nom::Err::Incomplete(n) => ParseError::Truncated {
                what,
                need: match n {
                    nom::Needed::Size(s) => s.get(),
                    nom::Needed::Unknown => 1,
                },
                have: 0,
            },
            nom::Err::Error(e) | nom::Err::Failure(e) => ParseError::Nom { what, kind: e.code },
        }
    }
}
