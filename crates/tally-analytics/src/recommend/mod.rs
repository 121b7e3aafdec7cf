//! Next-best-product recommendations from implicit feedback (purchases, visits, views).
//!
//! Customers and items are dense indices (`0..customers`, `0..items`): mapping the store's ids
//! to indices and back is the caller's job, so the models are plain arrays. The pieces:
//!
//! - [`InteractionMatrix`]: the customer × item matrix in compressed sparse rows (and its
//!   transpose), built from a log of [`Interaction`]s in O(rows + nnz · log(row length)).
//! - Scorers (an [`ItemScorer`] gives each item a score for a customer):
//!   [`cooccurrence::CoOccurrence`] (item-to-item similarity by cosine or lift),
//!   [`als::Als`] (implicit-feedback matrix factorisation, Hu, Koren & Volinsky 2008), and
//!   [`Popularity`] (distinct buyers, the baseline).
//! - [`Ranker`]: the rules every recommender here obeys, whatever scored the items:
//!   - items the customer already bought are left out, **unless** the item is a *repeat item*
//!     (see [`RepeatRule`]: an item enough of whose buyers bought it more than once, like milk
//!     or coffee beans, as opposed to a kettle);
//!   - **cold start**: a customer with no history gets the most popular items of their segment
//!     (the caller gives a segment per customer, or none for the whole program's popularity);
//!     slots a scorer has no evidence for (an item-to-item model knows nothing about a customer
//!     whose items nobody else bought) are filled the same way, after the scored items.
//! - [`evaluate`]: leave-last-out split and hit rate at k, to compare scorers on real data.
//!
//! Ties are broken by the lower item index, so every answer is deterministic.

pub mod als;
pub mod cooccurrence;
pub mod evaluate;
mod ranker;

use crate::AnalyticsError;

/// One implicit-feedback event: a customer bought (viewed, visited) an item.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interaction {
    /// Customer index, `0..customers`.
    pub customer: usize,
    /// Item index, `0..items`.
    pub item: usize,
    /// How strong the event is (a quantity, an amount, a rating): finite and > 0; 1 for a
    /// plain event. Repeated events of the same customer and item add up.
    pub weight: f64,
    /// When it happened, in any unit that orders events (seconds, day numbers); only
    /// [`evaluate::leave_last_out`] looks at it.
    pub time: i64,
}

impl Interaction {
    /// An event of weight 1.
    pub fn new(customer: usize, item: usize, time: i64) -> Self {
        Interaction {
            customer,
            item,
            weight: 1.0,
            time,
        }
    }

    /// The same event with another weight.
    pub fn with_weight(self, weight: f64) -> Self {
        Interaction { weight, ..self }
    }
}

/// The customer × item matrix, sparse: for each customer the items they interacted with (in
/// item order), the summed weight and the number of events; and the same by item.
///
/// One row of the log is one event: a customer who bought an item three times has a count of 3
/// (what the repeat-item rule looks at) and a weight of the three weights summed (what the
/// models look at).
#[derive(Clone, Debug, PartialEq)]
pub struct InteractionMatrix {
    customers: usize,
    items: usize,
    row_start: Vec<usize>,
    row_items: Vec<usize>,
    row_weights: Vec<f64>,
    row_counts: Vec<u32>,
    column_start: Vec<usize>,
    column_customers: Vec<usize>,
    column_weights: Vec<f64>,
}

