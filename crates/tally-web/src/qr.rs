//! QR codes as inline SVG, drawn on the server: the wallet's card shows the member's card token
//! so the cashier can scan it (`tally:card:<token>`, which the cashier screen understands).

use qrcode::QrCode;
use qrcode::render::svg;

/// An SVG QR code of `data`, or an empty string if it cannot be encoded (too long).
pub fn svg(data: &str) -> String {
    match QrCode::new(data.as_bytes()) {
        Ok(code) => code
            .render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

/// What the wallet's QR code holds for a card.
pub fn card_payload(token: &str) -> String {
    format!("tally:card:{token}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_card_token_becomes_an_svg_qr_code() {
        let svg = super::svg(&super::card_payload("abc123"));
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
        assert!(
            super::svg(&"x".repeat(5000)).is_empty(),
            "too long for a QR code"
        );
    }
}
