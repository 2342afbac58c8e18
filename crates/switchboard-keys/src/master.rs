//! The master key: from `SWITCHBOARD_MASTER_KEY`, or a file created on first run.

use crate::KeyError;
use base64::Engine;
use hkdf::Hkdf;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use std::fmt;
use std::io::Write;
use std::path::Path;
use zeroize::Zeroizing;

/// The file name of the master key inside the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

/// 32 bytes from which every other key is derived.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

impl MasterKey {
    /// Generates a fresh random key.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        Self(bytes)
    }

    /// Parses 32 bytes given as 64 hex digits or as base64.
    pub fn parse(text: &SecretString, origin: &str) -> Result<Self, KeyError> {
        let raw = text.expose_secret().trim();
        let malformed = || KeyError::MalformedMasterKey {
            origin: origin.to_owned(),
        };
        let bytes = Zeroizing::new(if raw.len() == 64 {
            hex::decode(raw).map_err(|_| malformed())?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(raw)
                .map_err(|_| malformed())?
        });
        let array: [u8; 32] = bytes.as_slice().try_into().map_err(|_| malformed())?;
        Ok(Self(Zeroizing::new(array)))
    }

    /// The key given by the environment when there is one, else the key file in
    /// `data_dir`, created (mode 0600) when it does not exist yet.
    pub fn load_or_create(
        data_dir: &Path,
        from_env: Option<&SecretString>,
    ) -> Result<Self, KeyError> {
        if let Some(text) = from_env {
            return Self::parse(text, "SWITCHBOARD_MASTER_KEY");
        }
        let path = data_dir.join(MASTER_KEY_FILE);
        let io_err = |source| KeyError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                check_permissions(&path)?;
                Self::parse(&SecretString::from(text), &path.display().to_string())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&path).map_err(io_err)?;
                let text = Zeroizing::new(hex::encode(key.0.as_ref()));
                file.write_all(text.as_bytes()).map_err(io_err)?;
                file.sync_all().map_err(io_err)?;
                Ok(key)
            }
            Err(e) => Err(io_err(e)),
        }
    }

    /// A 32-byte key for one purpose ("sealing:platform", "csrf", ...), derived with
    /// HKDF-SHA256 so that keys for different purposes are independent.
    pub fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(Some(b"switchboard/v1"), self.0.as_ref());
        let mut out = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's limit of 8160, so expand cannot fail.
        let _ = hk.expand(purpose.as_bytes(), out.as_mut());
        out
    }
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| KeyError::KeyFile {
        path: path.display().to_string(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::KeyFileTooOpen {
            path: path.display().to_string(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path) -> Result<(), KeyError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = MasterKey::load_or_create(dir.path(), None).unwrap();
        let path = dir.path().join(MASTER_KEY_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let second = MasterKey::load_or_create(dir.path(), None).unwrap();
        assert_eq!(*first.derive("x"), *second.derive("x"));
    }

    #[test]
    fn environment_key_wins_and_is_validated() {
        let dir = tempfile::tempdir().unwrap();
        let hex_key = SecretString::from("11".repeat(32));
        let key = MasterKey::load_or_create(dir.path(), Some(&hex_key)).unwrap();
        assert!(!dir.path().join(MASTER_KEY_FILE).exists());
        assert_ne!(*key.derive("a"), *key.derive("b"));
        let bad = SecretString::from("too short".to_owned());
        assert!(matches!(
            MasterKey::load_or_create(dir.path(), Some(&bad)),
            Err(KeyError::MalformedMasterKey { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn world_readable_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        MasterKey::load_or_create(dir.path(), None).unwrap();
        let path = dir.path().join(MASTER_KEY_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            MasterKey::load_or_create(dir.path(), None),
            Err(KeyError::KeyFileTooOpen { .. })
        ));
    }

    #[test]
    fn debug_output_hides_the_key() {
        let key = MasterKey::generate();
        assert_eq!(format!("{key:?}"), "MasterKey([REDACTED])");
    }
}
