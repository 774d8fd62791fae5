//! The SMS moto recorded as sent (`/moto-api/data.json`), read as a person reads a phone.

use serde_json::Value;

use crate::emulator::moto_endpoint;

/// Every SMS moto recorded, as (phone number, message), oldest first.
pub async fn all_sent_sms() -> Vec<(String, String)> {
    let url = format!("{}/moto-api/data.json", moto_endpoint());
    // moto walks every tracked model for this page, and fails now and then when other tests
    // create models while it does: try again.
    let mut data = Value::Null;
    for attempt in 0..10 {
        match reqwest::get(&url).await {
            Ok(r) if r.status().is_success() => {
                if let Ok(v) = r.json::<Value>().await {
                    data = v;
                    break;
                }
            }
            _ => {}
        }
        tokio::time::sleep(std::time::Duration::from_millis(50 * (attempt + 1))).await;
    }
    data["sns"]["SMS"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|m| Some((m["phone_number"].as_str()?.to_owned(), m["message"].as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// Every SMS moto recorded for `+86<mobile>`, oldest first.
pub async fn sent_sms(mobile: &str) -> Vec<String> {
    let phone = format!("+86{mobile}");
    all_sent_sms().await.into_iter().filter(|(p, _)| *p == phone).map(|(_, m)| m).collect()
}

/// The 6-digit code of the newest SMS to `mobile`.
pub async fn last_sms_code(mobile: &str) -> Option<String> {
    let msg = sent_sms(mobile).await.pop()?;
    let digits: Vec<char> = msg.chars().collect();
    digits.windows(6).find(|w| w.iter().all(char::is_ascii_digit)).map(|w| w.iter().collect())
}
