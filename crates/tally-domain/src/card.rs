//! Member cards: a number a person can type (16 digits, the last a Luhn check digit that catches
//! every single-digit typo and most swaps) and a separate secret token for the QR code, which can
//! be rotated without changing the number printed on a plastic card.

use rand::Rng;

pub const CARD_NUMBER_DIGITS: usize = 16;

/// Makes a new random card number with a valid check digit.
pub fn new_card_number() -> String {
    let mut rng = rand::rng();
    // A leading 9 avoids numbers that look like payment cards (which start 2–6).
    let mut digits = String::from("9");
    for _ in 0..CARD_NUMBER_DIGITS - 2 {
        digits.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    let check = luhn_check_digit(&digits);
    digits.push(char::from(b'0' + check));
    digits
}

/// Makes a new QR token: 128 random bits, URL-safe.
pub fn new_card_token() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    format!("qr_{}", crate::text::hex(&bytes))
}

fn luhn_check_digit(payload: &str) -> u8 {
    let sum: u32 = payload
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Normalises a typed card number (spaces and dashes allowed) and checks its digit.
pub fn parse_card_number(raw: &str) -> Result<String, String> {
    let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let well_formed =
        digits.len() == CARD_NUMBER_DIGITS && digits.bytes().all(|b| b.is_ascii_digit());
    if !well_formed {
        return Err(format!("must be a {CARD_NUMBER_DIGITS}-digit card number"));
    }
    let (payload, check) = digits.split_at(CARD_NUMBER_DIGITS - 1);
    if luhn_check_digit(payload) != check.as_bytes()[0] - b'0' {
        return Err("is not a valid card number (check digit mismatch: a typo?)".into());
    }
    Ok(digits)
}

/// `9123 4567 8901 2345`, as printed on the card.
pub fn format_card_number(digits: &str) -> String {
    digits
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_numbers_validate_and_typos_do_not() {
        for _ in 0..200 {
            let number = new_card_number();
            assert_eq!(
                parse_card_number(&format_card_number(&number)).unwrap(),
                number
            );
            // Change one digit: the check digit must catch it.
            let mut typo = number.clone().into_bytes();
            typo[5] = if typo[5] == b'9' { b'0' } else { typo[5] + 1 };
            assert!(parse_card_number(std::str::from_utf8(&typo).unwrap()).is_err());
        }
    }

    #[test]
    fn known_luhn_value() {
        // 7992739871 has check digit 3 (the classic worked example).
        assert_eq!(luhn_check_digit("7992739871"), 3);
    }
}
