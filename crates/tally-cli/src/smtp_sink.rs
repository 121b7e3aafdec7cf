//! `tally smtp-sink`: a small SMTP server that accepts every message and writes each as one JSON
//! line (`to`, `subject`, `text`) to a file. For development and for the browser tests, which
//! read the wallet's sign-in code from it; not for production (it keeps messages in memory and
//! delivers nothing).

use crate::app::Result;
use std::io::Write;
use std::time::Duration;
use tally_mail::sink::SmtpSink;

pub async fn run(listen: &str, out: &str) -> Result<()> {
    let sink = SmtpSink::options()
        .start_on(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    eprintln!("SMTP sink on {} writing to {out}", sink.url());
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .map_err(|e| format!("{out}: {e}"))?;
    let mut written = 0;
    loop {
        let messages = sink.messages();
        for m in &messages[written.min(messages.len())..] {
            let line = serde_json::json!({
                "to": m.to,
                "subject": m.subject(),
                "text": m.text(),
            });
            writeln!(file, "{line}").map_err(|e| format!("{out}: {e}"))?;
            file.flush().map_err(|e| format!("{out}: {e}"))?;
        }
        written = messages.len();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
