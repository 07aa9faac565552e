//! Anonymous and guest sessions, and the named pipes an anonymous caller can open on IPC$;
//! with MS17-010, the exploitable-first ranking.

pub mod rules;
