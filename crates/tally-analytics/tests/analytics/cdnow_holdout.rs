//! Calibration and holdout on the whole CDNOW log (23,570 customers who first bought in the
//! first quarter of 1997): fit on 39 weeks (1997-01-01 .. 1997-09-30), predict the next 39
//! (.. 1998-06-30), compare with what the customers did. Run with `--nocapture` to see the table.

use std::time::Instant;

use tally_analytics::holdout::{ModelKind, evaluate};
use tally_analytics::{Purchase, TimeUnit, day_number};

const MASTER: &str = include_str!("../../../../data/cdnow/CDNOW_master.txt");

fn cdnow_log() -> Vec<Purchase<u32>> {
    MASTER
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let date = f[1];
            let day = day_number(
                date[0..4].parse().unwrap(),
                date[4..6].parse().unwrap(),
                date[6..8].parse().unwrap(),
            )
            .unwrap();
            Purchase {
                customer: f[0].parse().unwrap(),
                day,
                amount: f[3].parse().unwrap(),
            }
        })
        .collect()
}

fn check(kind: ModelKind) {
    let log = cdnow_log();
    assert_eq!(log.len(), 69_659);
    let calibration_end = day_number(1997, 9, 30).unwrap();
    let observation_end = day_number(1998, 6, 30).unwrap();
    let started = Instant::now();
    let evaluation = evaluate(
        &log,
        calibration_end,
        observation_end,
        TimeUnit::Weeks,
        kind,
        7,
    )
    .unwrap();
    println!("{:?}\nin {:?}", evaluation.fitted, started.elapsed());
    println!("{}", evaluation.table);

    assert_eq!(evaluation.cohort.len(), 23_570);
    assert_eq!(evaluation.cohort[0].holdout_periods, 39.0);

    // The split agrees with the published 1/10 sample (2,357 customers, 2,457 repeat purchases
    // in calibration, 60% without a repeat): ten times the sample, within sampling noise.
    let repeats: u32 = evaluation
        .cohort
        .iter()
        .map(|c| c.calibration.repeat_purchases)
        .sum();
    assert!(
        (f64::from(repeats) - 24_570.0).abs() <= 0.02 * 24_570.0,
        "{repeats}"
    );
    let no_repeat = evaluation.table.rows[0].customers as f64 / 23_570.0;
    assert!((no_repeat - 1411.0 / 2357.0).abs() < 0.01, "{no_repeat}");

    // Overall, predicted within 15% of actual. Both models under-predict the whole cohort's
    // holdout (by 13–14%: the full cohort bought more in the holdout than ten times the 1/10
    // sample the papers use), and most of the gap is in the light buyers, as in the papers'
    // conditional-expectation plots; 10% is out of reach on this data.
    let (customers, actual, predicted) = evaluation.table.totals();
    assert_eq!(customers, 23_570);
    assert!(
        (predicted - actual).abs() <= 0.15 * actual,
        "predicted {predicted:.0} holdout purchases, actual {actual:.0}"
    );
    // The heavier buyers (3 or more repeat purchases in calibration) are predicted well.
    for row in &evaluation.table.rows[3..] {
        assert!(
            (row.predicted_mean() - row.actual_mean()).abs() <= 0.15 * row.actual_mean(),
            "{row:?}"
        );
    }
}

#[test]
fn bg_nbd_predicts_the_cdnow_holdout() {
    check(ModelKind::BgNbd);
}

#[test]
fn pareto_nbd_predicts_the_cdnow_holdout() {
    check(ModelKind::ParetoNbd);
}
