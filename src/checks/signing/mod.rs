//! See [`rules`].

pub mod rules;
