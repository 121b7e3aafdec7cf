//! The wallet's vouchers: a member's unused personal codes (handed out by a reward or by the
//! program), each with a QR code the till can scan.

use crate::WebState;
use crate::error::WebError;
use crate::qr;
use tally_store::Database;

/// A member's unused personal voucher codes, each with its pool's name and a QR code the till
/// can scan (the code itself, which the cashier screen's voucher field accepts).
pub async fn unused<D: Database>(
    state: &WebState<D>,
    tenant: &tally_domain::ids::TenantId,
    member: &tally_domain::ids::MemberId,
) -> Result<Vec<(String, String, String)>, WebError> {
    let codes = state.tally.member_vouchers(tenant, member).await?;
    let mut names: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut out = Vec::new();
    for c in codes["items"].as_array().into_iter().flatten() {
        if c["status"] != "available" {
            continue;
        }
        let code = c["code"].as_str().unwrap_or_default().to_owned();
        let pool = c["pool_id"].as_str().unwrap_or_default().to_owned();
        if !names.contains_key(&pool) {
            let id = tally_domain::ids::VoucherPoolId::from_trusted(pool.clone());
            let name = state.tally.voucher_pool(tenant, &id).await?["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            names.insert(pool.clone(), name);
        }
        let svg = qr::svg(&code);
        out.push((code, names[&pool].clone(), svg));
    }
    Ok(out)
}
