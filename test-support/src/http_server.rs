//! The HTTP/1 plumbing of the test servers (the fake Lanying IM, the
//! DynamoDB fault proxy, the Secrets Manager gate), written once: the
//! server loop, and the call a proxy makes to what it stands in front of.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What a test server answers: a reply, or an error that drops the
/// connection without one (as a failing server would).
pub type Reply = Result<Response<Full<Bytes>>, std::io::Error>;

/// Serves every connection the listener accepts with `handle`, until the
/// listener fails or the task is aborted.
pub fn serve<F, Fut>(listener: TcpListener, handle: F) -> JoinHandle<()>
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handle = handle.clone();
            tokio::spawn(async move {
                // Errors are the connections the servers drop on purpose.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(handle))
                    .await;
            });
        }
    })
}

/// Sends a request (`parts` with `body`, its `Content-Length` set anew) to
/// `upstream` on a connection of its own, and returns the whole answer.
pub async fn forward(upstream: SocketAddr, parts: &Parts, body: Bytes) -> Result<Response<Bytes>, std::io::Error> {
    let stream = TcpStream::connect(upstream).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(connection);
    let mut request = Request::builder().method(parts.method.clone()).uri(parts.uri.clone());
    for (name, value) in &parts.headers {
        if name != "content-length" {
            request = request.header(name, value);
        }
    }
    let request = request
        .header("content-length", body.len())
        .body(Full::new(body))
        .map_err(std::io::Error::other)?;
    let (answer, body) = sender
        .send_request(request)
        .await
        .map_err(std::io::Error::other)?
        .into_parts();
    let body = body.collect().await.map_err(std::io::Error::other)?.to_bytes();
    Ok(Response::from_parts(answer, body))
}
