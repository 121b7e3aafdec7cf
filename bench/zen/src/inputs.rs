//! The airline inputs: generated in GoRules' own input shape (the JSON the graph reads), mapped
//! onto Tally's facts, and a plain-Rust reading of the graph used to count which branches the
//! generated inputs reach (and as a third opinion on the expected points).
//!
//! # The mapping onto Tally (the one place it is decided)
//!
//! The graph reads `booking.{fareClass, routeType, distance, isSeasonalPromotion}` and
//! `member.{status, id, name, enrollmentDate}`. Tally has no airline bookings, so:
//!
//! - the booking is a **custom event** of type `flight_booked` (trigger `event`, see
//!   docs/events.md) whose `event.properties` are the booking's four fields under the same names
//!   and with the same JSON values (a whole-number distance stays an int in CEL, a fractional
//!   one becomes a double);
//! - `member.status` is the member's **tier** (`member.tier`), the native place for it;
//! - `member.id` is the member id; `enrollmentDate` is the enrolment time; `name` has no use in
//!   the decision and is not passed;
//! - the program's rounding is `down` (floor), as the graph's `floor(...)`;
//! - base points are 0: the graph's "base points" are route points, not Tally's base earning
//!   rate, so they live in the rules (see the README for the two rule sets).
//!
//! What is *not* the same: Tally points are integers computed from CEL doubles; zen computes in
//! decimals. Every factor here (3, 2, 1.5, 1.25, 1 and the route points) is a multiple of 1/4,
//! so products are exact in binary floating point and both floor to the same integer; a table
//! with factors like 1.1 could differ by one point at exact boundaries.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

pub const FARES: [&str; 6] = [
    "First",
    "Business",
    "Premium Economy",
    "Economy Plus",
    "Economy",       // no row: the table's catch-all (× 1)
    "Basic Economy", // no row
];
/// The last has no row: the route table's catch-all (500).
pub const ROUTES: [&str; 3] = ["Domestic", "International", "Regional"];
pub const STATUSES: [&str; 5] = ["Platinum", "Gold", "Silver", "Bronze", "Member"];
/// The table's boundaries and their neighbours, so `<`, `[a..b]` and `>` are all exercised at
/// the edges; half-miles too (a fractional distance is a JSON double).
const EDGES: [f64; 18] = [
    0.0, 1.0, 499.0, 499.5, 500.0, 501.0, 999.0, 1000.0, 1000.5, 1001.0, 1999.0, 1999.5, 2000.0,
    2001.0, 4999.0, 5000.0, 5000.5, 5001.0,
];

/// SplitMix64: a fixed, dependency-free generator, so every run sees the same inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One random booking in the graph's input shape.
pub fn generate(rng: &mut Rng, n: usize) -> Value {
    let distance = match rng.below(4) {
        0 => json!(EDGES[rng.below(EDGES.len())]),
        _ => json!(rng.below(9001) as i64), // 0..=9000 miles, whole
    };
    let distance = match distance.as_f64() {
        Some(d) if d.fract() == 0.0 => json!(d as i64),
        _ => distance,
    };
    json!({
        "booking": {
            "fareClass": FARES[rng.below(FARES.len())],
            "routeType": ROUTES[rng.below(ROUTES.len())],
            "distance": distance,
            "isSeasonalPromotion": rng.below(2) == 0,
        },
        "member": {
            "status": STATUSES[rng.below(STATUSES.len())],
            "id": format!("MEM{:05}", n),
            "name": "Generated Member",
            "enrollmentDate": "2020-05-15",
        }
    })
}

/// A booking as Tally sees it: owned here, borrowed by the `Event` built per evaluation.
pub struct TallyInput {
    pub properties: Map<String, Value>,
    pub tier: String,
    pub member_id: String,
    pub enrolled_at: Timestamp,
}

/// The mapping described in the module doc.
pub fn to_tally(input: &Value) -> TallyInput {
    let booking = &input["booking"];
    let member = &input["member"];
    let mut properties = Map::new();
    for key in ["fareClass", "routeType", "distance", "isSeasonalPromotion"] {
        properties.insert(key.to_owned(), booking[key].clone());
    }
    let enrolled = member["enrollmentDate"].as_str().unwrap_or("2020-01-01");
    TallyInput {
        properties,
        tier: member["status"].as_str().unwrap_or("").to_owned(),
        member_id: member["id"].as_str().unwrap_or("").to_owned(),
        enrolled_at: format!("{enrolled}T00:00:00Z")
            .parse()
            .unwrap_or(Timestamp::UNIX_EPOCH),
    }
}

/// The graph read by hand: which row of each table hits, and the points. Rows are numbered as
/// in the graph (`r2-1` … `r2-7` is route row 0 … 6; the last row of each table is its
/// catch-all).
pub struct Reading {
    pub fare_row: usize,
    pub route_row: usize,
    pub status_row: usize,
    pub seasonal: bool,
    pub points: i64,
}

pub fn read(input: &Value) -> Reading {
    let b = &input["booking"];
    let fare = b["fareClass"].as_str().unwrap_or("");
    let route = b["routeType"].as_str().unwrap_or("");
    let d = b["distance"].as_f64().unwrap_or(f64::NAN);
    let status = input["member"]["status"].as_str().unwrap_or("");
    let seasonal = b["isSeasonalPromotion"] == json!(true);
    let (fare_row, fare_m) = match fare {
        "First" => (0, 3.0),
        "Business" => (1, 2.0),
        "Premium Economy" => (2, 1.5),
        "Economy Plus" => (3, 1.25),
        _ => (4, 1.0),
    };
    let (route_row, base) = match route {
        "Domestic" if d < 500.0 => (0, 250.0),
        "Domestic" if (500.0..=1000.0).contains(&d) => (1, 500.0),
        "Domestic" if d > 1000.0 => (2, 750.0),
        "International" if d < 2000.0 => (3, 1000.0),
        "International" if (2000.0..=5000.0).contains(&d) => (4, 2000.0),
        "International" if d > 5000.0 => (5, 3000.0),
        _ => (6, 500.0),
    };
    let (status_row, status_m) = match status {
        "Platinum" => (0, 2.0),
        "Gold" => (1, 1.5),
        "Silver" => (2, 1.25),
        _ => (3, 1.0),
    };
    let season: f64 = if seasonal { 1.5 } else { 1.0 };
    Reading {
        fare_row,
        route_row,
        status_row,
        seasonal,
        points: (base * fare_m * status_m * season).floor() as i64,
    }
}
