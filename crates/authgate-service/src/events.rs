//! Recording authentication events: one audit row and one metric increment
//! per event, with the error code as the reason on failure. Nothing secret is
//! ever passed in: only kinds, codes, subjects, emails, addresses and ids.
//!
//! Rows are written by a background task in batches (one transaction for
//! everything queued), so a request never waits for the audit write and the
//! single SQLite writer is not taken once per event. The queue is bounded
//! (a full queue makes requests wait rather than drop events) and is flushed
//! at shutdown.

use authgate_core::EventKind;
use authgate_core::{AuditEvent, AuditOutcome, AuthError, ProviderId, now_millis};
use authgate_store::Store;
use tokio::sync::{mpsc, oneshot};

/// Who sent a request: the client address and the request id.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

enum Message {
    Event(Box<AuditEvent>),
    Flush(oneshot::Sender<()>),
}

/// Queues audit rows and counts `authgate_auth_events_total`.
#[derive(Clone)]
pub struct EventRecorder {
    queue: mpsc::Sender<Message>,
    provider: ProviderId,
}

const QUEUE_CAPACITY: usize = 10_000;
const BATCH: usize = 512;

impl EventRecorder {
    /// Start the writer task on the current runtime.
    pub fn spawn(store: Store, provider: ProviderId) -> Self {
        let (queue, mut inbox) = mpsc::channel::<Message>(QUEUE_CAPACITY);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            let mut waiters = Vec::new();
            while let Some(first) = inbox.recv().await {
                let mut next = Some(first);
                while let Some(message) = next.take() {
                    match message {
                        Message::Event(event) => batch.push(*event),
                        Message::Flush(done) => waiters.push(done),
                    }
                    if batch.len() < BATCH {
                        next = inbox.try_recv().ok();
                    }
                }
                if !batch.is_empty() {
                    if let Err(err) = store.insert_audit_events(&batch).await {
                        tracing::error!(error = %err, lost = batch.len(), "audit events not written");
                    }
                    batch.clear();
                }
                for done in waiters.drain(..) {
                    let _ = done.send(());
                }
            }
        });
        Self { queue, provider }
    }

    /// Wait until every event queued so far is written.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }

    /// Record the outcome of `kind` for the given subject/email.
    pub async fn record<T>(
        &self,
        kind: EventKind,
        meta: &RequestMeta,
        email: Option<&str>,
        subject: Option<&str>,
        result: &Result<T, AuthError>,
    ) {
        self.record_by(None, kind, meta, email, subject, result)
            .await
    }

    /// Record an event that `actor` caused for `subject` (administration).
    pub async fn record_by<T>(
        &self,
        actor: Option<&str>,
        kind: EventKind,
        meta: &RequestMeta,
        email: Option<&str>,
        subject: Option<&str>,
        result: &Result<T, AuthError>,
    ) {
        self.write_as(
            self.provider.clone(),
            actor,
            kind,
            meta,
            email,
            subject,
            None,
            None,
            result,
        )
        .await
    }

    /// Record what a user did to an object of their own (`passkey:<id>`).
    pub async fn record_on<T>(
        &self,
        kind: EventKind,
        meta: &RequestMeta,
        subject: &str,
        target: Option<&str>,
        result: &Result<T, AuthError>,
    ) {
        self.write_as(
            self.provider.clone(),
            None,
            kind,
            meta,
            None,
            Some(subject),
            target,
            None,
            result,
        )
        .await
    }

    /// Record a sign-in made with `method` (`password`, `passkey`).
    pub async fn record_sign_in<T>(
        &self,
        method: &'static str,
        meta: &RequestMeta,
        email: Option<&str>,
        subject: Option<&str>,
        result: &Result<T, AuthError>,
    ) {
        self.write_as(
            self.provider.clone(),
            None,
            EventKind::SignIn,
            meta,
            email,
            subject,
            None,
            Some(method),
            result,
        )
        .await
    }

    /// Record a change `actor` made to `target` (`tenant:<id>`,
    /// `role:<scope>/<key>`, `policy:<id>`, `client:<id>`), about the user
    /// `subject` when there is one.
    pub async fn record_change<T>(
        &self,
        actor: &str,
        kind: EventKind,
        meta: &RequestMeta,
        subject: Option<&str>,
        target: &str,
        result: &Result<T, AuthError>,
    ) {
        self.write_as(
            self.provider.clone(),
            Some(actor),
            kind,
            meta,
            None,
            subject,
            Some(target),
            None,
            result,
        )
        .await
    }

    /// Record an event of a federated sign-in or link: the row's provider
    /// is the external one (`oidc:<id>`), its target the upstream issuer
    /// (`issuer:<url>`, once known), its method `federated`. `subject` is
    /// the app user's provider subject it signed in as.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_federated<T>(
        &self,
        kind: EventKind,
        meta: &RequestMeta,
        provider: &ProviderId,
        issuer: Option<&str>,
        email: Option<&str>,
        subject: Option<&str>,
        result: &Result<T, AuthError>,
    ) {
        let target = issuer.map(|issuer| format!("issuer:{issuer}"));
        self.write_as(
            provider.clone(),
            None,
            kind,
            meta,
            email,
            subject,
            target.as_deref(),
            Some("federated"),
            result,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_as<T>(
        &self,
        provider: ProviderId,
        actor: Option<&str>,
        kind: EventKind,
        meta: &RequestMeta,
        email: Option<&str>,
        subject: Option<&str>,
        target: Option<&str>,
        method: Option<&'static str>,
        result: &Result<T, AuthError>,
    ) {
        let (outcome, reason) = match result {
            Ok(_) => (AuditOutcome::Success, None),
            Err(err) => (AuditOutcome::Failure, Some(err.reason())),
        };
        let name = kind.as_str();
        metrics::counter!(
            "authgate_auth_events_total",
            "kind" => name,
            "outcome" => outcome.as_str(),
            "reason" => reason.unwrap_or("none"),
            "method" => method.unwrap_or("none"),
        )
        .increment(1);
        match reason {
            None => tracing::info!(kind = name, method, subject, actor, target, "auth event"),
            Some(reason) => {
                tracing::info!(
                    kind = name,
                    method,
                    reason,
                    subject,
                    actor,
                    target,
                    "auth event failed"
                )
            }
        }
        let event = AuditEvent {
            kind,
            outcome,
            reason,
            provider,
            subject: subject.map(str::to_string),
            actor: actor.map(str::to_string),
            target: target.map(str::to_string),
            email: email.map(str::to_string),
            method,
            ip: meta.ip.clone(),
            request_id: meta.request_id.clone(),
            at_millis: now_millis(),
        };
        if self
            .queue
            .send(Message::Event(Box::new(event)))
            .await
            .is_err()
        {
            tracing::error!(
                kind = kind.as_str(),
                "audit queue closed; event not written"
            );
        }
    }
}
