//! The client registry: machine clients of `client_credentials` and app
//! clients of the authorization code flow, in one table. A client has an id,
//! a name, a type (public clients have no secret), the scopes it may ask
//! for, its exact redirect and post-logout URIs, the grant types it may use,
//! whether its users are asked for consent, and — for a confidential client —
//! a hash of its secret (never the secret itself).

use crate::{Store, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;

/// OAuth client types (RFC 6749 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    /// Cannot keep a secret (a SPA, a mobile app): `client_id` alone, PKCE.
    Public,
    /// Keeps a secret (a server): `client_secret_basic` or `client_secret_post`.
    Confidential,
}

impl ClientType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Confidential => "confidential",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "public" => Some(Self::Public),
            "confidential" => Some(Self::Confidential),
            _ => None,
        }
    }
}

/// The grant types a client may use at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub const ALL: [GrantType; 3] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub client_type: ClientType,
    /// Hex SHA-256 of the secret; `None` for a public client.
    pub secret_hash: Option<String>,
    pub scopes: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    /// Whether the hosted pages ask the user before a code is issued.
    pub consent: bool,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl Client {
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

/// The registry's columns, in the order [`from_row`] and the insert use.
macro_rules! columns {
    () => {
        "id, name, client_type, secret_hash, scopes, redirect_uris, post_logout_uris, \
         grant_types, consent, created_at, revoked_at"
    };
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

fn from_row(row: &AnyRow) -> StoreResult<Client> {
    let client_type: String = row.try_get("client_type")?;
    let secret_hash: String = row.try_get("secret_hash")?;
    let grant_types: String = row.try_get("grant_types")?;
    let consent: i64 = row.try_get("consent")?;
    Ok(Client {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        client_type: ClientType::parse(&client_type).ok_or_else(|| {
            crate::StoreError::Other(format!("unknown client type {client_type:?}"))
        })?,
        secret_hash: Some(secret_hash).filter(|h| !h.is_empty()),
        scopes: words(&row.try_get::<String, _>("scopes")?),
        redirect_uris: words(&row.try_get::<String, _>("redirect_uris")?),
        post_logout_uris: words(&row.try_get::<String, _>("post_logout_uris")?),
        // A grant type this build does not know is not granted.
        grant_types: grant_types
            .split_whitespace()
            .filter_map(GrantType::parse)
            .collect(),
        consent: consent != 0,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

impl Store {
    pub async fn insert_client(&self, client: &Client) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        let grant_types: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
        sqlx::query(concat!(
            "INSERT INTO clients (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&client.id)
        .bind(&client.name)
        .bind(client.client_type.as_str())
        .bind(client.secret_hash.as_deref().unwrap_or_default())
        .bind(client.scopes.join(" "))
        .bind(client.redirect_uris.join(" "))
        .bind(client.post_logout_uris.join(" "))
        .bind(grant_types.join(" "))
        .bind(i64::from(client.consent))
        .bind(client.created_at)
        .bind(client.revoked_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn client(&self, id: &str) -> StoreResult<Option<Client>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM clients WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn clients(&self) -> StoreResult<Vec<Client>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM clients ORDER BY created_at, id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Revoke a client: its secret stops working and its tokens are refused.
    pub async fn revoke_client(&self, id: &str, now: i64) -> StoreResult<bool> {
        let _writing = self.write_guard().await;
        let done =
            sqlx::query("UPDATE clients SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }
}
