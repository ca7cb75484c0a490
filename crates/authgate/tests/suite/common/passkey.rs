//! A software passkey authenticator for the tests: 1Password's `passkey`
//! crate (a CTAP2 authenticator with discoverable credentials behind a
//! WebAuthn Level 3 client), fed the options authgate answers and giving
//! back exactly what a browser's `PublicKeyCredential.toJSON()` gives.
//! Its credentials can be copied to a second authenticator (a clone) and
//! its answers tampered with, to replay the attacks the server must refuse.

use passkey::authenticator::{
    Authenticator, CredentialStore, DiscoverabilitySupport, StoreInfo, UiHint, UserCheck,
    UserValidationMethod,
};
use passkey::client::{Client, DefaultClientData};
use passkey::crypto::rust_crypto::RustCryptoBackend;
use passkey::types::Passkey;
use passkey::types::ctap2::make_credential::{
    Options, PublicKeyCredentialRpEntity, PublicKeyCredentialUserEntity,
};
use passkey::types::ctap2::{Aaguid, Ctap2Error, StatusCode};
use passkey::types::webauthn::{
    CredentialCreationOptions, CredentialRequestOptions, PublicKeyCredentialCreationOptions,
    PublicKeyCredentialDescriptor, PublicKeyCredentialRequestOptions,
};
use serde_json::Value;
use url::Url;

/// The device's credentials, by id. Unlike the crate's `MemoryStore` it
/// answers a discoverable request (no allowed credentials) with the
/// credentials of the RP, as a platform authenticator does.
#[derive(Clone, Default)]
struct Store(std::collections::HashMap<Vec<u8>, Passkey>);

impl Store {
    fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl CredentialStore for Store {
    type PasskeyItem = Passkey;

    async fn find_credentials(
        &self,
        allowed: Option<&[PublicKeyCredentialDescriptor]>,
        rp_id: &str,
        _user_handle: Option<&[u8]>,
    ) -> Result<Vec<Passkey>, StatusCode> {
        let found: Vec<Passkey> = match allowed.filter(|ids| !ids.is_empty()) {
            Some(ids) => ids
                .iter()
                .filter_map(|id| self.0.get(&*id.id))
                .cloned()
                .collect(),
            None => self
                .0
                .values()
                .filter(|p| p.rp_id == rp_id)
                .cloned()
                .collect(),
        };
        if found.is_empty() {
            Err(Ctap2Error::NoCredentials.into())
        } else {
            Ok(found)
        }
    }

    async fn save_credential(
        &mut self,
        credential: Passkey,
        _user: PublicKeyCredentialUserEntity,
        _rp: PublicKeyCredentialRpEntity,
        _options: Options,
    ) -> Result<(), StatusCode> {
        self.0.insert(credential.credential_id.to_vec(), credential);
        Ok(())
    }

    async fn update_credential(&mut self, credential: &Passkey) -> Result<(), StatusCode> {
        self.0
            .insert(credential.credential_id.to_vec(), credential.clone());
        Ok(())
    }

    async fn get_info(&self) -> StoreInfo {
        StoreInfo {
            discoverability: DiscoverabilitySupport::ForcedDiscoverable,
        }
    }
}

/// The person at the device: always present; verified (a fingerprint that
/// always matches) when the device can verify.
struct Person {
    verifies: bool,
}

#[async_trait::async_trait]
impl UserValidationMethod for Person {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Passkey>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck {
            presence,
            verification: verification && self.verifies,
        })
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(self.verifies)
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }
}

/// One authenticator device with its stored credentials, at one origin.
pub struct SoftPasskey {
    client: Client<Store, Person, RustCryptoBackend, public_suffix::PublicSuffixList, ()>,
    origin: Url,
}

impl SoftPasskey {
    /// A new device for pages of `origin` (`http://localhost:<port>`).
    pub fn new(origin: &str) -> Self {
        Self::with_store(origin, Store::new())
    }

    fn with_store(origin: &str, store: Store) -> Self {
        let mut authenticator = Authenticator::new(
            Aaguid::new_empty(),
            store,
            Person { verifies: true },
            RustCryptoBackend,
        );
        authenticator.set_make_credentials_with_signature_counter(true);
        SoftPasskey {
            client: Client::new(authenticator).allows_insecure_localhost(true),
            origin: Url::parse(origin).expect("an origin"),
        }
    }

    /// A second device holding copies of this one's credentials.
    pub fn clone_device(&self) -> Self {
        Self::with_store(
            self.origin.as_str(),
            self.client.authenticator().store().clone(),
        )
    }

    /// `navigator.credentials.create({publicKey: options})`, as `toJSON()`.
    pub async fn create(&mut self, options: &Value) -> Value {
        let public_key: PublicKeyCredentialCreationOptions =
            serde_json::from_value(options.clone()).expect("creation options as WebAuthn JSON");
        let created = self
            .client
            .register(
                &self.origin,
                CredentialCreationOptions { public_key },
                DefaultClientData,
            )
            .await
            .expect("the authenticator creates a credential");
        serde_json::to_value(created).unwrap()
    }

    /// The same, but the user is not verified (`userVerification` is
    /// lowered on the way to the authenticator, as a tampering client would).
    pub async fn create_unverified(&mut self, options: &Value) -> Value {
        let mut options = options.clone();
        options["authenticatorSelection"]["userVerification"] = "discouraged".into();
        let mut device = SoftPasskey {
            client: Client::new(Authenticator::new(
                Aaguid::new_empty(),
                Store::new(),
                Person { verifies: false },
                RustCryptoBackend,
            ))
            .allows_insecure_localhost(true),
            origin: self.origin.clone(),
        };
        let public_key: PublicKeyCredentialCreationOptions =
            serde_json::from_value(options).unwrap();
        let created = device
            .client
            .register(
                &device.origin,
                CredentialCreationOptions { public_key },
                DefaultClientData,
            )
            .await
            .expect("the authenticator creates a credential");
        serde_json::to_value(created).unwrap()
    }

    /// `navigator.credentials.get({publicKey: options})`, as `toJSON()`.
    pub async fn get(&mut self, options: &Value) -> Value {
        let public_key: PublicKeyCredentialRequestOptions =
            serde_json::from_value(options.clone()).expect("request options as WebAuthn JSON");
        let asserted = self
            .client
            .authenticate(
                &self.origin,
                CredentialRequestOptions { public_key },
                DefaultClientData,
            )
            .await
            .expect("the authenticator signs the challenge");
        serde_json::to_value(asserted).unwrap()
    }
}
