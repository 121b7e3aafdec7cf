//! Every member's numbers at once: the pipeline the engine runs over a program's log (nightly
//! and on demand). One pass groups the log by member; then the models are fitted once for the
//! program and applied to each member.
//!
//! What each member gets, and from what:
//! - purchase days, spend, first and last day, their own mean interval; RFM scores and segment
//!   ([`crate::rfm`], over the members with purchases);
//! - P(alive) and the purchases expected within the horizon (BG/NBD, fitted in weeks); the
//!   expected amount per purchase (Gamma-Gamma, fitted on repeat buyers); the CLV over
//!   `clv_months` at `monthly_discount_rate`;
//! - the lifecycle stage ([`crate::lifecycle`]: the program's typical interval is the median of
//!   the members' own intervals) and the VIP flag: value in the top `vip_share`, where value is
//!   the CLV when the models could be fitted and the spend so far otherwise;
//! - the value percentile: the share of members with purchases whose value is strictly lower;
//! - favourite categories (by quantity bought), next-best products (item-to-item co-occurrence,
//!   cosine, with the repeat-item rule and popularity within the member's RFM segment as the
//!   cold start), the best send hour ([`crate::send_time`]);
//! - one sentence that explains the stage ([`crate::explain`]).
//!
//! A model that cannot be fitted (too few customers, nobody came back) leaves its numbers empty
//! and says why in [`Models`]; everything else is still computed. Members without a purchase get
//! no stage and no value, the program's send hour and its most popular products.

use std::collections::{BTreeMap, HashMap};

use crate::lifecycle::{LifecycleRules, MemberActivity, Stage, median_interval_days, vip_flags};
use crate::recommend::cooccurrence::{CoOccurrence, CoOccurrenceParams};
use crate::recommend::{Interaction, InteractionMatrix, Ranker, RepeatRule};
use crate::rfm::{Better, Segment, quintile_scores, segment};
use crate::send_time::{Engagement, HourOfWeek, send_times};
use crate::summary::{Compressed, CustomerSummary, Purchase, TimeUnit, purchase_days};
use crate::{
    AnalyticsError, BgNbd, Fit, GammaGamma, MonetaryRow, PurchaseModel, customer_lifetime_value,
};

/// One line of a purchase: what was bought, for favourite categories and recommendations.
#[derive(Clone, Debug, PartialEq)]
pub struct Line<K> {
    pub customer: K,
    /// The product (a SKU).
    pub item: String,
    pub category: Option<String>,
    /// Quantity bought, > 0.
    pub quantity: f64,
}

/// A program's log.
#[derive(Clone, Debug, PartialEq)]
pub struct Log<K> {
    /// Every member to describe, with or without purchases.
    pub members: Vec<K>,
    /// Purchases (amounts net of returns). Purchases of customers not in `members` still shape
    /// the models.
    pub purchases: Vec<Purchase<K>>,
    /// Moments the members engaged (purchases, opens, clicks), for the send time.
    pub engagements: Vec<Engagement<K>>,
    pub lines: Vec<Line<K>>,
}

/// How the numbers are computed.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// The day of the analysis (a day number, see [`crate::day_number`]); later purchases are
    /// ignored.
    pub as_of_day: i64,
    /// Expected purchases are counted over this many days.
    pub horizon_days: f64,
    pub clv_months: u32,
    pub monthly_discount_rate: f64,
    /// In (0, 1]: the top share of members by value who are VIPs.
    pub vip_share: f64,
    pub favourite_categories: usize,
    pub recommendations: usize,
    /// How strongly a thin engagement history leans on the program's send times.
    pub send_time_pseudo_count: f64,
    /// The lifecycle thresholds; the default interval is replaced by the program's median.
    pub lifecycle: LifecycleRules,
}

impl Settings {
    /// 90-day horizon, 12-month CLV at 1% a month, top 10% are VIPs, 3 favourite categories,
    /// 5 recommendations, a pseudo-count of 5 engagements.
    pub fn as_of(as_of_day: i64) -> Settings {
        Settings {
            as_of_day,
            horizon_days: 90.0,
            clv_months: 12,
            monthly_discount_rate: 0.01,
            vip_share: 0.1,
            favourite_categories: 3,
            recommendations: 5,
            send_time_pseudo_count: 5.0,
            lifecycle: LifecycleRules::default(),
        }
    }
}

