//! Custom contact attributes: the definitions a workspace makes (key, label, type, list
//! options, personal or not) and each contact's values.
//!
//! Invariants: a value is written only through [`Tx::set_attribute_value`], in the column its
//! attribute's `personal` flag names (`personal_value` or `value`), so the inventory's
//! classification by column holds; changing the flag moves every value in the same
//! transaction. An attribute's key and type never change (a value stored under one type would
//! not parse under another); deleting the attribute deletes its values (foreign key).

use crate::error::on_unique;
use crate::row::{RowExt, ms};
use crate::{Result, Store, StoreError, Tx};
use sqlx::any::AnyRow;
use switchboard_core::contact_attributes::AttributeKind;
use switchboard_core::{ContactAttributeId, ContactId, Timestamp, WorkspaceId};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttributeDef {
    pub id: ContactAttributeId,
    pub key: String,
    pub label: String,
    pub kind: AttributeKind,
    /// A list's options (empty for other kinds).
    pub options: Vec<String>,
    /// Whether values are personal data about the contact.
    pub personal: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: Timestamp,
}

/// A new definition, validated by the caller (`switchboard_core::contact_attributes`).
pub struct NewAttribute<'a> {
    pub key: &'a str,
    pub label: &'a str,
    pub kind: AttributeKind,
    pub options: &'a [String],
    pub personal: bool,
}

const COLUMNS: &str =
    "id, key, label, kind, options, personal, created_at, updated_at FROM contact_attributes";

fn def_from(row: &AnyRow) -> Result<AttributeDef> {
    let options = match row.opt_text("options")? {
        Some(json) => serde_json::from_str(&json)
            .map_err(|_| StoreError::Corrupt("an attribute's options are not a list".into()))?,
        None => Vec::new(),
    };
    Ok(AttributeDef {
        id: row.parsed("id")?,
        key: row.text("key")?,
        label: row.text("label")?,
        kind: crate::row::known(row, "kind", AttributeKind::parse)?,
        options,
        personal: row.int("personal")? != 0,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

fn options_json(kind: AttributeKind, options: &[String]) -> Option<String> {
    (kind == AttributeKind::List).then(|| serde_json::json!(options).to_string())
}

impl Store {
    /// The workspace's attributes, by label.
    pub async fn contact_attributes(&self, ws: WorkspaceId) -> Result<Vec<AttributeDef>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} WHERE workspace_id = $1 ORDER BY label, key"
        ))
        .bind(ws.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(def_from).collect()
    }

    pub async fn contact_attribute(
        &self,
        ws: WorkspaceId,
        id: ContactAttributeId,
    ) -> Result<AttributeDef> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        def_from(&row)
    }

    pub async fn contact_attribute_by_key(
        &self,
        ws: WorkspaceId,
        key: &str,
    ) -> Result<Option<AttributeDef>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} WHERE workspace_id = $1 AND key = $2"
        ))
        .bind(ws.to_string())
        .bind(key)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(def_from).transpose()
    }

    pub async fn contact_attribute_by_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
    ) -> Result<Option<AttributeDef>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} WHERE workspace_id = $1 AND idempotency_key = $2"
        ))
        .bind(ws.to_string())
        .bind(key)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(def_from).transpose()
    }

    /// The contact's values, by attribute id (canonical text).
    pub async fn attribute_values(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
    ) -> Result<Vec<(ContactAttributeId, String)>> {
        let rows = sqlx::query(
            "SELECT attribute_id, COALESCE(value, personal_value) AS v \
             FROM contact_attribute_values WHERE workspace_id = $1 AND contact_id = $2",
        )
        .bind(ws.to_string())
        .bind(contact.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((r.parsed("attribute_id")?, r.text("v")?)))
            .collect()
    }
}

impl Tx {
    pub async fn create_contact_attribute(
        &mut self,
        ws: WorkspaceId,
        new: &NewAttribute<'_>,
        idempotency_key: Option<&str>,
        now: Timestamp,
    ) -> Result<ContactAttributeId> {
        let id = ContactAttributeId::new();
        let done = sqlx::query(
            "INSERT INTO contact_attributes (id, workspace_id, key, label, kind, options, personal, \
             idempotency_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(new.key)
        .bind(new.label)
        .bind(new.kind.as_str())
        .bind(options_json(new.kind, new.options))
        .bind(i64::from(new.personal))
        .bind(idempotency_key)
        .bind(ms(now))
        .execute(self.conn())
        .await
        .map_err(StoreError::from);
        on_unique(
            done,
            "attribute_exists",
            "An attribute with this key exists already (or this Idempotency-Key is in use).",
        )?;
        Ok(id)
    }

    /// Changes the label, a list's options and whether values are personal (moving every
    /// value to the column that says so). Values no longer among a list's options stay, and
    /// are refused only when written again.
    pub async fn update_contact_attribute(
        &mut self,
        ws: WorkspaceId,
        def: &AttributeDef,
        now: Timestamp,
    ) -> Result<()> {
        crate::row::found(
            sqlx::query(
                "UPDATE contact_attributes SET label = $3, options = $4, personal = $5, \
                 updated_at = $6 WHERE workspace_id = $1 AND id = $2",
            )
            .bind(ws.to_string())
            .bind(def.id.to_string())
            .bind(&def.label)
            .bind(options_json(def.kind, &def.options))
            .bind(i64::from(def.personal))
            .bind(ms(now))
            .execute(self.conn())
            .await?,
        )?;
        sqlx::query(
            "UPDATE contact_attribute_values SET \
             value = CASE WHEN $3 = 1 THEN NULL ELSE COALESCE(value, personal_value) END, \
             personal_value = CASE WHEN $3 = 1 THEN COALESCE(value, personal_value) ELSE NULL END \
             WHERE workspace_id = $1 AND attribute_id = $2",
        )
        .bind(ws.to_string())
        .bind(def.id.to_string())
        .bind(i64::from(def.personal))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Deletes the attribute and every contact's value of it.
    pub async fn delete_contact_attribute(
        &mut self,
        ws: WorkspaceId,
        id: ContactAttributeId,
    ) -> Result<()> {
        sqlx::query(
            "DELETE FROM contact_attribute_values WHERE workspace_id = $1 AND attribute_id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .execute(self.conn())
        .await?;
        crate::row::found(
            sqlx::query("DELETE FROM contact_attributes WHERE workspace_id = $1 AND id = $2")
                .bind(ws.to_string())
                .bind(id.to_string())
                .execute(self.conn())
                .await?,
        )
    }

    /// Sets (or with `None` clears) the contact's value of `def`, already in canonical form
    /// (`AttributeKind::parse_value`). The contact must be the workspace's.
    pub async fn set_attribute_value(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        def: &AttributeDef,
        value: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        let known: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE workspace_id = $1 AND id = $2")
                .bind(ws.to_string())
                .bind(contact.to_string())
                .fetch_one(self.conn())
                .await?;
        if known == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "DELETE FROM contact_attribute_values WHERE workspace_id = $1 AND contact_id = $2 \
             AND attribute_id = $3",
        )
        .bind(ws.to_string())
        .bind(contact.to_string())
        .bind(def.id.to_string())
        .execute(self.conn())
        .await?;
        if let Some(value) = value {
            let (plain, personal) = if def.personal {
                (None, Some(value))
            } else {
                (Some(value), None)
            };
            sqlx::query(
                "INSERT INTO contact_attribute_values (contact_id, attribute_id, workspace_id, \
                 value, personal_value, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(contact.to_string())
            .bind(def.id.to_string())
            .bind(ws.to_string())
            .bind(plain)
            .bind(personal)
            .bind(ms(now))
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }
}