impl InteractionMatrix {
    /// Build the matrix for `customers` customers and `items` items from an event log (in any
    /// order). Errors on an index out of range, a weight that is not finite and > 0, or an
    /// empty log.
    pub fn new(
        customers: usize,
        items: usize,
        interactions: &[Interaction],
    ) -> Result<Self, AnalyticsError> {
        if customers == 0 {
            return Err(AnalyticsError::invalid("customers", "must be at least 1"));
        }
        if items == 0 {
            return Err(AnalyticsError::invalid("items", "must be at least 1"));
        }
        if interactions.is_empty() {
            return Err(AnalyticsError::Empty {
                what: "interactions",
            });
        }
        for e in interactions {
            if e.customer >= customers {
                return Err(AnalyticsError::invalid(
                    "customer",
                    format!("must be below {customers}, got {}", e.customer),
                ));
            }
            if e.item >= items {
                return Err(AnalyticsError::invalid(
                    "item",
                    format!("must be below {items}, got {}", e.item),
                ));
            }
            if !(e.weight.is_finite() && e.weight > 0.0) {
                return Err(AnalyticsError::invalid(
                    "weight",
                    format!("must be a finite number > 0, got {}", e.weight),
                ));
            }
        }

        // Counting sort by customer.
        let mut start = vec![0usize; customers + 1];
        for e in interactions {
            start[e.customer + 1] += 1;
        }
        for c in 0..customers {
            start[c + 1] += start[c];
        }
        let mut next = start.clone();
        let mut events = vec![(0usize, 0.0f64); interactions.len()];
        for e in interactions {
            events[next[e.customer]] = (e.item, e.weight);
            next[e.customer] += 1;
        }

        // Sort each row by item and merge repeated events.
        let mut row_start = Vec::with_capacity(customers + 1);
        let mut row_items = Vec::with_capacity(interactions.len());
        let mut row_weights = Vec::with_capacity(interactions.len());
        let mut row_counts = Vec::with_capacity(interactions.len());
        row_start.push(0);
        for c in 0..customers {
            let row = &mut events[start[c]..start[c + 1]];
            row.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
            for &(item, weight) in row.iter() {
                if row_items.len() > row_start[c] && row_items.last() == Some(&item) {
                    *row_weights.last_mut().expect("a row entry") += weight;
                    let count: &mut u32 = row_counts.last_mut().expect("a row entry");
                    *count = count.saturating_add(1);
                } else {
                    row_items.push(item);
                    row_weights.push(weight);
                    row_counts.push(1);
                }
            }
            row_start.push(row_items.len());
        }

        // The transpose, by counting sort again; customers come out in order.
        let mut column_start = vec![0usize; items + 1];
        for &i in &row_items {
            column_start[i + 1] += 1;
        }
        for i in 0..items {
            column_start[i + 1] += column_start[i];
        }
        let mut next = column_start.clone();
        let mut column_customers = vec![0usize; row_items.len()];
        let mut column_weights = vec![0.0f64; row_items.len()];
        for c in 0..customers {
            for k in row_start[c]..row_start[c + 1] {
                let i = row_items[k];
                column_customers[next[i]] = c;
                column_weights[next[i]] = row_weights[k];
                next[i] += 1;
            }
        }

        Ok(InteractionMatrix {
            customers,
            items,
            row_start,
            row_items,
            row_weights,
            row_counts,
            column_start,
            column_customers,
            column_weights,
        })
    }

    pub fn customers(&self) -> usize {
        self.customers
    }

    pub fn items(&self) -> usize {
        self.items
    }

    /// Distinct (customer, item) pairs.
    pub fn pairs(&self) -> usize {
        self.row_items.len()
    }

    /// The items a customer interacted with, in item order. Empty for an index out of range.
    pub fn items_of(&self, customer: usize) -> &[usize] {
        self.row(customer).map_or(&[], |r| &self.row_items[r])
    }

    /// The summed weights, aligned with [`items_of`](Self::items_of).
    pub fn weights_of(&self, customer: usize) -> &[f64] {
        self.row(customer).map_or(&[], |r| &self.row_weights[r])
    }

    /// The number of events, aligned with [`items_of`](Self::items_of).
    pub fn counts_of(&self, customer: usize) -> &[u32] {
        self.row(customer).map_or(&[], |r| &self.row_counts[r])
    }

    /// The customers who interacted with an item, in customer order.
    pub fn customers_of(&self, item: usize) -> &[usize] {
        self.column(item).map_or(&[], |r| &self.column_customers[r])
    }

    /// The summed weights, aligned with [`customers_of`](Self::customers_of).
    pub fn item_weights_of(&self, item: usize) -> &[f64] {
        self.column(item).map_or(&[], |r| &self.column_weights[r])
    }

    fn row(&self, customer: usize) -> Option<std::ops::Range<usize>> {
        (customer < self.customers).then(|| self.row_start[customer]..self.row_start[customer + 1])
    }

