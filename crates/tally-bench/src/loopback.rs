//! A lean HTTP/1.1 client for load generators: one keep-alive connection per client, each
//! request written in one piece, each answer read by its `Content-Length`.
//!
//! The benchmark's clients run in the same process, on the same two cores, as the server they
//! measure, so whatever they spend is taken from Tally's result (a baseline has no HTTP to
//! pay for). Load generators such as `wrk` are lean for that reason; a general client (pool,
//! header maps, body streams) is not.

use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Largest header block accepted from the server.
const MAX_HEAD: usize = 16 * 1024;

pub struct Connection {
    stream: BufReader<TcpStream>,
    host: String,
    request: Vec<u8>,
    head: Vec<u8>,
}

/// An answer: its status and body.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Connection {
    pub async fn open(address: SocketAddr) -> io::Result<Connection> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream: BufReader::new(stream),
            host: address.to_string(),
            request: Vec::with_capacity(1024),
            head: Vec::with_capacity(1024),
        })
    }

    /// Sends `POST path` with a JSON body and the given headers, and reads the answer.
    pub async fn post_json(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Answer> {
        let r = &mut self.request;
        r.clear();
        for part in ["POST ", path, " HTTP/1.1\r\nhost: ", &self.host] {
            r.extend_from_slice(part.as_bytes());
        }
        r.extend_from_slice(b"\r\ncontent-type: application/json\r\n");
        for (name, value) in headers {
            for part in [*name, ": ", *value, "\r\n"] {
                r.extend_from_slice(part.as_bytes());
            }
        }
        r.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        r.extend_from_slice(body);
        self.stream.get_mut().write_all(r).await?;
        self.read_answer().await
    }

    async fn read_answer(&mut self) -> io::Result<Answer> {
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
        self.head.clear();
        // The head ends with an empty line; read it line by line.
        let (mut status, mut length) = (None, None);
        loop {
            let start = self.head.len();
            let read = self.stream.read_until(b'\n', &mut self.head).await?;
            if read == 0 {
                return Err(bad("the server closed the connection"));
            }
            if self.head.len() > MAX_HEAD {
                return Err(bad("the answer's head is too long"));
            }
            let line = std::str::from_utf8(&self.head[start..])
                .map_err(|_| bad("the answer's head is not UTF-8"))?
                .trim_end();
            if line.is_empty() {
                break;
            }
            if status.is_none() {
                // "HTTP/1.1 201 Created"
                let code = line.split(' ').nth(1).and_then(|c| c.parse::<u16>().ok());
                status = Some(code.ok_or_else(|| bad("no status line"))?);
            } else if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    return Err(bad("chunked answers are not read by this client"));
                }
            }
        }
        let status = status.ok_or_else(|| bad("no status line"))?;
        let mut body = vec![0; length.ok_or_else(|| bad("no content-length"))?];
        self.stream.read_exact(&mut body).await?;
        Ok(Answer { status, body })
    }
}

#[cfg(test)]
mod tests {
    use super::Connection;
    use axum::Json;
    use axum::http::HeaderMap;
    use axum::routing::post;

    /// Against axum, as the benchmark uses it: headers and body arrive, answers are read whole,
    /// one after another on the same connection.
    #[tokio::test]
    async fn posts_reach_the_server_and_answers_come_back_on_one_connection() {
        let app = axum::Router::new().route(
            "/echo",
            post(
                |headers: HeaderMap, Json(body): Json<serde_json::Value>| async move {
                    let key = headers["idempotency-key"].to_str().unwrap().to_string();
                    (
                        axum::http::StatusCode::CREATED,
                        Json(serde_json::json!({ "key": key, "body": body })),
                    )
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });

        let mut connection = Connection::open(address).await.unwrap();
        for n in 0..3 {
            let key = format!("k-{n}");
            let body = serde_json::json!({ "n": n, "text": "zł".repeat(n * 1000) });
            let answer = connection
                .post_json(
                    "/echo",
                    &[("idempotency-key", &key)],
                    body.to_string().as_bytes(),
                )
                .await
                .unwrap();
            assert_eq!(answer.status, 201);
            let echoed: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
            assert_eq!(echoed, serde_json::json!({ "key": key, "body": body }));
        }
        let missing = connection.post_json("/nowhere", &[], b"{}").await.unwrap();
        assert_eq!(missing.status, 404);
    }
}
