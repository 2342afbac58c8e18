//! Sealing: authenticated encryption (XChaCha20-Poly1305) of values stored at rest.
//!
//! A sealed value is `version 2 (1 byte) || key id (16 bytes) || nonce (24 bytes) ||
//! ciphertext+tag`. The key id names the key that sealed it (the platform key, a workspace
//! key, later a subject's key), so a reader knows which key to fetch and a destroyed key is
//! recognisable. The associated data is the header followed by the value's place (table,
//! column, row id), so neither the key id nor the place can be changed without the value
//! failing to open. Version 1 values (`1 || nonce || ciphertext`, before key ids) still open
//! under the platform key.

use crate::{KeyError, MasterKey};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use std::fmt;

const LEGACY_VERSION: u8 = 1;
const VERSION: u8 = 2;
const KEY_ID_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 1 + KEY_ID_LEN;

/// Which key sealed a value: 16 bytes (a UUID for workspace and subject keys).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

impl KeyId {
    /// The instance's own key for platform secrets (MFA secrets).
    pub const PLATFORM: KeyId = KeyId([0; KEY_ID_LEN]);
    /// The key that wraps workspace keys.
    pub const WORKSPACE_WRAPPING: KeyId = KeyId([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", hex::encode(self.0))
    }
}

/// The id of the key that sealed `sealed`, read from its header without opening it; `None`
/// for a value too short to have one. Version 1 values belong to the platform key.
pub fn sealed_key_id(sealed: &[u8]) -> Option<KeyId> {
    match *sealed.first()? {
        LEGACY_VERSION => Some(KeyId::PLATFORM),
        VERSION => {
            let id: [u8; KEY_ID_LEN] = sealed.get(1..HEADER_LEN)?.try_into().ok()?;
            Some(KeyId(id))
        }
        _ => None,
    }
}

/// Where a sealed value lives; bound into the ciphertext.
#[derive(Debug, Clone, Copy)]
pub struct SealContext<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub row: &'a str,
}

impl SealContext<'_> {
    fn associated_data(&self, header: &[u8]) -> Vec<u8> {
        let mut aad = header.to_vec();
        aad.extend_from_slice(format!("{}\0{}\0{}", self.table, self.column, self.row).as_bytes());
        aad
    }
}

/// Seals and opens values under one key.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    key_id: KeyId,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealer({:?}, [REDACTED])", self.key_id)
    }
}

impl Sealer {
    /// The sealer for instance-level secrets (account MFA secrets).
    pub fn platform(master: &MasterKey) -> Self {
        Self::from_derived(master, "sealing:platform", KeyId::PLATFORM)
    }

    /// The sealer that wraps workspace keys (see [`crate::WorkspaceKey`]).
    pub(crate) fn workspace_wrapping(master: &MasterKey) -> Self {
        Self::from_derived(master, "wrapping:workspace", KeyId::WORKSPACE_WRAPPING)
    }

    fn from_derived(master: &MasterKey, purpose: &str, key_id: KeyId) -> Self {
        let key = master.derive(purpose);
        Self::new(&key, key_id)
    }

    pub(crate) fn new(key: &[u8; 32], key_id: KeyId) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(key.into()),
            key_id,
        }
    }

    /// The id written into every value this sealer seals.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    pub fn seal(&self, plaintext: &[u8], at: SealContext<'_>) -> Result<Vec<u8>, KeyError> {
        let mut header = [0u8; HEADER_LEN];
        let (version, id) = header.split_at_mut(1);
        version.copy_from_slice(&[VERSION]);
        id.copy_from_slice(&self.key_id.0);
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = at.associated_data(&header);
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
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], at: SealContext<'_>) -> Result<Vec<u8>, KeyError> {
        let (header, rest): (&[u8], &[u8]) = match sealed.first() {
            Some(&LEGACY_VERSION) if self.key_id == KeyId::PLATFORM => {
                // Version 1 had no header in its associated data.
                (&[], sealed.get(1..).ok_or(KeyError::Unseal)?)
            }
            Some(&VERSION) if sealed_key_id(sealed) == Some(self.key_id) => (
                sealed.get(..HEADER_LEN).ok_or(KeyError::Unseal)?,
                sealed.get(HEADER_LEN..).ok_or(KeyError::Unseal)?,
            ),
            _ => return Err(KeyError::Unseal),
        };
        if rest.len() < NONCE_LEN {
            return Err(KeyError::Unseal);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let aad = at.associated_data(header);
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
    fn sealed_values_carry_their_key_id() {
        let sealer = Sealer::platform(&MasterKey::generate());
        let sealed = sealer.seal(b"s", at("u")).unwrap();
        assert_eq!(sealed_key_id(&sealed), Some(KeyId::PLATFORM));
        // Changing the key id in the header breaks the value.
        let mut moved = sealed.clone();
        moved[16] = 7;
        assert!(sealer.open(&moved, at("u")).is_err());
    }

    #[test]
    fn version_1_values_still_open_under_the_platform_key() {
        let master = MasterKey::generate();
        let key = master.derive("sealing:platform");
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        let nonce = [3u8; NONCE_LEN];
        let ct = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: b"old",
                    aad: b"users\0totp_secret\0u",
                },
            )
            .unwrap();
        let mut v1 = vec![LEGACY_VERSION];
        v1.extend_from_slice(&nonce);
        v1.extend_from_slice(&ct);
        assert_eq!(
            Sealer::platform(&master).open(&v1, at("u")).unwrap(),
            b"old"
        );
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
