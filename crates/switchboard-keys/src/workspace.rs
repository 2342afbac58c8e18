//! Workspace keys: one random data key per workspace, stored only wrapped (sealed) under a
//! key derived from the master key. Channel credentials are sealed under it today; per-subject
//! keys will be wrapped by it later, so destroying a workspace key shreds the workspace.

use crate::sealer::{KeyId, SealContext, Sealer};
use crate::{KeyError, MasterKey};
use rand::RngCore;
use std::fmt;
use zeroize::Zeroizing;

/// A workspace's data key, unwrapped in memory.
#[derive(Clone)]
pub struct WorkspaceKey {
    id: KeyId,
    key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for WorkspaceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WorkspaceKey({:?}, [REDACTED])", self.id)
    }
}

/// Where a wrapped key is stored: its workspace and id are bound into the wrapping, so a
/// wrapped key copied to another workspace does not unwrap.
fn wrapped_at<'a>(row: &'a str) -> SealContext<'a> {
    SealContext {
        table: "workspace_keys",
        column: "wrapped_key",
        row,
    }
}

fn row_name(workspace: &str, id: KeyId) -> String {
    format!("{workspace}/{}", hex::encode(id.0))
}

impl WorkspaceKey {
    /// A fresh random key named `id`.
    pub fn generate(id: KeyId) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        Self { id, key }
    }

    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The key sealed under the master key's workspace-wrapping key, for storage.
    pub fn wrap(&self, master: &MasterKey, workspace: &str) -> Result<Vec<u8>, KeyError> {
        Sealer::workspace_wrapping(master)
            .seal(self.key.as_ref(), wrapped_at(&row_name(workspace, self.id)))
    }

    /// The inverse of [`WorkspaceKey::wrap`].
    pub fn unwrap(
        master: &MasterKey,
        workspace: &str,
        id: KeyId,
        wrapped: &[u8],
    ) -> Result<Self, KeyError> {
        let raw = Zeroizing::new(
            Sealer::workspace_wrapping(master)
                .open(wrapped, wrapped_at(&row_name(workspace, id)))?,
        );
        let key: [u8; 32] = raw.as_slice().try_into().map_err(|_| KeyError::Unseal)?;
        Ok(Self {
            id,
            key: Zeroizing::new(key),
        })
    }

    /// Seals and opens values under this key; every value carries the key's id.
    pub fn sealer(&self) -> Sealer {
        Sealer::new(&self.key, self.id)
    }
}

impl Sealer {
    /// The sealer for a workspace's data (channel credentials).
    pub fn for_workspace(key: &WorkspaceKey) -> Self {
        key.sealer()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sealed_key_id;

    fn at(row: &str) -> SealContext<'_> {
        SealContext {
            table: "channel_connections",
            column: "credentials",
            row,
        }
    }

    #[test]
    fn wrapped_key_unwraps_only_for_its_workspace_and_master() {
        let master = MasterKey::generate();
        let key = WorkspaceKey::generate(KeyId([9; 16]));
        let wrapped = key.wrap(&master, "ws1").unwrap();
        let back = WorkspaceKey::unwrap(&master, "ws1", key.id(), &wrapped).unwrap();
        let sealed = key.sealer().seal(b"token", at("c1")).unwrap();
        assert_eq!(back.sealer().open(&sealed, at("c1")).unwrap(), b"token");
        assert!(WorkspaceKey::unwrap(&master, "ws2", key.id(), &wrapped).is_err());
        assert!(WorkspaceKey::unwrap(&MasterKey::generate(), "ws1", key.id(), &wrapped).is_err());
        assert!(WorkspaceKey::unwrap(&master, "ws1", KeyId([8; 16]), &wrapped).is_err());
    }

    #[test]
    fn values_sealed_under_one_workspace_key_do_not_open_under_another() {
        let a = WorkspaceKey::generate(KeyId([1; 16]));
        let b = WorkspaceKey::generate(KeyId([2; 16]));
        let sealed = Sealer::for_workspace(&a).seal(b"token", at("c1")).unwrap();
        assert_eq!(sealed_key_id(&sealed), Some(a.id()));
        assert!(Sealer::for_workspace(&b).open(&sealed, at("c1")).is_err());
        assert!(Sealer::for_workspace(&a).open(&sealed, at("c2")).is_err());
    }

    #[test]
    fn debug_output_hides_the_key() {
        let key = WorkspaceKey::generate(KeyId([1; 16]));
        assert!(!format!("{key:?}").contains(&hex::encode(*key.key)));
        assert!(format!("{key:?}").contains("REDACTED"));
    }
}
