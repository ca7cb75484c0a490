//! [`BackgroundNotifier`]: hands each notification to a background task so
//! the request that caused it does not wait for SMTP (and an answer takes the
//! same time whether or not a mail was sent). Failed deliveries are retried
//! a few times; [`BackgroundNotifier::drain`] waits for deliveries still
//! under way at shutdown.

use async_trait::async_trait;
use authgate_core::{AuthError, Notification, Notifier};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// Delays before the second and third delivery attempts.
const RETRY_DELAYS: [Duration; 2] = [Duration::from_millis(500), Duration::from_secs(2)];

#[derive(Default)]
struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

/// Sends through `inner` in the background.
pub struct BackgroundNotifier {
    inner: Arc<dyn Notifier>,
    in_flight: Arc<InFlight>,
}

impl BackgroundNotifier {
    pub fn new(inner: Arc<dyn Notifier>) -> Self {
        Self {
            inner,
            in_flight: Arc::default(),
        }
    }

    /// Wait until every delivery under way has finished, at most `limit`.
    /// Returns how many were still under way when the limit ran out.
    pub async fn drain(&self, limit: Duration) -> usize {
        let wait = async {
            loop {
                let idle = self.in_flight.idle.notified();
                if self.in_flight.count.load(Ordering::SeqCst) == 0 {
                    return;
                }
                idle.await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
        self.in_flight.count.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Notifier for BackgroundNotifier {
    async fn send(&self, notification: Notification) -> Result<(), AuthError> {
        let inner = self.inner.clone();
        let in_flight = self.in_flight.clone();
        in_flight.count.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let kind = notification.kind();
            let mut result = inner.send(notification.clone()).await;
            for delay in RETRY_DELAYS {
                if result.is_ok() {
                    break;
                }
                tokio::time::sleep(delay).await;
                result = inner.send(notification.clone()).await;
            }
            if let Err(err) = result {
                metrics::counter!("authgate_mail_failures_total", "kind" => kind).increment(1);
                tracing::error!(kind, error = %err, "mail not delivered after retries");
            }
            if in_flight.count.fetch_sub(1, Ordering::SeqCst) == 1 {
                in_flight.idle.notify_waiters();
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authgate_core::Secret;
    use std::sync::Mutex;

    /// Fails the first `failures` sends, then records.
    struct Flaky {
        failures: AtomicUsize,
        delivered: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl Notifier for Flaky {
        async fn send(&self, notification: Notification) -> Result<(), AuthError> {
            if self.failures.load(Ordering::SeqCst) > 0 {
                self.failures.fetch_sub(1, Ordering::SeqCst);
                return Err(AuthError::Internal("smtp down".into()));
            }
            self.delivered
                .lock()
                .unwrap()
                .push(notification.recipient().to_string());
            Ok(())
        }
    }

    #[tokio::test]
    async fn retries_and_drains() {
        let flaky = Arc::new(Flaky {
            failures: AtomicUsize::new(1),
            delivered: Mutex::default(),
        });
        let notifier = BackgroundNotifier::new(flaky.clone());
        notifier
            .send(Notification::SignUpCode {
                to: "a@example.com".into(),
                name: None,
                code: Secret::new("123456"),
            })
            .await
            .unwrap();
        assert_eq!(notifier.drain(Duration::from_secs(5)).await, 0);
        assert_eq!(
            *flaky.delivered.lock().unwrap(),
            vec!["a@example.com".to_string()]
        );
    }
}
