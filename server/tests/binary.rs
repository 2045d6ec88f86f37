//! The `tokenwarden-server` binary: flags, start-up line, exit codes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_tokenwarden-server");

#[test]
fn bad_flags_exit_non_zero_with_a_message() {
    for args in [
        &["--port", "not-a-port"][..],
        &["--refresh-transport", "carrier-pigeon"],
        &["--alg", "none"],
        &["--allow-origin", "*"],
        &["--user", "no-colon"],
        &["--access-ttl", "0"],
        &["--users-file", "/nonexistent/users.txt"],
        &["--no-such-flag"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn prints_listening_line_and_serves() {
    let mut child = Command::new(BIN)
        .args(["--port", "0", "--test-hooks", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect(&line)
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async {
        let res = reqwest::Client::new()
            .post(format!("{url}/auth/login"))
            .json(&serde_json::json!({"username": "demo", "password": "demo-password"}))
            .send()
            .await
            .unwrap();
        res.status()
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200);
}