/// The models fitted for the program, or why one could not be.
#[derive(Clone, Debug, PartialEq)]
pub struct Models {
    pub bgnbd: Result<Fit<BgNbd>, AnalyticsError>,
    pub gamma_gamma: Result<Fit<GammaGamma>, AnalyticsError>,
    /// The time unit the BG/NBD model was fitted in.
    pub unit: TimeUnit,
    /// The median of the members' own intervals, or the lifecycle default when nobody has
    /// bought twice.
    pub typical_interval_days: f64,
    pub program_best_hour: HourOfWeek,
    /// Customers with a purchase on or before the day of the analysis.
    pub customers: usize,
}

/// A member's purchases as of the day of the analysis.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    pub purchase_days: u32,
    pub spend: f64,
    pub first_day: i64,
    pub last_day: i64,
    pub recency_days: i64,
    pub mean_interval_days: Option<f64>,
    pub recency_score: u8,
    pub frequency_score: u8,
    pub monetary_score: u8,
    pub rfm_segment: Segment,
}

/// Everything computed about one member.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberProfile<K> {
    pub member: K,
    /// None: no purchase yet.
    pub history: Option<History>,
    pub stage: Option<Stage>,
    pub vip: bool,
    pub p_alive: Option<f64>,
    /// Purchases expected within the horizon.
    pub expected_purchases: Option<f64>,
    pub expected_order_value: Option<f64>,
    pub clv: Option<f64>,
    /// 0–100: the share of members with purchases whose value is strictly lower.
    pub value_percentile: Option<f64>,
    pub favourite_categories: Vec<String>,
    pub next_products: Vec<String>,
    pub best_send_hour: HourOfWeek,
    pub explanation: String,
}

/// Per member: the purchase days (merged per day), from the shared grouping.
type Days = Vec<(i64, f64)>;

/// Computes every member's profile (in the order of `log.members`) and the program's models.
pub fn profile<K: Ord + Clone + std::hash::Hash>(
    log: &Log<K>,
    settings: &Settings,
) -> Result<(Models, Vec<MemberProfile<K>>), AnalyticsError> {
    let by_customer = purchase_days(&log.purchases, settings.as_of_day)?;
    let unit = TimeUnit::Weeks;
    let customers: Vec<(&K, &Days)> = by_customer.iter().collect();
    let summaries: Vec<CustomerSummary> = customers
        .iter()
        .map(|(_, days)| summary_of(days, settings.as_of_day, unit))
        .collect();

    let bgnbd = if summaries.is_empty() {
        Err(AnalyticsError::Empty { what: "purchases" })
    } else {
        Compressed::new(&summaries).and_then(|c| BgNbd::fit_compressed(&c))
    };
    let monetary: Vec<MonetaryRow> = customers
        .iter()
        .filter_map(|(_, days)| monetary_row(days))
        .collect();
    let gamma_gamma = if monetary.is_empty() {
        Err(AnalyticsError::Empty {
            what: "repeat buyers",
        })
    } else {
        GammaGamma::fit(&monetary)
    };

    let activities: Vec<MemberActivity> = customers
        .iter()
        .map(|(_, days)| activity_of(days, settings.as_of_day))
        .collect();
    let mut rules = settings.lifecycle;
    rules.default_interval_days =
        median_interval_days(&activities).map_or(rules.default_interval_days, |d| d.max(1.0));

    // Per customer with purchases, in `customers` order.
    let mut numbers = Vec::with_capacity(customers.len());
    for (i, (_, days)) in customers.iter().enumerate() {
        numbers.push(predict(
            &summaries[i],
            days,
            bgnbd.as_ref().ok(),
            gamma_gamma.as_ref().ok(),
            settings,
            unit,
        )?);
    }
    let values: Vec<f64> = numbers
        .iter()
        .zip(&customers)
        .map(|(n, (_, days))| n.clv.unwrap_or_else(|| spend(days)))
        .collect();
    let vip = if values.is_empty() {
        Vec::new()
    } else {
        vip_flags(&values, settings.vip_share)?
    };
    let percentiles = percentiles(&values);
    let rfm = rfm_scores(&customers, settings.as_of_day)?;

    let times = send_times(&log.engagements, settings.send_time_pseudo_count)?;
    let best_hours: HashMap<&K, HourOfWeek> = times
        .members
        .iter()
        .map(|m| (&m.member, m.best_hour))
        .collect();
    let segment_of: HashMap<&K, u32> = customers
        .iter()
        .zip(&rfm)
        .map(|((k, _), r)| (*k, r.3 as u32))
        .collect();
    let products = Products::fit(&log.lines, &segment_of, settings)?;

    let index: HashMap<&K, usize> = customers
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (*k, i))
        .collect();
    let mut profiles = Vec::with_capacity(log.members.len());
    for member in &log.members {
        let best_send_hour = best_hours
            .get(member)
            .copied()
            .unwrap_or(times.program_best_hour);
        let favourite_categories = products.favourites(member);
        let next_products = products.next_for(member)?;
        let Some(&i) = index.get(member) else {
            profiles.push(MemberProfile {
                member: member.clone(),
                history: None,
                stage: None,
                vip: false,
                p_alive: None,
                expected_purchases: None,
                expected_order_value: None,
                clv: None,
                value_percentile: None,
                favourite_categories,
                next_products,
                best_send_hour,
                explanation: "no purchase yet".to_string(),
            });
            continue;
        };
        let days = customers[i].1;
        let mut activity = activities[i];
        activity.p_alive = numbers[i].p_alive;
        let stage = crate::lifecycle::stage(&activity, &rules)?;
        let (recency_score, frequency_score, monetary_score, rfm_segment) = rfm[i];
        profiles.push(MemberProfile {
            member: member.clone(),
            history: Some(History {
                purchase_days: activity.purchase_days,
                spend: spend(days),
                first_day: activity.first_day,
                last_day: activity.last_day,
                recency_days: activity.days_since_last(),
                mean_interval_days: activity.mean_interval_days(),
                recency_score,
                frequency_score,
                monetary_score,
                rfm_segment,
            }),
            stage: Some(stage),
            vip: vip[i],
            p_alive: numbers[i].p_alive,
            expected_purchases: numbers[i].expected_purchases,
            expected_order_value: numbers[i].expected_order_value,
            clv: numbers[i].clv,
            value_percentile: Some(percentiles[i]),
            favourite_categories,
            next_products,
            best_send_hour,
            explanation: crate::explain::explain(&activity, &rules)?,
        });
    }
    let models = Models {
        bgnbd,
        gamma_gamma,
        unit,
        typical_interval_days: rules.default_interval_days,
        program_best_hour: times.program_best_hour,
        customers: customers.len(),
    };
    Ok((models, profiles))
}

