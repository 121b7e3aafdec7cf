//! The rules every recommender obeys, whatever scored the items: items already bought are left
//! out unless they are repeat items, and empty slots (or customers with no history) are filled
//! with the popularity of the customer's segment. See the module above for the whole picture.

use std::collections::BTreeMap;

use super::{InteractionMatrix, ItemScorer};
use crate::AnalyticsError;

/// When an item a customer already bought may be recommended to them again.
///
/// An item is a **repeat item** when at least `min_buyers` customers bought it and, of them,
/// a share of at least `min_repeat_share` bought it two or more times (two or more events of
/// the same customer and item in the log). Repeat items stay recommendable to customers who
/// already bought them; every other item a customer bought is left out of their
/// recommendations. `min_buyers` keeps one enthusiast from making an item a repeat item.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RepeatRule {
    /// In (0, 1].
    pub min_repeat_share: f64,
    /// At least 1.
    pub min_buyers: usize,
}

impl Default for RepeatRule {
    /// A third of at least five buyers came back for it.
    fn default() -> Self {
        RepeatRule {
            min_repeat_share: 1.0 / 3.0,
            min_buyers: 5,
        }
    }
}

/// Where a recommendation came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The scorer's evidence; `score` is the scorer's.
    Model,
    /// Popularity in the customer's segment; `score` is the item's distinct buyers there.
    SegmentPopularity,
    /// Popularity over all customers; `score` is the item's distinct buyers.
    GlobalPopularity,
}

/// One recommended item.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recommendation {
    pub item: usize,
    /// Finite; its meaning depends on `source`.
    pub score: f64,
    pub source: Source,
}

/// The rules shared by every recommender: what to leave out, what to fall back on.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranker {
    customers: usize,
    items: usize,
    repeat: Vec<bool>,
    /// Items with at least one buyer, by distinct buyers (descending), then item index.
    global: Vec<(usize, usize)>,
    /// The same within each segment.
    by_segment: BTreeMap<u32, Vec<(usize, usize)>>,
    customer_segment: Option<Vec<u32>>,
}

fn ranked(buyers: &[usize]) -> Vec<(usize, usize)> {
    let mut list: Vec<(usize, usize)> = buyers
        .iter()
        .enumerate()
        .filter(|(_, b)| **b > 0)
        .map(|(i, b)| (i, *b))
        .collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    list
}

impl Ranker {
    /// Learn the repeat items and the popularity lists from the data. `segments`, when given,
    /// has one segment id per customer; `repeat: None` makes no item a repeat item.
    pub fn fit(
        data: &InteractionMatrix,
        segments: Option<&[u32]>,
        repeat: Option<RepeatRule>,
    ) -> Result<Self, AnalyticsError> {
        if let Some(s) = segments
            && s.len() != data.customers()
        {
            return Err(AnalyticsError::invalid(
                "segments",
                format!(
                    "must have one segment per customer ({}), got {}",
                    data.customers(),
                    s.len()
                ),
            ));
        }
        if let Some(rule) = repeat {
            if !(rule.min_repeat_share > 0.0 && rule.min_repeat_share <= 1.0) {
                return Err(AnalyticsError::invalid(
                    "min_repeat_share",
                    format!("must be in (0, 1], got {}", rule.min_repeat_share),
                ));
            }
            if rule.min_buyers == 0 {
                return Err(AnalyticsError::invalid("min_buyers", "must be at least 1"));
            }
        }

        let mut buyers = vec![0usize; data.items()];
        let mut repeat_buyers = vec![0usize; data.items()];
        let mut segment_buyers: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for c in 0..data.customers() {
            let segment = segments.map(|s| s[c]);
            for (&i, &count) in data.items_of(c).iter().zip(data.counts_of(c)) {
                buyers[i] += 1;
                if count >= 2 {
                    repeat_buyers[i] += 1;
                }
                if let Some(s) = segment {
                    segment_buyers
                        .entry(s)
                        .or_insert_with(|| vec![0; data.items()])[i] += 1;
                }
            }
        }
        let repeat = match repeat {
            None => vec![false; data.items()],
            Some(rule) => buyers
                .iter()
                .zip(&repeat_buyers)
                .map(|(&b, &r)| {
                    b >= rule.min_buyers && r as f64 >= rule.min_repeat_share * b as f64
                })
                .collect(),
        };
        Ok(Ranker {
            customers: data.customers(),
            items: data.items(),
            repeat,
            global: ranked(&buyers),
            by_segment: segment_buyers
                .into_iter()
                .map(|(s, b)| (s, ranked(&b)))
                .collect(),
            customer_segment: segments.map(<[u32]>::to_vec),
        })
    }

    /// Whether customers who bought the item may be offered it again.
    pub fn is_repeat_item(&self, item: usize) -> bool {
        self.repeat.get(item).copied().unwrap_or(false)
    }

