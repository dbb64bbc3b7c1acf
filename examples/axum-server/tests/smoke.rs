//! Starts the example, sends it one request, and reads the answer and the
//! log line it wrote.

use std::{
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::TcpStream,
    process::{Command, Stdio},
};

#[test]
fn serves_a_request_and_logs_its_ids() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_axum-server"))
        .env("PORT", "0")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .to_owned();

    let mut stream = TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "GET /users/7 HTTP/1.1\r\nhost: {addr}\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nx-request-id: smoke-1\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();

    let mut log = String::new();
    stdout.read_line(&mut log).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();

    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("x-request-id: smoke-1"), "{response}");
    assert!(
        response.contains("trace 4bf92f3577b34da6a3ce929d0e0e4736"),
        "{response}"
    );
    assert!(log.contains("loading the user"), "{log}");
    assert!(
        log.contains("trace_id=4bf92f3577b34da6a3ce929d0e0e4736"),
        "{log}"
    );
    assert!(log.contains("correlation_id=\"smoke-1\""), "{log}");
}
