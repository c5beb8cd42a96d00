//! GraphQL over WebSocket (graphql-transport-ws), as a browser's client speaks it to the
//! router: a connection, a subscription on it, and its messages.
//!
//! Failing: a connection that is not acknowledged, a socket that closes, or no message within
//! the time given fails the test.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

use super::*;

/// A WebSocket connection to the router.
pub type WsSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A graphql-transport-ws connection to the router's `graphql_url`, initialised with
/// `payload` (e.g. `{"authorization": "Bearer ..."}`) and acknowledged.
pub async fn graphql_ws(graphql_url: &str, payload: Option<Value>) -> WsSocket {
    let mut request = graphql_url
        .replace("http://", "ws://")
        .into_client_request()
        .expect("ws request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("WebSocket to the router");
    let mut init = json!({ "type": "connection_init" });
    if let Some(payload) = payload {
        init["payload"] = payload;
    }
    socket
        .send(Message::text(init.to_string()))
        .await
        .expect("send connection_init");
    loop {
        let frame = tokio::time::timeout(REQUEST_TIMEOUT, socket.next())
            .await
            .expect("connection_ack in time")
            .expect("the socket is open")
            .expect("a frame");
        let Message::Text(text) = frame else {
            assert!(!frame.is_close(), "closed before connection_ack: {frame:?}");
            continue;
        };
        let message: Value = serde_json::from_str(&text).expect("JSON message");
        match message["type"].as_str() {
            Some("connection_ack") => return socket,
            Some("ping") => continue,
            _ => panic!("expected connection_ack: {message}"),
        }
    }
}

/// A connection to `graphql_url` signed in as `session`, subscribed (as id "1") to
/// `subscription` with `variables`.
pub async fn subscribe(
    graphql_url: &str,
    session: &Session,
    subscription: &str,
    variables: Value,
) -> WsSocket {
    let bearer = format!("Bearer {}", session.access_token);
    let mut socket = graphql_ws(graphql_url, Some(json!({ "authorization": bearer }))).await;
    let subscribe = json!({
        "id": "1",
        "type": "subscribe",
        "payload": { "query": subscription, "variables": variables },
    });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .expect("send subscribe");
    socket
}

/// The next protocol message within `within` (pings are answered and skipped).
pub async fn next_message(socket: &mut WsSocket, within: Duration) -> Value {
    loop {
        let frame = tokio::time::timeout(within, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no message within {within:?}"))
            .expect("the socket is open")
            .expect("a frame");
        let text = match frame {
            Message::Text(text) => text,
            Message::Ping(data) => {
                let _ = socket.send(Message::Pong(data)).await;
                continue;
            }
            Message::Close(frame) => panic!("the router closed the socket: {frame:?}"),
            _ => continue,
        };
        let message: Value = serde_json::from_str(&text).expect("JSON message");
        if message["type"] == "ping" {
            let pong = json!({ "type": "pong" }).to_string();
            let _ = socket.send(Message::text(pong)).await;
            continue;
        }
        return message;
    }
}
