//! Runs the example (it exits by itself): the server saw the client's trace.

use std::process::Command;

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let mut words = line.split_whitespace();
    words
        .find(|w| *w == name)
        .and_then(|_| words.next())
        .unwrap_or("")
}

#[test]
fn the_server_joins_the_clients_trace() {
    let output = Command::new(env!("CARGO_BIN_EXE_tonic-grpc"))
        .output()
        .unwrap();
    assert!(output.status.success());
    let out = String::from_utf8(output.stdout).unwrap();
    let client = out.lines().find(|l| l.starts_with("client:")).unwrap();
    let server = out.lines().find(|l| l.starts_with("server:")).unwrap();
    assert_eq!(field(client, "trace"), field(server, "trace"), "{out}");
    assert_ne!(field(client, "span"), field(server, "span"), "{out}");
    assert_eq!(field(server, "trace").len(), 32, "{out}");
    assert!(out.contains("reply: 7 in stock"), "{out}");
}