    fn column(&self, item: usize) -> Option<std::ops::Range<usize>> {
        (item < self.items).then(|| self.column_start[item]..self.column_start[item + 1])
    }
}

/// Gives each item a score for a customer; higher is better.
pub trait ItemScorer {
    /// The scorer's name, for reports.
    fn name(&self) -> &'static str;

    /// The number of items the scorer was fitted on.
    fn items(&self) -> usize;

    /// Write the score of every item the scorer has evidence for into `scores` (one slot per
    /// item, all `f64::NEG_INFINITY` on entry); leave the others at `NEG_INFINITY`. Written
    /// scores must be finite.
    fn score_items(
        &self,
        data: &InteractionMatrix,
        customer: usize,
        scores: &mut [f64],
    ) -> Result<(), AnalyticsError>;
}

/// The popularity baseline: an item's score is its number of distinct customers.
#[derive(Clone, Debug, PartialEq)]
pub struct Popularity {
    buyers: Vec<usize>,
}

impl Popularity {
    pub fn fit(data: &InteractionMatrix) -> Self {
        Popularity {
            buyers: (0..data.items())
                .map(|i| data.customers_of(i).len())
                .collect(),
        }
    }
}

impl ItemScorer for Popularity {
    fn name(&self) -> &'static str {
        "popularity"
    }

    fn items(&self) -> usize {
        self.buyers.len()
    }

    fn score_items(
        &self,
        _data: &InteractionMatrix,
        _customer: usize,
        scores: &mut [f64],
    ) -> Result<(), AnalyticsError> {
        for (s, &b) in scores.iter_mut().zip(&self.buyers) {
            if b > 0 {
                *s = b as f64;
            }
        }
        Ok(())
    }
}

