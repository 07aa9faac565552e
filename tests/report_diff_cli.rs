//! `smb1scan diff` through the real binary on the recorded runs in fixtures/reports/: the exit
//! codes a pipeline gate relies on (3 when a new finding meets --fail-on, 0 otherwise, 1 for an
//! unreadable input, 2 for a usage error).

use std::process::Command;

fn diff(args: &[&str]) -> (i32, String) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/reports/");
    let out = Command::new(env!("CARGO_BIN_EXE_smb1scan"))
        .arg("diff")
        .args(args.iter().map(|a| a.replace("@", dir)))
        .output()
        .expect("smb1scan runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn diff_gate_exit_codes() {
    let (code, text) = diff(&["@baseline.jsonl", "@current.jsonl"]);
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("appeared       10.20.3.9:445 [doublepulsar,vulnerable,smb1] FAIL"));
    assert_eq!(
        diff(&["@baseline.jsonl", "@current.jsonl", "--fail-on", "none"]).0,
        0
    );
    assert_eq!(diff(&["@baseline.jsonl", "@baseline.jsonl"]).0, 0);
    // The JSON document of a run compares with its own JSON Lines: no change.
    let (code, text) = diff(&["@current.jsonl", "@sample.json", "--format", "csv"]);
    assert_eq!((code, text.lines().count()), (0, 1), "{text}");
    // Only SMB1 newly on at 10.20.2.11 and the XP appearing fail --fail-on smb1.
    let (code, text) = diff(&[
        "@baseline.jsonl",
        "@current.jsonl",
        "--fail-on",
        "smb1",
        "--format",
        "json",
    ]);
    assert_eq!(code, 3);
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let failing: Vec<&str> = v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["fails_policy"] == true)
        .filter_map(|c| c["ip"].as_str())
        .collect();
    assert_eq!(failing, ["10.20.2.11", "10.20.3.9"]);
    assert_eq!(diff(&["@baseline.jsonl", "@missing.jsonl"]).0, 1);
    assert_eq!(
        diff(&["@baseline.jsonl", "@current.jsonl", "--fail-on", "bogus"]).0,
        2
    );
}
