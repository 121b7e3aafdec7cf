//! A purchase log grouped by customer, the first step of every analysis.
//!
//! Logs run to tens of millions of rows, so grouping is linear: each customer gets a dense
//! number from a hash table, the purchases are placed by counting (one array, no allocation per
//! customer), and only each customer's own few purchases are sorted by day. Customers come out
//! in id order, so results never depend on the order of the log.

use std::collections::HashMap;
use std::hash::Hash;

use crate::AnalyticsError;
use crate::summary::{Purchase, check_purchase};

/// Customers in id order, each with their purchases `(day, amount)` in day order. Purchases on
/// one day stay separate (in log order); [`ByCustomer::days_of`] adds them up.
#[derive(Clone, Debug, PartialEq)]
pub struct ByCustomer<K> {
    customers: Vec<K>,
    /// Customer `i`'s purchases are `purchases[starts[i]..starts[i + 1]]`.
    starts: Vec<usize>,
    purchases: Vec<(i64, f64)>,
}

impl<K: Ord + Hash + Clone> ByCustomer<K> {
    /// Groups the purchases on or before `end_day` (later ones are left out). Errors on an amount
    /// that is negative or not finite, naming it.
    pub fn new(purchases: &[Purchase<K>], end_day: i64) -> Result<Self, AnalyticsError> {
        const LEFT_OUT: u32 = u32::MAX;
        let mut numbers: HashMap<&K, u32, foldhash::fast::RandomState> = HashMap::default();
        let mut seen: Vec<&K> = Vec::new();
        let mut number_of = Vec::with_capacity(purchases.len());
        for p in purchases {
            check_purchase(p)?;
            if p.day > end_day {
                number_of.push(LEFT_OUT);
                continue;
            }
            let next = u32::try_from(seen.len()).map_err(|_| {
                AnalyticsError::invalid("purchases", "more than 4 billion customers")
            })?;
            let number = *numbers.entry(&p.customer).or_insert_with(|| {
                seen.push(&p.customer);
                next
            });
            number_of.push(number);
        }
        drop(numbers);

        // Position of each customer in id order.
        let mut by_id: Vec<u32> = (0..seen.len() as u32).collect();
        by_id.sort_unstable_by(|&a, &b| seen[a as usize].cmp(seen[b as usize]));
        let mut position = vec![0u32; by_id.len()];
        for (at, &number) in by_id.iter().enumerate() {
            position[number as usize] = at as u32;
        }

        // Counting sort: how many purchases each customer has, then each purchase in its place.
        let mut starts = vec![0usize; by_id.len() + 1];
        for &number in number_of.iter().filter(|&&n| n != LEFT_OUT) {
            starts[position[number as usize] as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut next_slot = starts[..by_id.len()].to_vec();
        let mut grouped = vec![(0i64, 0.0f64); starts[by_id.len()]];
        for (p, &number) in purchases.iter().zip(&number_of) {
            if number != LEFT_OUT {
                let slot = &mut next_slot[position[number as usize] as usize];
                grouped[*slot] = (p.day, p.amount);
                *slot += 1;
            }
        }
        for window in starts.windows(2) {
            // Stable: same-day purchases keep their log order.
            grouped[window[0]..window[1]].sort_by_key(|&(day, _)| day);
        }
        Ok(ByCustomer {
            customers: by_id.iter().map(|&n| seen[n as usize].clone()).collect(),
            starts,
            purchases: grouped,
        })
    }
}

impl<K> ByCustomer<K> {
    /// The customers with at least one purchase, in id order.
    pub fn customers(&self) -> &[K] {
        &self.customers
    }

    pub fn len(&self) -> usize {
        self.customers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.customers.is_empty()
    }

    /// Customer `i`'s purchases `(day, amount)` in day order.
    pub fn purchases_of(&self, i: usize) -> &[(i64, f64)] {
        &self.purchases[self.starts[i]..self.starts[i + 1]]
    }

    /// Customer `i`'s purchase days `(day, amount on that day)` in day order, into `days`
    /// (cleared first, so one buffer serves every customer).
    pub fn days_of(&self, i: usize, days: &mut Vec<(i64, f64)>) {
        days.clear();
        for &(day, amount) in self.purchases_of(i) {
            match days.last_mut() {
                Some(last) if last.0 == day => last.1 += amount,
                _ => days.push((day, amount)),
            }
        }
    }

    /// `(customer, purchases)` in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &[(i64, f64)])> {
        self.customers
            .iter()
            .enumerate()
            .map(|(i, k)| (k, self.purchases_of(i)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purchase(customer: &str, day: i64, amount: f64) -> Purchase<String> {
        Purchase {
            customer: customer.into(),
            day,
            amount,
        }
    }

    #[test]
    fn groups_by_customer_in_id_order_with_purchases_in_day_order() {
        let log = [
            purchase("c", 5, 1.0),
            purchase("a", 9, 2.0),
            purchase("b", 1, 3.0),
            purchase("a", 3, 4.0),
            purchase("a", 9, 5.0),
            purchase("b", 40, 6.0),
        ];
        let grouped = ByCustomer::new(&log, 30).unwrap();
        assert_eq!(grouped.customers(), ["a", "b", "c"]);
        assert_eq!(grouped.purchases_of(0), [(3, 4.0), (9, 2.0), (9, 5.0)]);
        // Day 40 is after the end.
        assert_eq!(grouped.purchases_of(1), [(1, 3.0)]);
        assert_eq!(grouped.purchases_of(2), [(5, 1.0)]);
        let mut days = Vec::new();
        grouped.days_of(0, &mut days);
        assert_eq!(days, [(3, 4.0), (9, 7.0)]);
    }

    #[test]
    fn a_customer_whose_purchases_all_fall_after_the_end_is_left_out() {
        let log = [purchase("late", 50, 1.0), purchase("on_time", 10, 2.0)];
        let grouped = ByCustomer::new(&log, 30).unwrap();
        assert_eq!(grouped.customers(), ["on_time"]);
        assert_eq!(grouped.iter().count(), 1);
    }

    #[test]
    fn a_negative_amount_is_named() {
        let err = ByCustomer::new(&[purchase("a", 1, -2.0)], 30).unwrap_err();
        assert!(err.to_string().contains("amount"), "{err}");
    }

    #[test]
    fn the_order_of_the_log_does_not_matter() {
        let log: Vec<Purchase<u64>> = (0..500u64)
            .map(|i| Purchase {
                customer: (i * 7919) % 37,
                day: ((i * 31) % 90) as i64,
                amount: i as f64,
            })
            .collect();
        let mut reversed = log.clone();
        reversed.reverse();
        let a = ByCustomer::new(&log, 60).unwrap();
        let b = ByCustomer::new(&reversed, 60).unwrap();
        assert_eq!(a.customers(), b.customers());
        let mut days_a = Vec::new();
        let mut days_b = Vec::new();
        for i in 0..a.len() {
            a.days_of(i, &mut days_a);
            b.days_of(i, &mut days_b);
            assert_eq!(days_a.len(), days_b.len());
            for (x, y) in days_a.iter().zip(&days_b) {
                assert_eq!(x.0, y.0);
                assert!((x.1 - y.1).abs() < 1e-9);
            }
        }
    }
}