fn spend(days: &Days) -> f64 {
    days.iter().map(|d| d.1).sum()
}

fn summary_of(days: &Days, as_of_day: i64, unit: TimeUnit) -> CustomerSummary {
    crate::summary::row_from_days((), days, as_of_day, unit).summary
}

fn monetary_row(days: &Days) -> Option<MonetaryRow> {
    let repeats = &days[1..];
    let mean_amount = repeats.iter().map(|d| d.1).sum::<f64>() / repeats.len().max(1) as f64;
    (!repeats.is_empty() && mean_amount > 0.0).then(|| MonetaryRow {
        repeat_purchases: u32::try_from(repeats.len()).unwrap_or(u32::MAX),
        mean_amount,
    })
}

fn activity_of(days: &Days, as_of_day: i64) -> MemberActivity {
    MemberActivity {
        purchase_days: u32::try_from(days.len()).unwrap_or(u32::MAX),
        first_day: days[0].0,
        last_day: days[days.len() - 1].0,
        as_of_day,
        p_alive: None,
    }
}

/// The model numbers of one customer.
struct Prediction {
    p_alive: Option<f64>,
    expected_purchases: Option<f64>,
    expected_order_value: Option<f64>,
    clv: Option<f64>,
}

fn predict(
    summary: &CustomerSummary,
    days: &Days,
    bgnbd: Option<&Fit<BgNbd>>,
    gamma_gamma: Option<&Fit<GammaGamma>>,
    settings: &Settings,
    unit: TimeUnit,
) -> Result<Prediction, AnalyticsError> {
    let model = bgnbd.map(|f| &f.model);
    let p_alive = model.map(|m| m.p_alive(summary)).transpose()?;
    let expected_purchases = model
        .map(|m| m.expected_purchases(settings.horizon_days / unit.days(), summary))
        .transpose()?;
    let mean = monetary_row(days).map_or(0.0, |r| r.mean_amount);
    // Without a usable Gamma-Gamma fit (q ≤ 1 has no mean) there is no expected amount.
    let expected_order_value =
        gamma_gamma.and_then(|f| f.model.expected_amount(summary.repeat_purchases, mean).ok());
    let clv = match (model, expected_order_value) {
        (Some(m), Some(amount)) => Some(customer_lifetime_value(
            m,
            summary,
            amount,
            settings.clv_months,
            settings.monthly_discount_rate,
            unit,
        )?),
        _ => None,
    };
    Ok(Prediction {
        p_alive,
        expected_purchases,
        expected_order_value,
        clv,
    })
}

