//! Item-to-item co-occurrence: "customers who bought this also bought".
//!
//! Two items co-occur when the same customer interacted with both; `co(i, j)` counts such
//! customers (distinct: quantities and repeats do not count here). The similarity of two items
//! is then, per call:
//!
//! - **cosine**: `co(i, j) / √(n_i · n_j)`, with `n_i` the item's distinct customers — the
//!   classic item-KNN; a popular item does not drown everything;
//! - **lift**: `co(i, j) · N / (n_i · n_j)`, with `N` the customers with any history — how much
//!   more often the two go together than by chance; it favours niche pairs, so it pays to ask
//!   for a few co-buyers (`min_co_customers`) before trusting it.
//!
//! Each item keeps its `neighbours` most similar items. A customer's score for an item is the
//! sum of its similarities to the items in the customer's history; items similar to nothing
//! they have get no score (and the ranker fills those slots with popularity).
//!
//! Cost: fitting touches every pair of items in every customer's history, Σ (history length)²;
//! scoring a customer touches their history × `neighbours`.

use crate::AnalyticsError;
use crate::recommend::{InteractionMatrix, ItemScorer};

/// How to turn co-occurrence counts into a similarity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Similarity {
    Cosine,
    Lift,
}

/// Co-occurrence settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CoOccurrenceParams {
    pub similarity: Similarity,
    /// Most similar items kept per item; at least 1.
    pub neighbours: usize,
    /// Pairs with fewer common customers are ignored; at least 1.
    pub min_co_customers: u32,
}

impl Default for CoOccurrenceParams {
    /// Cosine, 20 neighbours, every co-occurrence counts (`implicit`'s item-KNN defaults).
    fn default() -> Self {
        CoOccurrenceParams {
            similarity: Similarity::Cosine,
            neighbours: 20,
            min_co_customers: 1,
        }
    }
}

/// A fitted item-to-item model: each item's nearest items with their similarity.
#[derive(Clone, Debug, PartialEq)]
pub struct CoOccurrence {
    items: usize,
    similarity: Similarity,
    start: Vec<usize>,
    neighbour: Vec<usize>,
    weight: Vec<f64>,
}

impl CoOccurrence {
    pub fn fit(
        data: &InteractionMatrix,
        params: &CoOccurrenceParams,
    ) -> Result<Self, AnalyticsError> {
        if params.neighbours == 0 {
            return Err(AnalyticsError::invalid("neighbours", "must be at least 1"));
        }
        if params.min_co_customers == 0 {
            return Err(AnalyticsError::invalid(
                "min_co_customers",
                "must be at least 1",
            ));
        }
        let items = data.items();
        let active = (0..data.customers())
            .filter(|&c| !data.items_of(c).is_empty())
            .count() as f64;
        let n: Vec<f64> = (0..items)
            .map(|i| data.customers_of(i).len() as f64)
            .collect();

        let mut co = vec![0u32; items];
        let mut touched: Vec<usize> = Vec::new();
        let mut row: Vec<(usize, f64)> = Vec::new();
        let mut start = Vec::with_capacity(items + 1);
        let mut neighbour = Vec::new();
        let mut weight = Vec::new();
        start.push(0);
        for i in 0..items {
            for &c in data.customers_of(i) {
                for &j in data.items_of(c) {
                    if j != i {
                        if co[j] == 0 {
                            touched.push(j);
                        }
                        co[j] += 1;
                    }
                }
            }
            row.clear();
            for &j in &touched {
                let count = co[j];
                co[j] = 0;
                if count < params.min_co_customers {
                    continue;
                }
                let count = f64::from(count);
                let s = match params.similarity {
                    Similarity::Cosine => count / (n[i] * n[j]).sqrt(),
                    Similarity::Lift => count * active / (n[i] * n[j]),
                };
                if !s.is_finite() {
                    return Err(AnalyticsError::Numerical {
                        what: "item similarity",
                    });
                }
                row.push((j, s));
            }
            touched.clear();
            let better =
                |a: &(usize, f64), b: &(usize, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
            if row.len() > params.neighbours {
                row.select_nth_unstable_by(params.neighbours - 1, better);
                row.truncate(params.neighbours);
            }
            row.sort_unstable_by(better);
            for &(j, s) in &row {
                neighbour.push(j);
                weight.push(s);
            }
            start.push(neighbour.len());
        }
        Ok(CoOccurrence {
            items,
            similarity: params.similarity,
            start,
            neighbour,
            weight,
        })
    }

    /// An item's kept neighbours and their similarities, most similar first.
    pub fn neighbours(&self, item: usize) -> Vec<(usize, f64)> {
        if item >= self.items {
            return Vec::new();
        }
        let r = self.start[item]..self.start[item + 1];
        self.neighbour[r.clone()]
            .iter()
            .copied()
            .zip(self.weight[r].iter().copied())
            .collect()
    }
}

impl ItemScorer for CoOccurrence {
    fn name(&self) -> &'static str {
        match self.similarity {
            Similarity::Cosine => "co-occurrence (cosine)",
            Similarity::Lift => "co-occurrence (lift)",
        }
    }

