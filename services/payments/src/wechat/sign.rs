//! WeChat Pay API v3's cryptography: the merchant signs each request and the app's payment
//! parameters (RSA-SHA256, PKCS#1 v1.5, base64); the platform signs each notification over
//! timestamp, nonce and body, and encrypts its resource with the merchant's APIv3 key
//! (AEAD_AES_256_GCM). Pure functions over keys; no I/O.

use std::time::Duration;

use aes_gcm::{Aes256Gcm, KeyInit, aead::Aead, aead::Payload};
use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use rsa::{
    RsaPrivateKey, RsaPublicKey,
    pkcs1v15::{Signature, SigningKey, VerifyingKey},
    pkcs8::{DecodePrivateKey, DecodePublicKey},
    signature::{SignatureEncoding, Signer, Verifier},
};
use serde::Deserialize;
use sha2::Sha256;

use crate::provider::AppPayment;

/// Why a notification is refused (nothing is credited for it).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotifyError {
    #[error("notification header {0} is missing")]
    MissingHeader(&'static str),
    #[error("notification signed with key {0}, not the platform key this merchant trusts")]
    UnknownKey(String),
    #[error("notification timestamp is outside the tolerance window (replayed or clock skew)")]
    Stale,
    #[error("notification signature does not verify")]
    BadSignature,
    #[error("notification resource does not decrypt (tampered, or another APIv3 key)")]
    Undecryptable,
    #[error("notification is malformed: {0}")]
    Malformed(String),
}

/// The merchant's private key and its certificate serial number.
#[derive(Clone)]
pub struct MerchantKey {
    signing: SigningKey<Sha256>,
    pub mchid: String,
    pub serial: String,
}

impl MerchantKey {
    pub fn from_pem(pem: &str, mchid: &str, serial: &str) -> anyhow::Result<Self> {
        let key = RsaPrivateKey::from_pkcs8_pem(pem.trim())
            .map_err(|e| anyhow::anyhow!("the merchant private key is not a PKCS#8 PEM RSA key: {e}"))?;
        Ok(Self { signing: SigningKey::new(key), mchid: mchid.into(), serial: serial.into() })
    }

    /// base64(RSA-SHA256(message)).
    pub fn sign(&self, message: &str) -> String {
        BASE64.encode(self.signing.sign(message.as_bytes()).to_bytes())
    }

    /// The `Authorization` header of a request (`path` with its query string).
    pub fn authorization(&self, method: &str, path: &str, body: &str, timestamp: i64, nonce: &str) -> String {
        let signature = self.sign(&lines(&[method, path, &timestamp.to_string(), nonce, body]));
        format!(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",nonce_str=\"{nonce}\",signature=\"{signature}\",\
             timestamp=\"{timestamp}\",serial_no=\"{}\"",
            self.mchid, self.serial
        )
    }
}

/// Each part followed by a newline: what every v3 signature covers.
pub fn lines(parts: &[&str]) -> String {
    parts.iter().map(|p| format!("{p}\n")).collect()
}

/// The parameters the app hands the WeChat SDK to pay `prepay_id` (APP payment), signed over
/// app id, timestamp, nonce and prepay id.
pub fn app_payment(key: &MerchantKey, app_id: &str, prepay_id: &str, timestamp: i64, nonce: &str) -> AppPayment {
    let timestamp = timestamp.to_string();
    let sign = key.sign(&lines(&[app_id, &timestamp, nonce, prepay_id]));
    AppPayment {
        app_id: app_id.into(),
        partner_id: key.mchid.clone(),
        prepay_id: prepay_id.into(),
        package: "Sign=WXPay".into(),
        nonce_str: nonce.into(),
        timestamp,
        sign,
    }
}

/// The headers of a notification that its signature covers or names.
pub struct NotifyHeaders<'a> {
    pub timestamp: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub serial: Option<&'a str>,
}

/// Checks and opens notifications: the platform's public key (a WeChat Pay public key, or the
/// key of a platform certificate: `openssl x509 -pubkey`), its id, the APIv3 key, and how far a
/// notification's timestamp may be from now.
#[derive(Clone)]
pub struct NotificationCheck {
    platform: VerifyingKey<Sha256>,
    platform_key_id: String,
    api_v3_key: [u8; 32],
    tolerance: Duration,
}

/// The `resource` of a notification.
#[derive(Deserialize)]
struct Resource {
    algorithm: String,
    ciphertext: String,
    #[serde(default)]
    associated_data: String,
    nonce: String,
}

#[derive(Deserialize)]
struct Envelope {
    resource: Resource,
}

/// A transfer bill (a payout to a user's WeChat balance) as WeChat Pay reports it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct TransferBill {
    pub mch_id: String,
    pub out_bill_no: String,
    #[serde(default)]
    pub transfer_bill_no: String,
    /// ACCEPTED, PROCESSING, WAIT_USER_CONFIRM, TRANSFERING, SUCCESS, FAIL, CANCELING, CANCELLED.
    pub state: String,
    #[serde(default)]
    pub transfer_amount: Option<i64>,
    #[serde(default)]
    pub fail_reason: String,
}

/// A payment order as WeChat Pay reports it (notification resource or query answer).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Transaction {
    pub mchid: String,
    pub appid: String,
    pub out_trade_no: String,
    #[serde(default)]
    pub transaction_id: String,
    /// SUCCESS, NOTPAY, USERPAYING, CLOSED, REVOKED, PAYERROR, REFUND.
    pub trade_state: String,
    #[serde(default)]
    pub trade_state_desc: String,
    #[serde(default)]
    pub amount: Option<TransactionAmount>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct TransactionAmount {
    /// In fen.
    pub total: i64,
    #[serde(default)]
    pub currency: String,
}