/// For each value, the percentage of values strictly lower.
fn percentiles(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = values.len().max(1) as f64;
    values
        .iter()
        .map(|v| 100.0 * sorted.partition_point(|s| s < v) as f64 / n)
        .collect()
}

/// RFM scores and segment of each customer, as [`crate::rfm::rfm`] computes them.
fn rfm_scores<K>(
    customers: &[(&K, &Days)],
    as_of_day: i64,
) -> Result<Vec<(u8, u8, u8, Segment)>, AnalyticsError> {
    if customers.is_empty() {
        return Ok(Vec::new());
    }
    let recency: Vec<f64> = customers
        .iter()
        .map(|(_, d)| (as_of_day - d[d.len() - 1].0) as f64)
        .collect();
    let frequency: Vec<f64> = customers.iter().map(|(_, d)| d.len() as f64).collect();
    let monetary: Vec<f64> = customers.iter().map(|(_, d)| spend(d)).collect();
    let r = quintile_scores(&recency, Better::Lower)?;
    let f = quintile_scores(&frequency, Better::Higher)?;
    let m = quintile_scores(&monetary, Better::Higher)?;
    (0..customers.len())
        .map(|i| Ok((r[i], f[i], m[i], segment(r[i], (f[i] + m[i]).div_ceil(2))?)))
        .collect()
}

/// What members bought: favourite categories and the recommender.
struct Products<'a, K> {
    settings: &'a Settings,
    categories: HashMap<K, BTreeMap<String, f64>>,
    customers: HashMap<K, usize>,
    items: Vec<String>,
    model: Option<(InteractionMatrix, CoOccurrence, Ranker)>,
    segment_of: &'a HashMap<&'a K, u32>,
}

impl<'a, K: Ord + Clone + std::hash::Hash> Products<'a, K> {
    fn fit(
        lines: &[Line<K>],
        segment_of: &'a HashMap<&'a K, u32>,
        settings: &'a Settings,
    ) -> Result<Self, AnalyticsError> {
        let mut categories: HashMap<K, BTreeMap<String, f64>> = HashMap::new();
        let mut customers: HashMap<K, usize> = HashMap::new();
        // Items are numbered in SKU order, so ties between items break the same way whatever
        // order the log came in.
        let mut items: Vec<String> = lines.iter().map(|l| l.item.clone()).collect();
        items.sort_unstable();
        items.dedup();
        let item_index: HashMap<&str, usize> = items
            .iter()
            .enumerate()
            .map(|(i, item)| (item.as_str(), i))
            .collect();
        let mut interactions = Vec::with_capacity(lines.len());
        for line in lines {
            if !(line.quantity.is_finite() && line.quantity > 0.0) {
                return Err(AnalyticsError::invalid(
                    "quantity",
                    format!("must be a finite number > 0, got {}", line.quantity),
                ));
            }
            if let Some(category) = &line.category {
                *categories
                    .entry(line.customer.clone())
                    .or_default()
                    .entry(category.clone())
                    .or_default() += line.quantity;
            }
            let next = customers.len();
            let customer = *customers.entry(line.customer.clone()).or_insert(next);
            let item = item_index[line.item.as_str()];
            interactions.push(Interaction::new(customer, item, 0).with_weight(line.quantity));
        }
        let model = if interactions.is_empty() {
            None
        } else {
            let data = InteractionMatrix::new(customers.len(), items.len(), &interactions)?;
            let scorer = CoOccurrence::fit(&data, &CoOccurrenceParams::default())?;
            let mut segments = vec![u32::MAX; customers.len()];
            for (k, &i) in &customers {
                segments[i] = segment_of.get(k).copied().unwrap_or(u32::MAX);
            }
            let ranker = Ranker::fit(&data, Some(&segments), Some(RepeatRule::default()))?;
            Some((data, scorer, ranker))
        };
        Ok(Products {
            settings,
            categories,
            customers,
            items,
            model,
            segment_of,
        })
    }

