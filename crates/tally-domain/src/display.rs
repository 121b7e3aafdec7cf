//! How a program shows itself to members and operators: the card's colour and logo, and what a
//! point is worth in money (for the liability on the dashboard and "worth $X" in the wallet).

use crate::DomainError;
use crate::error::Fields;
use serde::{Deserialize, Serialize};

/// The largest logo kept, as a data URL: small enough to inline in every page of the wallet.
pub const MAX_LOGO_BYTES: usize = 150_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramDisplay {
    /// `#rrggbb`.
    pub card_color: String,
    /// `data:image/png;base64,…` (PNG, JPEG, WebP or SVG), or none.
    pub logo_data_url: Option<String>,
    /// Thousandths of a minor unit per point: 10 → a point is worth 0.01 cents… 1000 → 1 cent.
    pub point_value_milli: i64,
}

impl Default for ProgramDisplay {
    fn default() -> ProgramDisplay {
        ProgramDisplay {
            card_color: "#1f4e79".into(),
            logo_data_url: None,
            point_value_milli: 1000,
        }
    }
}

impl ProgramDisplay {
    /// Parses the three fields from untrusted text (form or API), naming each problem.
    pub fn parse(
        card_color: &str,
        logo_data_url: Option<&str>,
        point_value_milli: Option<i64>,
    ) -> Result<ProgramDisplay, DomainError> {
        let mut f = Fields::new();
        let color = card_color.trim().to_ascii_lowercase();
        let hex_ok = color.len() == 7
            && color.starts_with('#')
            && color[1..].bytes().all(|b| b.is_ascii_hexdigit());
        if !hex_ok {
            f.push("/card_color", "must be a colour such as #1f4e79");
        }
        let logo = logo_data_url.map(str::trim).filter(|l| !l.is_empty());
        if let Some(logo) = logo {
            let kinds = ["png", "jpeg", "webp", "svg+xml"];
            let typed = kinds
                .iter()
                .any(|k| logo.starts_with(&format!("data:image/{k};base64,")));
            if !typed {
                f.push("/logo", "must be a PNG, JPEG, WebP or SVG image");
            } else if logo.len() > MAX_LOGO_BYTES {
                f.push("/logo", "must be at most 100 KB");
            }
        }
        let point_value_milli = point_value_milli.unwrap_or(1000);
        if !(0..=1_000_000_000).contains(&point_value_milli) {
            f.push(
                "/point_value",
                "must be between 0 and 1,000,000 minor units",
            );
        }
        f.finish()?;
        Ok(ProgramDisplay {
            card_color: color,
            logo_data_url: logo.map(str::to_owned),
            point_value_milli,
        })
    }

    /// Black or white, whichever reads better on the card colour (WCAG relative luminance).
    pub fn text_color(&self) -> &'static str {
        let channel = |i: usize| {
            let v =
                u8::from_str_radix(self.card_color.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
            let c = f64::from(v) / 255.0;
            if c <= 0.03928 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
        // Contrast with white is (1.05)/(L+0.05), with black (L+0.05)/0.05: equal at L ≈ 0.179.
        if luminance > 0.179 {
            "#000000"
        } else {
            "#ffffff"
        }
    }

    /// The money value of `points`, in minor units (rounded down).
    pub fn value_minor(&self, points: i64) -> i64 {
        (i128::from(points) * i128::from(self.point_value_milli) / 1000) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_on_the_card_is_black_on_light_colours_and_white_on_dark_ones() {
        let on = |c: &str| ProgramDisplay::parse(c, None, None).unwrap().text_color();
        assert_eq!(on("#1f4e79"), "#ffffff");
        assert_eq!(on("#ffff00"), "#000000");
        assert_eq!(on("#000000"), "#ffffff");
        assert_eq!(on("#ffffff"), "#000000");
    }

    #[test]
    fn colours_logos_and_point_values_are_checked() {
        let d = ProgramDisplay::parse("#A0B1C2", Some("data:image/png;base64,iVBOR"), Some(500))
            .unwrap();
        assert_eq!(d.card_color, "#a0b1c2");
        assert_eq!(d.value_minor(1_001), 500);
        for (color, logo) in [
            ("red", None),
            ("#12345", None),
            ("#123456", Some("javascript:alert(1)")),
        ] {
            assert!(
                ProgramDisplay::parse(color, logo, None).is_err(),
                "{color} {logo:?}"
            );
        }
        let huge = format!("data:image/png;base64,{}", "A".repeat(MAX_LOGO_BYTES));
        assert!(ProgramDisplay::parse("#000000", Some(&huge), None).is_err());
        assert!(ProgramDisplay::parse("#000000", None, Some(-1)).is_err());
    }
}