impl NotificationCheck {
    pub fn new(
        platform_pem: &str,
        platform_key_id: &str,
        api_v3_key: &str,
        tolerance: Duration,
    ) -> anyhow::Result<Self> {
        let key = RsaPublicKey::from_public_key_pem(platform_pem.trim())
            .map_err(|e| anyhow::anyhow!("the platform public key is not a PEM RSA public key: {e}"))?;
        let api_v3_key: [u8; 32] = api_v3_key
            .as_bytes()
            .try_into()
            .map_err(|_| anyhow::anyhow!("the APIv3 key must be 32 characters (as set in the merchant platform)"))?;
        Ok(Self { platform: VerifyingKey::new(key), platform_key_id: platform_key_id.into(), api_v3_key, tolerance })
    }

    /// Verifies `body` against its headers at `now` (unix seconds) and decrypts its resource
    /// (an order, or a transfer bill: see `super::Reported`).
    pub fn open(&self, headers: &NotifyHeaders<'_>, body: &[u8], now: i64) -> Result<serde_json::Value, NotifyError> {
        let timestamp = headers.timestamp.ok_or(NotifyError::MissingHeader("Wechatpay-Timestamp"))?;
        let nonce = headers.nonce.ok_or(NotifyError::MissingHeader("Wechatpay-Nonce"))?;
        let signature = headers.signature.ok_or(NotifyError::MissingHeader("Wechatpay-Signature"))?;
        let serial = headers.serial.ok_or(NotifyError::MissingHeader("Wechatpay-Serial"))?;
        if serial != self.platform_key_id {
            return Err(NotifyError::UnknownKey(serial.chars().take(64).collect()));
        }
        let at: i64 = timestamp.parse().map_err(|_| NotifyError::Stale)?;
        if now.abs_diff(at) > self.tolerance.as_secs() {
            return Err(NotifyError::Stale);
        }
        let body_text = std::str::from_utf8(body).map_err(|_| NotifyError::BadSignature)?;
        let signature = BASE64
            .decode(signature)
            .ok()
            .and_then(|bytes| Signature::try_from(bytes.as_slice()).ok())
            .ok_or(NotifyError::BadSignature)?;
        self.platform
            .verify(lines(&[timestamp, nonce, body_text]).as_bytes(), &signature)
            .map_err(|_| NotifyError::BadSignature)?;
        let envelope: Envelope = serde_json::from_slice(body).map_err(|e| NotifyError::Malformed(e.to_string()))?;
        let plain = self.decrypt(&envelope.resource)?;
        serde_json::from_slice(&plain).map_err(|e| NotifyError::Malformed(e.to_string()))
    }

    fn decrypt(&self, resource: &Resource) -> Result<Vec<u8>, NotifyError> {
        if resource.algorithm != "AEAD_AES_256_GCM" || resource.nonce.len() != 12 {
            return Err(NotifyError::Undecryptable);
        }
        let ciphertext = BASE64.decode(&resource.ciphertext).map_err(|_| NotifyError::Undecryptable)?;
        let cipher = Aes256Gcm::new(&self.api_v3_key.into());
        let payload = Payload { msg: &ciphertext, aad: resource.associated_data.as_bytes() };
        cipher.decrypt(resource.nonce.as_bytes().into(), payload).map_err(|_| NotifyError::Undecryptable)
    }
}

/// Encrypts `plain` as a notification resource (what the platform does; for tests and tools).
pub fn encrypt_resource(api_v3_key: &[u8; 32], nonce: &str, associated_data: &str, plain: &[u8]) -> String {
    let cipher = Aes256Gcm::new(api_v3_key.into());
    let sealed = cipher
        .encrypt(nonce.as_bytes().into(), Payload { msg: plain, aad: associated_data.as_bytes() })
        .expect("AES-GCM encrypts any message");
    BASE64.encode(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_end_each_part_with_a_newline() {
        assert_eq!(lines(&["GET", "/v3/x", "1", "n", ""]), "GET\n/v3/x\n1\nn\n\n");
    }

    #[test]
    fn a_resource_decrypts_only_with_its_key_nonce_and_associated_data() {
        let key = [7u8; 32];
        let sealed = encrypt_resource(&key, "0123456789ab", "transaction", br#"{"a":1}"#);
        let check = NotificationCheck {
            platform: VerifyingKey::new(
                RsaPublicKey::from_public_key_pem(include_str!("../../tests/wechatpay/platform-pub.pem")).unwrap(),
            ),
            platform_key_id: "PUB_KEY_ID_1".into(),
            api_v3_key: key,
            tolerance: Duration::from_secs(300),
        };
        let resource = |ciphertext: &str, aad: &str| Resource {
            algorithm: "AEAD_AES_256_GCM".into(),
            ciphertext: ciphertext.into(),
            associated_data: aad.into(),
            nonce: "0123456789ab".into(),
        };
        assert_eq!(check.decrypt(&resource(&sealed, "transaction")).unwrap(), br#"{"a":1}"#);
        assert_eq!(check.decrypt(&resource(&sealed, "other")), Err(NotifyError::Undecryptable));
        let mut tampered = BASE64.decode(&sealed).unwrap();
        tampered[0] ^= 1;
        assert_eq!(check.decrypt(&resource(&BASE64.encode(tampered), "transaction")), Err(NotifyError::Undecryptable));
    }
}
