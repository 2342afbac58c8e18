//! Accounts of the people who sign in. Passwords arrive here already hashed (Argon2id, by
//! the server); MFA secrets arrive sealed. Disabling or deleting an account ends all of its
//! sessions in the same transaction.

use crate::error::on_unique;
use crate::row::{RowExt, found, ms};
use crate::{Result, Store, StoreError, Tx};
use secrecy::SecretString;
use sqlx::any::AnyRow;
use switchboard_core::{EmailAddress, Timestamp, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    Active,
    Disabled,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub email: EmailAddress,
    pub display_name: String,
    pub password_hash: SecretString,
    /// The TOTP secret, sealed; present once enrolment has started.
    pub totp_secret: Option<Vec<u8>>,
    /// Set once enrolment was confirmed with a code: MFA is then required at sign-in.
    pub totp_enabled_at: Option<Timestamp>,
    /// The last TOTP time step accepted, so a code is never accepted twice.
    pub totp_last_step: Option<i64>,
    pub status: UserStatus,
    pub password_changed_at: Timestamp,
    pub created_at: Timestamp,
}

impl User {
    pub fn mfa_enabled(&self) -> bool {
        self.totp_enabled_at.is_some()
    }
}

pub struct NewUser<'a> {
    pub email: &'a EmailAddress,
    pub display_name: &'a str,
    pub password_hash: &'a str,
}

const USER_COLUMNS: &str = "id, email, display_name, password_hash, totp_secret, totp_enabled_at, \
                            totp_last_step, status, password_changed_at, created_at";

fn user_from(row: &AnyRow) -> Result<User> {
    let status = match row.text("status")?.as_str() {
        "active" => UserStatus::Active,
        "disabled" => UserStatus::Disabled,
        other => return Err(StoreError::Corrupt(format!("user status {other}"))),
    };
    Ok(User {
        id: row.parsed("id")?,
        email: row.valid("email", EmailAddress::parse)?,
        display_name: row.text("display_name")?,
        password_hash: SecretString::from(row.text("password_hash")?),
        totp_secret: row.opt_bytes("totp_secret")?,
        totp_enabled_at: row.opt_time("totp_enabled_at")?,
        totp_last_step: row.opt_int("totp_last_step")?,
        status,
        password_changed_at: row.time("password_changed_at")?,
        created_at: row.time("created_at")?,
    })
}

impl Tx {
    pub async fn insert_user(&mut self, new: NewUser<'_>, now: Timestamp) -> Result<UserId> {
        let id = UserId::new();
        let result = sqlx::query(
            "INSERT INTO users (id, email, display_name, password_hash, status, \
             password_changed_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'active', $5, $5, $5)",
        )
        .bind(id.to_string())
        .bind(new.email.as_str())
        .bind(new.display_name)
        .bind(new.password_hash)
        .bind(ms(now))
        .execute(self.conn())
        .await
        .map_err(StoreError::from);
        on_unique(
            result,
            "email_taken",
            "An account with that email already exists.",
        )?;
        Ok(id)
    }

    pub async fn set_password_hash(
        &mut self,
        user: UserId,
        hash: &str,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE users SET password_hash = $2, password_changed_at = $3, updated_at = $3 WHERE id = $1",
        )
        .bind(user.to_string())
        .bind(hash)
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        found(done)
    }

    /// Stores a (sealed) TOTP secret; `enabled_at` is `None` while enrolment awaits its
    /// confirming code. `None` for both turns MFA off.
    pub async fn set_totp(
        &mut self,
        user: UserId,
        sealed_secret: Option<&[u8]>,
        enabled_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE users SET totp_secret = $2, totp_enabled_at = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(user.to_string())
        .bind(sealed_secret.map(<[u8]>::to_vec))
        .bind(enabled_at.map(ms))
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn set_display_name(
        &mut self,
        user: UserId,
        name: &str,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query("UPDATE users SET display_name = $2, updated_at = $3 WHERE id = $1")
            .bind(user.to_string())
            .bind(name)
            .bind(ms(now))
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Records that the TOTP code of time step `step` was used. Returns false when that step
    /// (or a later one) was already used: the code is a replay and must be refused.
    pub async fn claim_totp_step(&mut self, user: UserId, step: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $2 WHERE id = $1 \
             AND (totp_last_step IS NULL OR totp_last_step < $2)",
        )
        .bind(user.to_string())
        .bind(step)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// How many accounts exist, read inside the transaction (first-owner sign-up).
    /// How many accounts exist, counted so that two transactions asking this at once (the
    /// first sign-up) see each other: SQLite's `BEGIN IMMEDIATE` already serialises writers;
    /// on PostgreSQL a transaction-scoped advisory lock does, until commit or rollback.
    pub async fn count_users(&mut self) -> Result<i64> {
        if self.conn().backend_name() == "PostgreSQL" {
            // An arbitrary constant naming "the set of accounts" as a lock.
            sqlx::query("SELECT pg_advisory_xact_lock(7357001)")
                .execute(self.conn())
                .await?;
        }
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.conn())
            .await?)
    }

    /// Disables the account and ends every one of its sessions at once.
    pub async fn disable_user(&mut self, user: UserId, now: Timestamp) -> Result<()> {
        sqlx::query(
            "UPDATE users SET status = 'disabled', disabled_at = $2, updated_at = $2 WHERE id = $1",
        )
        .bind(user.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.to_string())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn enable_user(&mut self, user: UserId, now: Timestamp) -> Result<()> {
        sqlx::query(
            "UPDATE users SET status = 'active', disabled_at = NULL, updated_at = $2 WHERE id = $1",
        )
        .bind(user.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    pub async fn user(&self, id: UserId) -> Result<User> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        user_from(&row)
    }

    pub async fn user_by_email(&self, email: &EmailAddress) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email.as_str())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(user_from).transpose()
    }

    /// How many accounts exist: zero means the first visitor may sign up as owner.
    pub async fn user_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.read)
            .await?)
    }
}