    /// The repeat items, in index order.
    pub fn repeat_items(&self) -> Vec<usize> {
        (0..self.items).filter(|&i| self.repeat[i]).collect()
    }

    /// The top `n` items for a customer of the data the ranker was fitted on: the scorer's best
    /// items the customer may be offered, then, for slots left (a customer with no history, or
    /// too little evidence), the most popular items of their segment, then of everyone.
    /// Fewer than `n` only when the scorer and popularity together know fewer items the
    /// customer may be offered (popularity only knows items someone bought).
    pub fn recommend<S: ItemScorer + ?Sized>(
        &self,
        scorer: &S,
        data: &InteractionMatrix,
        customer: usize,
        n: usize,
    ) -> Result<Vec<Recommendation>, AnalyticsError> {
        let mut scores = Vec::new();
        let mut excluded = Vec::new();
        self.recommend_into(scorer, data, customer, n, &mut scores, &mut excluded)
    }

    /// [`recommend`](Self::recommend) with caller-owned scratch buffers, for loops over many
    /// customers.
    pub(crate) fn recommend_into<S: ItemScorer + ?Sized>(
        &self,
        scorer: &S,
        data: &InteractionMatrix,
        customer: usize,
        n: usize,
        scores: &mut Vec<f64>,
        excluded: &mut Vec<bool>,
    ) -> Result<Vec<Recommendation>, AnalyticsError> {
        if data.customers() != self.customers || data.items() != self.items {
            return Err(AnalyticsError::invalid(
                "data",
                format!(
                    "must be the {} × {} matrix the ranker was fitted on, got {} × {}",
                    self.customers,
                    self.items,
                    data.customers(),
                    data.items()
                ),
            ));
        }
        if scorer.items() != self.items {
            return Err(AnalyticsError::invalid(
                "scorer",
                format!(
                    "must be fitted on {} items, was fitted on {}",
                    self.items,
                    scorer.items()
                ),
            ));
        }
        if customer >= self.customers {
            return Err(AnalyticsError::invalid(
                "customer",
                format!("must be below {}, got {customer}", self.customers),
            ));
        }
        check_n(n)?;

        excluded.clear();
        excluded.resize(self.items, false);
        for &i in data.items_of(customer) {
            excluded[i] = !self.repeat[i];
        }
        let mut out = Vec::with_capacity(n);
        if !data.items_of(customer).is_empty() {
            scores.clear();
            scores.resize(self.items, f64::NEG_INFINITY);
            scorer.score_items(data, customer, scores)?;
            let mut candidates: Vec<usize> = Vec::new();
            for (i, &s) in scores.iter().enumerate() {
                if s == f64::NEG_INFINITY || excluded[i] {
                    continue;
                }
                if !s.is_finite() {
                    return Err(AnalyticsError::Numerical {
                        what: "recommendation scores",
                    });
                }
                candidates.push(i);
            }
            let better = |a: &usize, b: &usize| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b));
            if candidates.len() > n {
                candidates.select_nth_unstable_by(n - 1, better);
                candidates.truncate(n);
            }
            candidates.sort_unstable_by(better);
            for i in candidates {
                excluded[i] = true; // taken
                out.push(Recommendation {
                    item: i,
                    score: scores[i],
                    source: Source::Model,
                });
            }
        }
        let segment = self.customer_segment.as_ref().map(|s| s[customer]);
        self.fill_with_popularity(segment, n, excluded, &mut out);
        Ok(out)
    }

    /// The top `n` items for a customer the data does not know (a new member): the most
    /// popular items of their segment (if any, and known), then of everyone.
    pub fn cold_start(
        &self,
        segment: Option<u32>,
        n: usize,
    ) -> Result<Vec<Recommendation>, AnalyticsError> {
        check_n(n)?;
        let mut out = Vec::with_capacity(n);
        let mut taken = vec![false; self.items];
        self.fill_with_popularity(segment, n, &mut taken, &mut out);
        Ok(out)
    }

    fn fill_with_popularity(
        &self,
        segment: Option<u32>,
        n: usize,
        skip: &mut [bool],
        out: &mut Vec<Recommendation>,
    ) {
        let lists = [
            (
                segment.and_then(|s| self.by_segment.get(&s)),
                Source::SegmentPopularity,
            ),
            (Some(&self.global), Source::GlobalPopularity),
        ];
        for (list, source) in lists {
            for &(item, buyers) in list.into_iter().flatten() {
                if out.len() >= n {
                    return;
                }
                if !skip[item] {
                    skip[item] = true;
                    out.push(Recommendation {
                        item,
                        score: buyers as f64,
                        source,
                    });
                }
            }
        }
    }
}

fn check_n(n: usize) -> Result<(), AnalyticsError> {
    if n == 0 {
        return Err(AnalyticsError::invalid("n", "must be at least 1"));
    }
    Ok(())
}
