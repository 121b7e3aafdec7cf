//! Points are whole numbers. Never floats in the ledger: a float cannot be summed exactly.

use serde::{Deserialize, Serialize};

/// An amount of loyalty points. Signed, because a balance may go negative after a return of
/// points that were already spent (the program's negative-balance policy decides).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Points(pub i64);

impl Points {
    pub const ZERO: Points = Points(0);

    /// The largest amount a single request may move; keeps every sum far from overflow.
    pub const MAX_PER_REQUEST: i64 = 1_000_000_000_000;

    pub fn value(self) -> i64 {
        self.0
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }
}

impl std::ops::Add for Points {
    type Output = Points;
    fn add(self, rhs: Points) -> Points {
        Points(
            self.0
                .checked_add(rhs.0)
                .expect("points overflow: amounts are bounded per request"),
        )
    }
}

impl std::ops::Sub for Points {
    type Output = Points;
    fn sub(self, rhs: Points) -> Points {
        Points(
            self.0
                .checked_sub(rhs.0)
                .expect("points overflow: amounts are bounded per request"),
        )
    }
}

impl std::fmt::Display for Points {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
