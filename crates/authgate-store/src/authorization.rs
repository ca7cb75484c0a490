//! The OpenID Provider's state: browser sessions of the hosted pages and
//! authorization codes. Both are kept under the SHA-256 digest of the
//! opaque value the browser or the client holds, never the value itself.
//! A code is redeemed by one `UPDATE` (atomic on both engines: of two
//! concurrent redemptions exactly one wins); a code presented again is a
//! replay, which answers the refresh family the first redemption started
//! so that the caller can revoke it.

use crate::{Store, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A signed-in browser (the hosted pages' cookie).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSession {
    /// The public session id: the `sid` claim of the tokens it leads to.
    pub sid: String,
    pub provider: String,
    pub sub: String,
    /// Seconds since the epoch.
    pub auth_time: i64,
    /// How the person signed in (`pwd`, `otp`, `hwk`, `swk`, `fed`), space-separated.
    pub amr: String,
    pub expires_at: i64,
}

/// An authorization code as issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub client_id: String,
    pub redirect_uri: String,
    /// The S256 challenge of the authorization request.
    pub code_challenge: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub sid: String,
    pub provider: String,
    pub sub: String,
    pub auth_time: i64,
    pub amr: String,
    pub expires_at: i64,
}

/// What presenting a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// The code was live and is now used.
    Redeemed(Box<AuthorizationCode>),
    /// The code was used before: `family_id` is the refresh family the first
    /// use started, if any.
    Replayed { family_id: Option<String> },
    /// No such code, or it expired.
    Unknown,
}

/// The columns [`code_from_row`] reads.
macro_rules! code_columns {
    () => {
        "client_id, redirect_uri, code_challenge, scope, nonce, sid, provider, sub, auth_time, \
         amr, expires_at"
    };
}

fn code_from_row(row: &AnyRow) -> StoreResult<AuthorizationCode> {
    Ok(AuthorizationCode {
        client_id: row.try_get("client_id")?,
        redirect_uri: row.try_get("redirect_uri")?,
        code_challenge: row.try_get("code_challenge")?,
        scope: row.try_get("scope")?,
        nonce: row.try_get("nonce")?,
        sid: row.try_get("sid")?,
        provider: row.try_get("provider")?,
        sub: row.try_get("sub")?,
        auth_time: row.try_get("auth_time")?,
        amr: row.try_get("amr")?,
        expires_at: row.try_get("expires_at")?,
    })
}

