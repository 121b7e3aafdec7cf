//! The document's examples for vouchers and charities, run against the server as part of the
//! tour in `examples.rs` (after a program `p` and a member `m` exist).

use super::examples::{example_id, reads_match, request_example, run};
use super::*;

pub(super) async fn vouchers_and_charities(
    server: &Server,
    spec: &Value,
    ids: &mut BTreeMap<String, String>,
    p: &str,
    m: &str,
) {
    let adjustments = format!("/api/v1/members/{m}/adjustments");
    // Vouchers: a pool, generated codes, a till validating, redeeming and releasing one, and a
    // personal code.
    let pool = run(
        server,
        spec,
        ids,
        ("createVoucherPool", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/voucher-pools"),
            "admin",
            201,
        ),
    )
    .await;
    let pool_id = pool["id"].as_str().unwrap().to_owned();
    ids.insert(example_id(spec, "VoucherPoolId"), pool_id.clone());
    run(
        server,
        spec,
        ids,
        ("addVoucherCodes", None),
        (
            "POST",
            &format!("/api/v1/voucher-pools/{pool_id}/codes"),
            "admin",
            201,
        ),
    )
    .await;
    let codes = server
        .send(
            "GET",
            &format!("/api/v1/voucher-pools/{pool_id}/codes?limit=1"),
            Some("read"),
            None,
        )
        .await
        .json();
    let example_code = request_example(spec, "validateVoucher", None)["code"].clone();
    ids.insert(
        example_code.as_str().unwrap().to_owned(),
        codes["items"][0]["code"].as_str().unwrap().to_owned(),
    );
    let valid = run(
        server,
        spec,
        ids,
        ("validateVoucher", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/vouchers/validate"),
            "write",
            200,
        ),
    )
    .await;
    assert_eq!(valid["valid"], true, "{valid}");
    for (operation_id, action) in [("redeemVoucher", "redeem"), ("releaseVoucher", "release")] {
        run(
            server,
            spec,
            ids,
            (operation_id, None),
            (
                "POST",
                &format!("/api/v1/programs/{p}/vouchers/{action}"),
                "write",
                200,
            ),
        )
        .await;
    }
    run(
        server,
        spec,
        ids,
        ("assignVoucher", None),
        (
            "POST",
            &format!("/api/v1/voucher-pools/{pool_id}/assign"),
            "write",
            201,
        ),
    )
    .await;
    reads_match(
        server,
        spec,
        [
            (
                "listVoucherPools",
                format!("/api/v1/programs/{p}/voucher-pools"),
            ),
            ("getVoucherPool", format!("/api/v1/voucher-pools/{pool_id}")),
            (
                "listVoucherCodes",
                format!("/api/v1/voucher-pools/{pool_id}/codes"),
            ),
            (
                "listMemberVouchers",
                format!("/api/v1/members/{m}/vouchers"),
            ),
        ],
    )
    .await;

    // Charities: a cause, a member's gift, a payout, and what everyone reads.
    let top_up = json!({ "points": 500, "reason": "charity top-up" });
    assert_eq!(
        server
            .send("POST", &adjustments, Some("write"), Some(&top_up))
            .await
            .status,
        201
    );
    let charity = run(
        server,
        spec,
        ids,
        ("createCharity", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/charities"),
            "admin",
            201,
        ),
    )
    .await;
    let charity_id = charity["id"].as_str().unwrap().to_owned();
    ids.insert(example_id(spec, "CharityId"), charity_id.clone());
    run(
        server,
        spec,
        ids,
        ("donate", None),
        (
            "POST",
            &format!("/api/v1/members/{m}/donations"),
            "write",
            201,
        ),
    )
    .await;
    run(
        server,
        spec,
        ids,
        ("settleCharity", None),
        (
            "POST",
            &format!("/api/v1/charities/{charity_id}/settlements"),
            "admin",
            201,
        ),
    )
    .await;
    reads_match(
        server,
        spec,
        [
            ("listCharities", format!("/api/v1/programs/{p}/charities")),
            ("getCharity", format!("/api/v1/charities/{charity_id}")),
            (
                "listMemberDonations",
                format!("/api/v1/members/{m}/donations"),
            ),
        ],
    )
    .await;
}
