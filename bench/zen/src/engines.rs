//! The two engines behind the same small interface: load once (parse and compile, not timed),
//! then answer totalPoints for one input (timed).

use crate::inputs::TallyInput;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Map, Value};
use std::sync::Arc;
use tally_domain::program::Rounding;
use tally_rules::{CustomFacts, Event, MemberFacts, RuleDoc, RuleRef, RuleSet, Trigger, Usage};
use zen_engine::model::DecisionContent;
use zen_engine::{Decision, DecisionEngine, Variable};

/// A Tally rule set, as `tally-core` holds one: parsed and checked with `RuleDoc::parse`,
/// compiled once with `RuleSet::compile`.
pub struct Tally {
    set: RuleSet,
    zone: TimeZone,
    occurred_at: Timestamp,
    no_attributes: Map<String, Value>,
}

impl Tally {
    /// `json` is an array of rule documents, as an operator would POST them one by one.
    pub fn load(json: &str) -> Result<Tally, String> {
        let docs: Vec<Value> = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let mut rules = Vec::with_capacity(docs.len());
        for (i, doc) in docs.iter().enumerate() {
            let parsed = RuleDoc::parse(doc).map_err(|e| format!("rule {i}: {e:?}"))?;
            rules.push((
                RuleRef {
                    id: format!("rul_{i:02}"),
                    version: 1,
                },
                parsed,
            ));
        }
        Ok(Tally {
            set: RuleSet::compile(rules),
            zone: TimeZone::UTC,
            occurred_at: "2026-06-01T12:00:00Z".parse().expect("a valid timestamp"),
            no_attributes: Map::new(),
        })
    }

    /// The points every rule awards for the booking, summed (the event's whole award).
    pub fn total_points(&self, input: &TallyInput) -> i64 {
        let event = Event {
            trigger: Trigger::Event,
            occurred_at: self.occurred_at,
            time_zone: &self.zone,
            rounding: Rounding::Down,
            base_points: 0,
            purchase: None,
            custom: Some(CustomFacts {
                event_type: "flight_booked",
                properties: &input.properties,
            }),
            member: MemberFacts {
                id: &input.member_id,
                tier: Some(&input.tier),
                tags: &[],
                segments: &[],
                attributes: &self.no_attributes,
                enrolled_at: input.enrolled_at,
                birthday: None,
                purchases_before: 0,
            },
        };
        self.set
            .evaluate(&event, &|_: &RuleRef| Usage::default())
            .total_points()
    }
}

/// GoRules' decision, created once and pre-compiled (`Decision::compile`, what their own
/// "precompiled" benchmark and their loaders do for repeated evaluation).
pub struct Zen {
    decision: Decision,
}

impl Zen {
    pub fn load(json: &str) -> Result<Zen, String> {
        let content: DecisionContent = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let engine = DecisionEngine::default();
        let mut decision = engine
            .create_decision(Arc::new(content))
            .map_err(|e| e.to_string())?;
        decision.compile();
        decision.validate().map_err(|e| e.to_string())?;
        Ok(Zen { decision })
    }

    /// totalPoints of the graph's result, as zen's decimal.
    pub async fn total_points(&self, input: Variable) -> Result<Decimal, String> {
        let response = self
            .decision
            .evaluate(input)
            .await
            .map_err(|e| e.to_string())?;
        response
            .result
            .dot("totalPoints")
            .and_then(|v| v.as_number())
            .ok_or_else(|| format!("no numeric totalPoints in {}", response.result.to_value()))
    }
}

/// A zen decimal as whole points; `None` when it has a fraction (the graph floors, so it never
/// should).
pub fn whole(points: Decimal) -> Option<i64> {
    if points.fract().is_zero() {
        points.to_i64()
    } else {
        None
    }
}
