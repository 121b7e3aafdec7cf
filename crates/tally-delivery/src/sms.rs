//! Text messages through an HTTP gateway.
//!
//! Tally speaks one of two common shapes, so most gateways need no adapter: `json` posts
//! `{"id", "to", "from", "text"}`, `form` posts `To`, `From` and `Body` form fields (the shape
//! of Twilio's Messages API). Credentials are a bearer token or, without one, a user and
//! password in the URL (basic auth). Every request carries the message id as `Idempotency-Key`, so a gateway
//! that honours it sends a retried message once.
//!
//! A 2xx answer is a send; 408, 429 and 5xx answers, timeouts and refused connections are
//! tried again later; any other 4xx is a refusal for good (a number the gateway will never
//! reach, say), and the message bounces.

use crate::http::outcome;
use std::time::Duration;
use tally_core::messages::Outcome;

/// The body a gateway expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmsFormat {
    Json,
    Form,
}

impl SmsFormat {
    pub fn parse(raw: &str) -> Result<SmsFormat, String> {
        match raw {
            "json" => Ok(SmsFormat::Json),
            "form" => Ok(SmsFormat::Form),
            other => Err(format!("`{other}` is not an SMS format: json or form")),
        }
    }
}

/// Where text messages go, and as whom.
#[derive(Clone, Debug)]
pub struct SmsGateway {
    client: reqwest::Client,
    url: reqwest::Url,
    user: Option<(String, Option<String>)>,
    token: Option<String>,
    from: String,
    format: SmsFormat,
}

/// How long a gateway may take to answer before the send is tried again later.
const TIMEOUT: Duration = Duration::from_secs(15);

impl SmsGateway {
    /// A gateway at `url` (http or https; a user and password in it are sent as basic auth),
    /// with an optional bearer `token`, sending as `from` (a number or a sender name).
    pub fn new(
        url: &str,
        token: Option<&str>,
        from: &str,
        format: SmsFormat,
    ) -> Result<SmsGateway, String> {
        let mut url = reqwest::Url::parse(url).map_err(|e| format!("`{url}`: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("`{url}` is not an http or https URL"));
        }
        let user = (!url.username().is_empty()).then(|| {
            let password = url.password().map(decode);
            (decode(url.username()), password)
        });
        // Credentials travel in the Authorization header, never in the request line.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(SmsGateway {
            client,
            url,
            user,
            token: token.filter(|t| !t.is_empty()).map(str::to_owned),
            from: from.to_owned(),
            format,
        })
    }

    /// Sends `text` to `to` (an E.164 number); `id` is the message's id.
    pub async fn send(&self, id: &str, to: &str, text: &str) -> Outcome {
        let mut request = self
            .client
            .post(self.url.clone())
            .header("Idempotency-Key", id);
        request = match self.format {
            SmsFormat::Json => request.json(&serde_json::json!({
                "id": id, "to": to, "from": self.from, "text": text,
            })),
            SmsFormat::Form => request.form(&[("To", to), ("From", &self.from), ("Body", text)]),
        };
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        } else if let Some((user, password)) = &self.user {
            request = request.basic_auth(user, password.as_ref());
        }
        match request.send().await {
            Ok(answer) => outcome(answer.status().as_u16(), answer.text().await.ok()),
            Err(e) => Outcome::Deferred(format!("SMS gateway: {e}")),
        }
    }
}

/// `%40` in a URL's user part is `@`.
fn decode(raw: &str) -> String {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_the_url() {
        let g = SmsGateway::new(
            "https://AC1:s%40cret@gw.example/sms",
            None,
            "Tally",
            SmsFormat::Form,
        )
        .unwrap();
        assert_eq!(g.url.as_str(), "https://gw.example/sms");
        assert_eq!(g.user, Some(("AC1".into(), Some("s@cret".into()))));
        assert!(SmsGateway::new("ftp://gw", None, "T", SmsFormat::Json).is_err());
        assert_eq!(
            SmsFormat::parse("xml").unwrap_err(),
            "`xml` is not an SMS format: json or form"
        );
    }
}
