//! A real HTTP server on loopback standing in for an SMS gateway or a merchant's webhook
//! endpoint: it keeps every request and answers with the statuses it is told, then 200.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The body as text (lossy), and as it came.
    pub body: String,
    pub raw: Vec<u8>,
}

#[derive(Clone, Default)]
struct Shared {
    got: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

pub struct Receiver {
    pub url: String,
    shared: Shared,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let shared = Shared::default();
        let app = Router::new().fallback(receive).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, shared }
    }

    /// The next requests are answered with these statuses, in order.
    pub fn answer(&self, statuses: &[u16]) {
        self.shared.answers.lock().unwrap().extend(statuses);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.got.lock().unwrap().clone()
    }
}

async fn receive(
    State(shared): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> (StatusCode, &'static str) {
    let headers = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let path = uri.path().to_owned();
    let body = String::from_utf8_lossy(&raw).into_owned();
    let raw = raw.to_vec();
    let got = Received {
        path,
        headers,
        body,
        raw,
    };
    shared.got.lock().unwrap().push(got);
    let status = shared.answers.lock().unwrap().pop_front().unwrap_or(200);
    let status = StatusCode::from_u16(status).unwrap();
    (status, if status.is_success() { "" } else { "no thanks" })
}
