//! Offline evaluation: would the recommender have guessed what the customer did next?
//!
//! **Leave-last-out**: each customer's last interaction (by `time`; of several at the same
//! time, the one latest in the log) is held out as their test item; the rest is the training
//! log. Customers with fewer than two interactions stay in training only, with nothing to test.
//!
//! **Hit rate at k** (HR@k): the share of test customers whose test item is among the k items
//! the [`Ranker`] recommends from the training data (so their training items are left out,
//! repeat items excepted, and popularity fills slots the scorer has no evidence for). With one
//! test item per customer it equals recall at k.

use crate::AnalyticsError;
use crate::recommend::{Interaction, InteractionMatrix, ItemScorer, Ranker};

/// A leave-last-out split.
#[derive(Clone, Debug, PartialEq)]
pub struct LeaveLastOut {
    /// Everything but the held-out interactions, in log order.
    pub train: Vec<Interaction>,
    /// One held-out interaction per customer with two or more, by customer index.
    pub test: Vec<Interaction>,
}

/// Hold out each customer's last interaction.
pub fn leave_last_out(interactions: &[Interaction]) -> Result<LeaveLastOut, AnalyticsError> {
    if interactions.is_empty() {
        return Err(AnalyticsError::Empty {
            what: "interactions",
        });
    }
    let customers = interactions.iter().map(|e| e.customer).max().unwrap_or(0) + 1;
    let mut events = vec![0usize; customers];
    // For each customer, the position of their last interaction so far.
    let mut last = vec![usize::MAX; customers];
    for (position, e) in interactions.iter().enumerate() {
        events[e.customer] += 1;
        let l = &mut last[e.customer];
        if *l == usize::MAX || interactions[*l].time <= e.time {
            *l = position;
        }
    }
    let mut held_out = vec![false; interactions.len()];
    let mut test = Vec::new();
    for c in 0..customers {
        if events[c] >= 2 {
            held_out[last[c]] = true;
            test.push(interactions[last[c]]);
        }
    }
    let train = interactions
        .iter()
        .zip(&held_out)
        .filter(|(_, h)| !**h)
        .map(|(e, _)| *e)
        .collect();
    Ok(LeaveLastOut { train, test })
}

/// Hits among test customers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HitRate {
    pub k: usize,
    pub customers: usize,
    pub hits: usize,
}

impl HitRate {
    /// hits / customers, in [0, 1].
    pub fn rate(&self) -> f64 {
        self.hits as f64 / self.customers.max(1) as f64
    }
}

/// HR@k of a scorer: for each test interaction, is its item in the customer's top k?
pub fn hit_rate<S: ItemScorer + ?Sized>(
    ranker: &Ranker,
    scorer: &S,
    train: &InteractionMatrix,
    test: &[Interaction],
    k: usize,
) -> Result<HitRate, AnalyticsError> {
    if test.is_empty() {
        return Err(AnalyticsError::Empty {
            what: "test interactions",
        });
    }
    let mut scores = Vec::new();
    let mut excluded = Vec::new();
    let mut hits = 0;
    for e in test {
        if e.item >= train.items() {
            return Err(AnalyticsError::invalid(
                "item",
                format!("must be below {}, got {}", train.items(), e.item),
            ));
        }
        let top =
            ranker.recommend_into(scorer, train, e.customer, k, &mut scores, &mut excluded)?;
        if top.iter().any(|r| r.item == e.item) {
            hits += 1;
        }
    }
    Ok(HitRate {
        k,
        customers: test.len(),
        hits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::Popularity;
    use crate::recommend::als::{Als, AlsParams};
    use crate::recommend::cooccurrence::{CoOccurrence, CoOccurrenceParams};
    use crate::recommend::tests::two_clusters;

    #[test]
    fn holds_out_the_last_interaction_of_customers_with_two_or_more() {
        let log = [
            Interaction::new(0, 5, 30),
            Interaction::new(0, 6, 10),
            Interaction::new(1, 7, 5), // customer 1 has one interaction: training only
            Interaction::new(0, 8, 30), // same time as item 5, later in the log: held out
            Interaction::new(2, 1, 2),
            Interaction::new(2, 2, 1),
        ];
        let split = leave_last_out(&log).unwrap();
        assert_eq!(split.test, vec![log[3], log[4]]);
        assert_eq!(split.train, vec![log[0], log[1], log[2], log[5]]);
        assert!(leave_last_out(&[]).is_err());
    }

    #[test]
    fn the_cluster_models_find_every_held_out_item() {
        // Customers 0–7 buy items 0–3, customers 8–15 items 4–7, each all four of their
        // cluster's items in a rotated order, so every item is someone's last. With three
        // items left in training, the one unbought item of the cluster must come first.
        let mut log = Vec::new();
        for c in 0..16usize {
            let base = if c < 8 { 0 } else { 4 };
            for k in 0..4usize {
                log.push(Interaction::new(c, base + k, ((k + c) % 4) as i64));
            }
        }
        let split = leave_last_out(&log).unwrap();
        assert_eq!(split.test.len(), 16);
        let train = InteractionMatrix::new(16, 8, &split.train).unwrap();
        let ranker = Ranker::fit(&train, None, None).unwrap();
        let knn = CoOccurrence::fit(&train, &CoOccurrenceParams::default()).unwrap();
        let als = Als::fit(
            &train,
            &AlsParams {
                factors: 2,
                regularization: 1.0,
                alpha: 10.0,
                ..AlsParams::default()
            },
        )
        .unwrap();
        for hr in [
            hit_rate(&ranker, &knn, &train, &split.test, 1).unwrap(),
            hit_rate(&ranker, &als, &train, &split.test, 1).unwrap(),
        ] {
            assert_eq!((hr.k, hr.customers, hr.hits), (1, 16, 16));
            assert_eq!(hr.rate(), 1.0);
        }
        // Popularity does not know the clusters: every item has six buyers, the tie goes to
        // the lowest index, which is in the first cluster.
        let pop = hit_rate(&ranker, &Popularity::fit(&train), &train, &split.test, 1).unwrap();
        assert_eq!(pop.hits, 8, "{pop:?}");
    }

    #[test]
    fn bad_test_data_is_an_error() {
        let (m, _) = two_clusters();
        let ranker = Ranker::fit(&m, None, None).unwrap();
        let pop = Popularity::fit(&m);
        assert!(hit_rate(&ranker, &pop, &m, &[], 10).is_err());
        let outside = [Interaction::new(0, 8, 0)];
        assert!(hit_rate(&ranker, &pop, &m, &outside, 10).is_err());
        let unknown = [Interaction::new(10, 0, 0)];
        assert!(hit_rate(&ranker, &pop, &m, &unknown, 10).is_err());
        assert!(hit_rate(&ranker, &pop, &m, &[Interaction::new(0, 0, 0)], 0).is_err());
    }
}
