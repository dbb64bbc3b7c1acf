//! Starts the example, sends it one request, and reads the answer and the
//! log line it wrote. Every read is bounded: a silent server fails the test
//! within seconds instead of hanging it.

use std::{
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::TcpStream,
    process::{Child, Command, Stdio},
    sync::mpsc,
    thread,
    time::Duration,
};

const PATIENCE: Duration = Duration::from_secs(10);

/// The example's process, killed however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serves_a_request_and_logs_its_ids() {
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_axum-server"))
            .env("PORT", "0")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Lines are read on their own thread, and waited for with a timeout.
    let stdout = BufReader::new(child.0.stdout.take().unwrap());
    let (lines, next_line) = mpsc::channel();
    thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let line = next_line.recv_timeout(PATIENCE).expect("the address line");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .to_owned();

    let mut stream = TcpStream::connect(&addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET /users/7 HTTP/1.1\r\nhost: {addr}\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nx-request-id: smoke-1\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();

    let log = next_line.recv_timeout(PATIENCE).expect("the log line");
    drop(child);

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