    fn items(&self) -> usize {
        self.items
    }

    fn score_items(
        &self,
        data: &InteractionMatrix,
        customer: usize,
        scores: &mut [f64],
    ) -> Result<(), AnalyticsError> {
        for &j in data.items_of(customer) {
            if j >= self.items {
                continue;
            }
            for k in self.start[j]..self.start[j + 1] {
                let s = &mut scores[self.neighbour[k]];
                if *s == f64::NEG_INFINITY {
                    *s = 0.0;
                }
                *s += self.weight[k];
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::tests::two_clusters;
    use crate::recommend::{Interaction, Ranker, Source};

    #[test]
    fn recommends_within_the_cluster() {
        let (m, _) = two_clusters();
        let ranker = Ranker::fit(&m, None, None).unwrap();
        for similarity in [Similarity::Cosine, Similarity::Lift] {
            let params = CoOccurrenceParams {
                similarity,
                ..CoOccurrenceParams::default()
            };
            let model = CoOccurrence::fit(&m, &params).unwrap();
            for c in 0..10 {
                let recs = ranker.recommend(&model, &m, c, 1).unwrap();
                let cluster = if c < 5 { 0..4 } else { 4..8 };
                let missing = cluster.start + c % 4;
                assert_eq!(recs[0].item, missing, "{similarity:?}, customer {c}");
                assert_eq!(recs[0].source, Source::Model);
                assert!(recs[0].score > 0.0);
            }
        }
    }

    #[test]
    fn similarities_are_cosine_and_lift() {
        // Customers: {0,1}, {0,1}, {0}, {2}. n0 = 3, n1 = 2, n2 = 1, co(0,1) = 2, N = 4.
        let log = [
            Interaction::new(0, 0, 0),
            Interaction::new(0, 1, 0),
            Interaction::new(1, 0, 0),
            Interaction::new(1, 1, 0),
            Interaction::new(2, 0, 0),
            Interaction::new(3, 2, 0),
        ];
        let m = InteractionMatrix::new(4, 3, &log).unwrap();
        let cosine = CoOccurrence::fit(&m, &CoOccurrenceParams::default()).unwrap();
        let nb = cosine.neighbours(0);
        assert_eq!(nb.len(), 1);
        assert_eq!(nb[0].0, 1);
        assert!((nb[0].1 - 2.0 / 6f64.sqrt()).abs() < 1e-12);
        assert!(cosine.neighbours(2).is_empty());
        assert!(cosine.neighbours(3).is_empty());
        let lift = CoOccurrence::fit(
            &m,
            &CoOccurrenceParams {
                similarity: Similarity::Lift,
                ..CoOccurrenceParams::default()
            },
        )
        .unwrap();
        assert!((lift.neighbours(1)[0].1 - 2.0 * 4.0 / 6.0).abs() < 1e-12);
        // Asking for three co-buyers drops the pair.
        let strict = CoOccurrence::fit(
            &m,
            &CoOccurrenceParams {
                min_co_customers: 3,
                ..CoOccurrenceParams::default()
            },
        )
        .unwrap();
        assert!(strict.neighbours(0).is_empty());
    }

    #[test]
    fn keeps_the_nearest_neighbours_only() {
        let (m, _) = two_clusters();
        let params = CoOccurrenceParams {
            neighbours: 2,
            ..CoOccurrenceParams::default()
        };
        let model = CoOccurrence::fit(&m, &params).unwrap();
        for i in 0..8 {
            let nb = model.neighbours(i);
            assert_eq!(nb.len(), 2);
            assert!(nb[0].1 >= nb[1].1);
            assert!(nb.iter().all(|(j, _)| (*j < 4) == (i < 4)));
        }
    }

    #[test]
    fn bad_parameters_are_errors() {
        let (m, _) = two_clusters();
        for params in [
            CoOccurrenceParams {
                neighbours: 0,
                ..CoOccurrenceParams::default()
            },
            CoOccurrenceParams {
                min_co_customers: 0,
                ..CoOccurrenceParams::default()
            },
        ] {
            assert!(matches!(
                CoOccurrence::fit(&m, &params),
                Err(AnalyticsError::InvalidInput { .. })
            ));
        }
    }
}
