//! Sealing: authenticated encryption (XChaCha20-Poly1305) of values stored at rest.
//!
//! A sealed value is `version (1 byte) || nonce (24 bytes) || ciphertext+tag`. The
//! associated data is the value's place (table, column, row id), so a sealed value copied
//! into another row fails to open.

use crate::{KeyError, MasterKey};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use std::fmt;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// Where a sealed value lives; bound into the ciphertext.
#[derive(Debug, Clone, Copy)]
pub struct SealContext<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub row: &'a str,
}

impl SealContext<'_> {
    fn associated_data(&self) -> Vec<u8> {
        format!("{}\0{}\0{}", self.table, self.column, self.row).into_bytes()
    }
}

/// Seals and opens values under one key.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer([REDACTED])")
    }
}

impl Sealer {
    /// The sealer for instance-level secrets (account MFA secrets).
    pub fn platform(master: &MasterKey) -> Self {
        let key = master.derive("sealing:platform");
        Self {
            cipher: XChaCha20Poly1305::new(key.as_ref().into()),
        }
    }

    pub fn seal(&self, plaintext: &[u8], at: SealContext<'_>) -> Result<Vec<u8>, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = at.associated_data();
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| KeyError::Seal)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], at: SealContext<'_>) -> Result<Vec<u8>, KeyError> {
        let (version, rest) = sealed.split_first().ok_or(KeyError::Unseal)?;
        if *version != VERSION || rest.len() < NONCE_LEN {
            return Err(KeyError::Unseal);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let aad = at.associated_data();
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| KeyError::Unseal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(row: &str) -> SealContext<'_> {
        SealContext {
            table: "users",
            column: "totp_secret",
            row,
        }
    }

    #[test]
    fn sealed_values_open_in_place() {
        let sealer = Sealer::platform(&MasterKey::generate());
        let sealed = sealer.seal(b"secret", at("u1")).unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(sealer.open(&sealed, at("u1")).unwrap(), b"secret");
    }

    #[test]
    fn moved_or_tampered_values_fail_to_open() {
        let sealer = Sealer::platform(&MasterKey::generate());
        let mut sealed = sealer.seal(b"secret", at("u1")).unwrap();
        assert!(sealer.open(&sealed, at("u2")).is_err());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(sealer.open(&sealed, at("u1")).is_err());
        assert!(sealer.open(&[], at("u1")).is_err());
    }

    #[test]
    fn another_master_key_cannot_open() {
        let sealed = Sealer::platform(&MasterKey::generate())
            .seal(b"s", at("u"))
            .unwrap();
        assert!(
            Sealer::platform(&MasterKey::generate())
                .open(&sealed, at("u"))
                .is_err()
        );
    }
}
