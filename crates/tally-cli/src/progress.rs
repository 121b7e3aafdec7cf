//! A one-line progress bar on stderr: `[#######.....] 58% 40,000/69,659 52,310/s`.

use std::io::Write;
use std::time::Instant;

pub struct Progress {
    label: String,
    total: u64,
    done: u64,
    started: Instant,
    last_draw: Instant,
}

impl Progress {
    pub fn new(label: &str, total: u64) -> Progress {
        let now = Instant::now();
        Progress {
            label: label.to_owned(),
            total,
            done: 0,
            started: now,
            last_draw: now,
        }
    }

    pub fn add(&mut self, n: u64) {
        self.done += n;
        if self.last_draw.elapsed().as_millis() >= 100 || self.done == self.total {
            self.draw();
        }
    }

    fn draw(&mut self) {
        self.last_draw = Instant::now();
        let width = 30u64;
        let filled = (self.done * width).checked_div(self.total).unwrap_or(width);
        let percent = (self.done * 100).checked_div(self.total).unwrap_or(100);
        let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        let bar: String = (0..width)
            .map(|i| if i < filled { '#' } else { '.' })
            .collect();
        let mut err = std::io::stderr();
        let _ = write!(
            err,
            "\r{} [{bar}] {percent:>3}% {}/{} {}/s   ",
            self.label,
            group(self.done),
            group(self.total),
            group(rate as u64)
        );
        let _ = err.flush();
    }

    /// Draws the final state and ends the line; returns the elapsed seconds.
    pub fn finish(mut self) -> f64 {
        self.draw();
        eprintln!();
        self.started.elapsed().as_secs_f64()
    }
}

/// `69659` → `69,659`.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
