//! [`GuardLayer`]: a tower layer that protects every route of a router.
//!
//! Each request's bearer token is validated before the inner service sees the
//! request. On success an [`Authenticated`](crate::Authenticated) is stored in the request extensions
//! (read it with the [`Authenticated`](crate::Authenticated) extractor or `Extension<Authenticated>`);
//! on failure the layer answers the [`GuardRejection`] itself and the inner
//! service is never called.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use http::Request;
use tower::{Layer, Service};

use crate::Guard;
use crate::extract::{GuardRejection, authenticate};

/// Wraps a service in [`GuardService`]: `Router::new().route(..).layer(GuardLayer::new(guard))`.
#[derive(Clone, Debug)]
pub struct GuardLayer {
    guard: Arc<Guard>,
}

impl GuardLayer {
    /// A layer validating with `guard`.
    pub fn new(guard: Arc<Guard>) -> Self {
        Self { guard }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            inner,
            guard: Arc::clone(&self.guard),
        }
    }
}

/// The service made by [`GuardLayer`].
#[derive(Clone, Debug)]
pub struct GuardService<S> {
    inner: S,
    guard: Arc<Guard>,
}

impl<S, B> Service<Request<B>> for GuardService<S>
where
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let guard = Arc::clone(&self.guard);
        // `self.inner` was driven to readiness by `poll_ready`: take it and leave
        // a fresh clone behind for the next request.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        Box::pin(async move {
            // Bound first: the borrow of the headers must end before the insert.
            let outcome = authenticate(&guard, request.headers()).await;
            match outcome {
                Ok(authenticated) => {
                    request.extensions_mut().insert(authenticated);
                    inner.call(request).await.map(IntoResponse::into_response)
                }
                Err(error) => Ok(GuardRejection(error).into_response()),
            }
        })
    }
}
