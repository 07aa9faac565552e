//! placeholder
#[cfg(test)]
mod tests {}
