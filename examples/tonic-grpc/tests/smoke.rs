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
    assert_eq!(field(server, "trace").len(), 32, "{out}");
    // The server's parent is the client layer's call span: a span of its
    // own (W3C: each outgoing call gets a new parent-id), a child of the
    // client's context, so neither the client's span nor the server's.
    let parent = field(server, "parent");
    assert_eq!(parent.len(), 16, "the server joined a parent: {out}");
    assert_ne!(parent, field(client, "span"), "{out}");
    assert_ne!(parent, field(server, "span"), "{out}");
    assert!(out.contains("reply: 7 in stock"), "{out}");
}