impl Store {
    /// Record a browser session under the digest of its cookie.
    pub async fn create_browser_session(
        &self,
        cookie_hash: &str,
        session: &BrowserSession,
        now: i64,
    ) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query(
            "INSERT INTO browser_sessions (cookie_hash, sid, provider, sub, auth_time, amr, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(cookie_hash)
        .bind(&session.sid)
        .bind(&session.provider)
        .bind(&session.sub)
        .bind(session.auth_time)
        .bind(&session.amr)
        .bind(now)
        .bind(session.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The live browser session of a cookie digest.
    pub async fn browser_session(
        &self,
        cookie_hash: &str,
        now: i64,
    ) -> StoreResult<Option<BrowserSession>> {
        let row = sqlx::query(
            "SELECT sid, provider, sub, auth_time, amr, expires_at FROM browser_sessions \
             WHERE cookie_hash = $1 AND ended_at IS NULL AND expires_at > $2",
        )
        .bind(cookie_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(BrowserSession {
                sid: row.try_get("sid")?,
                provider: row.try_get("provider")?,
                sub: row.try_get("sub")?,
                auth_time: row.try_get("auth_time")?,
                amr: row.try_get("amr")?,
                expires_at: row.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// End a browser session (sign-out, or a new sign-in replacing it).
    /// Answers whether a live one was ended.
    pub async fn end_browser_session(&self, sid: &str, now: i64) -> StoreResult<bool> {
        let _writing = self.write_guard().await;
        let done = sqlx::query(
            "UPDATE browser_sessions SET ended_at = $1 WHERE sid = $2 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(sid)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Record an authorization code under its digest.
    pub async fn insert_authorization_code(
        &self,
        code_hash: &str,
        code: &AuthorizationCode,
        now: i64,
    ) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, \
             code_challenge, scope, nonce, sid, provider, sub, auth_time, amr, expires_at, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(code_hash)
        .bind(&code.client_id)
        .bind(&code.redirect_uri)
        .bind(&code.code_challenge)
        .bind(&code.scope)
        .bind(code.nonce.as_deref())
        .bind(&code.sid)
        .bind(&code.provider)
        .bind(&code.sub)
        .bind(code.auth_time)
        .bind(&code.amr)
        .bind(code.expires_at)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Spend a code: one `UPDATE` marks a live code used and answers it;
    /// otherwise the row tells a replay from an unknown or expired code.
    pub async fn redeem_authorization_code(
        &self,
        code_hash: &str,
        now: i64,
    ) -> StoreResult<CodeRedemption> {
        let writing = self.write_guard().await;
        let redeemed = sqlx::query(concat!(
            "UPDATE authorization_codes SET used_at = $2 \
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING ",
            code_columns!()
        ))
        .bind(code_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        drop(writing);
        if let Some(row) = redeemed {
            return Ok(CodeRedemption::Redeemed(Box::new(code_from_row(&row)?)));
        }
        let used = sqlx::query(
            "SELECT family_id FROM authorization_codes \
             WHERE code_hash = $1 AND used_at IS NOT NULL",
        )
        .bind(code_hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(match used {
            Some(row) => CodeRedemption::Replayed {
                family_id: row.try_get("family_id")?,
            },
            None => CodeRedemption::Unknown,
        })
    }

    /// Remember the refresh family a redeemed code started, so that a
    /// replay of the code can revoke it.
    pub async fn set_code_family(&self, code_hash: &str, family_id: &str) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query("UPDATE authorization_codes SET family_id = $1 WHERE code_hash = $2")
            .bind(family_id)
            .bind(code_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

/// The refresh family of a code's redemption: issued to `client_id`, from
/// the browser session `sid`, for `scope`. Its id is the access token's
/// `origin_jti`, so revoking it refuses the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFamily {
    pub family_id: String,
    pub sub: String,
    pub auth_time: i64,
    pub client_id: String,
    pub sid: String,
    pub scope: String,
    pub amr: String,
    /// Unix milliseconds.
    pub expires_at: i64,
    /// The person's provider when it is not the configured one (a
    /// federated person: `oidc:<id>`).
    pub provider: Option<String>,
}

impl Store {
    /// Start the refresh family of a code's redemption.
    pub async fn create_client_family(&self, family: &ClientFamily, now: i64) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query(
            "INSERT INTO refresh_families (id, sub, auth_time, created_at, expires_at, \
             client_id, sid, scope, amr, provider) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&family.family_id)
        .bind(&family.sub)
        .bind(family.auth_time)
        .bind(now)
        .bind(family.expires_at)
        .bind(&family.client_id)
        .bind(&family.sid)
        .bind(&family.scope)
        .bind(&family.amr)
        .bind(&family.provider)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The family of an OAuth client, if `family_id` is one.
    pub async fn client_family(&self, family_id: &str) -> StoreResult<Option<ClientFamily>> {
        let row = sqlx::query(
            "SELECT id, sub, auth_time, client_id, sid, scope, amr, expires_at, provider \
             FROM refresh_families WHERE id = $1 AND client_id IS NOT NULL",
        )
        .bind(family_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(ClientFamily {
                family_id: row.try_get("id")?,
                sub: row.try_get("sub")?,
                auth_time: row.try_get("auth_time")?,
                client_id: row.try_get("client_id")?,
                sid: row.try_get("sid")?,
                scope: row
                    .try_get::<Option<String>, _>("scope")?
                    .unwrap_or_default(),
                amr: row.try_get::<Option<String>, _>("amr")?.unwrap_or_default(),
                expires_at: row.try_get("expires_at")?,
                provider: row.try_get("provider")?,
            })
        })
        .transpose()
    }
}

impl Store {
    /// Revoke every refresh family issued from the browser session `sid`
    /// (its codes' redemptions): logging out ends what it signed in.
    pub async fn revoke_families_of_sid(
        &self,
        sid: &str,
        reason: &str,
        now: i64,
    ) -> StoreResult<u64> {
        let _writing = self.write_guard().await;
        let done = sqlx::query(
            "UPDATE refresh_families SET revoked_at = $1, revoked_reason = $2 \
             WHERE sid = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(sid)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}

impl Store {
    /// The scopes a person allowed a client, if they were asked.
    pub async fn consent(
        &self,
        client_id: &str,
        provider: &str,
        sub: &str,
    ) -> StoreResult<Option<Vec<String>>> {
        let row = sqlx::query(
            "SELECT scope FROM consents WHERE client_id = $1 AND provider = $2 AND sub = $3",
        )
        .bind(client_id)
        .bind(provider)
        .bind(sub)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            let scope: String = row.try_get("scope")?;
            Ok(scope.split_whitespace().map(str::to_string).collect())
        })
        .transpose()
    }

    /// Record what a person allowed a client (replacing what they allowed
    /// before).
    pub async fn record_consent(
        &self,
        client_id: &str,
        provider: &str,
        sub: &str,
        scopes: &[String],
        now: i64,
    ) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query(
            "INSERT INTO consents (client_id, provider, sub, scope, granted_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (client_id, provider, sub) \
             DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
        )
        .bind(client_id)
        .bind(provider)
        .bind(sub)
        .bind(scopes.join(" "))
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