pub use ranker::{Ranker, Recommendation, RepeatRule, Source};

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Two clear clusters: customers 0–4 buy items 0–3, customers 5–9 buy items 4–7; each
    /// customer skips one item of their cluster (customer c skips item c mod 4 of it).
    pub(crate) fn two_clusters() -> (InteractionMatrix, Vec<Interaction>) {
        let mut log = Vec::new();
        for c in 0..10usize {
            let base = if c < 5 { 0 } else { 4 };
            for k in 0..4usize {
                if k != c % 4 {
                    log.push(Interaction::new(c, base + k, (c * 10 + k) as i64));
                }
            }
        }
        (InteractionMatrix::new(10, 8, &log).unwrap(), log)
    }

    #[test]
    fn the_matrix_merges_repeated_events_and_has_its_transpose() {
        let log = vec![
            Interaction::new(1, 2, 0),
            Interaction::new(0, 1, 0).with_weight(2.0),
            Interaction::new(1, 0, 0),
            Interaction::new(1, 2, 1).with_weight(0.5),
            Interaction::new(1, 2, 2),
        ];
        let m = InteractionMatrix::new(3, 4, &log).unwrap();
        assert_eq!(m.pairs(), 3);
        assert_eq!(m.items_of(0), &[1]);
        assert_eq!(m.weights_of(0), &[2.0]);
        assert_eq!(m.items_of(1), &[0, 2]);
        assert_eq!(m.weights_of(1), &[1.0, 2.5]);
        assert_eq!(m.counts_of(1), &[1, 3]);
        assert!(m.items_of(2).is_empty());
        assert!(m.items_of(99).is_empty());
        assert_eq!(m.customers_of(2), &[1]);
        assert_eq!(m.item_weights_of(2), &[2.5]);
        assert_eq!(m.customers_of(1), &[0]);
        assert!(m.customers_of(3).is_empty());
    }

    #[test]
    fn bad_input_is_an_error() {
        let ok = [Interaction::new(0, 0, 0)];
        assert!(InteractionMatrix::new(0, 1, &ok).is_err());
        assert!(InteractionMatrix::new(1, 0, &ok).is_err());
        assert_eq!(
            InteractionMatrix::new(1, 1, &[]),
            Err(AnalyticsError::Empty {
                what: "interactions"
            })
        );
        assert!(InteractionMatrix::new(1, 1, &[Interaction::new(1, 0, 0)]).is_err());
        assert!(InteractionMatrix::new(1, 1, &[Interaction::new(0, 1, 0)]).is_err());
        for w in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let bad = [Interaction::new(0, 0, 0).with_weight(w)];
            assert!(InteractionMatrix::new(1, 1, &bad).is_err(), "weight {w}");
        }
        let m = InteractionMatrix::new(1, 1, &ok).unwrap();
        assert!(Ranker::fit(&m, Some(&[0, 1]), None).is_err());
        for share in [0.0, 1.5, f64::NAN] {
            let rule = RepeatRule {
                min_repeat_share: share,
                min_buyers: 1,
            };
            assert!(Ranker::fit(&m, None, Some(rule)).is_err());
        }
        let rule = RepeatRule {
            min_buyers: 0,
            ..RepeatRule::default()
        };
        assert!(Ranker::fit(&m, None, Some(rule)).is_err());
        let ranker = Ranker::fit(&m, None, None).unwrap();
        let pop = Popularity::fit(&m);
        assert!(ranker.recommend(&pop, &m, 1, 1).is_err());
        assert!(ranker.recommend(&pop, &m, 0, 0).is_err());
        assert!(ranker.cold_start(None, 0).is_err());
        let other = InteractionMatrix::new(2, 1, &ok).unwrap();
        assert!(ranker.recommend(&pop, &other, 0, 1).is_err());
        let wider = InteractionMatrix::new(1, 2, &ok).unwrap();
        assert!(
            ranker
                .recommend(&Popularity::fit(&wider), &m, 0, 1)
                .is_err()
        );
    }

    /// Scores every item by a fixed table.
    struct Fixed(Vec<f64>);

    impl ItemScorer for Fixed {
        fn name(&self) -> &'static str {
            "fixed"
        }
        fn items(&self) -> usize {
            self.0.len()
        }
        fn score_items(
            &self,
            _: &InteractionMatrix,
            _: usize,
            scores: &mut [f64],
        ) -> Result<(), AnalyticsError> {
            scores.copy_from_slice(&self.0);
            Ok(())
        }
    }

    #[test]
    fn bought_items_are_left_out_unless_they_are_repeat_items() {
        // Item 0 (coffee): 4 of its 5 buyers bought it twice or more. Item 1 (kettle): 5
        // buyers, once each. Item 2: one customer bought it three times (too few buyers).
        let mut log = Vec::new();
        for c in 0..5 {
            log.push(Interaction::new(c, 0, 0));
            log.push(Interaction::new(c, 1, 0));
            if c > 0 {
                log.push(Interaction::new(c, 0, 1));
            }
        }
        for t in 0..3 {
            log.push(Interaction::new(0, 2, t));
        }
        let m = InteractionMatrix::new(6, 4, &log).unwrap();
        let ranker = Ranker::fit(&m, None, Some(RepeatRule::default())).unwrap();
        assert_eq!(ranker.repeat_items(), vec![0]);
        assert!(ranker.is_repeat_item(0) && !ranker.is_repeat_item(1));
        assert!(!ranker.is_repeat_item(2) && !ranker.is_repeat_item(99));

        // The scorer likes the kettle best; customer 0 has it, so coffee (repeat) comes first,
        // then item 3 (never bought: no evidence, no popularity, the catalogue runs out).
        let scorer = Fixed(vec![2.0, 3.0, 1.0, 0.5]);
        let recs = ranker.recommend(&scorer, &m, 0, 4).unwrap();
        let items: Vec<usize> = recs.iter().map(|r| r.item).collect();
        assert_eq!(items, vec![0, 3]);
        assert!(recs.iter().all(|r| r.source == Source::Model));

        // Without the rule nothing bought comes back.
        let strict = Ranker::fit(&m, None, None).unwrap();
        assert!(strict.repeat_items().is_empty());
        let items: Vec<usize> = strict
            .recommend(&scorer, &m, 0, 4)
            .unwrap()
            .iter()
            .map(|r| r.item)
            .collect();
        assert_eq!(items, vec![3]);

        // A stricter share makes coffee an ordinary item.
        let rule = RepeatRule {
            min_repeat_share: 0.9,
            min_buyers: 5,
        };
        assert!(
            Ranker::fit(&m, None, Some(rule))
                .unwrap()
                .repeat_items()
                .is_empty()
        );
    }

    #[test]
    fn a_customer_without_history_gets_their_segments_favourites() {
        // Segment 7 (customers 0–2) loves item 3; segment 9 (customers 3–6) item 1; customer 7
        // has no history and is in segment 9; customer 8 has none and is in segment 5, where
        // nobody bought anything.
        let mut log = Vec::new();
        for c in 0..3 {
            log.push(Interaction::new(c, 3, 0));
        }
        log.push(Interaction::new(0, 2, 0));
        for c in 3..7 {
            log.push(Interaction::new(c, 1, 0));
        }
        let m = InteractionMatrix::new(9, 5, &log).unwrap();
        let segments = [7, 7, 7, 9, 9, 9, 9, 9, 5];
        let ranker = Ranker::fit(&m, Some(&segments), None).unwrap();
        let scorer = Fixed(vec![f64::NEG_INFINITY; 5]); // no evidence for anyone

        let recs = ranker.recommend(&scorer, &m, 7, 3).unwrap();
        assert_eq!(recs[0].item, 1);
        assert_eq!(recs[0].source, Source::SegmentPopularity);
        assert_eq!(recs[0].score, 4.0);
        // Then everyone's favourites not yet listed: item 3 (3 buyers), item 2 (1).
        assert_eq!(
            (recs[1].item, recs[1].source),
            (3, Source::GlobalPopularity)
        );
        assert_eq!(
            (recs[2].item, recs[2].source),
            (2, Source::GlobalPopularity)
        );

        // An unknown segment, or none: global popularity.
        let recs = ranker.recommend(&scorer, &m, 8, 2).unwrap();
        assert_eq!(recs.iter().map(|r| r.item).collect::<Vec<_>>(), vec![1, 3]);
        assert!(recs.iter().all(|r| r.source == Source::GlobalPopularity));

        // A new member, not in the data.
        let recs = ranker.cold_start(Some(7), 2).unwrap();
        assert_eq!(
            recs.iter().map(|r| (r.item, r.source)).collect::<Vec<_>>(),
            vec![
                (3, Source::SegmentPopularity),
                (2, Source::SegmentPopularity)
            ]
        );
        assert_eq!(ranker.cold_start(None, 1).unwrap()[0].item, 1);

        // A customer with history whose scorer has no evidence: popularity, minus what they have.
        let recs = ranker.recommend(&scorer, &m, 0, 5).unwrap();
        assert_eq!(
            recs.iter().map(|r| r.item).collect::<Vec<_>>(),
            vec![1],
            "items 3 and 2 are bought, items 0 and 4 nobody bought"
        );
    }

    #[test]
    fn a_scorer_writing_a_non_finite_score_is_an_error() {
        let m = InteractionMatrix::new(1, 2, &[Interaction::new(0, 0, 0)]).unwrap();
        let ranker = Ranker::fit(&m, None, None).unwrap();
        let bad = Fixed(vec![1.0, f64::NAN]);
        assert_eq!(
            ranker.recommend(&bad, &m, 0, 1),
            Err(AnalyticsError::Numerical {
                what: "recommendation scores"
            })
        );
    }

    #[test]
    fn popularity_ranks_by_distinct_buyers_and_ties_by_index() {
        let (m, _) = two_clusters();
        let ranker = Ranker::fit(&m, None, None).unwrap();
        let pop = Popularity::fit(&m);
        // Customer 0 has items 1, 2, 3. Buyers: item 0 → 4 (customers 1–4), items 4.. → 3 or 4.
        let recs = ranker.recommend(&pop, &m, 0, 3).unwrap();
        for r in &recs {
            assert!(!m.items_of(0).contains(&r.item));
            assert_eq!(r.score, m.customers_of(r.item).len() as f64);
        }
        assert!(recs.windows(2).all(
            |w| w[0].score > w[1].score || (w[0].score == w[1].score && w[0].item < w[1].item)
        ));
    }
}