    /// The member's most bought categories, most first (ties by name).
    fn favourites(&self, member: &K) -> Vec<String> {
        let Some(by_category) = self.categories.get(member) else {
            return Vec::new();
        };
        let mut list: Vec<(&String, f64)> = by_category.iter().map(|(c, q)| (c, *q)).collect();
        list.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        list.into_iter()
            .take(self.settings.favourite_categories)
            .map(|(c, _)| c.clone())
            .collect()
    }

    fn next_for(&self, member: &K) -> Result<Vec<String>, AnalyticsError> {
        let (n, Some((data, scorer, ranker))) = (self.settings.recommendations, &self.model) else {
            return Ok(Vec::new());
        };
        if n == 0 {
            return Ok(Vec::new());
        }
        let picks = match self.customers.get(member) {
            Some(&c) => ranker.recommend(scorer, data, c, n)?,
            None => ranker.cold_start(self.segment_of.get(member).copied(), n)?,
        };
        Ok(picks
            .into_iter()
            .map(|r| self.items[r.item].clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::day_number;

    fn buy(customer: &str, day: i64, amount: f64) -> Purchase<String> {
        Purchase {
            customer: customer.to_string(),
            day,
            amount,
        }
    }

    fn line(customer: &str, item: &str, category: &str) -> Line<String> {
        Line {
            customer: customer.to_string(),
            item: item.to_string(),
            category: Some(category.to_string()),
            quantity: 1.0,
        }
    }

    /// A shop over a year: 300 customers who buy at random (exponential gaps with a mean of 10
    /// to 120 days, leaving for good after any purchase with probability 0.15), and named
    /// members with known habits: `regular` every 14 days, `occasional` every 60, `quiet`
    /// weekly until four months ago, `never` with no purchase.
    fn shop() -> (Log<String>, i64) {
        let start = day_number(2025, 1, 1).unwrap();
        let end = start + 364;
        let mut log = Log {
            members: Vec::new(),
            purchases: Vec::new(),
            engagements: Vec::new(),
            lines: Vec::new(),
        };
        let mut seed = 42u64;
        let mut uniform = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let add = |log: &mut Log<String>, name: &str, day: i64, c: usize| {
            log.purchases.push(buy(name, day, 20.0 + (c % 40) as f64));
            let (item, category) = if c.is_multiple_of(2) {
                ("vinyl-a", "vinyl")
            } else {
                ("cd-b", "cd")
            };
            log.lines.push(line(name, item, category));
            if c.is_multiple_of(3) {
                log.lines.push(line(name, "poster", "merch"));
            }
            log.engagements.push(Engagement {
                member: name.to_string(),
                hour: HourOfWeek::new((c % 7) as u8, 18).unwrap(),
            });
        };
        for c in 0..300 {
            let name = format!("c{c:03}");
            log.members.push(name.clone());
            let mean_gap = 10.0 + 110.0 * uniform();
            let mut day = start + (uniform() * 300.0) as i64;
            while day <= end {
                add(&mut log, &name, day, c);
                if uniform() < 0.15 {
                    break;
                }
                day += 1 + (-mean_gap * uniform().ln()) as i64;
            }
        }
        for (name, c, every, until) in [
            ("regular", 1, 14, end),
            ("occasional", 2, 60, end),
            ("quiet", 3, 7, end - 120),
        ] {
            log.members.push(name.to_string());
            let mut day = start + 5;
            while day <= until {
                add(&mut log, name, day, c);
                day += every;
            }
        }
        log.members.push("never".to_string());
        (log, end)
    }

    #[test]
    fn every_member_gets_a_profile_and_the_models_are_fitted() {
        let (log, end) = shop();
        let (models, profiles) = profile(&log, &Settings::as_of(end)).unwrap();
        assert_eq!(profiles.len(), 304);
        assert_eq!(models.customers, 303);
        let bgnbd = models.bgnbd.as_ref().unwrap();
        assert!(bgnbd.model.r > 0.0 && bgnbd.log_likelihood < 0.0);
        assert!(models.gamma_gamma.is_ok());
        let by = |name: &str| profiles.iter().find(|p| p.member == name).unwrap();

        let regular = by("regular");
        assert_eq!(regular.stage, Some(Stage::Active));
        assert!(regular.p_alive.unwrap() > 0.8);
        assert!(regular.expected_purchases.unwrap() > 3.0);
        assert!(regular.clv.unwrap() > 0.0);
        assert_eq!(regular.favourite_categories, vec!["cd".to_string()]);
        assert_eq!(regular.best_send_hour, HourOfWeek::new(1, 18).unwrap());
        assert!(regular.explanation.contains("usually every 2 weeks"));

        // The weekly regular who went quiet four months ago: lost by their own rhythm.
        let quiet = by("quiet");
        assert_eq!(quiet.stage, Some(Stage::Lost));
        assert!(quiet.p_alive.unwrap() < 0.1, "{:?}", quiet.p_alive);
        // The occasional buyer last seen within their rhythm is still active.
        let occasional = by("occasional");
        let h = occasional.history.as_ref().unwrap();
        assert!(h.recency_days < 70, "{h:?}");
        assert_eq!(occasional.stage, Some(Stage::Active));
        // Regulars are worth more than occasional buyers; VIPs are the top tenth.
        assert!(regular.clv.unwrap() > occasional.clv.unwrap());
        let vips = profiles.iter().filter(|p| p.vip).count();
        assert!((29..=32).contains(&vips), "{vips} VIPs");
        assert!(regular.vip && !occasional.vip);
        assert!(
            profiles
                .iter()
                .filter(|p| p.vip)
                .all(|p| p.value_percentile > Some(85.0))
        );

        let never = by("never");
        assert_eq!(never.history, None);
        assert_eq!(never.stage, None);
        assert_eq!(never.explanation, "no purchase yet");
        assert_eq!(never.best_send_hour, models.program_best_hour);
        assert!(
            !never.next_products.is_empty(),
            "cold start: popular products"
        );
    }

    #[test]
    fn next_products_leave_out_what_the_member_bought_unless_it_is_bought_again() {
        let (log, end) = shop();
        let (_, profiles) = profile(&log, &Settings::as_of(end)).unwrap();
        let by = |name: &str| profiles.iter().find(|p| p.member == name).unwrap();
        // `quiet` bought cd-b and posters and never vinyl-a, which is offered.
        let quiet = by("quiet");
        assert!(
            quiet.next_products.contains(&"vinyl-a".to_string()),
            "{quiet:?}"
        );
        // Customers buy their item again and again: it is a repeat item and stays in.
        assert!(by("regular").next_products.contains(&"cd-b".to_string()));
    }

    #[test]
    fn too_little_data_leaves_the_models_empty_and_the_rest_computed() {
        let log = Log {
            members: vec!["a".to_string(), "b".to_string()],
            purchases: vec![buy("a", 100, 10.0)],
            engagements: Vec::new(),
            lines: Vec::new(),
        };
        let (models, profiles) = profile(&log, &Settings::as_of(200)).unwrap();
        assert!(models.bgnbd.is_err());
        assert!(models.gamma_gamma.is_err());
        let a = &profiles[0];
        assert_eq!(a.p_alive, None);
        assert_eq!(a.clv, None);
        // Bought once 100 days ago; with the default 30-day rhythm that is 3.3 intervals.
        assert_eq!(a.stage, Some(Stage::Lapsed));
        assert!(a.vip, "the only member with a value is in the top tenth");
        assert!(a.next_products.is_empty());
        assert_eq!(profiles[1].stage, None);

        let empty = Log::<String> {
            members: vec!["a".to_string()],
            purchases: Vec::new(),
            engagements: Vec::new(),
            lines: Vec::new(),
        };
        let (models, profiles) = profile(&empty, &Settings::as_of(200)).unwrap();
        assert_eq!(models.customers, 0);
        assert_eq!(profiles[0].explanation, "no purchase yet");
    }

    #[test]
    fn bad_input_is_an_error() {
        let mut log = shop().0;
        log.lines[0].quantity = f64::NAN;
        assert!(profile(&log, &Settings::as_of(20_000)).is_err());
        let mut log = shop().0;
        log.purchases[0].amount = -1.0;
        assert!(profile(&log, &Settings::as_of(20_000)).is_err());
    }
}
