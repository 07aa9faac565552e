//! Compiles the data tables the checks read on every scan (`data/eol.toml`, `data/checks/*.toml`)
//! into JSON in `OUT_DIR`. The TOML files stay the source; at run time serde_json reads the copy
//! in a fraction of the TOML parser's time (the end-of-life table cost ~0.4 ms of CPU per scan,
//! the largest one-time cost of the checks: bench/results-checks-cost-2026-12-06-4.txt). A table
//! that does not parse fails the build instead of every verdict that needs it.

use std::path::{Path, PathBuf};
use std::{env, fs};

/// TOML dates become their RFC 3339 text (what the tables' `NaiveDate` fields read); everything
/// else maps one to one.
fn to_json(v: toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        toml::Value::String(s) => J::String(s),
        toml::Value::Integer(i) => J::from(i),
        toml::Value::Float(f) => J::from(f),
        toml::Value::Boolean(b) => J::Bool(b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.into_iter().map(to_json).collect()),
        toml::Value::Table(t) => J::Object(t.into_iter().map(|(k, v)| (k, to_json(v))).collect()),
    }
}

fn compile(src: &Path, dst: &Path) {
    println!("cargo:rerun-if-changed={}", src.display());
    let text = fs::read_to_string(src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let table: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let json = to_json(toml::Value::Table(table)).to_string();
    fs::write(dst, json).unwrap_or_else(|e| panic!("{}: {e}", dst.display()));
}

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    compile(Path::new("data/eol.toml"), &out.join("eol.json"));
    fs::create_dir_all(out.join("checks")).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    println!("cargo:rerun-if-changed=data/checks");
    let dir = fs::read_dir("data/checks").unwrap_or_else(|e| panic!("data/checks: {e}"));
    for entry in dir.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "toml") {
            let name = path.with_extension("json");
            let name = name.file_name().unwrap_or_default();
            compile(&path, &out.join("checks").join(name));
        }
    }
}
