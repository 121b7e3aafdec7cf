//! A live server on a test database, and the probes sent to it.

use super::*;

pub(crate) struct Server {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    pub(crate) keys: BTreeMap<&'static str, String>,
    /// The engine behind the server, for what no API call does (delivering messages).
    pub(crate) tally: Tally<tally_store_any::AnyDb>,
    pub(crate) _db: TestDb,
}

pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) cache_control: String,
    pub(crate) bytes: Vec<u8>,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }

    /// The problem's code, when the answer is a problem.
    pub(crate) fn problem_code(&self) -> Option<String> {
        (self.content_type == "application/problem+json")
            .then(|| self.json()["code"].as_str().unwrap_or_default().to_owned())
    }

    /// What the router says when no route has this path.
    pub(crate) fn is_unrouted_path(&self) -> bool {
        self.status == 404
            && self.problem_code().as_deref() == Some("not_found")
            && self.json()["detail"] == "no such path"
    }
}

impl Server {
    pub(crate) async fn start() -> Server {
        let db = TestDb::new().await;
        let clock = ManualClock::at("2026-06-01T10:00:00Z".parse::<Timestamp>().unwrap());
        let tally = Tally::start(db.db.clone(), Arc::new(clock));
        let placeholder = TenantId::generate();
        let tenant = tally
            .write(
                &placeholder,
                "test",
                None,
                Command::CreateTenant {
                    name: format!("openapi-{placeholder}"),
                },
            )
            .await
            .expect("create a tenant");
        let tenant = TenantId::parse(tenant["id"].as_str().unwrap()).unwrap();
        let mut keys = BTreeMap::new();
        for scope in SCOPES {
            let (secret, prefix) = tally_http::new_secret();
            let secret_sha256 = tally_http::secret_sha256(&secret);
            let command = Command::CreateApiKey {
                name: format!("{scope} key"),
                scope: scope.into(),
                secret_sha256,
                prefix,
            };
            tally
                .write(&tenant, "test", None, command)
                .await
                .expect("create a key");
            keys.insert(scope, secret);
        }
        let app = tally_http::router(AppState::new(tally.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a port");
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Server {
            base,
            client: reqwest::Client::new(),
            keys,
            tally,
            _db: db,
        }
    }

    /// Sends a request; `scope` picks the API key (none when `None`), and a body is sent as JSON.
    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        scope: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(scope) = scope {
            request = request.header(AUTHORIZATION, format!("Bearer {}", self.keys[scope]));
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("the server answers");
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let (content_type, cache_control) = (header(CONTENT_TYPE), header(CACHE_CONTROL));
        let status = response.status().as_u16();
        Answer {
            status,
            content_type,
            cache_control,
            bytes: response.bytes().await.unwrap().to_vec(),
        }
    }
}

/// A documented path with every `{parameter}` filled with a value that names nothing.
pub(crate) fn concrete(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "x" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// The body a probe sends: `{}` for methods that take one, so the handler (not the body
/// extractor) decides the answer.
pub(crate) fn probe_body(method: &str) -> Option<Value> {
    matches!(method, "POST" | "PUT" | "PATCH").then(|| json!({}))
}
